"""Unsupervised part-whole evaluation of region maps (CAST's hierarchy, or any
segmentation without class labels), as in the CAST paper
(https://arxiv.org/abs/2210.00314): every region takes the majority
ground-truth class of its pixels, then the labelled map is scored by region
mIoU and by boundary F-score against the ground truth of a level (object,
part, ...).

Definitions used here:

- Majority labelling: a region's label is the ground-truth class covering
  most of its non-ignored pixels (ties: the smaller class index); a region
  with no such pixel gets ``ignore_index``.
- Region mIoU: MMSeg's mean IoU of the labelled maps over the level's classes,
  from confusion matrices summed over the dataset (``mIoU`` with background,
  ``mIoU_fg`` without class 0).
- Boundary F-score: a pixel is a boundary pixel of a label map when its right
  or lower neighbour holds another label (image borders are not boundaries;
  pairs touching an ignored ground-truth pixel do not count). A predicted
  boundary pixel is matched when a ground-truth boundary pixel lies within
  ``tolerance`` pixels (Euclidean), and vice versa. Precision and recall pool
  the counts over the dataset; F = 2PR / (P + R). The default tolerance is
  0.75% of the image diagonal (at least 1 pixel), BSDS's ``maxDist``.
  Boundaries are those of the *labelled* map: two adjacent regions with the
  same majority class leave no boundary.
- Per-image Jaccard (the CAST reference's scoring, ``notebooks/eval_ovseg_cast.ipynb``:
  torchmetrics ``JaccardIndex(task='multiclass', average='macro')`` called per image, the
  values averaged over images): per image, IoU_c = TP / (TP + FP + FN) of every class c
  (background included); classes absent from both maps of that image weigh zero; ignored
  ground-truth pixels are dropped (torchmetrics' ``ignore_index``). The mean over the
  present classes is the image's score; an image without a valid pixel has none (nan,
  skipped in the average and counted).

Region labels may also come from an open-vocabulary classifier instead of the ground truth
(:mod:`cast.evaluation.open_vocab`); the scores are the same functions of the labelled maps.

All per-image functions return small integer counts, so sums over images are
exact.

Shape shorthand: H, W an image's size; N the number of classes of a level
(index 0 = background); R the number of regions of one image.
"""
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils import relabel_consecutive
from .functional import (
    areas_from_confusion,
    confusion_matrix,
    iou_from_areas,
    nanmean,
    prediction_bins,
)

#: BSDS's default boundary tolerance, as a fraction of the image diagonal.
DEFAULT_TOLERANCE = 0.0075


def _check_pair(regions: Tensor, gt: Tensor) -> None:
    if regions.dim() != 2 or regions.shape != gt.shape:
        raise ValueError(f'regions {tuple(regions.shape)} and ground truth '
                         f'{tuple(gt.shape)} must be (H, W) maps of one size')
    for name, value in (('regions', regions), ('ground truth', gt)):
        if value.dtype.is_floating_point or value.dtype == torch.bool:
            raise TypeError(f'{name} must be an integer map, got {value.dtype}')


def majority_labels(regions: Tensor, gt: Tensor, num_classes: int,
                    ignore_index: int = 255) -> Tensor:
    """Label every region with the majority ground-truth class of its pixels.

    Args:
        regions (Tensor): (H, W) integer region ids (any values >= 0).
        gt (Tensor): (H, W) ground truth, classes in [0, N) or
            ``ignore_index``.
        num_classes (int): N.
        ignore_index (int): ground-truth value to skip. Defaults to 255.

    Returns:
        Tensor: (H, W) int64 labelled map; ``ignore_index`` on regions
        without any non-ignored pixel.
    """
    _check_pair(regions, gt)
    if regions.numel() and int(regions.min()) < 0:
        raise ValueError('region ids must be >= 0')
    inverse = relabel_consecutive(regions.reshape(-1))
    num_regions = int(inverse.max()) + 1 if inverse.numel() else 0
    gt = gt.reshape(-1).long()
    valid = gt != ignore_index
    bad = valid & ((gt < 0) | (gt >= num_classes))
    if bad.any():
        values = torch.unique(gt[bad]).tolist()
        raise ValueError(f'ground truth holds values {values} outside '
                         f'[0, {num_classes}) that are not '
                         f'ignore_index={ignore_index}')
    hist = torch.bincount(inverse[valid] * num_classes + gt[valid],
                          minlength=num_regions * num_classes)
    hist = hist.view(num_regions, num_classes)
    labels = hist.argmax(1)  # first maximum: the smaller class on ties
    labels[hist.sum(1) == 0] = ignore_index
    return labels[inverse].view(regions.shape)


def boundary_mask(labels: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Boundary pixels of a label map.

    Args:
        labels (Tensor): (H, W) integer labels.
        valid (Tensor, optional): (H, W) bool; a neighbour pair counts only
            when both pixels are valid. Defaults to all valid.

    Returns:
        Tensor: (H, W) bool, True where the right or lower neighbour (a valid
        pair) holds another label.
    """
    if valid is None:
        valid = torch.ones_like(labels, dtype=torch.bool)
    edge = torch.zeros_like(labels, dtype=torch.bool)
    right = (labels[:, :-1] != labels[:, 1:]) & valid[:, :-1] & valid[:, 1:]
    down = (labels[:-1] != labels[1:]) & valid[:-1] & valid[1:]
    edge[:, :-1] |= right
    edge[:-1] |= down
    return edge


def boundary_tolerance(height: int, width: int,
                       fraction: float = DEFAULT_TOLERANCE) -> float:
    """Matching distance in pixels: ``fraction`` of the diagonal, >= 1."""
    return max(1.0, fraction * math.hypot(height, width))


def dilate(mask: Tensor, radius: float) -> Tensor:
    """Pixels within Euclidean distance ``radius`` of a True pixel.

    Args:
        mask (Tensor): (H, W) bool.
        radius (float): distance in pixels (>= 0).

    Returns:
        Tensor: (H, W) bool.
    """
    r = int(math.floor(radius))
    if r <= 0:
        return mask.clone()
    offsets = torch.arange(-r, r + 1, dtype=torch.float32, device=mask.device)
    disk = (offsets[:, None]**2 + offsets[None, :]**2) <= radius**2 + 1e-6
    hit = F.conv2d(mask[None, None].float(), disk[None, None].float(), padding=r)
    return hit[0, 0] > 0


def boundary_counts(pred: Tensor, gt: Tensor, tolerance: float,
                    ignore_index: int = 255) -> Tensor:
    """Matched and total boundary pixels of one labelled map.

    Args:
        pred (Tensor): (H, W) predicted labels (e.g. :func:`majority_labels`).
        gt (Tensor): (H, W) ground truth with ``ignore_index``.
        tolerance (float): matching distance in pixels.
        ignore_index (int): ignored ground-truth value. Defaults to 255.

    Returns:
        Tensor: (4,) int64: matched predicted, predicted, matched
        ground-truth and ground-truth boundary pixels.
    """
    _check_pair(pred, gt)
    valid = gt != ignore_index
    pred_edge = boundary_mask(pred, valid)
    gt_edge = boundary_mask(gt, valid)
    pred_hit = pred_edge & dilate(gt_edge, tolerance)
    gt_hit = gt_edge & dilate(pred_edge, tolerance)
    return torch.stack([pred_hit.sum(), pred_edge.sum(), gt_hit.sum(),
                        gt_edge.sum()]).long().cpu()


def image_jaccard(pred: Tensor, gt: Tensor, num_classes: int,
                  ignore_index: int = 255) -> float:
    """Macro Jaccard of one image as torchmetrics' multiclass ``JaccardIndex`` computes it.

    Args:
        pred (Tensor): (H, W) predicted classes in [0, N).
        gt (Tensor): (H, W) ground truth, classes in [0, N) or ``ignore_index``.
        num_classes (int): N (background a class).
        ignore_index (int): ground-truth value whose pixels are dropped. Default: 255.

    Returns:
        float: mean IoU over the classes present in ``pred`` or ``gt`` (in [0, 1]); nan
        when no pixel is valid.
    """
    _check_pair(pred, gt)
    conf = confusion_matrix(prediction_bins(pred, num_classes), gt, num_classes,
                            ignore_index).double()
    tp = conf[:, :num_classes].diagonal()  # (N, N + 1): the last column, no prediction
    union = conf[:, :num_classes].sum(0) + conf.sum(1) - tp
    present = union > 0
    if not present.any():
        return float('nan')
    return float((tp[present] / union[present]).mean())


def label_stats(labelled: Tensor, gt: Tensor, num_classes: int,
                tolerance: Optional[float] = None,
                ignore_index: int = 255) -> Dict[str, Tensor]:
    """Per-image counts and per-image Jaccard of a labelled map against one level.

    Args:
        labelled (Tensor): (H, W) predicted classes (majority or open-vocabulary labels).
        gt (Tensor): (H, W) ground truth of the level.
        num_classes (int): N of the level.
        tolerance (float, optional): boundary matching distance in pixels.
            Defaults to :func:`boundary_tolerance` of the image.
        ignore_index (int): ignored ground-truth value. Defaults to 255.

    Returns:
        dict: ``areas`` (4, N) int64, ``boundary`` (4,) int64 (as :func:`region_stats`)
        and ``jaccard`` (float, :func:`image_jaccard`).
    """
    if tolerance is None:
        tolerance = boundary_tolerance(*labelled.shape)
    conf = confusion_matrix(prediction_bins(labelled, num_classes), gt,
                            num_classes, ignore_index)
    return dict(areas=areas_from_confusion(conf).cpu(),
                boundary=boundary_counts(labelled, gt, tolerance, ignore_index),
                jaccard=image_jaccard(labelled, gt, num_classes, ignore_index))


def region_stats(regions: Tensor, gt: Tensor, num_classes: int,
                 tolerance: Optional[float] = None,
                 ignore_index: int = 255) -> Dict[str, Tensor]:
    """Per-image counts of majority-labelled regions against one level.

    Args:
        regions (Tensor): (H, W) region ids.
        gt (Tensor): (H, W) ground truth of the level.
        num_classes (int): N of the level.
        tolerance (float, optional): boundary matching distance in pixels.
            Defaults to :func:`boundary_tolerance` of the image.
        ignore_index (int): ignored ground-truth value. Defaults to 255.

    Returns:
        dict: ``areas`` (4, N) int64 (intersection, union, predicted,
        ground-truth area per class, see
        :func:`~cast.evaluation.functional.areas_from_confusion`),
        ``boundary`` (4,) int64 (:func:`boundary_counts`), ``jaccard``
        (float, :func:`image_jaccard`) and ``num_regions`` (int).
    """
    labelled = majority_labels(regions, gt, num_classes, ignore_index)
    return dict(label_stats(labelled, gt, num_classes, tolerance, ignore_index),
                num_regions=int(torch.unique(regions).numel()))


def summarize(areas: Tensor, boundary: Tensor) -> Dict[str, float]:
    """Scores from counts summed over a dataset.

    Args:
        areas (Tensor): (4, N) summed ``areas``.
        boundary (Tensor): (4,) summed ``boundary`` counts.

    Returns:
        dict: ``mIoU``, ``mIoU_fg`` (classes 1..N-1), ``aAcc``,
        ``precision``, ``recall`` and ``BF`` (boundary F-score), in percent.
        Precision (recall) is nan without predicted (ground-truth) boundary
        pixels; BF is then 0, or nan when neither map has any.
    """
    iou = iou_from_areas(areas.numpy())
    hit_p, num_p, hit_g, num_g = (float(v) for v in boundary)
    precision = hit_p / num_p if num_p else float('nan')
    recall = hit_g / num_g if num_g else float('nan')
    if not (num_p or num_g):
        fscore = float('nan')  # neither map has a boundary
    elif hit_p + hit_g == 0:
        fscore = 0.0  # boundaries on one side only, or none matched
    else:
        fscore = 2 * precision * recall / (precision + recall)
    return {key: 100 * value for key, value in dict(
        mIoU=nanmean(iou['IoU']), mIoU_fg=nanmean(iou['IoU'][1:]),
        aAcc=float(iou['aAcc']), precision=precision, recall=recall,
        BF=fscore).items()}

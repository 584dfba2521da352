"""Pure tensor functions behind :class:`HierarchicalMetric` (per-level IoU, SpCS, SeCS).

Definitions: SPIN (https://arxiv.org/abs/2407.09686), as spelled out in
:class:`~cast.evaluation.HierarchicalMetric`. Every per-image function returns small integer
counts, so sums over images (and over processes) are exact.

Shape shorthand:
    H, W: height and width of one image's label maps.
    N: number of classes of a level, index 0 = background (N_c, N_p: child, parent level).
    K = N + 1: a level's prediction *bins*: the N classes, then one "none" bin (index N) that
        takes every predicted value outside [0, N): ignore (255), no prediction.
    M: number of child classes present in one image's ground truth.
    L: number of levels, ordered coarse -> fine (e.g. object, part, subpart).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from cast.structures import ClassHierarchy

#: Largest joint histogram over all levels' predictions (prod of K_l) computed in one bincount.
#: SPIN: 13 * 42 * 205 = 111,930 bins. Beyond it, SeCS falls back to a per-pixel check.
MAX_JOINT_BINS = 1 << 21


def prediction_bins(pred: Tensor, num_classes: int) -> Tensor:
    """Map a predicted label map to bins: classes stay, anything else -> ``num_classes``.

    Args:
        pred (Tensor): (H, W) integer predictions; 255 (or any value >= ``num_classes``) means
            no prediction.
        num_classes (int): N of the level.

    Returns:
        Tensor: (H, W) int64 in [0, N].
    """
    if pred.dtype.is_floating_point or pred.dtype == torch.bool:
        raise TypeError(f'predictions must be an integer label map, got {pred.dtype}')
    if pred.dtype != torch.uint8 and pred.numel() and int(pred.min()) < 0:
        raise ValueError(f'predictions hold a negative value {int(pred.min())}; expected class '
                         f'indices in [0, {num_classes}) or an ignore value')
    bins = pred.long()
    # .long() returns ``pred`` itself for int64 input: never write into the caller's tensor.
    return bins.clamp(max=num_classes) if bins is pred else bins.clamp_(max=num_classes)


def confusion_matrix(pred_bins: Tensor, gt: Tensor, num_classes: int,
                     ignore_index: int = 255) -> Tensor:
    """Confusion matrix of one level over the pixels whose ground truth is not ignored.

    Args:
        pred_bins (Tensor): (H, W) int64 bins from :func:`prediction_bins`.
        gt (Tensor): (H, W) integer ground truth, values in [0, N) or ``ignore_index``.
        num_classes (int): N.
        ignore_index (int): Ground-truth value to skip, in [0, 255]. Default: 255.

    Returns:
        Tensor: (N, K) int64, rows ground truth, columns predicted bin.

    Raises:
        ValueError: The ground truth holds a value that is neither a class nor ``ignore_index``.
    """
    if gt.shape != pred_bins.shape:
        raise ValueError(f'prediction shape {tuple(pred_bins.shape)} != ground-truth shape '
                         f'{tuple(gt.shape)}')
    if gt.dtype.is_floating_point or gt.dtype == torch.bool:
        raise TypeError(f'ground truth must be an integer label map, got {gt.dtype}')
    if gt.dtype != torch.uint8 and gt.numel():
        low, high = torch.aminmax(gt)
        if int(low) < 0 or int(high) > 255:
            raise ValueError(f'ground truth values must lie in [0, 255], got '
                             f'[{int(low)}, {int(high)}]')
    num_bins = num_classes + 1
    # Rows are the raw ground-truth values 0..255, so ignore and invalid values cost no pass.
    index = torch.add(pred_bins, gt, alpha=num_bins)  # int64: gt * K + pred bin
    counts = torch.bincount(index.reshape(-1), minlength=256 * num_bins).view(256, num_bins)
    invalid = counts[num_classes:].sum(1)
    if ignore_index >= num_classes:
        invalid[ignore_index - num_classes] = 0
    if invalid.any():
        values = (torch.nonzero(invalid).view(-1) + num_classes).tolist()
        raise ValueError(f'ground truth holds values {values} outside [0, {num_classes}) that '
                         f'are not ignore_index={ignore_index}')
    conf = counts[:num_classes].clone()
    if ignore_index < num_classes:
        conf[ignore_index] = 0
    return conf


def areas_from_confusion(conf: Tensor) -> Tensor:
    """Per-class areas as MMSeg's ``IoUMetric.intersect_and_union`` gives them.

    Args:
        conf (Tensor): (N, K) confusion matrix from :func:`confusion_matrix`.

    Returns:
        Tensor: (4, N): intersection, union, predicted area, ground-truth area. Pixels predicted
        as "none" count in the ground-truth area only.
    """
    num_classes = conf.shape[0]
    area_label = conf.sum(1)
    area_pred = conf[:, :num_classes].sum(0)
    area_intersect = conf[:, :num_classes].diagonal()
    area_union = area_pred + area_label - area_intersect
    return torch.stack([area_intersect, area_union, area_pred, area_label])


def joint_histogram(pred_bins: Sequence[Tensor], num_classes: Sequence[int]) -> Tensor:
    """Histogram of the predicted bins of several levels, pixel by pixel.

    Args:
        pred_bins (Sequence[Tensor]): L maps (H, W) int64 from :func:`prediction_bins`.
        num_classes (Sequence[int]): N_l per level.

    Returns:
        Tensor: (K_1, ..., K_L) int64 pixel counts, summed over all pixels (ignore included).
    """
    shape = [n + 1 for n in num_classes]
    index = pred_bins[0]
    for bins, size in zip(pred_bins[1:], shape[1:]):
        index = torch.add(bins, index, alpha=size)
    return torch.bincount(index.reshape(-1), minlength=math.prod(shape)).view(shape)


def spatial_consistency_terms(pair_hist: Tensor, relation: Tensor,
                              child_classes: Tensor) -> Tensor:
    """SpCS terms of one image for a (child, parent) level pair.

    For each child class k: ``|P_c == k AND P_p in parents(k)|`` and ``|P_c == k|`` over all
    pixels (one parent per class in SPIN's definition; several where the dataset allows them).

    Args:
        pair_hist (Tensor): (B_c, B_p) joint histogram of child and parent predictions.
        relation (Tensor): (N_c, N_p) bool child -> parent relation.
        child_classes (Tensor): (M,) int64 child classes k (present in the ground truth).

    Returns:
        Tensor: (3, M) int64 rows: k, intersection, predicted child area.
    """
    rows = pair_hist[child_classes]
    inter = (rows[:, :relation.shape[1]] * relation[child_classes]).sum(1)
    return torch.stack([child_classes, inter, rows.sum(1)])


def semantic_consistency_counts(joint: Tensor, valid_chain: Tensor) -> Tensor:
    """SeCS counts of one image from its joint prediction histogram.

    Args:
        joint (Tensor): (K_1, ..., K_L) histogram from :func:`joint_histogram`.
        valid_chain (Tensor): (K_1, ..., K_L) bool, True at the valid all-foreground chains
            (:meth:`ClassHierarchy.chain_mask` with ``extra=1``).

    Returns:
        Tensor: (2,) int64: pixels with a valid chain, pixels where every level is foreground.
    """
    foreground = joint[tuple(slice(1, s - 1) for s in joint.shape)].sum()
    return torch.stack([joint[valid_chain].sum(), foreground])


def semantic_consistency_counts_per_pixel(pred_bins: Sequence[Tensor],
                                          relations: Sequence[Tensor],
                                          num_classes: Sequence[int]) -> Tensor:
    """Same as :func:`semantic_consistency_counts`, pixel by pixel (for very large class sets).

    Args:
        pred_bins (Sequence[Tensor]): L maps (H, W) int64 from :func:`prediction_bins`.
        relations (Sequence[Tensor]): L - 1 tensors; ``relations[l - 1]`` is the (N_l, N_{l-1})
            bool relation from level l to level l - 1 (:meth:`ClassHierarchy.relation`).
        num_classes (Sequence[int]): N_l per level.

    Returns:
        Tensor: (2,) int64: pixels with a valid chain, pixels where every level is foreground.
    """
    foreground = torch.ones_like(pred_bins[0], dtype=torch.bool)
    for bins, n in zip(pred_bins, num_classes):
        foreground &= (bins > 0) & (bins < n)
    valid = foreground.clone()
    for level, relation in enumerate(relations, start=1):
        n_c, n_p = relation.shape
        # "none" bins: never valid
        table = torch.zeros(n_c + 1, n_p + 1, dtype=torch.bool, device=valid.device)
        table[:n_c, :n_p] = relation
        valid &= table[pred_bins[level], pred_bins[level - 1]]
    return torch.stack([valid.sum(), foreground.sum()])


def iou_from_areas(areas: np.ndarray) -> Dict[str, np.ndarray]:
    """IoU and accuracy per class (nan where undefined) and overall accuracy.

    Args:
        areas (np.ndarray): (4, N) summed areas from :func:`areas_from_confusion`.

    Returns:
        dict: ``IoU`` (N,), ``Acc`` (N,), ``aAcc`` scalar, all in [0, 1].
    """
    intersect, union, _, label = np.asarray(areas, dtype=np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        return dict(IoU=intersect / union, Acc=intersect / label,
                    aAcc=intersect.sum() / label.sum())


def nanmean(values: np.ndarray) -> float:
    """Mean over the non-nan entries (nan when there are none), without numpy's warning."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return math.fsum(values) / len(values) if len(values) else float('nan')


def spatial_consistency_score(terms: np.ndarray) -> Tuple[float, int, int]:
    """SpCS from the terms of all (image, child class) pairs.

    Args:
        terms (np.ndarray): (3, R) rows k, intersection, predicted child area (concatenated
            :func:`spatial_consistency_terms`).

    Returns:
        tuple: SpCS in [0, 100] (nan when every pair is skipped), number of pairs R, number of
        skipped pairs (empty predicted child). The mean is an exactly rounded sum, so it does not
        depend on the order of the pairs.
    """
    terms = np.asarray(terms, dtype=np.int64).reshape(3, -1)
    inter, child = terms[1], terms[2]
    kept = child > 0
    scores = inter[kept] / child[kept]
    score = 100 * math.fsum(scores) / len(scores) if len(scores) else float('nan')
    return score, int(child.size), int((~kept).sum())


def semantic_consistency_score(counts: np.ndarray) -> float:
    """SeCS in [0, 100] from summed (valid, foreground) counts; nan without foreground pixels."""
    valid, total = (int(c) for c in counts)
    return 100 * valid / total if total else float('nan')


def consistency_levels(num_levels: int, spcs_levels: Sequence[int] = (),
                       secs: bool = False) -> List[int]:
    """The levels whose predictions SpCS and SeCS read: both levels of every pair (l, l - 1) of
    ``spcs_levels``; with ``secs``, all ``num_levels``. Increasing."""
    if secs:
        return list(range(num_levels))
    return sorted({lv for c in spcs_levels for lv in (c - 1, c)})


def hierarchical_stats(preds: Sequence[Optional[Tensor]], gts: Sequence[Optional[Tensor]],
                       num_classes: Sequence[int], hierarchy: Optional[ClassHierarchy] = None,
                       area_levels: Sequence[int] = (), spcs_levels: Sequence[int] = (),
                       secs: bool = False, ignore_index: int = 255,
                       valid_chain: Optional[Tensor] = None) -> dict:
    """Every per-image count the metric needs, vectorised over pixels.

    Args:
        preds (Sequence[Tensor | None]): L predicted maps (H, W), levels coarse -> fine; a level
            that no requested count needs may be None.
        gts (Sequence[Tensor | None]): L ground-truth maps (H, W), likewise.
        num_classes (Sequence[int]): N_l per level.
        hierarchy (ClassHierarchy, optional): the L levels' hierarchy (for SpCS / SeCS only):
            level l's relation to level l - 1 is ``hierarchy.relation(hierarchy.levels[l])``.
        area_levels (Sequence[int]): levels (indices) whose IoU areas are wanted.
        spcs_levels (Sequence[int]): child levels l of the pairs (l, l - 1) whose SpCS terms are
            wanted.
        secs (bool): whether to count SeCS (over all L levels).
        ignore_index (int): Ground-truth value to skip. Default: 255.
        valid_chain (Tensor, optional): (K_1, ..., K_L) bool (``hierarchy.chain_mask(extra=1)``),
            to skip rebuilding it for every image.

    Returns:
        dict: ``areas`` {level: (4, N_l)}, ``spcs`` {child level: (3, M)}, ``secs`` (2,) (only
        when asked); all int64 numpy arrays.
    """
    consistency = consistency_levels(len(num_classes), spcs_levels, secs)
    bins = {lv: prediction_bins(preds[lv], num_classes[lv])
            for lv in sorted(set(area_levels) | set(spcs_levels) | set(consistency))}

    out = dict(areas={})
    present = {}
    for level in sorted(set(area_levels) | set(spcs_levels)):
        conf = confusion_matrix(bins[level], gts[level], num_classes[level], ignore_index)
        if level in area_levels:
            out['areas'][level] = areas_from_confusion(conf).cpu().numpy()
        present[level] = torch.nonzero(conf[1:].sum(1)).view(-1) + 1
    if not consistency:
        return out

    sizes = [num_classes[lv] for lv in consistency]
    joint = None
    if math.prod(n + 1 for n in sizes) <= MAX_JOINT_BINS:
        joint = joint_histogram([bins[lv] for lv in consistency], sizes)
    if spcs_levels:
        out['spcs'] = {}
    for level in spcs_levels:
        if joint is not None:
            keep = (consistency.index(level - 1), consistency.index(level))
            other = tuple(d for d in range(joint.dim()) if d not in keep)
            pair_hist = (joint.sum(other) if other else joint).t()
        else:
            pair_hist = joint_histogram([bins[level], bins[level - 1]],
                                        [num_classes[level], num_classes[level - 1]])
        relation = hierarchy.relation(hierarchy.levels[level], device=pair_hist.device)
        out['spcs'][level] = spatial_consistency_terms(pair_hist, relation,
                                                       present[level]).cpu().numpy()
    if secs:
        if joint is not None:
            if valid_chain is None:
                valid_chain = hierarchy.chain_mask(extra=1)
            counts = semantic_consistency_counts(joint, valid_chain.to(joint.device))
        else:
            relations = [hierarchy.relation(level, device=bins[0].device)
                         for level in hierarchy.levels[1:]]
            counts = semantic_consistency_counts_per_pixel([bins[lv] for lv in consistency],
                                                           relations, num_classes)
        out['secs'] = counts.cpu().numpy()
    return out

"""Unsupervised part-whole evaluation of CAST's region hierarchy as an MMEngine metric."""
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmseg.registry import METRICS, MODELS

from ...structures import ClassHierarchy
from ..functional import iou_from_areas
from ..open_vocab import CLIPRegionLabeller  # noqa: F401  registers the labeller in MODELS
from ..unsupervised import (
    DEFAULT_TOLERANCE,
    boundary_tolerance,
    label_stats,
    region_stats,
    summarize,
)


@METRICS.register_module()
class UnsupervisedRegionMetric(BaseMetric):
    """Region mIoU and boundary F of unlabelled regions, each region named by the majority
    ground-truth class of its pixels, or by an open-vocabulary labeller (CLIP, as the CAST
    paper; definitions: :mod:`cast.evaluation.unsupervised`, :mod:`cast.evaluation.open_vocab`).

    Each data sample holds ``pred_regions`` (L, H, W): the region ids of L region levels, fine to
    coarse (for CAST: the superpixels it sees, then each stage's clusters, as
    :class:`~cast.segmentors.CASTRegionSegmentor` predicts them), and ``gt_seg_{level}`` (1, H, W)
    for every ground-truth level scored. ``process`` keeps small counts per image, so sums over
    images and processes are exact.

    Majority labelling scores every region level against every ground-truth level. With a
    ``labeller`` every ground-truth level is scored on one region level (``label_regions``;
    default: the coarsest for the coarsest ground-truth level, the next for the next, ..., as
    the reference names objects on CAST's 8 clusters and parts on its 16), and a child level's
    regions are named among the children of the class its parent level's labels give them
    (``conditional``). The labeller needs the images: ``data_batch['inputs']`` (B, 3, H, W),
    0..255, in ``channel_order``.

    Reported, for region level ``r`` (``superpixels``, ``stage1``, ...) and ground-truth level
    ``g``: ``{r}/{g}/mIoU`` (pooled over the dataset), ``mIoU_fg``, ``mIoU_img`` (per-image
    macro Jaccard averaged over images, the reference's), ``BF``, ``precision``, ``recall``,
    ``aAcc``, ``{r}/{g}/IoU.{class}`` (pooled, per class) and ``{r}/regions`` (mean regions per
    image).

    Args:
        levels (Sequence[str], optional): ground-truth levels to score; None: the dataset's
            ``levels``. Default: None.
        region_names (Sequence[str], optional): names of the L region levels; None:
            ``superpixels, stage1, ..., stage{L-1}``. Default: None.
        tolerance (float): boundary matching distance as a fraction of the image diagonal (at
            least 1 px). Default: 0.0075 (BSDS's).
        ignore_index (int): ignored ground-truth value. Default: 255.
        labeller (dict | nn.Module, optional): e.g. ``dict(type='CLIPRegionLabeller',
            weights=...)``; None: majority labelling. Default: None.
        label_regions (Mapping[str, str], optional): ground-truth level -> region level name
            for the labeller. Default: None (coarsest first, see above).
        vocabulary (Mapping[str, Sequence[str]], optional): level -> the names put in the
            prompts for classes 1..N; default: the dataset's class names. Default: None.
        background_name (str): prompt name of background wherever a level is named without a
            parent (the reference's 'Background'); a conditioned level's background comes from
            its parent. Default: 'Background'.
        conditional (bool): name a child level's regions among their parent class's children.
            Default: True.
        channel_order (str): 'bgr' (MMCV's loading, the default) or 'rgb' inputs.
        collect_device (str): 'cpu' or 'gpu'. Default: 'cpu'.
        prefix (str, optional): metric name prefix. Default: None.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 levels: Optional[Sequence[str]] = None,
                 region_names: Optional[Sequence[str]] = None,
                 tolerance: float = DEFAULT_TOLERANCE,
                 ignore_index: int = 255,
                 labeller: Optional[Union[dict, torch.nn.Module]] = None,
                 label_regions: Optional[Mapping[str, str]] = None,
                 vocabulary: Optional[Mapping[str, Sequence[str]]] = None,
                 background_name: str = 'Background',
                 conditional: bool = True,
                 channel_order: str = 'bgr',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
        self.levels = tuple(levels) if levels is not None else None
        self.region_names = tuple(region_names) if region_names is not None else None
        self.tolerance = tolerance
        self.ignore_index = ignore_index
        self.labeller = MODELS.build(labeller) if isinstance(labeller, dict) else labeller
        self.label_regions = dict(label_regions or {})
        self.vocabulary = {k: list(v) for k, v in (vocabulary or {}).items()}
        self.background_name = background_name
        self.conditional = conditional
        self.channel_order = channel_order
        self._cached_plan: Optional[List[tuple]] = None

    def _levels(self) -> tuple:
        levels = self.levels or tuple((self.dataset_meta or {}).get('levels', ()))
        if not levels:
            raise ValueError('UnsupervisedRegionMetric needs ground-truth levels: pass levels=... '
                             "or use a dataset whose metainfo has 'levels'")
        return levels

    def _names(self, num: int) -> tuple:
        names = self.region_names or ('superpixels', ) + tuple(
            f'stage{i}' for i in range(1, num))
        if len(names) != num:
            raise ValueError(f'region_names has {len(names)} names for {num} region levels')
        return names

    def _plan(self, names: tuple, classes: Mapping[str, Sequence[str]]) -> List[tuple]:
        """Per scored level, coarse to fine: (level, region level index, prompt names,
        children of each parent class or None)."""
        levels = [lv for lv in (self.dataset_meta or {}).get('levels', ()) if lv in
                  self._levels()] or list(self._levels())  # coarse -> fine
        unknown = [r for r in self.label_regions.values() if r not in names]
        if unknown:
            raise ValueError(f'label_regions names region levels {unknown}; the regions are '
                             f'{list(names)}')
        plan = []
        for i, level in enumerate(levels):
            region = self.label_regions.get(level, names[max(len(names) - 1 - i, 0)])
            vocab = self.vocabulary.get(level, list(classes[level])[1:])
            if len(vocab) != len(classes[level]) - 1:
                raise ValueError(f'vocabulary[{level!r}] has {len(vocab)} names for the '
                                 f'{len(classes[level]) - 1} foreground classes of {level}')
            groups = None
            if i and self.conditional:
                hierarchy = ClassHierarchy.from_meta(self.dataset_meta, levels=levels[i - 1:i + 1])
                groups = hierarchy.children(level)
            plan.append((level, names.index(region), vocab, groups))
        return plan

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        classes = (self.dataset_meta or {}).get('level_classes', {})
        missing = [lv for lv in self._levels() if lv not in classes]
        if missing:
            raise KeyError(f"UnsupervisedRegionMetric needs dataset_meta['level_classes'] of "
                           f'the levels {missing} (SPINDataset, PartImageNetDataset give them)')
        for i, sample in enumerate(data_samples):
            if 'pred_regions' not in sample:
                raise KeyError('UnsupervisedRegionMetric needs pred_regions (L, H, W) in every '
                               'data sample (CASTRegionSegmentor predicts them)')
            regions = sample['pred_regions']['data']
            tol = boundary_tolerance(*regions.shape[-2:], fraction=self.tolerance)
            gts = {}
            for level in self._levels():
                key = f'gt_seg_{level}'
                if key not in sample:
                    raise KeyError(f'data sample of {sample.get("img_path")} has no {key}')
                gts[level] = sample[key]['data'][0].to(regions.device).long()
            names = self._names(len(regions))
            if self.labeller is not None and self._cached_plan is None:
                self._cached_plan = self._plan(names, classes)
            if self.labeller is None:
                self.results.append(self._majority(regions, names, gts, classes, tol))
            else:
                self.results.append(self._labelled(self._image(data_batch, i, regions), regions,
                                                   names, gts, classes, tol))

    def _majority(self, regions, names, gts, classes, tol) -> dict:
        record = {}
        for level, gt in gts.items():
            for name, region in zip(names, regions):
                stats = region_stats(region, gt, len(classes[level]), tol, self.ignore_index)
                record[(name, level)] = (stats['areas'].numpy(), stats['boundary'].numpy(),
                                         stats['num_regions'], stats['jaccard'])
        return record

    def _image(self, data_batch, i: int, regions) -> torch.Tensor:
        inputs = (data_batch or {}).get('inputs') if isinstance(data_batch, dict) else None
        if inputs is None:
            raise KeyError("UnsupervisedRegionMetric with a labeller needs the images: "
                           "data_batch['inputs'] (B, 3, H, W)")
        image = inputs[i][:, :regions.shape[-2], :regions.shape[-1]]
        return image.flip(0) if self.channel_order == 'bgr' else image

    def _labelled(self, image, regions, names, gts, classes, tol) -> dict:
        record, labelled = {}, {}
        for level, index, vocab, groups in self._cached_plan:
            region = regions[index]
            if groups is None:  # the first level, or any level named without its parent
                pred = self.labeller.label_regions(image, region, vocab, self.background_name)
            else:
                parent = labelled[list(labelled)[-1]]
                pred = self.labeller.label_parts(image, region, vocab, groups, parent)
            labelled[level] = pred.to(regions.device)
            stats = label_stats(labelled[level], gts[level], len(classes[level]), tol,
                                self.ignore_index)
            record[(names[index], level)] = (stats['areas'].numpy(), stats['boundary'].numpy(),
                                             int(torch.unique(region).numel()), stats['jaccard'])
        return record

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        sums: Dict[tuple, list] = {}
        for record in results:
            for key, (areas, boundary, regions, jaccard) in record.items():
                acc = sums.setdefault(key, [np.zeros_like(areas), np.zeros_like(boundary), 0, 0,
                                            []])
                acc[0] = acc[0] + areas
                acc[1] = acc[1] + boundary
                acc[2] += regions
                acc[3] += 1
                acc[4].append(jaccard)
        classes = (self.dataset_meta or {}).get('level_classes', {})
        metrics: Dict[str, float] = {}
        for (name, level), (areas, boundary, regions, count, jaccards) in sums.items():
            scores = summarize(torch.from_numpy(areas), torch.from_numpy(boundary))
            jaccards = np.asarray(jaccards, dtype=np.float64)
            valid = ~np.isnan(jaccards)
            scores['mIoU_img'] = 100 * float(jaccards[valid].mean()) if valid.any() else \
                float('nan')
            scores['images'] = float(valid.sum())
            if self.labeller is not None:  # the per-class table of a labelled run
                iou = iou_from_areas(areas)['IoU']
                names = classes.get(level) or [str(k) for k in range(len(iou))]
                scores.update({f'IoU.{c}': 100 * float(v) for c, v in zip(names, iou)})
            metrics.update({f'{name}/{level}/{k}': v for k, v in scores.items()})
            metrics[f'{name}/regions'] = regions / count
        print_log('\n' + self.format_table(metrics), logger='current')
        return metrics

    @staticmethod
    def format_table(metrics: Dict[str, float]) -> str:
        """One row per region level: mean regions, then mIoU / mIoU(fg) / BF per GT level
        (with the per-image mIoU where the metrics hold it)."""
        names = list(dict.fromkeys(k.split('/')[0] for k in metrics))
        levels = list(dict.fromkeys(k.split('/')[1] for k in metrics if k.count('/') == 2))
        head = f"{'regions of':<12} {'count':>7}" + ''.join(
            f" | {lv + ' mIoU':>12} {'mIoU(fg)':>8} {'per-img':>7} {'BF':>6}" for lv in levels)
        lines = [head, '-' * len(head)]
        for name in names:
            row = f"{name:<12} {metrics[f'{name}/regions']:>7.1f}"
            for lv in levels:
                if f'{name}/{lv}/mIoU' not in metrics:
                    row += f" | {'-':>12} {'-':>8} {'-':>7} {'-':>6}"
                    continue
                s = {k: metrics.get(f'{name}/{lv}/{k}', float('nan'))
                     for k in ('mIoU', 'mIoU_fg', 'mIoU_img', 'BF')}
                row += (f" | {s['mIoU']:>12.2f} {s['mIoU_fg']:>8.2f} {s['mIoU_img']:>7.2f} "
                        f"{s['BF']:>6.2f}")
            lines.append(row)
        return '\n'.join(lines)

    @staticmethod
    def format_paper_table(metrics: Dict[str, float]) -> str:
        """The paper's layout: per scored (region level, ground-truth level), region mIoU as
        the reference computes it (per image), the pooled mIoU and the boundary F."""
        pairs = list(dict.fromkeys(tuple(k.split('/')[:2]) for k in metrics
                                   if k.endswith('/mIoU_img')))
        head = (f"{'level':<10} {'regions of':<12} {'mIoU (per image)':>16} "
                f"{'mIoU (pooled)':>13} {'boundary F':>10} {'images':>6}")
        lines = [head, '-' * len(head)]
        for name, level in pairs:
            g = {k: metrics[f'{name}/{level}/{k}'] for k in ('mIoU_img', 'mIoU', 'BF', 'images')}
            lines.append(f"{level:<10} {name:<12} {g['mIoU_img']:>16.2f} {g['mIoU']:>13.2f} "
                         f"{g['BF']:>10.2f} {int(g['images']):>6}")
        return '\n'.join(lines)

    @staticmethod
    def format_class_table(metrics: Dict[str, float]) -> str:
        """Pooled IoU of every class, one row per (region level, ground-truth level)."""
        lines = []
        for key in dict.fromkeys(k.rsplit('/', 1)[0] for k in metrics if '/IoU.' in k):
            lines.append(f'{key}:')
            for k, v in metrics.items():
                if k.startswith(key + '/IoU.'):
                    lines.append(f"  {k.split('/IoU.', 1)[1]:<24} {v:6.2f}")
        return '\n'.join(lines)

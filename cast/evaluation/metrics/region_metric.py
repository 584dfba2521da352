"""Unsupervised part-whole evaluation of CAST's region hierarchy as an MMEngine metric."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmseg.registry import METRICS

from ..unsupervised import DEFAULT_TOLERANCE, boundary_tolerance, region_stats, summarize


@METRICS.register_module()
class UnsupervisedRegionMetric(BaseMetric):
    """Region mIoU and boundary F of unlabelled regions, every region taking the majority
    ground-truth class of its pixels (definitions: :mod:`cast.evaluation.unsupervised`).

    Each data sample holds ``pred_regions`` (L, H, W): the region ids of L region levels, fine to
    coarse (for CAST: the superpixels it sees, then each stage's clusters, as
    :class:`~cast.segmentors.CASTRegionSegmentor` predicts them), and ``gt_seg_{level}`` (1, H, W)
    for every ground-truth level scored. ``process`` keeps small integer counts per image, so
    sums over images and processes are exact.

    Reported, for region level ``r`` (``superpixels``, ``stage1``, ...) and ground-truth level
    ``g``: ``{r}/{g}/mIoU``, ``mIoU_fg``, ``BF``, ``precision``, ``recall``, ``aAcc``, and
    ``{r}/regions`` (mean regions per image).

    Args:
        levels (Sequence[str], optional): ground-truth levels to score; None: the dataset's
            ``levels``. Default: None.
        region_names (Sequence[str], optional): names of the L region levels; None:
            ``superpixels, stage1, ..., stage{L-1}``. Default: None.
        tolerance (float): boundary matching distance as a fraction of the image diagonal (at
            least 1 px). Default: 0.0075 (BSDS's).
        ignore_index (int): ignored ground-truth value. Default: 255.
        collect_device (str): 'cpu' or 'gpu'. Default: 'cpu'.
        prefix (str, optional): metric name prefix. Default: None.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 levels: Optional[Sequence[str]] = None,
                 region_names: Optional[Sequence[str]] = None,
                 tolerance: float = DEFAULT_TOLERANCE,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.levels = tuple(levels) if levels is not None else None
        self.region_names = tuple(region_names) if region_names is not None else None
        self.tolerance = tolerance
        self.ignore_index = ignore_index

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

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        classes = (self.dataset_meta or {}).get('level_classes', {})
        missing = [lv for lv in self._levels() if lv not in classes]
        if missing:
            raise KeyError(f"UnsupervisedRegionMetric needs dataset_meta['level_classes'] of "
                           f'the levels {missing} (SPINDataset, PartImageNetDataset give them)')
        for sample in data_samples:
            if 'pred_regions' not in sample:
                raise KeyError('UnsupervisedRegionMetric needs pred_regions (L, H, W) in every '
                               'data sample (CASTRegionSegmentor predicts them)')
            regions = sample['pred_regions']['data']
            tol = boundary_tolerance(*regions.shape[-2:], fraction=self.tolerance)
            record = {}
            for level in self._levels():
                key = f'gt_seg_{level}'
                if key not in sample:
                    raise KeyError(f'data sample of {sample.get("img_path")} has no {key}')
                gt = sample[key]['data'][0].to(regions.device).long()
                for name, region in zip(self._names(len(regions)), regions):
                    stats = region_stats(region, gt, len(classes[level]), tol,
                                         self.ignore_index)
                    record[(name, level)] = (stats['areas'].numpy(), stats['boundary'].numpy(),
                                             stats['num_regions'])
            self.results.append(record)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        sums: Dict[tuple, list] = {}
        for record in results:
            for key, (areas, boundary, regions) in record.items():
                acc = sums.setdefault(key, [np.zeros_like(areas), np.zeros_like(boundary), 0, 0])
                acc[0] = acc[0] + areas
                acc[1] = acc[1] + boundary
                acc[2] += regions
                acc[3] += 1
        metrics: Dict[str, float] = {}
        for (name, level), (areas, boundary, regions, count) in sums.items():
            scores = summarize(torch.from_numpy(areas), torch.from_numpy(boundary))
            metrics.update({f'{name}/{level}/{k}': v for k, v in scores.items()})
            metrics[f'{name}/regions'] = regions / count
        print_log('\n' + self.format_table(metrics), logger='current')
        return metrics

    @staticmethod
    def format_table(metrics: Dict[str, float]) -> str:
        """One row per region level: mean regions, then mIoU / mIoU(fg) / BF per GT level."""
        names = list(dict.fromkeys(k.split('/')[0] for k in metrics))
        levels = list(dict.fromkeys(k.split('/')[1] for k in metrics if k.count('/') == 2))
        head = f"{'regions of':<12} {'count':>7}" + ''.join(
            f" | {lv + ' mIoU':>12} {'mIoU(fg)':>8} {'BF':>6}" for lv in levels)
        lines = [head, '-' * len(head)]
        for name in names:
            row = f"{name:<12} {metrics[f'{name}/regions']:>7.1f}"
            for lv in levels:
                s = {k: metrics[f'{name}/{lv}/{k}'] for k in ('mIoU', 'mIoU_fg', 'BF')}
                row += f" | {s['mIoU']:>12.2f} {s['mIoU_fg']:>8.2f} {s['BF']:>6.2f}"
            lines.append(row)
        return '\n'.join(lines)

"""Per-level mIoU and the SPIN consistency scores SpCS and SeCS (arXiv 2407.09686)."""
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from mmengine.utils import mkdir_or_exist
from PIL import Image
from prettytable import PrettyTable

from cast.structures import ClassHierarchy, pair_names
from mmseg.registry import METRICS

from .. import functional as F


@dataclass(frozen=True)
class MetricPlan:
    """What :class:`HierarchicalMetric` computes on one ``dataset_meta``, resolved and checked
    once. Levels are referred to by their index in ``levels``.

    Attributes:
        levels (tuple): the evaluated levels, coarse -> fine; ``(None,)`` for a dataset without
            ``levels`` (one map, ``pred_sem_seg`` / ``gt_sem_seg``).
        class_names (tuple): per level, its class names.
        num_classes (tuple[int]): per level, N_l.
        area_levels (tuple[int]): levels whose IoU areas are counted, increasing.
        spcs_levels (tuple[int]): child levels l of the pairs (l, l - 1) whose SpCS is counted,
            fine -> coarse.
        secs (bool): whether SeCS is counted.
        pair_names (dict[str, str]): child level -> the pair's name (e.g. 'S2P').
        hierarchy (ClassHierarchy | None): the levels' hierarchy; None without SpCS / SeCS.
        valid_chain (Tensor | None): ``hierarchy.chain_mask(extra=1)`` for SeCS when the joint
            histogram fits, else None.
        main_level (str | None): the level ``pred_sem_seg`` / ``gt_sem_seg`` may stand for.
    """
    levels: Tuple[Optional[str], ...]
    class_names: Tuple[Tuple[str, ...], ...]
    num_classes: Tuple[int, ...]
    area_levels: Tuple[int, ...]
    spcs_levels: Tuple[int, ...]
    secs: bool
    pair_names: Dict[str, str]
    hierarchy: Optional[ClassHierarchy]
    valid_chain: Optional[torch.Tensor]
    main_level: Optional[str]


@METRICS.register_module()
class HierarchicalMetric(BaseMetric):
    """mIoU per level and the spatial / semantic consistency of a hierarchical prediction.

    Definitions follow SPIN (https://arxiv.org/abs/2407.09686), with one label map per level:

    - ``mIoU``: per level, as MMSeg's ``IoUMetric`` (background included), and ``mIoU_nobg``
      (background excluded); ``aAcc`` and ``mAcc`` come with it.
    - ``SpCS`` for each adjacent (child, parent) level pair: for every (image, child class k != 0
      present in that image's ground truth), ``|P_c == k AND P_p == parent(k)| / |P_c == k|``
      over all the image's pixels, averaged over the pairs (x100). Pairs whose predicted child is
      empty are skipped and their number is reported (``SpCS_S2P_skipped``). Where the dataset
      allows several parents per class (``dataset_meta['level_parents']``), ``P_p`` may be any
      of them.
    - ``SeCS``: over all pixels of the dataset (ground-truth ignore pixels included: the score
      judges the prediction alone) where every level predicts a foreground class (not 0, not
      ignore / out of range), the percentage whose chain of classes is valid in the hierarchy.

    Pair names are the initials of the levels, child first: for levels ``('object', 'part',
    'subpart')`` the pairs are ``S2P`` (subpart -> part) and ``P2O`` (part -> object); with
    repeated initials the full names are used (``subpart2part``).

    Data samples carry ``pred_seg_{level}`` and ``gt_seg_{level}`` (PixelData, (1, H, W)) per
    level; the main level (``dataset_meta['main_level']``, default the first level) may come as
    ``pred_sem_seg`` / ``gt_sem_seg`` instead. A dataset without ``dataset_meta['levels']`` is a
    single level read from ``pred_sem_seg`` / ``gt_sem_seg``, reported without a level suffix.

    Result keys (levels object/part/subpart): ``aAcc.{level}``, ``mIoU.{level}``,
    ``mIoU_nobg.{level}``, ``mAcc.{level}``, ``SpCS_S2P``, ``SpCS_S2P_skipped``, ``SpCS_P2O``,
    ``SpCS_P2O_skipped``, ``SeCS``.

    Args:
        hier_metrics (Sequence[str] | str): Among ``'mIoU'`` (every level), ``'mIoU.{level}'``,
            ``'SpCS'`` (every adjacent pair), ``'SpCS_{pair}'`` (e.g. ``'SpCS_S2P'``), ``'SeCS'``.
            Default: ``('mIoU', 'SpCS', 'SeCS')``. (Not called ``metrics``: MMEngine takes an
            evaluator config with a ``metrics`` key for an ``Evaluator``, not a metric.)
        levels (Sequence[str], optional): Levels to evaluate, coarse -> fine, a subsequence of
            ``dataset_meta['levels']``; pairs are adjacent in it (parents are composed through
            skipped levels). Default: None, all the dataset's levels.
        ignore_index (int): Ground-truth value left out of mIoU, in [0, 255]. Predicted values
            outside a level's classes (e.g. 255) match no class. Default: 255.
        hierarchy (dict, optional): child level -> parent class (or tuple of allowed parent
            classes) per child class, taking precedence over ``dataset_meta['level_parents']``
            (several allowed, e.g. SPIN parts under ``object_level='class'``) and
            ``dataset_meta['hierarchy']`` (one parent per class); read into one
            :class:`~cast.structures.ClassHierarchy`. Default: None.
        classwise (bool): Also log per-class IoU / Acc tables. Default: False.
        collect_device (str): 'cpu' or 'gpu', for collecting results across ranks.
            Default: 'cpu'.
        output_dir (str, optional): Write predictions as ``{output_dir}/{level}/{name}.png``
            (the format ``tools/eval_hierarchy.py`` reads). Default: None.
        format_only (bool): Only write predictions, evaluate nothing (needs ``output_dir``).
            Default: False.
        prefix (str, optional): Prefix of the result keys. Default: None.

    Raises:
        ValueError: A requested metric the dataset cannot give (SpCS / SeCS without two levels
            and a hierarchy, a pair or level it does not have); raised when ``dataset_meta`` is
            set and again in ``compute_metrics``.
    """
    BASE_METRICS = ('mIoU', 'SpCS', 'SeCS')

    def __init__(self,
                 hier_metrics: Union[str, Sequence[str]] = ('mIoU', 'SpCS', 'SeCS'),
                 levels: Optional[Sequence[str]] = None,
                 ignore_index: int = 255,
                 hierarchy: Optional[Dict[str, Sequence[int]]] = None,
                 classwise: bool = False,
                 collect_device: str = 'cpu',
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        metrics = [hier_metrics] if isinstance(hier_metrics, str) else list(hier_metrics)
        for name in metrics:
            if not (name in self.BASE_METRICS or name.startswith(('mIoU.', 'SpCS_'))):
                raise ValueError(f'HierarchicalMetric: unknown metric {name!r}; expected '
                                 "'mIoU', 'mIoU.{level}', 'SpCS', 'SpCS_{pair}' or 'SeCS'")
        if not metrics and not format_only:
            raise ValueError('HierarchicalMetric: hier_metrics is empty')
        if not 0 <= ignore_index <= 255:
            raise ValueError(f'ignore_index must lie in [0, 255], got {ignore_index}')
        if format_only and not output_dir:
            raise ValueError('format_only=True needs output_dir')
        self.hier_metrics = metrics
        self.levels = tuple(levels) if levels is not None else None
        self.ignore_index = ignore_index
        self.hierarchy = hierarchy
        self.classwise = classwise
        self.output_dir = output_dir
        self.format_only = format_only
        if self.output_dir and is_main_process():
            mkdir_or_exist(self.output_dir)
        self._plan = None

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Optional[dict]: Meta info of the dataset; setting it checks the requested metrics."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        self._dataset_meta = dataset_meta
        self._plan = None if dataset_meta is None else self._make_plan(dataset_meta)

    def _make_plan(self, meta: dict) -> MetricPlan:
        """Resolve levels, classes, pairs and parents from ``meta``; check every request."""
        all_levels = tuple(meta['levels']) if meta.get('levels') else None
        if all_levels is None:
            if self.levels is not None:
                raise ValueError(f'HierarchicalMetric: levels={self.levels} given but '
                                 "dataset_meta has no 'levels'")
            if 'classes' not in meta:
                raise ValueError("HierarchicalMetric: dataset_meta has neither 'levels' nor "
                                 "'classes'")
            levels, class_names = (None, ), [tuple(meta['classes'])]
        else:
            levels = self.levels or all_levels
            ClassHierarchy.subsequence_index(levels, all_levels, "dataset_meta['levels']")
            level_classes = meta.get('level_classes') or {}
            missing = [level for level in levels if level not in level_classes]
            if missing:
                raise ValueError(f"HierarchicalMetric: dataset_meta['level_classes'] has no "
                                 f'entry for levels {missing}')
            class_names = [tuple(level_classes[level]) for level in levels]
        num_classes = [len(names) for names in class_names]
        named = [level for level in levels if level is not None]
        pairs = pair_names(named) if len(named) > 1 else []
        names_of_pairs = [name for name, _, _ in pairs]

        area_levels, spcs_levels, secs, consistency = [], [], False, []
        for metric in self.hier_metrics:
            if metric == 'mIoU':
                area_levels += range(len(levels))
            elif metric.startswith('mIoU.'):
                level = metric[len('mIoU.'):]
                if level not in named:
                    raise ValueError(f'{metric}: the evaluated levels are {tuple(named)}')
                area_levels.append(levels.index(level))
            else:
                if len(named) < 2:
                    raise ValueError(f'{metric} needs at least two levels, but dataset_meta '
                                     f"has levels={all_levels} (levels={self.levels})")
                consistency.append(metric)
                if metric == 'SeCS':
                    secs = True
                elif metric == 'SpCS':
                    spcs_levels += range(len(levels) - 1, 0, -1)
                else:
                    name = metric[len('SpCS_'):]
                    if name not in names_of_pairs:
                        raise ValueError(f'{metric}: no level pair {name!r} among levels '
                                         f'{tuple(named)} (pairs: {", ".join(names_of_pairs)})')
                    spcs_levels.append(levels.index(pairs[names_of_pairs.index(name)][1]))

        hierarchy = valid_chain = None
        if consistency:
            try:
                hierarchy = ClassHierarchy.from_meta(meta, levels=levels,
                                                     overrides=self.hierarchy)
            except KeyError as err:
                raise ValueError(f'{consistency[0]} needs the class hierarchy: '
                                 f'{err.args[0]}') from err
            if secs and np.prod([n + 1 for n in num_classes]) <= F.MAX_JOINT_BINS:
                valid_chain = hierarchy.chain_mask(extra=1)
        return MetricPlan(
            levels=tuple(levels), class_names=tuple(class_names), num_classes=tuple(num_classes),
            area_levels=tuple(sorted(set(area_levels))),
            spcs_levels=tuple(sorted(set(spcs_levels), reverse=True)), secs=secs,
            pair_names={child: name for name, child, _ in pairs}, hierarchy=hierarchy,
            valid_chain=valid_chain, main_level=meta.get('main_level', levels[0]))

    def _get_plan(self) -> MetricPlan:
        if self._dataset_meta is None:
            raise ValueError('HierarchicalMetric: dataset_meta is not set')
        if self._plan is None:
            self._plan = self._make_plan(self._dataset_meta)
        return self._plan

    @staticmethod
    def _get_map(data_sample: dict, kind: str, level: Optional[str],
                 main_level: Optional[str]) -> torch.Tensor:
        """The (H, W) map ``{kind}_seg_{level}`` (or ``{kind}_sem_seg``) of a data sample."""
        keys = [f'{kind}_seg_{level}'] if level is not None else []
        if level is None or level == main_level:
            keys.append(f'{kind}_sem_seg')
        for key in keys:
            if key in data_sample:
                data = data_sample[key]['data']
                if data.dim() == 3 and data.shape[0] == 1:
                    data = data[0]
                if data.dim() != 2:
                    raise ValueError(f'data sample {key} must be (1, H, W) or (H, W), got '
                                     f'{tuple(data.shape)}')
                return data
        raise KeyError(f'data sample has no {" or ".join(keys)} (keys: {sorted(data_sample)})')

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store one small record of integer counts per data sample in ``self.results``.

        Args:
            data_batch (dict): A batch of data from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs, ``SegDataSample.to_dict()`` or
                ``SegDataSample``.
        """
        plan = self._get_plan()
        levels, num_levels = plan.levels, len(plan.levels)
        used = set(plan.area_levels) | set(plan.spcs_levels) | set(
            F.consistency_levels(num_levels, plan.spcs_levels, plan.secs))
        for data_sample in data_samples:
            if isinstance(data_sample, BaseDataElement):
                data_sample = data_sample.to_dict()
            preds = [None] * num_levels
            for i in (range(num_levels) if self.output_dir else used):
                preds[i] = self._get_map(data_sample, 'pred', levels[i], plan.main_level)
            if self.output_dir:
                self._write_png(data_sample, preds, levels)
            if self.format_only:
                continue
            gts = [None] * num_levels
            for i in set(plan.area_levels) | set(plan.spcs_levels):
                gts[i] = self._get_map(data_sample, 'gt', levels[i],
                                       plan.main_level).to(preds[i].device)
            stats = F.hierarchical_stats(
                preds, gts, plan.num_classes, plan.hierarchy, plan.area_levels,
                plan.spcs_levels, plan.secs, self.ignore_index, plan.valid_chain)
            self.results.append(stats)

    def _write_png(self, data_sample: dict, preds: List[torch.Tensor], levels: Sequence):
        basename = osp.splitext(osp.basename(data_sample['img_path']))[0]
        for level, pred in zip(levels, preds):
            folder = self.output_dir if level is None else osp.join(self.output_dir, level)
            mkdir_or_exist(folder)
            mask = pred.cpu().numpy()
            if level is None and data_sample.get('reduce_zero_label', False):
                mask = mask + 1
            if mask.min() < 0 or mask.max() > 255:
                raise ValueError(f'cannot write {level or "sem"} prediction of {basename} as '
                                 f'uint8 PNG: values in [{mask.min()}, {mask.max()}]')
            Image.fromarray(mask.astype(np.uint8)).save(
                osp.abspath(osp.join(folder, f'{basename}.png')))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Aggregate the per-sample records of the whole dataset and log the tables.

        Args:
            results (list[dict]): One record per sample from :meth:`process` (all ranks).

        Returns:
            dict[str, float]: See the class docstring for the keys.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'results are saved to {self.output_dir}')
            return OrderedDict()
        self._plan = None  # check the requested metrics against the dataset again
        plan = self._get_plan()
        levels = plan.levels
        metrics = OrderedDict()
        level_rows, class_tables = [], []
        for i in plan.area_levels:
            areas = sum(r['areas'][i] for r in results) if results else np.zeros(
                (4, plan.num_classes[i]), dtype=np.int64)
            scores = self.areas_to_scores(areas)
            suffix = '' if levels[i] is None else f'.{levels[i]}'
            for key in ('aAcc', 'mIoU', 'mIoU_nobg', 'mAcc'):
                metrics[key + suffix] = scores[key]
            level_rows.append([levels[i] or '-'] +
                              [scores[k] for k in ('mIoU', 'mIoU_nobg', 'mAcc', 'aAcc')])
            if self.classwise:
                class_tables.append((levels[i], plan.class_names[i], scores))

        consistency_rows = []
        for i in plan.spcs_levels:
            name = f"SpCS_{plan.pair_names[levels[i]]}"
            terms = [r['spcs'][i] for r in results]
            terms = np.concatenate(terms, axis=1) if terms else np.zeros((3, 0), np.int64)
            score, num_pairs, skipped = self.spcs_from_terms(terms)
            metrics[name] = score
            metrics[f'{name}_skipped'] = skipped
            consistency_rows.append([f'{name} ({levels[i]} -> {levels[i - 1]})', score,
                                     f'{num_pairs} pairs', skipped])
        if plan.secs:
            counts = sum((r['secs'] for r in results), np.zeros(2, np.int64))
            metrics['SeCS'] = self.secs_from_counts(counts)
            consistency_rows.append([f'SeCS ({" -> ".join(reversed(levels))})',
                                     metrics['SeCS'], f'{int(counts[1])} pixels', '-'])

        for level, names, scores in class_tables:
            table = PrettyTable()
            table.add_column('Class', list(names))
            table.add_column('IoU', np.round(scores['IoU'] * 100, 2).tolist())
            table.add_column('Acc', np.round(scores['Acc'] * 100, 2).tolist())
            print_log(f'per class results ({level or "sem"}):', logger)
            print_log('\n' + table.get_string(), logger=logger)
        for title, header, rows in (
                ('per level results:', ['Level', 'mIoU', 'mIoU_nobg', 'mAcc', 'aAcc'], level_rows),
                ('consistency results:', ['Consistency', 'Score', 'Over', 'Skipped'],
                 consistency_rows)):
            if rows:
                table = PrettyTable(header)
                table.add_rows(rows)
                print_log(title, logger)
                print_log('\n' + table.get_string(), logger=logger)
        return metrics

    @staticmethod
    def areas_to_scores(areas: np.ndarray) -> dict:
        """Summary scores of one level from its summed areas.

        Args:
            areas (np.ndarray): (4, N) summed intersection, union, predicted and ground-truth
                areas.

        Returns:
            dict: ``aAcc``, ``mIoU``, ``mIoU_nobg``, ``mAcc`` in percent, rounded to 2 decimals as
            MMSeg does (classes absent from ground truth and prediction are skipped), and the
            per-class ``IoU`` / ``Acc`` (N,) in [0, 1].
        """
        out = F.iou_from_areas(areas)
        iou, acc = out['IoU'], out['Acc']
        return dict(aAcc=_percent(out['aAcc']), mIoU=_percent(F.nanmean(iou)),
                    mIoU_nobg=_percent(F.nanmean(iou[1:])), mAcc=_percent(F.nanmean(acc)),
                    IoU=iou, Acc=acc)

    @staticmethod
    def spcs_from_terms(terms: np.ndarray) -> tuple:
        """(SpCS rounded to 2 decimals, number of pairs, skipped pairs) from (3, R) terms."""
        score, num_pairs, skipped = F.spatial_consistency_score(terms)
        return round(score, 2), num_pairs, skipped

    @staticmethod
    def secs_from_counts(counts: np.ndarray) -> float:
        """SeCS rounded to 2 decimals from summed (valid, foreground) pixel counts."""
        return round(F.semantic_consistency_score(counts), 2)


def _percent(value: float) -> float:
    return round(float(value) * 100, 2)

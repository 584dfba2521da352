"""SPIN's prompt protocol as an evaluator: per level mIoU over prompts, SpCS, SeCS, broken down
by size and by general / specific class names (arXiv 2407.09686)."""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from prettytable import PrettyTable

from cast.structures import ClassHierarchy, pair_names
from mmseg.registry import METRICS

from .. import prompts as P


@METRICS.register_module()
class PromptMetric(BaseMetric):
    """Scores of a model that answers one prompt (image, level, class) with one mask.

    The prompts are the classes present in each image's ground-truth label map of each level
    (:mod:`cast.evaluation.prompts`). Per prompt, the answer is the mask the model gave for that
    class (several answers: ``duplicates``); no answer counts as an empty mask; answers for
    classes the image does not hold are counted (``extra_answers``) and ignored.

    - ``mIoU.{level}``: IoU of answer and ground truth (ground-truth ignore pixels left out),
      averaged over prompts (``averaging='prompt'``, default) or per class over its prompts'
      summed intersections and unions, then over classes (``'category'``, the label-map mIoU
      without background).
    - ``SpCS_{pair}``: for every child prompt k, ``|A_k AND A_parents(k)| / |A_k|`` over all
      pixels, A the answers (the parents' answers united), averaged over the prompts whose
      answer is not empty (the others counted in ``SpCS_{pair}_skipped``). An empty parent
      answer (no answer, or no parent prompt in the image) scores 0 (``absent_parent='zero'``,
      default, as the label-map SpCS) or leaves the triple out (``'skip'``); either way they are
      counted in ``SpCS_{pair}_no_parent``.
    - ``SeCS``: when every level of the hierarchy is scored, the label-map SeCS of the answers
      painted per level (higher score on top).
    - ``.small`` / ``.medium`` / ``.large`` (ground-truth area <= 32^2, <= 96^2, above) and
      ``.general`` / ``.specific`` (below the object level) break each score down.

    Data samples carry ``gt_seg_{level}`` (PixelData or dict with ``data`` (1, H, W)) for every
    scored level, ``pred_prompts``: ``{level: [dict(label=int, mask=(H, W) bool, score=float)]}``
    (a level left out: nothing answered), and optionally ``img_path`` / ``img_id`` (named in
    reports). A level missing from ``pred_prompts`` whose ``pred_seg_{level}`` label map is
    there is answered by that map (each prompt by its class's mask), so the metric also runs
    as ``test_evaluator`` of a hierarchical segmentor.

    Args:
        levels (Sequence[str], optional): levels to score (default: all of ``dataset_meta``).
        averaging (str): 'prompt' or 'category'. Default: 'prompt'.
        absent_parent (str): 'zero' or 'skip'. Default: 'zero'.
        duplicates (str): several answers for one class of one image: their 'union' or the
            'max_score' one. Default: 'union'.
        ignore_index (int): ground-truth ignore value. Default: 255.
        collect_device (str): 'cpu' or 'gpu'. Default: 'cpu'.
        prefix (str, optional): prefix of the result keys. Default: None.
    """

    def __init__(self,
                 levels: Optional[Sequence[str]] = None,
                 averaging: str = 'prompt',
                 absent_parent: str = 'zero',
                 duplicates: str = 'union',
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        for name, value, allowed in (('averaging', averaging, P.AVERAGING),
                                     ('absent_parent', absent_parent, P.ABSENT_PARENT),
                                     ('duplicates', duplicates, P.DUPLICATES)):
            if value not in allowed:
                raise ValueError(f'PromptMetric: {name} must be one of {allowed}, got {value!r}')
        self.levels = tuple(levels) if levels is not None else None
        self.averaging = averaging
        self.absent_parent = absent_parent
        self.duplicates = duplicates
        self.ignore_index = ignore_index
        self._plan = None

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Optional[dict]: Meta info of the dataset; setting it checks the levels."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        self._dataset_meta = dataset_meta
        self._plan = None if dataset_meta is None else self._make_plan(dataset_meta)

    def _make_plan(self, meta: dict) -> dict:
        if not meta.get('levels'):
            raise ValueError("PromptMetric: dataset_meta has no 'levels' (a hierarchical "
                             'dataset such as SPINDataset is expected)')
        hierarchy = ClassHierarchy.from_meta(meta)
        levels = self.levels or hierarchy.levels
        ClassHierarchy.subsequence_index(levels, hierarchy.levels, "dataset_meta['levels']")
        pairs = {child: name for name, child, parent in pair_names(hierarchy.levels)
                 if child in levels and parent in levels}
        secs = tuple(levels) == hierarchy.levels and len(levels) > 1
        return dict(levels=tuple(levels), hierarchy=hierarchy, pairs=pairs, secs=secs,
                    names=P.class_names(meta),
                    valid_chain=hierarchy.chain_mask(extra=1) if secs else None)

    def _get_plan(self) -> dict:
        if self._dataset_meta is None:
            raise ValueError('PromptMetric: dataset_meta is not set')
        if self._plan is None:
            self._plan = self._make_plan(self._dataset_meta)
        return self._plan

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store one small record of integer counts per image in ``self.results``."""
        plan = self._get_plan()
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            gts = {}
            for level in plan['levels']:
                key = f'gt_seg_{level}'
                if key not in sample:
                    raise KeyError(f'PromptMetric: data sample has no {key} (keys: '
                                   f'{sorted(sample)})')
                data = sample[key]['data'] if isinstance(sample[key], dict) else sample[key]
                gts[level] = np.asarray(data.cpu() if hasattr(data, 'cpu') else data)
                gts[level] = gts[level].reshape(gts[level].shape[-2:])
            answers = dict(sample.get('pred_prompts') or {})
            for level in plan['levels']:
                if level not in answers and f'pred_seg_{level}' in sample:
                    data = sample[f'pred_seg_{level}']
                    data = data['data'] if isinstance(data, dict) else data
                    pred = np.asarray(data.cpu() if hasattr(data, 'cpu') else data)
                    answers[level] = P.label_map_answers(pred.reshape(pred.shape[-2:]),
                                                         gts[level], self.ignore_index)
            unknown = sorted(set(answers) - set(plan['hierarchy'].levels))
            if unknown:
                raise KeyError(f'PromptMetric: pred_prompts has levels {unknown}; the dataset '
                               f"has {plan['hierarchy'].levels}")
            stats = P.prompt_image_stats(gts, answers, plan['hierarchy'], self.duplicates,
                                         self.ignore_index, plan['secs'], plan['valid_chain'])
            stats['image'] = sample.get('img_path', sample.get('img_id'))
            self.results.append(stats)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Aggregate all images' records, log the paper's tables, return the scores."""
        logger: MMLogger = MMLogger.get_current_instance()
        plan = self._get_plan()
        metrics = OrderedDict(P.summarize(results, plan['levels'], plan['pairs'], plan['names'],
                                          self.averaging, self.absent_parent))
        extra = [(r['image'], level, k) for r in results for level, k in r['extra']]
        if extra:
            shown = '; '.join(f"{image}: {level} {plan['names'][level][k]['name']!r}"
                              for image, level, k in extra[:10])
            logger.warning(f'{len(extra)} answer(s) for classes their image does not hold were '
                           f'ignored: {shown}' + ('; ...' if len(extra) > 10 else ''))
        for title, table in self.tables(metrics, plan['levels'], plan['pairs']):
            print_log(title, logger)
            print_log('\n' + table.get_string(), logger=logger)
        return metrics

    @staticmethod
    def tables(metrics: dict, levels: Sequence[str], pairs: Dict[str, str]) -> list:
        """(title, PrettyTable): the paper's layout (mIoU fine -> coarse, SpCS, SeCS), then by
        size and by name kind."""
        fine = list(reversed(levels))
        cols = [f'mIoU {lv}' for lv in fine] + [f'SpCS {pairs[lv]}' for lv in fine
                                                if lv in pairs]
        keys = [f'mIoU.{lv}' for lv in fine] + [f'SpCS_{pairs[lv]}' for lv in fine
                                                if lv in pairs]
        if 'SeCS' in metrics:
            cols.append('SeCS')
            keys.append('SeCS')

        def row(suffix):
            return [_show(metrics.get(k + suffix)) for k in keys if k != 'SeCS' or not suffix]

        main = PrettyTable(cols)
        main.add_row(row(''))
        sizes = PrettyTable(['size'] + [c for c in cols if c != 'SeCS'])
        for name, _ in P.SIZE_BINS:
            sizes.add_row([name] + row(f'.{name}'))
        kind_keys = [(c, k) for c, k in zip(cols, keys) if f'{k}.general' in metrics]
        kinds = PrettyTable(['names'] + [c for c, _ in kind_keys])
        for name in ('general', 'specific'):
            kinds.add_row([name] + [_show(metrics[f'{k}.{name}']) for _, k in kind_keys])
        counts = PrettyTable(['level', 'prompts', 'missing answers'])
        for lv in fine:
            counts.add_row([lv, metrics[f'prompts.{lv}'], metrics[f'missing.{lv}']])
        out = [('prompt results (the paper\'s layout):', main),
               ('by ground-truth size (small <= 32x32 px, medium <= 96x96 px):', sizes)]
        if kind_keys:
            out.append(('by class names (general: the name recurs under another parent):',
                        kinds))
        out.append(('prompts:', counts))
        return out


def _show(value):
    return '-' if value is None or (isinstance(value, float) and np.isnan(value)) else value

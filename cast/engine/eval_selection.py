"""``tools/test.py --eval``: choose which metrics the configured evaluator reports."""
import inspect

from mmseg.registry import METRICS

#: The keyword each known evaluator takes its metric names from, and the names it supports.
#: An evaluator not listed here is asked through its ``metrics`` keyword and validates the names
#: itself when it is built.
IOU_METRIC_NAMES = ('mIoU', 'mDice', 'mFscore')


def evaluator_cfgs(evaluator) -> list:
    """A config's ``test_evaluator`` (one dict or a list of dicts) as a list of its dicts."""
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]


def _metric_keyword(metric_cls):
    params = inspect.signature(metric_cls.__init__).parameters
    for key in ('iou_metrics', 'hier_metrics', 'metrics'):
        if key in params:
            return key
    return None


def select_eval_metrics(cfg, names):
    """Make ``cfg.test_evaluator`` report only ``names``.

    The names go to the evaluator's ``iou_metrics`` (MMSeg's IoUMetric), ``hier_metrics``
    (:class:`~cast.evaluation.HierarchicalMetric`, which checks them against the dataset) or
    ``metrics`` keyword.

    Args:
        cfg (mmengine.Config): Config with a ``test_evaluator`` (a dict or a list of dicts).
        names (list[str]): Metric names from the command line, e.g. ``['mIoU', 'SpCS']``.

    Raises:
        ValueError: No configured evaluator can report one of the names; the message lists what
            the configured evaluators can report.
    """
    supported = {}
    for evaluator in evaluator_cfgs(cfg.test_evaluator):
        metric_cls = METRICS.get(evaluator['type'])
        if metric_cls is None:
            raise KeyError(f'test_evaluator type "{evaluator["type"]}" is not registered')
        key = _metric_keyword(metric_cls)
        if key is None:
            raise ValueError(f'--eval: the evaluator {evaluator["type"]} has no metric selection')
        allowed = IOU_METRIC_NAMES if key == 'iou_metrics' else None  # None: the metric checks
        supported[evaluator['type']] = (evaluator, key, allowed)

    unknown = [n for n in names if not any(
        allowed is None or n in allowed for _, _, allowed in supported.values())]
    if unknown:
        what = '; '.join(f'{t}: {", ".join(a) if a else "any"}'
                         for t, (_, _, a) in supported.items())
        raise ValueError(f'--eval {" ".join(unknown)}: not reported by the configured '
                         f'test_evaluator ({what})')
    for evaluator, key, allowed in supported.values():
        chosen = [n for n in names if allowed is None or n in allowed]
        if chosen:
            evaluator[key] = chosen
    return cfg

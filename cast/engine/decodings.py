"""One checkpoint tested once per decoding, for a side-by-side table.

``tools/test.py --compare-decodings`` and ``benchmarks/hierarchy.py`` use these: the decoding
(:data:`cast.segmentors.DECODINGS`) is a test-time choice of
:class:`~cast.segmentors.HierarchicalEncoderDecoder`, so one trained model can be scored with
each, by MMEngine's own test loop.
"""
import copy
import os.path as osp
import time

from mmengine.config import Config
from mmengine.runner import Runner

from cast.segmentors import DECODINGS

from .eval_selection import evaluator_cfgs

# The columns of a decodings table: every level's mIoU and the consistency metrics.
TABLE_PREFIXES = ('mIoU.', 'SpCS_S2P', 'SpCS_P2O', 'SeCS')


def test_decoding(cfg: Config, decoding: str) -> dict:
    """Run ``cfg``'s test loop with ``model.decoding = decoding``.

    ``cfg`` is a config ready for :meth:`Runner.from_cfg` (``load_from`` set). It is not
    changed; the copy draws no pictures, writes no ``--out`` predictions and logs to
    ``{cfg.work_dir}/decoding_{decoding}``.

    Returns:
        dict[str, float]: The evaluator's metrics.
    """
    if decoding not in DECODINGS:
        raise ValueError(f'decoding must be one of {DECODINGS}, got {decoding!r}')
    if 'decoding' not in cfg.model and cfg.model.get('type') != 'HierarchicalEncoderDecoder':
        raise ValueError(f'model type {cfg.model.get("type")!r} has no decoding to choose; '
                         'decodings are compared for HierarchicalEncoderDecoder models')
    cfg = copy.deepcopy(cfg)
    cfg.model.decoding = decoding
    cfg.work_dir = osp.join(cfg.work_dir, f'decoding_{decoding}')
    cfg.experiment_name = f'decoding_{decoding}_{time.strftime("%Y%m%d_%H%M%S")}_{time.time_ns()}'
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is not None:
        hook['draw'] = False
    for evaluator in evaluator_cfgs(cfg.test_evaluator):
        evaluator.pop('output_dir', None)
        if evaluator.get('format_only'):
            evaluator['format_only'] = False
    return {k: float(v) for k, v in Runner.from_cfg(cfg).test().items()}


def decodings_table(results: dict) -> str:
    """A Markdown table: a row per decoding of ``results`` (``{decoding: metrics}``), a column
    per level's mIoU and per consistency metric (those :data:`TABLE_PREFIXES` name)."""
    keys = [k for k in next(iter(results.values()))
            if k.startswith(TABLE_PREFIXES) and not k.endswith('_skipped')]
    lines = ['| decoding | ' + ' | '.join(keys) + ' |', '|---|' + '---:|' * len(keys)]
    for decoding, metrics in results.items():
        lines.append(f'| {decoding} | ' + ' | '.join(
            f'{metrics[k]:.2f}' if k in metrics else '-' for k in keys) + ' |')
    return '\n'.join(lines)

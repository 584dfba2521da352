"""tools/test.py's --eval selection (cast.engine.eval_selection): the metrics asked for reach
the evaluators that can report them; any other is refused by name."""
import pytest
from mmengine.config import Config

import cast  # noqa: F401
from cast.engine import select_eval_metrics


def test_eval_selects_iou_metrics():
    cfg = Config(dict(test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU'])))
    select_eval_metrics(cfg, ['mIoU', 'mFscore'])
    assert cfg.test_evaluator.iou_metrics == ['mIoU', 'mFscore']


def test_eval_rejects_what_the_evaluator_cannot_report():
    cfg = Config(dict(test_evaluator=dict(type='IoUMetric')))
    with pytest.raises(ValueError, match=r'--eval SeCS.*IoUMetric: mIoU, mDice, mFscore'):
        select_eval_metrics(cfg, ['mIoU', 'SeCS'])


def test_eval_spreads_over_a_list_of_evaluators():
    cfg = Config(dict(test_evaluator=[dict(type='IoUMetric'), dict(type='HierarchicalMetric')]))
    select_eval_metrics(cfg, ['mIoU', 'SpCS'])
    assert cfg.test_evaluator[0].iou_metrics == ['mIoU']
    assert 'SpCS' in cfg.test_evaluator[1].hier_metrics

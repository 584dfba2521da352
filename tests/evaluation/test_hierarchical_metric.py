"""HierarchicalMetric on hand-made 4x4 maps (expected values computed by hand, see
tests/helpers/hier_maps.py)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from PIL import Image

from cast.evaluation import HierarchicalMetric
from cast.evaluation import functional as F
from cast.structures import ClassHierarchy
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample
from tests.helpers.hier_maps import (
    GT_A,
    GT_B,
    HIERARCHY,
    LEVELS,
    PRED_A,
    PRED_B,
    X,
    meta,
    random_samples,
    sample,
)


def evaluate(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def r2(x):
    return round(100 * x, 2)


# Expected values, worked out pixel by pixel in the comments of tests/helpers/hier_maps.py's maps.
EXPECTED = {
    # object: IoU background 12/17, animal 3/4, car 7/11, boat absent (nan, skipped)
    'mIoU.object': r2((12 / 17 + 3 / 4 + 7 / 11) / 3),
    'mIoU_nobg.object': r2((3 / 4 + 7 / 11) / 2),
    'aAcc.object': r2(22 / 27),
    # part: background 12/16, head 2/3, body 1/6, wheel 3/11
    'mIoU.part': r2((12 / 16 + 2 / 3 + 1 / 6 + 3 / 11) / 4),
    'mIoU_nobg.part': r2((2 / 3 + 1 / 6 + 3 / 11) / 3),
    'aAcc.part': r2((12 + 2 + 1 + 3) / 27),
    # subpart: background 21/24, eye 1/2, nose 0 (never predicted), tire 1/4
    'mIoU.subpart': r2((21 / 24 + 1 / 2 + 0 + 1 / 4) / 4),
    'mIoU_nobg.subpart': r2((1 / 2 + 0 + 1 / 4) / 3),
    'aAcc.subpart': r2(23 / 27),
    # S2P pairs: A eye 2/2, A nose skipped, A tire 1/2 (one tire pixel on a body), B tire 1/1
    # (its only predicted pixel lies on an ignored ground-truth pixel: all pixels count)
    'SpCS_S2P': r2((1 + 0.5 + 1) / 3),
    'SpCS_S2P_skipped': 1,
    # P2O pairs: A head 2/3, A body 1/1, A wheel 4/4, B wheel 4/4
    'SpCS_P2O': r2((2 / 3 + 1 + 1 + 1) / 4),
    'SpCS_P2O_skipped': 0,
    # all-foreground pixels: A 4 (one tire-on-body chain invalid, the 255 subpart excluded),
    # B 1 (on an ignored ground-truth pixel)
    'SeCS': r2(4 / 5),
}


def test_hand_computed_three_levels():
    metric = HierarchicalMetric()
    metric.dataset_meta = meta()
    results = evaluate(metric, [sample(GT_A, PRED_A, name='a'), sample(GT_B, PRED_B, name='b')])
    for key, value in EXPECTED.items():
        assert results[key] == pytest.approx(value, abs=1e-9), key
    assert set(results) == set(EXPECTED) | {f'mAcc.{level}' for level in LEVELS}
    # mAcc object: background 12/12, animal 3/4, car 7/11; boat has no ground truth (skipped)
    assert results['mAcc.object'] == pytest.approx(r2((1 + 3 / 4 + 7 / 11) / 3))


def test_registered_and_built_from_config():
    metric = METRICS.build(dict(type='HierarchicalMetric', hier_metrics=['SpCS_P2O']))
    assert isinstance(metric, HierarchicalMetric)


def test_selected_metrics_and_uint8_predictions():
    metric = HierarchicalMetric(hier_metrics=['mIoU.part', 'SpCS_S2P'])
    metric.dataset_meta = meta()
    samples = [sample(GT_A, PRED_A, dtype=torch.uint8), sample(GT_B, PRED_B, dtype=torch.uint8)]
    results = evaluate(metric, samples)
    assert set(results) == {'aAcc.part', 'mIoU.part', 'mIoU_nobg.part', 'mAcc.part',
                            'SpCS_S2P', 'SpCS_S2P_skipped'}
    assert results['SpCS_S2P'] == EXPECTED['SpCS_S2P']
    assert results['mIoU.part'] == EXPECTED['mIoU.part']


def test_only_needed_levels_are_read():
    metric = HierarchicalMetric(hier_metrics=['SpCS_P2O'])
    metric.dataset_meta = meta()
    samples = [sample(GT_A, PRED_A), sample(GT_B, PRED_B)]
    for s in samples:
        del s['pred_seg_subpart'], s['gt_seg_subpart']
    assert evaluate(metric, samples)['SpCS_P2O'] == EXPECTED['SpCS_P2O']


def test_two_levels_partimagenet_like():
    levels = ('object', 'part')
    metric = HierarchicalMetric()
    metric.dataset_meta = meta(levels)
    samples = [sample(GT_A, PRED_A, levels), sample(GT_B, PRED_B, levels)]
    results = evaluate(metric, samples)
    assert results['SpCS_P2O'] == EXPECTED['SpCS_P2O']
    assert results['mIoU.part'] == EXPECTED['mIoU.part']
    # part+object foreground: A 7 pixels, all valid; B 8 pixels, the 4 body-on-car invalid
    assert results['SeCS'] == r2(11 / 15)
    assert 'SpCS_S2P' not in results


def test_several_allowed_parents_from_level_parents():
    """dataset_meta['level_parents'] (no single-parent 'hierarchy' entry): any allowed parent."""
    levels = ('object', 'part')
    dataset_meta = meta(levels, hierarchy=False)
    dataset_meta['hierarchy'] = {}
    dataset_meta['level_parents'] = dict(part=((0, ), (1, ), (1, 2), (2, )))  # body: animal|car
    metric = HierarchicalMetric(hier_metrics=['SpCS', 'SeCS'])
    metric.dataset_meta = dataset_meta
    results = evaluate(metric, [sample(GT_A, PRED_A, levels), sample(GT_B, PRED_B, levels)])
    assert results['SpCS_P2O'] == EXPECTED['SpCS_P2O']
    assert results['SeCS'] == 100  # B's body-on-car pixels are now valid


def test_level_subset_composes_parents():
    """levels=('object', 'subpart') pairs subparts with objects through the part level."""
    metric = HierarchicalMetric(hier_metrics=['SpCS', 'SeCS'], levels=('object', 'subpart'))
    metric.dataset_meta = meta()
    results = evaluate(metric, [sample(GT_A, PRED_A), sample(GT_B, PRED_B)])
    # S2O pairs: A eye 2/2 (animal), A nose skipped, A tire: (1,0) on animal, (2,2) on car -> 1/2;
    # B tire 1/1
    assert results['SpCS_S2O'] == r2((1 + 0.5 + 1) / 3)
    assert results['SpCS_S2O_skipped'] == 1
    assert results['SeCS'] == r2(4 / 5)


def test_empty_predictions_are_skipped_and_counted():
    empty = {level: [[0] * 4] * 4 for level in LEVELS}
    metric = HierarchicalMetric(hier_metrics=['SpCS', 'SeCS'])
    metric.dataset_meta = meta()
    results = evaluate(metric, [sample(GT_A, empty), sample(GT_B, empty)])
    # S2P: A eye, nose, tire + B tire; P2O: A head, body, wheel + B wheel: all skipped
    assert results['SpCS_S2P_skipped'] == 4 and results['SpCS_P2O_skipped'] == 4
    assert np.isnan(results['SpCS_S2P']) and np.isnan(results['SeCS'])


def test_ground_truth_as_prediction_is_consistent():
    clean = {level: [[v if v != X else 0 for v in row] for row in GT_A[level]]
             for level in LEVELS}
    metric = HierarchicalMetric()
    metric.dataset_meta = meta()
    results = evaluate(metric, [sample(clean, clean)])
    for key in ('mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SpCS_S2P', 'SpCS_P2O', 'SeCS'):
        assert results[key] == 100, key


def test_single_level_matches_mmseg_iou_metric():
    """A dataset without levels: plain keys, the same numbers as IoUMetric (pred 255 included)."""
    classes = ('background', 'animal', 'car', 'boat')
    samples = []
    for gt, pred, name in ((GT_A, PRED_A, 'a'), (GT_B, PRED_B, 'b')):
        pred = [row[:] for row in pred['object']]
        pred[0][3] = X
        samples.append(dict(img_path=f'{name}.jpg',
                            gt_sem_seg=dict(data=torch.tensor([gt['object']])),
                            pred_sem_seg=dict(data=torch.tensor([pred]))))
    ours = HierarchicalMetric(hier_metrics=['mIoU'])
    ours.dataset_meta = dict(classes=classes)
    theirs = IoUMetric()
    theirs.dataset_meta = dict(classes=classes)
    results, reference = evaluate(ours, samples), evaluate(theirs, samples)
    assert results['mIoU'] == reference['mIoU']
    assert results['aAcc'] == reference['aAcc']
    assert results['mAcc'] == reference['mAcc']
    assert set(results) == {'aAcc', 'mIoU', 'mIoU_nobg', 'mAcc'}


def test_seg_data_samples_and_main_level_fallback():
    """SegDataSample objects work; the main level may come as pred_sem_seg / gt_sem_seg."""
    data_samples = []
    for gt, pred in ((GT_A, PRED_A), (GT_B, PRED_B)):
        ds = SegDataSample(metainfo=dict(img_path='x.png'))
        ds.gt_sem_seg = PixelData(data=torch.tensor([gt['object']]))
        ds.pred_sem_seg = PixelData(data=torch.tensor([pred['object']]))
        for level in ('part', 'subpart'):
            ds.set_field(PixelData(data=torch.tensor([gt[level]])), f'gt_seg_{level}')
            ds.set_field(PixelData(data=torch.tensor([pred[level]])), f'pred_seg_{level}')
        data_samples.append(ds)
    metric = HierarchicalMetric()
    metric.dataset_meta = meta()
    results = evaluate(metric, data_samples)
    for key, value in EXPECTED.items():
        assert results[key] == value, key


def test_functions_match_a_pixel_loop():
    """The vectorised counts equal a plain per-pixel reference, on both SeCS paths."""
    hierarchy = ClassHierarchy(LEVELS, HIERARCHY, num_classes=dict.fromkeys(LEVELS, 4))
    for s in random_samples(4, seed=3):
        preds = [s[f'pred_seg_{level}']['data'][0] for level in LEVELS]
        gts = [s[f'gt_seg_{level}']['data'][0] for level in LEVELS]
        stats = F.hierarchical_stats(preds, gts, [4, 4, 4], hierarchy, [0, 1, 2], [2, 1], True)
        valid = total = 0
        terms = {1: {}, 2: {}}
        for o, p, sp in zip(*(x.reshape(-1).tolist() for x in preds)):
            if 0 < o < 4 and 0 < p < 4 and 0 < sp < 4:
                total += 1
                valid += HIERARCHY['subpart'][sp] == p and HIERARCHY['part'][p] == o
            for level, child, parent in ((2, sp, p), (1, p, o)):
                hit = terms[level].setdefault(child, [0, 0])
                hit[1] += 1
                hit[0] += 0 < child < 4 and HIERARCHY[LEVELS[level]][child] == parent
        assert stats['secs'].tolist() == [valid, total]
        for level in (1, 2):
            present = sorted(set(gts[level].reshape(-1).tolist()) - {0, X})
            expected = [[k for k in present], [terms[level].get(k, [0, 0])[0] for k in present],
                        [terms[level].get(k, [0, 0])[1] for k in present]]
            assert stats['spcs'][level].tolist() == expected
        saved = F.MAX_JOINT_BINS
        try:
            F.MAX_JOINT_BINS = 1  # pairwise histograms and the per-pixel SeCS
            slow = F.hierarchical_stats(preds, gts, [4, 4, 4], hierarchy, [0], [2, 1], True)
        finally:
            F.MAX_JOINT_BINS = saved
        assert slow['secs'].tolist() == stats['secs'].tolist()
        for level in (1, 2):
            assert slow['spcs'][level].tolist() == stats['spcs'][level].tolist()


def test_split_results_reduce_exactly():
    """Results split over ranks (in any order) give exactly the one-process numbers."""
    samples = random_samples(7)
    one = HierarchicalMetric()
    one.dataset_meta = meta()
    one.process({}, samples)
    expected = one.compute_metrics(one.results)
    parts = [HierarchicalMetric(), HierarchicalMetric()]
    for rank, part in enumerate(parts):
        part.dataset_meta = meta()
        part.process({}, samples[rank::2])
    merged = parts[1].results + parts[0].results
    got = parts[0].compute_metrics(merged)
    np.testing.assert_equal(got, expected)


def test_output_dir_writes_prediction_format(tmp_path):
    metric = HierarchicalMetric(output_dir=str(tmp_path), format_only=True)
    metric.dataset_meta = meta()
    assert evaluate(metric, [sample(GT_A, PRED_A, name='n0001_2')]) == {}
    for level in LEVELS:
        png = np.asarray(Image.open(osp.join(tmp_path, level, 'n0001_2.png')))
        assert png.dtype == np.uint8 and png.tolist() == PRED_A[level]


@pytest.mark.parametrize('metrics,dataset_meta,match', [
    (['SpCS_S2P'], meta(('object', 'part')), 'SpCS_S2P: no level pair'),
    (['SpCS'], dict(classes=('background', 'wall')), 'SpCS needs at least two levels'),
    (['SeCS'], dict(classes=('background', 'wall')), 'SeCS needs at least two levels'),
    (['SeCS'], meta(hierarchy=False), "SeCS needs the class hierarchy"),
    (['SpCS_P2O'], meta(hierarchy=False), "SpCS_P2O needs the class hierarchy"),
    (['mIoU.subpart'], meta(('object', 'part')), 'mIoU.subpart: the evaluated levels'),
])
def test_unavailable_metric_raises_when_meta_is_set(metrics, dataset_meta, match):
    metric = HierarchicalMetric(hier_metrics=metrics)
    with pytest.raises(ValueError, match=match):
        metric.dataset_meta = dataset_meta


def test_levels_out_of_order_raise_when_meta_is_set():
    metric = HierarchicalMetric(levels=('part', 'object'))
    with pytest.raises(ValueError, match=r"not a coarse -> fine subsequence of "
                                         r"dataset_meta\['levels'\]"):
        metric.dataset_meta = meta()


def test_unavailable_metric_raises_in_compute_metrics():
    metric = HierarchicalMetric(hier_metrics=['mIoU', 'SeCS'])
    dataset_meta = meta()
    metric.dataset_meta = dataset_meta
    metric.process({}, [sample(GT_A, PRED_A)])
    del dataset_meta['hierarchy']
    with pytest.raises(ValueError, match='SeCS needs the class hierarchy'):
        metric.compute_metrics(metric.results)


@pytest.mark.parametrize('kwargs,match', [
    (dict(hier_metrics=['mDice']), "unknown metric 'mDice'"),
    (dict(ignore_index=-1), 'ignore_index'),
    (dict(format_only=True), 'format_only=True needs output_dir'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HierarchicalMetric(**kwargs)


def test_bad_inputs_name_the_problem():
    metric = HierarchicalMetric()
    with pytest.raises(ValueError, match='dataset_meta is not set'):
        metric.process({}, [sample(GT_A, PRED_A)])
    bad = meta()
    bad['hierarchy'] = dict(part=(0, 1, 1), subpart=HIERARCHY['subpart'])
    with pytest.raises(ValueError, match=r"\['part'\] must hold one parent entry per part"):
        metric.dataset_meta = bad
    metric.dataset_meta = meta()
    gt = dict(GT_A, part=[[9, 1, 0, 0]] + GT_A['part'][1:])
    with pytest.raises(ValueError, match=r'ground truth holds values \[9\]'):
        metric.process({}, [sample(gt, PRED_A)])
    s = sample(GT_A, PRED_A)
    del s['pred_seg_part']
    with pytest.raises(KeyError, match='pred_seg_part'):
        metric.process({}, [s])
    s = sample(GT_A, PRED_A)
    s['pred_seg_part']['data'] = s['pred_seg_part']['data'][:, :3]
    with pytest.raises(ValueError, match='prediction shape'):
        metric.process({}, [s])

"""UnsupervisedRegionMetric, alone and in tools/eval_unsupervised.py's MMEngine test loop."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from cast.apis import HierarchyPredictor
from cast.evaluation import UnsupervisedRegionMetric
from cast.evaluation.unsupervised import boundary_tolerance, region_stats, summarize
from tests.helpers.tools import load_tool


def sample(regions, gts):
    return dict(pred_regions=dict(data=torch.as_tensor(np.stack(regions))),
                **{f'gt_seg_{lv}': dict(data=torch.as_tensor(gt)[None]) for lv, gt in gts.items()})


def test_metric_sums_counts_over_images():
    rng = np.random.default_rng(0)
    meta = dict(levels=('object', 'part'),
                level_classes=dict(object=('background', 'a', 'b'),
                                   part=('background', 'x', 'y', 'z')))
    samples = [sample([rng.integers(0, 6, (8, 9)), rng.integers(0, 3, (8, 9))],
                      dict(object=rng.integers(0, 3, (8, 9)), part=rng.integers(0, 4, (8, 9))))
               for _ in range(3)]
    metric = UnsupervisedRegionMetric(region_names=('fine', 'coarse'))
    metric.dataset_meta = meta
    metric.process({}, samples)
    metrics = metric.compute_metrics(metric.results)
    for i, name in enumerate(('fine', 'coarse')):
        for level, n in (('object', 3), ('part', 4)):
            stats = [region_stats(s['pred_regions']['data'][i], s[f'gt_seg_{level}']['data'][0],
                                  n, boundary_tolerance(8, 9)) for s in samples]
            expected = summarize(sum(s['areas'] for s in stats),
                                 sum(s['boundary'] for s in stats))
            for key, value in expected.items():
                assert metrics[f'{name}/{level}/{key}'] == pytest.approx(value, nan_ok=True)
        regions = np.mean([len(np.unique(s['pred_regions']['data'][i])) for s in samples])
        assert metrics[f'{name}/regions'] == pytest.approx(regions)
    assert 'fine' in UnsupervisedRegionMetric.format_table(metrics)
    bad = UnsupervisedRegionMetric(levels=['subpart'])
    bad.dataset_meta = meta
    with pytest.raises(KeyError, match="level_classes'] of the levels \\['subpart'\\]"):
        bad.process({}, samples)


def test_tool_equals_a_direct_loop(tiny_config_dir, synthetic_spin_root, tmp_path):
    """The tool (MMEngine test loop) gives what scoring each image by hand gives."""
    tool = load_tool('eval_unsupervised.py')
    config = osp.join(tiny_config_dir, 'tiny_cast_deit.py')
    scores, regions = tool.main([config, 'random', '--dataset', 'spin', '--data-root',
                                 synthetic_spin_root, '--size', '64', '--levels', 'object',
                                 'part', '--max-images', '3'])

    from cast.datasets import SPINDataset
    predictor = HierarchyPredictor(config, 'random')  # sets MMPretrain's scope
    init_default_scope('mmseg')
    ds = SPINDataset(synthetic_spin_root, split='val', test_mode=True, indices=3,
                     pipeline=[dict(type='LoadImageFromFile'),
                               dict(type='LoadHierarchicalAnnotations')])
    sums = {}
    for i in range(len(ds)):
        results = ds[i]
        img = mmcv.imrescale(results['img'], 64 / min(results['img'].shape[:2]))
        hierarchy = predictor(img)
        for k, region in enumerate(hierarchy):
            for level in ('object', 'part'):
                gt = mmcv.imresize(results[f'gt_seg_{level}'], img.shape[1::-1],
                                   interpolation='nearest')
                stats = region_stats(torch.from_numpy(region), torch.from_numpy(gt).long(),
                                     len(ds.metainfo['level_classes'][level]),
                                     boundary_tolerance(*gt.shape))
                acc = sums.setdefault((k, level), [0, 0])
                acc[0] = acc[0] + stats['areas']
                acc[1] = acc[1] + stats['boundary']
    names = list(scores)
    assert names == ['superpixels', 'stage1', 'stage2', 'stage3', 'stage4']
    for (k, level), (areas, boundary) in sums.items():
        for key, value in summarize(areas, boundary).items():
            assert scores[names[k]][level][key] == pytest.approx(value, nan_ok=True), \
                (names[k], level, key)

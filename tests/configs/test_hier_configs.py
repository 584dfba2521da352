"""The hierarchical CAST configs build, train one iteration and test with the hierarchical metric.

Each config runs unchanged with a real MMEngine Runner on a tiny synthetic dataset written in
its real layout (SPIN: spin_{split}_{wholes,parts,subparts}.json; PartImageNet:
annotations/{split}.json), except for the data root, the classes per level (those of the
generated data, read from the dataset's metainfo), a 64-pixel crop, no pretrained backbone and
one iteration.
"""
import glob
import os.path as osp

import mmcv
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import cast  # noqa: F401
from cast.datasets.synthetic import generate_synthetic_partimagenet, generate_synthetic_spin
from mmseg.registry import DATASETS
from tests.helpers.configs import shrink

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs', 'cast')
SPIN = osp.join(CONFIG_DIR, 'hier-upernet_cast-s_spin.py')
PARTIMAGENET = osp.join(CONFIG_DIR, 'hier-upernet_cast-s_partimagenet.py')


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp('hier_layouts')
    sizes = dict(num_train=2, num_val=1, num_test=1, seed=0, min_size=64, max_size=80)
    return {
        SPIN: generate_synthetic_spin(str(base / 'spin'), **sizes),
        PARTIMAGENET: generate_synthetic_partimagenet(str(base / 'partimagenet'), **sizes),
    }


def dataset_metainfo(cfg):
    """The metainfo of the config's test dataset (classes per level of the generated data)."""
    init_default_scope('mmseg')
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg.update(pipeline=[], lazy_init=True)
    return DATASETS.build(dataset_cfg).metainfo


def use_dataset_classes(cfg):
    """The heads' classes per level from the generated data (the test dataset's metainfo)."""
    meta = dataset_metainfo(cfg)
    num_classes = [len(meta['level_classes'][level]) for level in meta['levels']]
    assert tuple(cfg.model.decode_head.levels) == tuple(meta['levels'])
    for head in (cfg.model.decode_head, cfg.model.auxiliary_head):
        head.num_classes = num_classes
    return cfg


def test_configs_match_the_datasets():
    """Real class counts (METRICS.md): SPIN 11 / 40 / 203, PartImageNet 11 / 40, + background."""
    spin, pin = Config.fromfile(SPIN), Config.fromfile(PARTIMAGENET)
    for cfg, levels, classes in ((spin, ('object', 'part', 'subpart'), [12, 41, 204]),
                                 (pin, ('object', 'part'), [12, 41])):
        assert cfg.model.type == 'HierarchicalEncoderDecoder'
        assert cfg.model.decoding == 'joint'
        assert cfg.model.decode_head.hierarchy_loss.type == 'ChainLikelihoodLoss'
        for head in (cfg.model.decode_head, cfg.model.auxiliary_head):
            assert head.type == 'HierarchicalDecodeHead'
            assert tuple(head.levels) == levels and list(head.num_classes) == classes
        assert dict(type='DatasetMetaHook') in cfg.custom_hooks
        assert cfg.visualizer.type == 'HierarchicalSegVisualizer'
        assert cfg.test_evaluator.type == 'HierarchicalMetric'
        assert cfg.train_cfg.max_iters == 80000
        assert cfg.model.data_preprocessor.size == (512, 512)
        for loader in ('train_dataloader', 'test_dataloader'):
            steps = [s.type for s in cfg[loader].dataset.pipeline]
            assert 'Superpixels' in steps and steps[-1] == 'PackHierSegInputs'
    assert spin.test_evaluator.hier_metrics == ['mIoU', 'SpCS', 'SeCS']
    assert pin.test_evaluator.hier_metrics == ['mIoU', 'SpCS_P2O', 'SeCS']


@pytest.mark.parametrize(
    'config, keys, show',
    [(SPIN, ['mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SpCS_S2P', 'SpCS_P2O', 'SeCS'], True),
     (PARTIMAGENET, ['mIoU.object', 'mIoU.part', 'SpCS_P2O', 'SeCS'], False)],
    ids=['spin', 'partimagenet'])
def test_config_trains_one_iteration_and_tests(config, keys, show, data_roots, tmp_path):
    cfg = use_dataset_classes(
        shrink(Config.fromfile(config), data_roots[config], str(tmp_path / 'work')))
    show_dir = str(tmp_path / 'show')
    if show:  # what tools/test.py --show-dir does
        cfg.default_hooks.visualization.draw = True
        cfg.default_hooks.visualization.interval = 1
        cfg.visualizer.save_dir = show_dir
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    for key in keys:
        assert key in metrics, f'{key} not in {sorted(metrics)}'
    if 'SpCS_S2P' not in keys:
        assert 'SpCS_S2P' not in metrics
    assert osp.isfile(tmp_path / 'work' / 'iter_1.pth')
    if show:
        # SegVisualizationHook names pictures {mode}_{image file name}_{step}.png
        pictures = glob.glob(osp.join(show_dir, 'vis_data', 'vis_image', 'test_*.png'))
        assert len(pictures) == 1  # the one test image
        image = runner.test_dataloader.dataset.get_data_info(0)['img_path']
        panel_h, panel_w = runner.visualizer.panel_shape(*mmcv.imread(image).shape[:2])
        height, width = mmcv.imread(pictures[0]).shape[:2]
        # rows: the image, then GT | Pred | legend per level (with headers)
        assert 2 * panel_w < width < 3 * panel_w
        assert 4 * panel_h < height < 5 * panel_h

"""The Cityscapes configs build, train one iteration and test, on tiny data in Cityscapes'
layout (``leftImg8bit/{split}/{city}/*_leftImg8bit.png``,
``gtFine/{split}/{city}/*_gtFine_labelTrainIds.png`` with train ids 0..18 and 255); the
hierarchical dataset reads both of HSSN's levels from the train ids."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import cast  # noqa: F401
from cast.datasets import CityscapesHierarchyDataset
from cast.datasets.cityscapes_hierarchy import TRAIN_ID_CATEGORY
from cast.datasets.transforms import LoadHierarchicalAnnotations
from cast.structures import ClassHierarchy
from tests.configs.test_cast_configs import _write, scene
from tests.helpers.configs import shrink

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'cast', '*_cityscapes-512x1024.py')))


def write_cityscapes(root, rng):
    for split, count in (('train', 2), ('val', 1)):
        for i in range(count):
            image, labels = scene(rng, 72, 144, 19)
            train_ids = np.where(labels == 0, 255, labels - 1).astype(np.uint8)
            name = f'aachen_{i:06d}_000019'
            _write(osp.join(root, 'leftImg8bit', split, 'aachen', f'{name}_leftImg8bit.png'),
                   image)
            _write(osp.join(root, 'gtFine', split, 'aachen', f'{name}_gtFine_labelTrainIds.png'),
                   train_ids)
    return root


@pytest.fixture(scope='module')
def cityscapes_root(tmp_path_factory):
    return write_cityscapes(str(tmp_path_factory.mktemp('cityscapes')), np.random.default_rng(0))


def test_the_configs_exist():
    names = {osp.basename(c) for c in CONFIGS}
    assert names == {f'{head}_cast-{size}_cityscapes-512x1024.py'
                     for head in ('upernet', 'segformer') for size in 'sb'} | {
                         'hier-upernet_cast-s_cityscapes-512x1024.py'}


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_trains_one_iteration_and_tests(config, cityscapes_root, tmp_path):
    cfg = Config.fromfile(config)
    assert cfg.crop_size == (512, 1024) and cfg.model.test_cfg.mode == 'slide'
    hierarchical = osp.basename(config).startswith('hier-')
    if hierarchical:
        assert cfg.model.decode_head.num_classes == [8, 20]
    else:
        assert cfg.model.decode_head.num_classes == 19
    runner = Runner.from_cfg(shrink(cfg, cityscapes_root, str(tmp_path)))
    runner.train()
    metrics = runner.test()
    if hierarchical:  # joint decoding: consistent by construction
        assert {'mIoU_nobg.class', 'mIoU.category'} <= set(metrics)
        assert metrics['SeCS'] == 100
    else:
        assert 'mIoU' in metrics
    assert osp.isfile(tmp_path / 'iter_1.pth')


def test_hierarchy_dataset_reads_both_levels_from_the_train_ids(cityscapes_root):
    dataset = CityscapesHierarchyDataset(
        data_root=cityscapes_root, data_prefix=dict(img_path='leftImg8bit/val',
                                                    seg_map_path='gtFine/val'),
        pipeline=[dict(type='LoadHierarchicalAnnotations')])
    meta = dataset.metainfo
    h = ClassHierarchy.from_meta(meta)
    assert h.levels == ('category', 'class') and h.num_classes == dict(category=8, **{'class': 20})
    assert h.classes['class'][14] == 'car' and h.classes['category'][7] == 'vehicle'
    assert h.parents['class'][14] == (7, )
    item = dataset[0]
    train_ids = np.array(Image.open(item['seg_map_path']))
    assert (train_ids == 255).any() and (train_ids < 19).any()
    cls, cat = item['gt_seg_class'], item['gt_seg_category']
    lut = np.array(TRAIN_ID_CATEGORY + (0, ) * (255 - 19) + (254, ))
    np.testing.assert_array_equal(cls, np.where(train_ids == 255, 255, train_ids + 1))
    np.testing.assert_array_equal(cat, lut[train_ids] + 1)
    np.testing.assert_array_equal(item['gt_seg_map'], cls)
    assert isinstance(dataset.pipeline.transforms[0], LoadHierarchicalAnnotations)

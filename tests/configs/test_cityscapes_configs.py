"""The Cityscapes configs build, train one iteration and test, on tiny data in Cityscapes'
layout (``leftImg8bit/{split}/{city}/*_leftImg8bit.png``,
``gtFine/{split}/{city}/*_gtFine_labelTrainIds.png`` with train ids 0..18 and 255)."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import cast  # noqa: F401
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


def test_the_four_configs_exist():
    names = {osp.basename(c) for c in CONFIGS}
    assert names == {f'{head}_cast-{size}_cityscapes-512x1024.py'
                     for head in ('upernet', 'segformer') for size in 'sb'}


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_trains_one_iteration_and_tests(config, cityscapes_root, tmp_path):
    cfg = Config.fromfile(config)
    assert cfg.crop_size == (512, 1024) and cfg.model.test_cfg.mode == 'slide'
    assert cfg.model.decode_head.num_classes == 19
    runner = Runner.from_cfg(shrink(cfg, cityscapes_root, str(tmp_path)))
    runner.train()
    metrics = runner.test()
    assert 'mIoU' in metrics
    assert osp.isfile(tmp_path / 'iter_1.pth')

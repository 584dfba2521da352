"""Every CAST config builds, trains one iteration and tests, on tiny data in the real layouts.

The data is written in ADE20K's (ADEChallengeData2016) and Pascal Context's (VOC2010) folder
layouts, so the configs run unchanged but for the data root and a 64-pixel crop
(tests.helpers.configs.shrink).
"""
import copy
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import cast  # noqa: F401
from tests.helpers.configs import shrink

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'cast', '*_ade20k.py')) +
                 glob.glob(osp.join(REPO, 'configs', 'cast', '*_pascal-context*.py')))


def scene(rng, height, width, num_classes):
    """A textured image whose label map is a few rectangles of random classes."""
    labels = np.zeros((height, width), np.uint8)
    image = rng.integers(0, 40, (height, width, 3)).astype(np.uint8)
    for _ in range(4):
        y0, x0 = rng.integers(0, height - 16), rng.integers(0, width - 16)
        y1, x1 = y0 + rng.integers(12, 40), x0 + rng.integers(12, 40)
        label = rng.integers(1, num_classes + 1)
        labels[y0:y1, x0:x1] = label
        image[y0:y1, x0:x1] = (rng.integers(60, 255, 3) + image[y0:y1, x0:x1] // 2).clip(0, 255)
    return image, labels


def write_ade20k(root, rng):
    for split, count in (('training', 2), ('validation', 1)):
        for i in range(count):
            image, labels = scene(rng, 72, 96, 150)
            name = f'ADE_{split}_{i:08d}'
            for sub, ext, array in (('images', 'jpg', image), ('annotations', 'png', labels)):
                path = osp.join(root, sub, split, f'{name}.{ext}')
                _write(path, array)
    return root


def write_pascal_context(root, rng):
    names = {'train': ['2008_000001', '2008_000002'], 'val': ['2008_000003']}
    for split, split_names in names.items():
        for name in split_names:
            image, labels = scene(rng, 72, 96, 59)
            _write(osp.join(root, 'JPEGImages', f'{name}.jpg'), image)
            _write(osp.join(root, 'SegmentationClassContext', f'{name}.png'), labels)
        _write_text(osp.join(root, 'ImageSets', 'SegmentationContext', f'{split}.txt'),
                    '\n'.join(split_names) + '\n')
    return root


def _write(path, array):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, array)


def _write_text(path, text):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    rng = np.random.default_rng(0)
    base = tmp_path_factory.mktemp('public_layouts')
    return dict(
        ade20k=write_ade20k(str(base / 'ADEChallengeData2016'), rng),
        pascal_context=write_pascal_context(str(base / 'VOC2010'), rng))


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_trains_one_iteration_and_tests(config, data_roots, tmp_path):
    cfg = Config.fromfile(config)
    root = data_roots['ade20k' if 'ade20k' in config else 'pascal_context']
    runner = Runner.from_cfg(shrink(cfg, root, str(tmp_path)))
    runner.train()
    metrics = runner.test()
    assert 'mIoU' in metrics
    assert osp.isfile(tmp_path / 'iter_1.pth')


def test_fused_adamw_steps_as_the_loop():
    """The segmentation schedules use torch's fused AdamW: the update of the per-tensor loop up
    to float rounding."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'schedules', 'adamw_160k.py'))
    assert cfg.optim_wrapper.optimizer.fused is True
    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LayerNorm(16),
                                  torch.nn.Linear(16, 3))]
    models.append(copy.deepcopy(models[0]))
    loop_cfg = copy.deepcopy(cfg.optim_wrapper)
    loop_cfg.optimizer.fused = None
    loop_cfg.paramwise_cfg = None
    fused_cfg = copy.deepcopy(cfg.optim_wrapper)
    fused_cfg.paramwise_cfg = None
    wrappers = [build_optim_wrapper(m, c) for m, c in zip(models, (fused_cfg, loop_cfg))]
    assert wrappers[0].optimizer.defaults['fused'] and not wrappers[1].optimizer.defaults['fused']
    x = torch.randn(32, 8)
    for _ in range(3):
        for model, wrapper in zip(models, wrappers):
            wrapper.update_params(model(x).square().mean())
    for p, q in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)

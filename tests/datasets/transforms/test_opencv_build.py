"""The OpenCV build: the contrib one (cv2.ximgproc, for SEEDS), alone, and
still serving mmcv, MMSeg and MMPretrain's image loading and transforms.

opencv-python and opencv-contrib-python both install the ``cv2`` package
into the same files: the last one installed wins and uninstalling either
deletes the other's. ``make install`` removes the plain build that mmcv and
mmengine pull in and installs the contrib build alone.
"""
import importlib.metadata as metadata
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import DefaultScope
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from PIL import Image

import cast  # noqa: F401  (registers Superpixels in both registries)
from mmseg.registry import TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def pinned_contrib_version():
    with open(osp.join(ROOT, 'requirements', 'runtime.txt')) as f:
        for line in f:
            if line.startswith('opencv-contrib-python=='):
                return line.split('==')[1].strip()
    raise AssertionError('requirements/runtime.txt pins no '
                         'opencv-contrib-python')


def installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_only_the_pinned_contrib_build_is_installed():
    version = pinned_contrib_version()
    assert installed('opencv-contrib-python') == version
    others = {name: installed(name) for name in (
        'opencv-python', 'opencv-python-headless',
        'opencv-contrib-python-headless')}
    assert not any(others.values()), (
        f'another OpenCV build shares the cv2/ files: {others}; run '
        '`make install` (or uninstall them and reinstall '
        'opencv-contrib-python with --force-reinstall --no-deps)')
    # the cv2 files are the contrib build's, of the pinned release
    assert version.startswith(cv2.__version__ + '.')
    assert callable(cv2.ximgproc.createSuperpixelSEEDS)


@pytest.fixture(scope='module')
def image_files(tmp_path_factory):
    """A BGR photo-like image (PNG and JPEG) and a label map (PNG)."""
    root = tmp_path_factory.mktemp('cv2')
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:60, 0:80]
    img = np.stack([xx * 3, yy * 4, (xx + yy) * 2], -1).astype(np.uint8)
    img[10:30, 20:50] = (30, 200, 90)
    img = np.clip(img + rng.integers(0, 8, img.shape), 0, 255).astype(
        np.uint8)
    seg = np.zeros((60, 80), np.uint8)
    seg[10:30, 20:50] = 3
    seg[40:, :] = 7
    paths = dict(png=str(root / 'img.png'), jpg=str(root / 'img.jpg'),
                 seg=str(root / 'seg.png'))
    assert mmcv.imwrite(img, paths['png'])
    assert mmcv.imwrite(img, paths['jpg'])
    assert mmcv.imwrite(seg, paths['seg'])
    return img, seg, paths


def test_mmcv_image_io_and_ops(image_files):
    img, seg, paths = image_files
    # cv2 backend read/write, checked against Pillow's decoder
    np.testing.assert_array_equal(mmcv.imread(paths['png']), img)
    np.testing.assert_array_equal(
        np.asarray(Image.open(paths['png']))[..., ::-1], img)
    with open(paths['png'], 'rb') as f:
        np.testing.assert_array_equal(mmcv.imfrombytes(f.read()), img)
    np.testing.assert_array_equal(
        mmcv.imread(paths['seg'], flag='unchanged'), seg)
    jpeg = mmcv.imread(paths['jpg']).astype(np.int64)
    assert np.abs(jpeg - img).mean() < 4
    # geometry and colour through cv2
    np.testing.assert_array_equal(
        mmcv.imresize(img, (160, 120), interpolation='nearest'),
        img.repeat(2, 0).repeat(2, 1))
    np.testing.assert_array_equal(mmcv.imflip(img, 'horizontal'),
                                  img[:, ::-1])
    padded = mmcv.impad(img, shape=(64, 84), pad_val=0)
    np.testing.assert_array_equal(padded[:60, :80], img)
    assert not padded[60:].any() and not padded[:, 80:].any()
    hsv = mmcv.bgr2hsv(img)
    assert np.abs(mmcv.hsv2bgr(hsv).astype(int) - img).max() <= 8
    mean, std = np.array([10., 20., 30.]), np.array([2., 4., 8.])
    np.testing.assert_allclose(
        mmcv.imnormalize(img, mean, std, to_rgb=True),
        (img[..., ::-1] - mean) / std, rtol=1e-5)


def test_mmseg_pipeline_loads_and_transforms(image_files):
    img, seg, paths = image_files
    exact = Compose([TRANSFORMS.build(t) for t in [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=False),
        dict(type='Resize', scale=(160, 120), keep_ratio=False),
    ]])(dict(img_path=paths['png'], seg_map_path=paths['seg'],
             reduce_zero_label=False, seg_fields=[]))
    assert exact['img'].shape == (120, 160, 3)
    # labels are resized by nearest neighbour
    np.testing.assert_array_equal(exact['gt_seg_map'],
                                  seg.repeat(2, 0).repeat(2, 1))
    pipeline = Compose([TRANSFORMS.build(t) for t in [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=False),
        dict(type='RandomResize', scale=(100, 64), ratio_range=(0.5, 2.0),
             keep_ratio=True),
        dict(type='RandomCrop', crop_size=(48, 48), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='Superpixels', method='seeds', area_per_superpixel=64),
        dict(type='PackSegInputs'),
    ]])
    for seed in range(3):
        np.random.seed(seed)
        out = pipeline(dict(img_path=paths['jpg'], seg_map_path=paths['seg'],
                            reduce_zero_label=False, seg_fields=[]))
        inputs, sample = out['inputs'], out['data_samples']
        assert inputs.shape[0] == 3 and inputs.shape[1:] == (
            sample.gt_sem_seg.data.shape[1:])
        assert set(np.unique(sample.gt_sem_seg.data.numpy())) <= {0, 3, 7}


def test_mmpretrain_pipeline_loads_and_transforms(image_files):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        check_mmpretrain_pipelines(*image_files)


def check_mmpretrain_pipelines(img, seg, paths):
    pipeline = Compose([PRETRAIN_TRANSFORMS.build(t) for t in [
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=32, backend='cv2'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='Superpixels', method='seeds', num_superpixels=16),
        dict(type='PackInputs', algorithm_keys=['superpixels']),
    ]])
    out = pipeline(dict(img_path=paths['png']))
    assert tuple(out['inputs'].shape) == (3, 32, 32)
    assert out['data_samples'].superpixels.shape == (32, 32)
    test = Compose([PRETRAIN_TRANSFORMS.build(t) for t in [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=40, edge='short', backend='cv2'),
        dict(type='CenterCrop', crop_size=32),
    ]])(dict(img_path=paths['png']))
    assert test['img'].shape == (32, 32, 3)
    expected = mmcv.imresize(img, (53, 40), backend='cv2')[4:36, 10:42]
    np.testing.assert_array_equal(test['img'], expected)

"""MMPretrain pipelines with superpixels: one map per view, computed on that view."""
import numpy as np
import pytest
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmpretrain.registry import TRANSFORMS
from PIL import Image

from cast.datasets.transforms import Superpixels
from cast.recognition.transforms import adjust_hue


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = (200, 40, 40)
    img[:24, 32:] = (30, 180, 60)
    img[24:, 32:] = (20, 20, 220)
    return (img + rng.integers(0, 10, img.shape)).astype(np.uint8)


def test_multi_view_keeps_each_views_superpixels(image):
    init_default_scope('mmpretrain')
    view = [dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.)),
            dict(type='RandomFlip', prob=0.5),
            dict(type='Superpixels', num_superpixels=16)]
    pipeline = Compose([
        dict(type='SuperpixelMultiView', num_views=[1, 1], transforms=[view, view]),
        dict(type='PackInputs', algorithm_keys=['superpixels'])])
    packed = pipeline(dict(img=image))
    inputs, sps = packed['inputs'], packed['data_samples'].superpixels
    assert len(inputs) == len(sps) == 2
    for img, sp in zip(inputs, sps):
        assert img.shape == (3, 32, 32) and sp.shape == (32, 32)
        # computed on the view's own (cropped, flipped) pixels
        view_bgr = img.permute(1, 2, 0).numpy()
        assert np.array_equal(sp, Superpixels(num_superpixels=16).compute(view_bgr))
        assert sp.min() == 0 and sp.max() == len(np.unique(sp)) - 1


def test_multi_view_names_a_missing_key(image):
    init_default_scope('mmpretrain')
    wrapper = TRANSFORMS.build(dict(type='SuperpixelMultiView', num_views=1,
                                    transforms=[[dict(type='RandomFlip', prob=0.5)]]))
    with pytest.raises(KeyError, match="produced no \\['superpixels'\\]"):
        wrapper(dict(img=image))
    with pytest.raises(ValueError, match='collect_keys'):
        TRANSFORMS.build(dict(type='SuperpixelMultiView', num_views=1, transforms=[[]],
                              collect_keys='img'))


def test_flip_keeps_image_and_superpixels_aligned(image):
    init_default_scope('mmpretrain')
    flip = Compose([dict(type='RandomFlip', prob=1.0),
                    dict(type='Superpixels', num_superpixels=12)])
    out = flip(dict(img=image.copy()))
    assert np.array_equal(out['img'], image[:, ::-1])
    # every superpixel is one colour block of the flipped image: its mean colour matches
    # the pixels under it (no superpixel straddles the flipped colour boundaries)
    for label in np.unique(out['superpixels']):
        pixels = out['img'][out['superpixels'] == label].astype(float)
        assert pixels.std(0).max() < 10


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
def test_adjust_hue_negative_shift(image, backend):
    import mmcv
    assert np.array_equal(adjust_hue(image, 0.1, backend), mmcv.adjust_hue(image, 0.1, backend))
    shifted = adjust_hue(image, -0.1, backend)  # mmcv raises OverflowError under numpy 2
    if backend == 'pillow':
        hue = lambda im: np.asarray(Image.fromarray(im[..., ::-1]).convert('HSV'))[..., 0]  # noqa
        diff = (hue(shifted).astype(int) - hue(image).astype(int)) % 256
        assert np.median(diff) == (int(-0.1 * 255) % 256)
    with pytest.raises(ValueError):
        adjust_hue(image, 0.7, backend)


def test_safe_color_jitter_runs_with_negative_hue(image):
    init_default_scope('mmpretrain')
    jitter = TRANSFORMS.build(dict(type='SafeColorJitter', hue=(-0.5, -0.4)))
    out = jitter(dict(img=image.copy()))['img']
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)

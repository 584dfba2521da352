"""ImageNet-C-style corruptions: ImageNet-C's formulas and parameters, by hand."""
import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS

from cast.datasets.transforms import CORRUPTIONS, corrupt
from cast.datasets.transforms.corruptions import SEVERITY_PARAMS
from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS


@pytest.fixture
def image():
    """(64, 80) BGR: a gradient with a bright square, so every corruption changes it."""
    yy, xx = np.mgrid[:64, :80]
    img = np.stack([xx * 3, yy * 3, 200 - xx * 2], -1).astype(np.float64)
    img[20:44, 30:60] = (30, 220, 240)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_severity_zero_is_the_image_and_the_change_grows_with_severity(image):
    for kind in CORRUPTIONS:
        assert np.array_equal(corrupt(image, kind, 0), image)
        dist = [np.abs(corrupt(image, kind, s, np.random.default_rng(0)).astype(int)
                       - image).mean() for s in range(1, 6)]
        assert all(a > 0 for a in dist), kind
        assert dist == sorted(dist), (kind, dist)


def test_contrast_and_noise_follow_imagenet_c(image):
    x = image / 255
    for s, c in enumerate(SEVERITY_PARAMS['contrast'], 1):
        want = np.round(np.clip((x - x.mean()) * c + x.mean(), 0, 1) * 255)
        assert np.array_equal(corrupt(image, 'contrast', s), want.astype(np.uint8))
    noisy = corrupt(image, 'gaussian_noise', 3, np.random.default_rng(5))
    want = np.round(np.clip(x + np.random.default_rng(5).normal(0, 0.18, x.shape), 0, 1) * 255)
    assert np.array_equal(noisy, want.astype(np.uint8))


def test_blur_scales_with_the_image_and_jpeg_round_trips(image):
    # sigma 3 at 224 px is sigma 3 * 64 / 224 at 64 px
    sigma = 3 * 64 / 224
    want = cv2.GaussianBlur(image / 255, (0, 0), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT)
    got = corrupt(image, 'gaussian_blur', 3)
    assert np.array_equal(got, np.round(np.clip(want, 0, 1) * 255).astype(np.uint8))
    unscaled = corrupt(image, 'gaussian_blur', 3, reference_size=None)
    assert np.abs(unscaled.astype(int) - image).mean() > np.abs(got.astype(int) - image).mean()
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 15])
    assert np.array_equal(corrupt(image, 'jpeg', 3), cv2.imdecode(buf, cv2.IMREAD_COLOR))


def test_registered_in_both_registries_and_bad_input_named(image):
    for registry in (PRETRAIN_TRANSFORMS, SEG_TRANSFORMS):
        pipeline = Compose([registry.build(dict(type='Corrupt', kind='contrast', severity=2))])
        assert np.array_equal(pipeline(dict(img=image))['img'], corrupt(image, 'contrast', 2))
    with pytest.raises(ValueError, match='kind must be one of'):
        PRETRAIN_TRANSFORMS.build(dict(type='Corrupt', kind='fog', severity=1))
    with pytest.raises(ValueError, match='severity must be an integer in 0..5'):
        corrupt(image, 'jpeg', 6)
    with pytest.raises(ValueError, match=r'uint8 image, got float64 \(64, 80, 3\)'):
        corrupt(image / 255, 'jpeg', 1)

"""Tests of the ``Superpixels`` transform (fast-slic or OpenCV SEEDS on the
final crop)."""
import cv2
import numpy as np
import pytest
from mmcv.transforms import Compose

from cast.datasets.transforms.superpixels import (
    Superpixels,
    seeds_grid,
    split_thin_structures,
    thin_structures,
)
from cast.utils import relabel_consecutive
from mmseg.registry import TRANSFORMS

METHODS = ['slic', 'seeds']


def textured_image(h=64, w=48, seed=0):
    """A BGR uint8 image with smooth colour gradients and a few blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)],
                   axis=-1)
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(4, 12)
        img[(yy - cy)**2 + (xx - cx)**2 < r * r] = rng.integers(0, 255, 3)
    return img.astype(np.uint8)


def two_colour_image(h=40, w=64, edge=23):
    """Left of column ``edge`` red, right of it blue (BGR); gt 1 / 2."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :edge] = (0, 0, 220)
    img[:, edge:] = (200, 40, 0)
    gt = np.ones((h, w), np.uint8)
    gt[:, edge:] = 2
    return img, gt


def assert_contiguous(sp):
    assert sp.dtype == np.int64
    np.testing.assert_array_equal(np.unique(sp), np.arange(sp.max() + 1))


def test_registered_and_repr():
    t = TRANSFORMS.build(dict(type='Superpixels', compactness=20))
    assert isinstance(t, Superpixels)
    assert repr(t) == ("Superpixels(method='slic', area_per_superpixel=256, "
                       "num_superpixels=None, compactness=20, "
                       "min_size_factor=0.25, max_iter=10, "
                       "channel_order='bgr', num_threads=1)")
    t = TRANSFORMS.build(
        dict(type='Superpixels', method='seeds', histogram_bins=15,
             max_iter=20, num_superpixels=196))
    assert repr(t) == ("Superpixels(method='seeds', area_per_superpixel=256,"
                       " num_superpixels=196, num_levels=1, prior=2, "
                       "histogram_bins=15, max_iter=20, double_step=False, "
                       "channel_order='bgr')")


def test_requested_count_follows_crop_area():
    t = Superpixels()
    assert t.requested_count(512, 512) == 1024
    assert t.requested_count(64, 48) == 12
    assert t.requested_count(3, 3) == 1  # at least one
    assert Superpixels(area_per_superpixel=64).requested_count(64, 48) == 48
    assert Superpixels(num_superpixels=7).requested_count(512, 300) == 7
    # never more segments than pixels (fast-slic crashes otherwise)
    assert Superpixels(num_superpixels=50).requested_count(5, 7) == 35
    with pytest.raises(ValueError, match='more than fast-slic can label'):
        Superpixels(area_per_superpixel=1).requested_count(256, 256)


@pytest.mark.parametrize('method', METHODS)
def test_counts_shape_dtype_contiguity(method):
    img = textured_image()
    results = Superpixels(method=method)(dict(img=img))
    sp = results['superpixels']
    assert sp.shape == img.shape[:2]
    assert_contiguous(sp)
    assert 1 <= sp.max() + 1 <= 12
    assert sp.max() + 1 >= 6  # a textured image gets most of what it asked

    sp4 = Superpixels(num_superpixels=4, method=method)(
        dict(img=img))['superpixels']
    assert_contiguous(sp4)
    # fast-slic gives at most what it is asked; OpenCV's SEEDS at least 10
    expected = 4 if method == 'slic' else seeds_grid(64, 48, 4, 1)
    assert sp4.max() + 1 <= expected


@pytest.mark.parametrize('method', METHODS)
@pytest.mark.parametrize('kind', ['flat', 'noise', 'tiny', 'wide'])
def test_degenerate_images_never_assume_requested_count(kind, method):
    rng = np.random.default_rng(1)
    img = {
        'flat': np.full((48, 48, 3), 128, np.uint8),
        'noise': rng.integers(0, 256, (32, 256, 3), dtype=np.uint8),
        'tiny': rng.integers(0, 256, (3, 2, 3), dtype=np.uint8),
        'wide': rng.integers(0, 256, (1, 40, 3), dtype=np.uint8),
    }[kind]
    sp = Superpixels(area_per_superpixel=16, method=method)(
        dict(img=img))['superpixels']
    assert sp.shape == img.shape[:2]
    assert_contiguous(sp)


def test_relabel_fills_gaps():
    labels = np.array([[5, 9], [9, 2]], np.int16)
    np.testing.assert_array_equal(
        relabel_consecutive(labels), np.array([[1, 2], [2, 0]]))


@pytest.mark.parametrize('method', METHODS)
def test_deterministic(method):
    img = textured_image(seed=3)
    t = Superpixels(area_per_superpixel=64, method=method)
    a = t(dict(img=img.copy()))['superpixels']
    b = t(dict(img=img.copy()))['superpixels']
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('method', METHODS)
def test_channel_order_grey_and_float_inputs(method):
    bgr = textured_image(seed=4)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    t_bgr = Superpixels(area_per_superpixel=64, method=method)
    t_rgb = Superpixels(area_per_superpixel=64, channel_order='rgb',
                        method=method)
    np.testing.assert_array_equal(t_bgr(dict(img=bgr))['superpixels'],
                                  t_rgb(dict(img=rgb))['superpixels'])
    # float images are clipped and cast; grey images repeated to 3 channels
    np.testing.assert_array_equal(
        t_bgr(dict(img=bgr.astype(np.float32)))['superpixels'],
        t_bgr(dict(img=bgr))['superpixels'])
    grey = bgr[..., 1]
    np.testing.assert_array_equal(
        t_bgr(dict(img=grey))['superpixels'],
        t_bgr(dict(img=np.repeat(grey[..., None], 3, 2)))['superpixels'])


@pytest.mark.parametrize('method', METHODS)
@pytest.mark.parametrize('flip', [False, True])
def test_boundaries_follow_image_edges_after_flip(flip, method):
    """Superpixels run after RandomFlip in the pipeline: on the flipped crop
    no superpixel may straddle the (flipped) colour edge, and every
    superpixel lies inside one (flipped) ground-truth region."""
    img, gt = two_colour_image()
    pipeline = Compose([
        TRANSFORMS.build(t) for t in [
            dict(type='RandomFlip', prob=1.0 if flip else 0.0,
                 direction='horizontal'),
            dict(type='Superpixels', area_per_superpixel=64, method=method),
        ]
    ])
    results = pipeline(
        dict(img=img.copy(), gt_seg_map=gt.copy(), seg_fields=['gt_seg_map']))
    out_img, out_gt, sp = (results['img'], results['gt_seg_map'],
                           results['superpixels'])
    expected_gt = gt[:, ::-1] if flip else gt
    np.testing.assert_array_equal(out_gt, expected_gt)
    assert_contiguous(sp)
    assert sp.max() + 1 >= 4
    colour = out_img[..., 0].astype(np.int64)  # blue channel: 0 or 200
    for s in range(sp.max() + 1):
        inside = sp == s
        assert len(np.unique(colour[inside])) == 1, \
            f'superpixel {s} straddles the colour edge (flip={flip})'
        assert len(np.unique(out_gt[inside])) == 1


def reference_seeds(rgb, n, bins, iterations):
    """What the reference computes (twke18/CAST datasets_seeds.py): SEEDS on
    the RGB image converted to CIELAB, labels as OpenCV returns them."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    seeds = cv2.ximgproc.createSuperpixelSEEDS(
        rgb.shape[1], rgb.shape[0], 3, num_superpixels=n, num_levels=1,
        prior=2, histogram_bins=bins, double_step=False)
    seeds.iterate(lab, num_iterations=iterations)
    return seeds.getLabels()


@pytest.mark.parametrize('size,n,bins,iterations', [
    ((224, 224), 196, 5, 15),  # DeiT
    ((224, 224), 196, 15, 20),  # MoCo v3
    ((96, 128), 48, 5, 15),  # segmentation, H * W / 256
])
def test_seeds_is_the_reference_computation(size, n, bins, iterations):
    bgr = textured_image(*size, seed=5)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    expected = reference_seeds(rgb, n, bins, iterations)
    t = Superpixels(method='seeds', histogram_bins=bins, max_iter=iterations,
                    area_per_superpixel=size[0] * size[1] // n)
    sp = t(dict(img=bgr))['superpixels']
    # same partition (our labels are relabelled 0..S-1 in order)
    np.testing.assert_array_equal(sp, relabel_consecutive(expected))
    # SEEDS returns exactly its grid: 196 at 224x224
    assert sp.max() + 1 == seeds_grid(*size, n, 1)
    if size == (224, 224):
        assert sp.max() + 1 == 196


def test_seeds_counts_follow_the_crop():
    img = textured_image(512, 512, seed=6)
    t = Superpixels(method='seeds')
    sp = t(dict(img=img))['superpixels']
    assert sp.max() + 1 == seeds_grid(512, 512, 1024, 1) == 1024
    sp = t(dict(img=img[:480, :480]))['superpixels']
    assert sp.max() + 1 == seeds_grid(480, 480, 900, 1) == 900


@pytest.mark.parametrize('shape,n', [((10, 10), 100), ((20, 20), 400),
                                     ((5, 7), 35), ((2, 2), 4), ((3, 2), 6),
                                     ((1, 40), 40), ((1, 1), 1)])
def test_seeds_requests_too_large_for_the_image_are_lowered(shape, n):
    """OpenCV's SEEDS segfaults or hangs on these requests (one level or an
    empty grid left); they are lowered to a count the image can hold, or the
    image becomes one superpixel."""
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert seeds_grid(*shape, n, 1) is None
    t = Superpixels(method='seeds', num_superpixels=n)
    if not any(seeds_grid(*shape, k, 1) for k in range(1, n + 1)):
        with pytest.warns(UserWarning, match='too small for SEEDS'):
            sp = t(dict(img=img))['superpixels']
        np.testing.assert_array_equal(sp, np.zeros(shape, np.int64))
    else:
        sp = t(dict(img=img))['superpixels']
        assert_contiguous(sp)
        assert 1 <= sp.max() + 1 < n


def test_seeds_needs_opencv_contrib(monkeypatch):
    monkeypatch.delattr(cv2, 'ximgproc')
    with pytest.raises(ImportError, match='opencv-contrib-python'):
        Superpixels(method='seeds')
    Superpixels()  # fast-slic needs no contrib build


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match='num_superpixels'):
        Superpixels(num_superpixels=0)
    with pytest.raises(ValueError, match='area_per_superpixel'):
        Superpixels(area_per_superpixel=0)
    with pytest.raises(ValueError, match='compactness'):
        Superpixels(compactness=0)
    with pytest.raises(ValueError, match='channel_order'):
        Superpixels(channel_order='lab')
    with pytest.raises(ValueError, match='method'):
        Superpixels(method='quickshift')
    with pytest.raises(ValueError, match=r"\['histogram_bins'\] do not apply"):
        Superpixels(histogram_bins=5)
    with pytest.raises(ValueError, match=r"\['compactness'\] do not apply"):
        Superpixels(method='seeds', compactness=10)
    with pytest.raises(ValueError, match='histogram_bins'):
        Superpixels(method='seeds', histogram_bins=1)
    with pytest.raises(ValueError, match='prior'):
        Superpixels(method='seeds', prior=6)
    with pytest.raises(ValueError, match='max_iter'):
        Superpixels(method='seeds', max_iter=0)
    with pytest.raises(KeyError, match='img'):
        Superpixels()(dict(gt_seg_map=np.zeros((4, 4), np.uint8)))
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        Superpixels()(dict(img=np.zeros((4, 4, 4), np.uint8)))


def pole_scene(h=128, w=192, pole_width=2, seed=0):
    """An RGB street-like image: sky above, road below (both with mild noise) and a dark
    vertical pole ``pole_width`` pixels wide; returns the image and the pole mask."""
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.float32)
    img[:h // 2] = (150, 190, 230)
    img[h // 2:] = (110, 110, 110)
    img += rng.normal(0, 2, (h, w, 1))
    pole = np.zeros((h, w), bool)
    pole[16:h - 8, 77:77 + pole_width] = True
    img[pole] = (40, 40, 45)
    return np.clip(img, 0, 255).astype(np.uint8), pole


@pytest.mark.parametrize('method', METHODS)
def test_thin_split_off_is_unchanged(method):
    img = textured_image(96, 128)
    plain = Superpixels(method=method, area_per_superpixel=64).compute(img)
    off = Superpixels(method=method, area_per_superpixel=64, thin_split=False,
                      thin_max_width=2, thin_contrast=5., thin_min_length=3).compute(img)
    np.testing.assert_array_equal(plain, off)
    assert 'thin' not in repr(Superpixels(method=method))
    assert repr(Superpixels(thin_split=True)).endswith(
        ', thin_split=True, thin_max_width=4, thin_contrast=24.0, thin_min_length=24)')


def owns(sp, mask):
    """Whether some superpixel has most of its pixels in ``mask``."""
    return any(mask[sp == s].mean() > 0.5 for s in np.unique(sp[mask]))


@pytest.mark.parametrize('method', METHODS)
def test_thin_split_gives_a_pole_its_own_superpixels(method):
    img, pole = pole_scene()
    off = Superpixels(method=method, channel_order='rgb').compute(img)
    on = Superpixels(method=method, channel_order='rgb', thin_split=True).compute(img)
    assert not owns(off, pole)
    assert owns(on, pole)
    assert_contiguous(on)
    assert on.max() > off.max()
    # the pole's pieces hold the pole and nothing else; the rest keeps its superpixels
    pieces = np.unique(on[pole])
    assert np.isin(on, pieces).sum() == pole.sum()
    assert len(np.unique(np.stack([off[~pole], on[~pole]]), axis=1).T) == len(
        np.unique(off[~pole]))


def test_thin_structures_ignore_texture_and_wide_objects():
    img, pole = pole_scene(pole_width=3)
    rng = np.random.default_rng(1)
    img[:40, 120:] = rng.integers(0, 255, (40, 72, 1))  # foliage-like texture
    img[80:110, 20:60] = (200, 30, 30)  # a wide sign
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    thin = thin_structures(lab, 4, 24., 24)
    assert thin.max() == 1
    np.testing.assert_array_equal(thin > 0, pole)
    assert thin_structures(lab, 2, 24., 24).max() == 0  # wider than asked
    labels = np.zeros(pole.shape, np.int64)
    labels[:, 96:] = 5
    split = split_thin_structures(labels, thin)
    np.testing.assert_array_equal(split[~pole], labels[~pole])
    assert np.unique(split[pole]).tolist() == [6]  # after the existing labels


def test_thin_split_bad_arguments():
    for bad in (dict(thin_max_width=0), dict(thin_contrast=0), dict(thin_min_length=0)):
        with pytest.raises(ValueError, match='thin_'):
            Superpixels(thin_split=True, **bad)

"""Superpixels for CAST on the final (augmented) crop: fast-slic or SEEDS."""
import math
import warnings
from typing import Optional, Tuple

import cv2
import numpy as np
from fast_slic import Slic
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS

from ...utils import relabel_consecutive

# thin_structures: a thin pixel responds this many times more than its
# surroundings do on average.
THIN_TEXTURE_RATIO = 3.
# fast-slic returns int16 assignments, so it cannot label more segments.
MAX_FAST_SLIC_SEGMENTS = np.iinfo(np.int16).max
METHODS = ('slic', 'seeds')
# Arguments of one method only, with their defaults; None in __init__ means
# "the method's default", anything else given to the other method is an error.
METHOD_DEFAULTS = {
    'slic': dict(compactness=10., min_size_factor=0.25, max_iter=10),
    'seeds': dict(num_levels=1, prior=2, histogram_bins=5, max_iter=15,
                  double_step=False),
}
OPENCV_CONTRIB_HINT = (
    "Superpixels(method='seeds') needs OpenCV's contrib build (cv2.ximgproc)."
    ' `make install` sets it up; by hand: pip uninstall -y opencv-python '
    'opencv-python-headless && pip install --force-reinstall --no-deps '
    'opencv-contrib-python==5.0.0.93 (both builds write the same cv2/ files, '
    'so only one may be installed)')


def seeds_grid(height: int, width: int, num_superpixels: int,
               num_levels: int) -> Optional[int]:
    """Superpixels OpenCV's SEEDS makes for this request, or None if unsafe.

    Mirrors ``SuperpixelSEEDSImpl::initialize`` (opencv_contrib ximgproc,
    ``seeds.cpp``): at least 10 superpixels and 2 levels are used, the
    initial grid has ``int(sqrt(n * H / W))`` rows, and levels are dropped
    until the finest blocks are at least one pixel. With fewer than 2 levels
    left, or an empty grid, OpenCV crashes (segfault, division by zero) or
    hangs, so such requests must not reach it.

    Returns:
        int | None: ``getNumberOfSuperpixels()`` of a safe request.
    """
    n = max(num_superpixels, 10)
    levels = max(num_levels, 2)
    rows = int(math.sqrt(np.float32(n) * height / width))
    cols = rows * width // height
    if rows == 0 or cols == 0:
        return None
    for level_count in range(levels, 1, -1):
        scale = 1 << (level_count - 1)
        block_w = np.float32(width) / cols / scale
        block_h = np.float32(height) / rows / scale
        if block_w >= 1 and block_h >= 1:
            break
    else:
        return None
    top_w = (width // math.ceil(block_w)) >> (level_count - 1)
    top_h = (height // math.ceil(block_h)) >> (level_count - 1)
    return top_w * top_h if top_w >= 1 and top_h >= 1 else None


def seeds_superpixels(lab: np.ndarray, num_superpixels: int, num_levels: int,
                      prior: int, histogram_bins: int, num_iterations: int,
                      double_step: bool) -> np.ndarray:
    """OpenCV SEEDS on a CIELAB image, as the reference computes it.

    A request the image cannot hold (see :func:`seeds_grid`) is lowered to
    the largest count it can; an image too small for any (e.g. 3x2 or one
    row) becomes a single superpixel, with a warning.

    Args:
        lab (np.ndarray): (H, W, 3) uint8 CIELAB image (OpenCV's 8-bit LAB).
        num_superpixels (int): requested count.
        num_levels, prior, histogram_bins, double_step: see
            ``cv2.ximgproc.createSuperpixelSEEDS``.
        num_iterations (int): pixel-update iterations of ``iterate``.

    Returns:
        np.ndarray: (H, W) int32 labels (may have gaps).
    """
    height, width = lab.shape[:2]
    n = num_superpixels
    if seeds_grid(height, width, n, num_levels) is None:
        n = min(n, (height // 2) * (width // 2))
        while n >= 1 and seeds_grid(height, width, n, num_levels) is None:
            n -= 1
        if n < 1:
            warnings.warn(f'Superpixels: a {height}x{width} image is too '
                          'small for SEEDS; it becomes one superpixel')
            return np.zeros((height, width), np.int32)
    seeds = cv2.ximgproc.createSuperpixelSEEDS(
        width, height, 3, num_superpixels=n, num_levels=num_levels,
        prior=prior, histogram_bins=histogram_bins, double_step=double_step)
    seeds.iterate(lab, num_iterations=num_iterations)
    return seeds.getLabels()


def thin_structures(lab: np.ndarray, max_width: int, contrast: float,
                    min_length: int) -> np.ndarray:
    """Thin, elongated structures of an image (poles, wires), as components.

    A morphological top-hat and black-hat with a square of side
    ``max_width + 1`` (the image minus its opening, its closing minus the
    image) respond to what is at most ``max_width`` pixels wide and brighter
    or darker than its surroundings; the strength is their largest value
    over the CIELAB channels. A pixel is thin where the strength is at least
    ``contrast`` and at least ``THIN_TEXTURE_RATIO`` times its mean over a
    window of side ``10 * max_width + 1`` (texture such as foliage or noise
    responds everywhere, a pole only on itself). Of the 8-connected
    components only the elongated ones are kept: a bounding box with a side
    of at least ``min_length`` pixels, and an area of at most ``max_width``
    times the sum of the box's sides (a line of width w fills w * length; a
    cluster of texture much more).

    Args:
        lab (np.ndarray): (H, W, 3) uint8 CIELAB image (OpenCV's 8-bit LAB).
        max_width (int): widest structure found, in pixels (>= 1).
        contrast (float): least strength, in 8-bit CIELAB units.
        min_length (int): shortest structure kept, in pixels.

    Returns:
        np.ndarray: (H, W) int32, 0 outside and 1..N on the N structures.
    """
    kernel = np.ones((max_width + 1, max_width + 1), np.uint8)
    hats = cv2.max(cv2.morphologyEx(lab, cv2.MORPH_TOPHAT, kernel),
                   cv2.morphologyEx(lab, cv2.MORPH_BLACKHAT, kernel))
    strength = cv2.max(cv2.max(hats[..., 0], hats[..., 1]),
                       hats[..., 2]).astype(np.float32)
    side = 10 * max_width + 1
    mask = (strength >= contrast) & (
        strength >= THIN_TEXTURE_RATIO * cv2.blur(strength, (side, side)))
    _, comps, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8)
    box_w, box_h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    keep = ((np.maximum(box_w, box_h) >= min_length)
            & (stats[:, cv2.CC_STAT_AREA] <= max_width * (box_w + box_h)))
    keep[0] = False  # the background of the mask
    new_ids = (np.cumsum(keep) * keep).astype(np.int32)
    return new_ids[comps]


def split_thin_structures(labels: np.ndarray, thin: np.ndarray) -> np.ndarray:
    """Cut thin structures out of superpixels.

    Every (superpixel, structure) pair becomes a label of its own, after the
    existing ones: a pole crossing five superpixels becomes five new
    superpixels (so a pole and a wire that touch are not one segment, and no
    segment spans the image), and what remains of each superpixel keeps its
    label.

    Args:
        labels (np.ndarray): (H, W) integer superpixels.
        thin (np.ndarray): (H, W) structure ids, 0 outside (see
            :func:`thin_structures`).

    Returns:
        np.ndarray: (H, W) int64 labels, with gaps where a superpixel lies
        wholly on a structure (:func:`relabel_consecutive` closes them).
    """
    out = labels.astype(np.int64)
    on = thin > 0
    if on.any():
        pairs = out[on] * (int(thin.max()) + 1) + thin[on]
        _, pieces = np.unique(pairs, return_inverse=True)
        out[on] = out.max() + 1 + pieces.ravel()
    return out


@TRANSFORMS.register_module()
class Superpixels(BaseTransform):
    """Compute the superpixels of the image with fast-slic or OpenCV SEEDS.

    CAST ("Learning Hierarchical Image Segmentation For Recognition and By
    Recognition", Ke, Mo and Yu, ICLR 2024,
    `code <https://github.com/twke18/CAST>`_) turns superpixels into tokens,
    so they must describe exactly the pixels the network sees: put this
    transform after every geometric transform (``Resize``, ``RandomCrop``,
    ``RandomFlip``). The number of superpixels follows the crop area
    (``round(H * W / area_per_superpixel)``, one per 16x16 pixels by
    default, i.e. 1024 at 512x512) unless ``num_superpixels`` fixes it.

    Methods:

    - ``'slic'`` (default): fast-slic's SLIC in CIELAB
      (``compactness``, ``min_size_factor``, ``max_iter`` = 10 iterations).
    - ``'seeds'``: OpenCV's SEEDS (``cv2.ximgproc``, the contrib build) on
      the CIELAB image, as the reference does everywhere
      (``createSuperpixelSEEDS(W, H, 3, n, num_levels, prior,
      histogram_bins, double_step)`` then ``iterate(lab, max_iter)``). Its
      defaults are the reference's DeiT and segmentation setting: 1 level
      (OpenCV uses at least 2), prior 2, 5 histogram bins, 15 iterations; its
      MoCo v3 setting is ``histogram_bins=15, max_iter=20``. SEEDS returns
      a regular grid's worth of superpixels (e.g. exactly 196 at 224x224 and
      1024 at 512x512) and is 2-6x slower than fast-slic
      (``benchmarks/superpixels.py``).

    Either may return fewer segments than requested and labels with gaps
    (fast-slic very few on flat or noisy images; SEEDS on images too small for
    the request, see :func:`seeds_superpixels`), so the output is relabelled
    to the consecutive range 0..S-1 with S >= 1: nothing downstream may assume
    S equals the requested count.

    Thin structures: with ``thin_split=True`` the structures at most
    ``thin_max_width`` pixels wide found by :func:`thin_structures` (poles,
    wires, at least ``thin_min_length`` long and ``thin_contrast`` apart from
    their surroundings) are cut out of the superpixels they cross, each piece
    a superpixel of its own (:func:`split_thin_structures`): neither method
    alone keeps most of them at 256 pixels per superpixel
    (``benchmarks/thin_structures.py``). This adds superpixels (S grows) and
    may leave a superpixel in two pieces on either side of a pole. Off by
    default, and then the output is exactly the method's.

    Colours: mmcv loads images as BGR (``channel_order='bgr'``, the
    default). Non-uint8 images are clipped to [0, 255] and cast to uint8;
    grey images are repeated to three channels.

    Required Keys:

    - img (np.ndarray): (H, W, 3) or (H, W) image.

    Added Keys:

    - superpixels (np.ndarray): (H, W) int64 labels 0..S-1.

    Args:
        area_per_superpixel (int): Pixels per requested superpixel when
            ``num_superpixels`` is None. Defaults to 256 (16x16).
        num_superpixels (int, optional): Fixed number of requested
            superpixels, whatever the crop size. Defaults to None.
        compactness (float, optional): 'slic' only; larger gives more
            regular, less boundary-adherent segments. Defaults to 10.
        min_size_factor (float, optional): 'slic' only; fast-slic merges
            segments smaller than this fraction of the mean segment size.
            Defaults to 0.25.
        max_iter (int, optional): iterations; 10 for 'slic', 15 for 'seeds'
            when None.
        channel_order (str): Channel order of ``results['img']``, 'bgr'
            (mmcv's default) or 'rgb'. Defaults to 'bgr'.
        num_threads (int): fast-slic threads; -1 uses all cores. Defaults to
            1, since data loader workers already run in parallel.
        method (str): 'slic' or 'seeds'. Defaults to 'slic'.
        num_levels (int, optional): 'seeds' only, block levels.
            Defaults to 1.
        prior (int, optional): 'seeds' only, shape smoothing prior 0..5.
            Defaults to 2.
        histogram_bins (int, optional): 'seeds' only, bins per channel.
            Defaults to 5.
        double_step (bool, optional): 'seeds' only. Defaults to False.
        thin_split (bool): give thin structures superpixels of their own
            (either method). Defaults to False.
        thin_max_width (int): widest structure split off, in pixels.
            Defaults to 4.
        thin_contrast (float): least top-hat contrast, in 8-bit CIELAB
            units (L scaled to 0..255). Defaults to 24.
        thin_min_length (int): shortest structure split off, in pixels.
            Defaults to 24.
    """

    def __init__(self,
                 area_per_superpixel: int = 256,
                 num_superpixels: Optional[int] = None,
                 compactness: Optional[float] = None,
                 min_size_factor: Optional[float] = None,
                 max_iter: Optional[int] = None,
                 channel_order: str = 'bgr',
                 num_threads: int = 1,
                 method: str = 'slic',
                 num_levels: Optional[int] = None,
                 prior: Optional[int] = None,
                 histogram_bins: Optional[int] = None,
                 double_step: Optional[bool] = None,
                 thin_split: bool = False,
                 thin_max_width: int = 4,
                 thin_contrast: float = 24.,
                 thin_min_length: int = 24) -> None:
        if method not in METHODS:
            raise ValueError(f'Superpixels: method must be one of {METHODS}, '
                             f'got {method!r}')
        given = dict(max_iter=max_iter, compactness=compactness,
                     min_size_factor=min_size_factor, num_levels=num_levels,
                     prior=prior, histogram_bins=histogram_bins,
                     double_step=double_step)
        defaults = METHOD_DEFAULTS[method]
        wrong = sorted(k for k, v in given.items()
                       if v is not None and k not in defaults)
        if wrong:
            raise ValueError(f'Superpixels: {wrong} do not apply to '
                             f'method={method!r} (its arguments: '
                             f'{sorted(defaults)})')
        self.method = method
        self.options = {k: defaults[k] if given[k] is None else given[k]
                        for k in defaults}
        limit = MAX_FAST_SLIC_SEGMENTS if method == 'slic' else None
        if num_superpixels is not None and not (
                num_superpixels >= 1 and (limit is None
                                          or num_superpixels <= limit)):
            raise ValueError(
                'Superpixels: num_superpixels must be in [1, '
                f'{limit or "inf"}], got {num_superpixels}')
        if area_per_superpixel <= 0:
            raise ValueError('Superpixels: area_per_superpixel must be > 0, '
                             f'got {area_per_superpixel}')
        if self.options['max_iter'] < 1:
            raise ValueError('Superpixels: max_iter must be >= 1, got '
                             f"{self.options['max_iter']}")
        if method == 'slic' and self.options['compactness'] <= 0:
            raise ValueError('Superpixels: compactness must be > 0, got '
                             f"{self.options['compactness']}")
        if method == 'seeds':
            self._check_seeds_options()
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError("Superpixels: channel_order must be 'bgr' or "
                             f"'rgb', got {channel_order!r}")
        if thin_max_width < 1 or thin_contrast <= 0 or thin_min_length < 1:
            raise ValueError(
                'Superpixels: thin_max_width and thin_min_length must be >= 1 '
                f'and thin_contrast > 0, got {thin_max_width}, '
                f'{thin_min_length} and {thin_contrast}')
        self.thin_split = thin_split
        self.thin_options = dict(max_width=thin_max_width,
                                 contrast=thin_contrast,
                                 min_length=thin_min_length)
        self.area_per_superpixel = area_per_superpixel
        self.num_superpixels = num_superpixels
        self.channel_order = channel_order
        self.num_threads = num_threads

    def _check_seeds_options(self) -> None:
        opts = self.options
        if not 2 <= opts['histogram_bins'] <= 255:
            raise ValueError('Superpixels: histogram_bins must be in '
                             f"[2, 255], got {opts['histogram_bins']}")
        if opts['num_levels'] < 1 or not 0 <= opts['prior'] <= 5:
            raise ValueError(
                'Superpixels: SEEDS needs num_levels >= 1 and prior in '
                f"[0, 5], got {opts['num_levels']} and {opts['prior']}")
        if not hasattr(getattr(cv2, 'ximgproc', None),
                       'createSuperpixelSEEDS'):
            raise ImportError(f'{OPENCV_CONTRIB_HINT}; this cv2 '
                              f'{cv2.__version__} at {cv2.__file__} has none')

    def requested_count(self, height: int, width: int) -> int:
        """Number of superpixels asked for an (H, W) image.

        At least 1 and at most H * W (fast-slic crashes when asked for more
        segments than pixels).
        """
        if self.num_superpixels is not None:
            n = self.num_superpixels
        else:
            n = round(height * width / self.area_per_superpixel)
        if self.method == 'slic' and n > MAX_FAST_SLIC_SEGMENTS:
            raise ValueError(
                f'Superpixels: {n} superpixels requested for a {height}x'
                f'{width} image, more than fast-slic can label '
                f'({MAX_FAST_SLIC_SEGMENTS}); raise area_per_superpixel or '
                'set num_superpixels')
        return int(min(max(n, 1), height * width))

    def _to_uint8(self, img: np.ndarray) -> Tuple[np.ndarray, bool]:
        """(H, W, 3) contiguous uint8 image and whether it is BGR."""
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError('Superpixels: results["img"] must be (H, W, 3) '
                             f'or (H, W), got shape {img.shape}')
        if img.shape[0] == 0 or img.shape[1] == 0:
            raise ValueError(
                f'Superpixels: empty image of shape {img.shape}')
        if img.dtype != np.uint8:
            img = np.clip(img, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(img), self.channel_order == 'bgr'

    def compute(self, img: np.ndarray) -> np.ndarray:
        """Superpixels of one image.

        Args:
            img (np.ndarray): (H, W, 3) image in ``channel_order`` or (H, W).

        Returns:
            np.ndarray: (H, W) int64 labels 0..S-1.
        """
        img, is_bgr = self._to_uint8(img)
        height, width = img.shape[:2]
        n = self.requested_count(height, width)
        opts = self.options
        lab = None
        if self.method == 'seeds' or self.thin_split:
            lab = cv2.cvtColor(
                img, cv2.COLOR_BGR2LAB if is_bgr else cv2.COLOR_RGB2LAB)
        if self.method == 'seeds':
            labels = seeds_superpixels(
                lab, n, opts['num_levels'], opts['prior'],
                opts['histogram_bins'], opts['max_iter'],
                opts['double_step'])
        else:
            # fast-slic takes RGB and converts to CIELAB itself.
            rgb = np.ascontiguousarray(img[..., ::-1]) if is_bgr else img
            slic = Slic(
                num_components=n,
                compactness=opts['compactness'],
                min_size_factor=opts['min_size_factor'],
                num_threads=self.num_threads)
            labels = slic.iterate(rgb, max_iter=opts['max_iter'])
        if self.thin_split:
            labels = split_thin_structures(
                labels, thin_structures(lab, **self.thin_options))
        return relabel_consecutive(labels)

    def transform(self, results: dict) -> dict:
        """Add ``results['superpixels']`` computed on ``results['img']``."""
        if 'img' not in results:
            raise KeyError('Superpixels needs results["img"]; load the image '
                           '(LoadImageFromFile) before this transform')
        results['superpixels'] = self.compute(results['img'])
        return results

    def __repr__(self) -> str:
        options = ''.join(f', {k}={v!r}' for k, v in self.options.items())
        threads = (f', num_threads={self.num_threads}'
                   if self.method == 'slic' else '')
        thin = ', thin_split=True' + ''.join(
            f', thin_{k}={v!r}' for k, v in self.thin_options.items()) if self.thin_split else ''
        return (f'{self.__class__.__name__}(method={self.method!r}, '
                f'area_per_superpixel={self.area_per_superpixel}, '
                f'num_superpixels={self.num_superpixels}{options}, '
                f'channel_order={self.channel_order!r}{threads}'
                f'{thin})')

"""Superpixels for CAST: fast-slic on the final (augmented) crop."""
from typing import Optional

import numpy as np
from fast_slic import Slic
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS

# fast-slic returns int16 assignments, so it cannot label more segments.
MAX_FAST_SLIC_SEGMENTS = np.iinfo(np.int16).max


def relabel_consecutive(labels: np.ndarray) -> np.ndarray:
    """Map arbitrary integer labels to 0..S-1, keeping their order.

    Args:
        labels (np.ndarray): (H, W) integer label map, possibly with gaps.

    Returns:
        np.ndarray: (H, W) int64 label map whose values are exactly 0..S-1.
    """
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int64)


@TRANSFORMS.register_module()
class Superpixels(BaseTransform):
    """Compute SLIC superpixels of the image with fast-slic.

    CAST ("Learning Hierarchical Image Segmentation For Recognition and By
    Recognition", Ke, Mo and Yu, ICLR 2024,
    `code <https://github.com/twke18/CAST>`_) turns superpixels into tokens,
    so they must describe exactly the pixels the network sees: put this
    transform after every geometric transform (``Resize``, ``RandomCrop``,
    ``RandomFlip``) and before the photometric ones and packing. The number
    of superpixels follows the crop area (``round(H * W /
    area_per_superpixel)``, one per 16x16 pixels by default, i.e. 1024 at
    512x512) unless ``num_superpixels`` fixes it.

    fast-slic may return fewer segments than requested (very few on flat or
    noisy images) and its labels may have gaps, so the output is relabelled to
    the consecutive range 0..S-1 with S >= 1; nothing downstream may assume S
    equals the requested count.

    Colours: mmcv loads images as BGR, so the image is flipped to RGB
    (``channel_order='bgr'``, the default) and fast-slic clusters in CIELAB
    (its ``convert_to_lab=True``), as SLIC was designed to. Non-uint8 images are
    clipped to [0, 255] and cast to uint8; grey images are repeated to three
    channels.

    Required Keys:

    - img (np.ndarray): (H, W, 3) or (H, W) image.

    Added Keys:

    - superpixels (np.ndarray): (H, W) int64 labels 0..S-1.

    Args:
        area_per_superpixel (int): Pixels per requested superpixel when
            ``num_superpixels`` is None. Defaults to 256 (16x16).
        num_superpixels (int, optional): Fixed number of requested
            superpixels, whatever the crop size. Defaults to None.
        compactness (float): SLIC compactness; larger gives more regular,
            less boundary-adherent segments. Defaults to 10.
        min_size_factor (float): fast-slic merges segments smaller than this
            fraction of the mean segment size. Defaults to 0.25.
        max_iter (int): SLIC iterations. Defaults to 10.
        channel_order (str): Channel order of ``results['img']``, 'bgr'
            (mmcv's default) or 'rgb'. Defaults to 'bgr'.
        num_threads (int): fast-slic threads; -1 uses all cores. Defaults to
            1, since data loader workers already run in parallel.
    """

    def __init__(self,
                 area_per_superpixel: int = 256,
                 num_superpixels: Optional[int] = None,
                 compactness: float = 10.,
                 min_size_factor: float = 0.25,
                 max_iter: int = 10,
                 channel_order: str = 'bgr',
                 num_threads: int = 1) -> None:
        if num_superpixels is not None and not (
                1 <= num_superpixels <= MAX_FAST_SLIC_SEGMENTS):
            raise ValueError(
                'Superpixels: num_superpixels must be in [1, '
                f'{MAX_FAST_SLIC_SEGMENTS}], got {num_superpixels}')
        if area_per_superpixel <= 0:
            raise ValueError('Superpixels: area_per_superpixel must be > 0, '
                             f'got {area_per_superpixel}')
        if compactness <= 0:
            raise ValueError(
                f'Superpixels: compactness must be > 0, got {compactness}')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError("Superpixels: channel_order must be 'bgr' or "
                             f"'rgb', got {channel_order!r}")
        self.area_per_superpixel = area_per_superpixel
        self.num_superpixels = num_superpixels
        self.compactness = compactness
        self.min_size_factor = min_size_factor
        self.max_iter = max_iter
        self.channel_order = channel_order
        self.num_threads = num_threads

    def requested_count(self, height: int, width: int) -> int:
        """Number of superpixels asked of fast-slic for an (H, W) image.

        At least 1 and at most H * W (fast-slic crashes when asked for more
        segments than pixels).
        """
        if self.num_superpixels is not None:
            n = self.num_superpixels
        else:
            n = round(height * width / self.area_per_superpixel)
        if n > MAX_FAST_SLIC_SEGMENTS:
            raise ValueError(
                f'Superpixels: {n} superpixels requested for a {height}x'
                f'{width} image, more than fast-slic can label '
                f'({MAX_FAST_SLIC_SEGMENTS}); raise area_per_superpixel or '
                'set num_superpixels')
        return int(min(max(n, 1), height * width))

    def _to_rgb_uint8(self, img: np.ndarray) -> np.ndarray:
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError('Superpixels: results["img"] must be (H, W, 3) '
                             f'or (H, W), got shape {img.shape}')
        if img.dtype != np.uint8:
            img = np.clip(img, 0, 255).astype(np.uint8)
        if self.channel_order == 'bgr':
            img = img[..., ::-1]
        return np.ascontiguousarray(img)

    def compute(self, img: np.ndarray) -> np.ndarray:
        """Superpixels of one image.

        Args:
            img (np.ndarray): (H, W, 3) image in ``channel_order`` or (H, W).

        Returns:
            np.ndarray: (H, W) int64 labels 0..S-1.
        """
        rgb = self._to_rgb_uint8(img)
        height, width = rgb.shape[:2]
        if height == 0 or width == 0:
            raise ValueError(
                f'Superpixels: empty image of shape {img.shape}')
        slic = Slic(
            num_components=self.requested_count(height, width),
            compactness=self.compactness,
            min_size_factor=self.min_size_factor,
            num_threads=self.num_threads)
        labels = slic.iterate(rgb, max_iter=self.max_iter)
        return relabel_consecutive(labels)

    def transform(self, results: dict) -> dict:
        """Add ``results['superpixels']`` computed on ``results['img']``."""
        if 'img' not in results:
            raise KeyError('Superpixels needs results["img"]; load the image '
                           '(LoadImageFromFile) before this transform')
        results['superpixels'] = self.compute(results['img'])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'area_per_superpixel={self.area_per_superpixel}, '
                f'num_superpixels={self.num_superpixels}, '
                f'compactness={self.compactness}, '
                f'min_size_factor={self.min_size_factor}, '
                f'max_iter={self.max_iter}, '
                f'channel_order={self.channel_order!r}, '
                f'num_threads={self.num_threads})')

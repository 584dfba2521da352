"""Image corruptions of the ImageNet-C kind, for measuring models under a distribution shift.

Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations", ICLR 2019. The severities 1-5 use ImageNet-C's published parameters (as the
``imagecorruptions`` package also does); they are written here rather than imported because
that package installs ``opencv-python``, whose ``cv2`` files replace the contrib build SEEDS
superpixels need (see STACK.md). Spatial parameters (the blur's sigma) were set for 224-pixel
images; ``reference_size`` scales them with the image so that a severity removes the same share
of the image's detail at any resolution.

================  =====================================  ===========================
kind              operation on x in [0, 1]               severity 1 .. 5
================  =====================================  ===========================
gaussian_noise    x + N(0, c^2), per pixel and channel   c = .08 .12 .18 .26 .38
gaussian_blur     Gaussian filter, sigma c (x scale)     c = 1 2 3 4 6
contrast          (x - mean(x)) * c + mean(x)            c = .4 .3 .2 .1 .05
jpeg              JPEG round trip at quality c           c = 25 18 15 10 7
================  =====================================  ===========================

Results are clipped to [0, 1] and rounded to uint8, as ImageNet-C's files.
"""
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS

from mmseg.registry import TRANSFORMS as SEG_TRANSFORMS

SEVERITY_PARAMS = dict(
    gaussian_noise=(0.08, 0.12, 0.18, 0.26, 0.38),
    gaussian_blur=(1, 2, 3, 4, 6),
    contrast=(0.4, 0.3, 0.2, 0.1, 0.05),
    jpeg=(25, 18, 15, 10, 7),
)
CORRUPTIONS = tuple(SEVERITY_PARAMS)


def corrupt(img: np.ndarray, kind: str, severity: int,
            rng: Optional[np.random.Generator] = None,
            reference_size: Optional[int] = 224) -> np.ndarray:
    """One corruption of an image.

    Args:
        img (np.ndarray): (H, W, 3) uint8 image (BGR or RGB: every kind treats the channels
            alike).
        kind (str): One of :data:`CORRUPTIONS`.
        severity (int): 1 (mild) to 5 (strong); 0 returns a copy.
        rng (np.random.Generator, optional): Noise source. Defaults to a fresh, unseeded one.
        reference_size (int, optional): Image side the spatial parameters were set for; the
            blur's sigma is multiplied by min(H, W) / reference_size. None keeps them.

    Returns:
        np.ndarray: (H, W, 3) uint8.
    """
    if kind not in SEVERITY_PARAMS:
        raise ValueError(f'corruption must be one of {CORRUPTIONS}, got {kind!r}')
    if not 0 <= severity <= 5 or int(severity) != severity:
        raise ValueError(f'severity must be an integer in 0..5, got {severity!r}')
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 image, got {img.dtype} {img.shape}')
    if severity == 0:
        return img.copy()
    c = SEVERITY_PARAMS[kind][int(severity) - 1]
    if kind == 'jpeg':
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, int(c)])
        assert ok, 'cv2.imencode failed'
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    x = img.astype(np.float64) / 255
    if kind == 'gaussian_noise':
        rng = rng if rng is not None else np.random.default_rng()
        x = x + rng.normal(0, c, x.shape)
    elif kind == 'gaussian_blur':
        sigma = c * (min(img.shape[:2]) / reference_size if reference_size else 1)
        x = cv2.GaussianBlur(x, (0, 0), sigmaX=sigma, sigmaY=sigma,
                             borderType=cv2.BORDER_REFLECT)
    else:  # contrast
        mean = x.mean()
        x = (x - mean) * c + mean
    return np.clip(np.round(np.clip(x, 0, 1) * 255), 0, 255).astype(np.uint8)


@PRETRAIN_TRANSFORMS.register_module()
@SEG_TRANSFORMS.register_module()
class Corrupt(BaseTransform):
    """Apply one ImageNet-C-style corruption (:func:`corrupt`) to ``results['img']``, e.g.
    ``dict(type='Corrupt', kind='contrast', severity=3)`` after ``LoadImageFromFile`` in a
    test pipeline.

    Args:
        kind (str): One of :data:`CORRUPTIONS`.
        severity (int): 1-5 (0: unchanged).
        seed (int, optional): Seed of the noise; each call draws new noise from one stream.
            Defaults to None (unseeded).
        reference_size (int, optional): As :func:`corrupt`. Defaults to 224.
    """

    def __init__(self, kind: str, severity: int, seed: Optional[int] = None,
                 reference_size: Optional[int] = 224):
        if kind not in SEVERITY_PARAMS:
            raise ValueError(f'Corrupt: kind must be one of {CORRUPTIONS}, got {kind!r}')
        if not 0 <= severity <= 5:
            raise ValueError(f'Corrupt: severity must be in 0..5, got {severity!r}')
        self.kind, self.severity, self.reference_size = kind, severity, reference_size
        self.rng = np.random.default_rng(seed)

    def transform(self, results: dict) -> dict:
        results['img'] = corrupt(results['img'], self.kind, self.severity, self.rng,
                                 self.reference_size)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(kind={self.kind!r}, severity={self.severity})'

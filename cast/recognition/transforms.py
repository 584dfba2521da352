"""MMPretrain pipeline pieces for CAST: superpixels per view.

:class:`~cast.datasets.transforms.Superpixels` is registered in MMPretrain's
``TRANSFORMS`` too, so configs with ``default_scope = 'mmpretrain'`` write
``dict(type='Superpixels', ...)``. Put it at the end of each view's pipeline,
after that view's own crop, flip and other augmentations, so the superpixels
describe exactly the pixels the network sees (the reference computes them on
the fully augmented view, too).
"""
import copy
from typing import List, Sequence, Union

import cv2
import mmcv
import numpy as np
from mmpretrain.datasets.transforms import ColorJitter, MultiView
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from PIL import Image

from cast.datasets.transforms import Superpixels

PRETRAIN_TRANSFORMS.register_module(module=Superpixels)


def adjust_hue(img: np.ndarray, hue_factor: float,
               backend: str = 'pillow') -> np.ndarray:
    """``mmcv.adjust_hue`` without its numpy-2 overflow.

    Rotates the hue channel (8-bit, a full turn = 256) by
    ``int(hue_factor * 255) mod 256``, as mmcv does under numpy 1.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        hue_factor (float): shift in turns, in [-0.5, 0.5].
        backend (str): 'pillow' or 'cv2', as mmcv. Defaults to 'pillow'.

    Returns:
        np.ndarray: (H, W, 3) image of the input dtype.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor {hue_factor} is not in [-0.5, 0.5]')
    shift = np.uint8(int(hue_factor * 255) % 256)
    if backend == 'pillow':
        if img.dtype != np.uint8:
            raise TypeError('the pillow backend needs a uint8 image, got '
                            f'{img.dtype}')
        h, s, v = Image.fromarray(img[..., ::-1], mode='RGB').convert(
            'HSV').split()
        h = np.asarray(h, dtype=np.uint8) + shift  # wraps around
        rgb = Image.merge('HSV', (Image.fromarray(h, 'L'), s, v)).convert(
            'RGB')
        return np.array(rgb, dtype=img.dtype)[..., ::-1]
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    hsv[..., 0] += shift  # wraps around
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(img.dtype)


@PRETRAIN_TRANSFORMS.register_module()
class SafeColorJitter(ColorJitter):
    """MMPretrain's :class:`ColorJitter` whose hue step works under numpy 2.

    mmcv 2.1's ``adjust_hue`` adds ``np.uint8(hue_factor * 255)`` to the hue
    channel; under numpy 2 a negative factor raises ``OverflowError: Python
    integer -1 out of bounds for uint8`` (numpy 1 wrapped it), so MoCo's
    ``hue=0.1`` jitter fails on about half the images. The hue step here is
    :func:`adjust_hue`, the same rotation with the wrap-around made explicit;
    the rest is the parent's.

    Args:
        See :class:`mmpretrain.datasets.transforms.ColorJitter`.
    """

    def transform(self, results: dict) -> dict:
        """Jitter brightness, contrast, saturation and hue in random order."""
        img = results['img']
        order, brightness, contrast, saturation, hue = self._rand_params()
        for index in order:
            if index == 0 and brightness is not None:
                img = mmcv.adjust_brightness(img, brightness,
                                             backend=self.backend)
            elif index == 1 and contrast is not None:
                img = mmcv.adjust_contrast(img, contrast,
                                           backend=self.backend)
            elif index == 2 and saturation is not None:
                img = mmcv.adjust_color(img, alpha=saturation,
                                        backend=self.backend)
            elif index == 3 and hue is not None:
                img = adjust_hue(img, float(hue), backend=self.backend)
        results['img'] = img
        return results


@PRETRAIN_TRANSFORMS.register_module()
class SuperpixelMultiView(MultiView):
    """:class:`mmpretrain.datasets.transforms.MultiView` that also collects
    each view's superpixels.

    MMPretrain's ``MultiView`` keeps only every view's ``img``; CAST also needs
    the ``superpixels`` that each view's pipeline computed on its own crop.
    Every key of ``collect_keys`` becomes a list with one entry per view, in
    view order; pack them with ``PackInputs(algorithm_keys=['superpixels'])``.

    Required Keys:

    - the keys each view pipeline needs (``img``)

    Modified Keys:

    - every key in ``collect_keys``: a list, one entry per view.

    Args:
        transforms (list[list[dict]]): one pipeline per group of views; end
            each with ``dict(type='Superpixels')``.
        num_views (int | list[int]): views made by each pipeline.
        collect_keys (Sequence[str]): keys collected from every view.
            Defaults to ('img', 'superpixels').
    """

    def __init__(self,
                 transforms: List[list],
                 num_views: Union[int, List[int]],
                 collect_keys: Sequence[str] = ('img', 'superpixels')) -> None:
        super().__init__(transforms=transforms, num_views=num_views)
        if isinstance(collect_keys, str) or not collect_keys:
            raise ValueError('SuperpixelMultiView: collect_keys must be a '
                             f'non-empty list of keys, got {collect_keys!r}')
        self.collect_keys = tuple(collect_keys)

    def transform(self, results: dict) -> dict:
        """Run every view's pipeline on a copy of ``results`` and collect."""
        collected = {key: [] for key in self.collect_keys}
        for index, pipeline in enumerate(self.transforms):
            outputs = pipeline(copy.deepcopy(results))
            if outputs is None:
                raise RuntimeError(f'SuperpixelMultiView: the pipeline of '
                                   f'view {index} returned None')
            missing = [k for k in self.collect_keys if k not in outputs]
            if missing:
                raise KeyError(
                    f'SuperpixelMultiView: view {index} produced no '
                    f'{missing} (end each view pipeline with '
                    "dict(type='Superpixels'))")
            for key in self.collect_keys:
                collected[key].append(outputs[key])
        results.update(collected)
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', collect_keys={self.collect_keys})')

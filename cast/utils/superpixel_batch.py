"""Superpixel maps as CAST takes them: relabelled, padded with the images, stacked per batch.

One home for segmentation (``SegDataSample.superpixels``: a (1, H, W) ``PixelData`` that
:class:`~cast.segmentors.CASTSegDataPreProcessor` padded) and recognition (MMPretrain's
``DataSample.superpixels``: an (H, W) array, or one per view with
:class:`~cast.recognition.SuperpixelMultiView`, that the models pad here).

Shape shorthand: B images, H x W the (padded) input size, S superpixels of one image.
"""
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

MISSING_HINT = (
    "add dict(type='Superpixels') to the pipeline after the geometric transforms and pack it "
    "(segmentation: PackHierSegInputs and CASTSegDataPreProcessor; recognition: "
    "dict(type='PackInputs', algorithm_keys=['superpixels']), multi-view: SuperpixelMultiView)")

Labels = Union[np.ndarray, Tensor]


def relabel_consecutive(labels: Labels) -> Labels:
    """Map the integer labels of one map to 0..S-1, keeping their order.

    Args:
        labels (np.ndarray | Tensor): (H, W) integer labels, possibly with gaps (e.g. a crop
            that sees only some of an image's superpixels).

    Returns:
        np.ndarray | Tensor: (H, W) int64 labels whose values are exactly 0..S-1, of the
        input's kind (and device).
    """
    if torch.is_tensor(labels):
        return torch.unique(labels, return_inverse=True)[1].reshape(labels.shape).long()
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int64)


def pad_superpixels(superpixels: Tensor, height: int, width: int) -> Tensor:
    """Pad a superpixel map on the bottom/right with one fresh label.

    The padded area becomes a single extra superpixel ``S`` (``max + 1``), so labels stay
    consecutive (0..S) and padding never merges with image content. Nothing is added when no
    padding is needed.

    Args:
        superpixels (Tensor): (1, h, w) or (h, w) integer labels 0..S-1.
        height (int): padded height H >= h.
        width (int): padded width W >= w.

    Returns:
        Tensor: (1, H, W) or (H, W) labels, same dtype and device.
    """
    pad_h = height - superpixels.shape[-2]
    pad_w = width - superpixels.shape[-1]
    if pad_h < 0 or pad_w < 0:
        raise ValueError(
            f'superpixels of shape {tuple(superpixels.shape[-2:])} are larger than the padded '
            f'image ({height}, {width}); compute them on the final image (Superpixels after '
            'every geometric transform)')
    if pad_h == 0 and pad_w == 0:
        return superpixels
    fresh = int(superpixels.max()) + 1
    return F.pad(superpixels, (0, pad_w, 0, pad_h), value=fresh)


def _as_map(value, where: str) -> Tensor:
    """(H, W) int64 tensor from an array, a tensor or a ``PixelData`` of (1, H, W) / (H, W)."""
    if isinstance(value, PixelData):
        value = value.data
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not torch.is_tensor(value):
        raise TypeError(f'{where}: superpixels must be an array or tensor, got '
                        f'{type(value).__name__}')
    if value.dim() == 3 and value.shape[0] == 1:
        value = value[0]
    if value.dim() != 2:
        raise ValueError(f'{where}: superpixels must be (H, W), got shape '
                         f'{tuple(value.shape)}')
    if value.dtype.is_floating_point or value.dtype == torch.bool:
        raise TypeError(f'{where}: superpixels must hold integer labels, got {value.dtype}')
    return value.long()


def stack_superpixels(data_samples: Optional[Sequence], inputs: Tensor,
                      view: Optional[int] = None, pad: bool = True) -> Tensor:
    """Stack the samples' superpixel maps for ``backbone(inputs, superpixels)``.

    With ``pad``, maps smaller than ``inputs`` (MMPretrain's preprocessor padded the images on
    the bottom/right) are padded the same way with one fresh label per image
    (:func:`pad_superpixels`); without it (segmentation, whose data preprocessor pads them with
    the images) every map must have the inputs' size.

    Args:
        data_samples (Sequence): B samples, each with a ``superpixels`` field: a
            ``PixelData`` (1, H, W), an (H, W) integer array/tensor, or, for multi-view inputs,
            a list of them (one per view).
        inputs (Tensor): (B, 3, H, W) images of the batch (or of the view).
        view (int, optional): which view's map to take from a list. Default: None (one view).
        pad (bool): pad smaller maps. Default: True.

    Returns:
        Tensor: (B, H, W) int64 on ``inputs.device``.

    Raises:
        KeyError: a sample has no ``superpixels`` (the pipeline lacks them).
        ValueError: wrong count, shape or view index.
    """
    if data_samples is None or len(data_samples) != inputs.shape[0]:
        count = 'no' if data_samples is None else len(data_samples)
        raise ValueError(f'CAST needs one data sample per image with its superpixels: got '
                         f'{count} samples for {inputs.shape[0]} images')
    height, width = inputs.shape[-2:]
    maps = []
    for index, sample in enumerate(data_samples):
        where = f'data sample {index}'
        if 'superpixels' not in sample:
            raise KeyError(f"{where} has no 'superpixels' field: {MISSING_HINT}")
        value = sample.superpixels
        if isinstance(value, (list, tuple)):
            if view is None:
                raise ValueError(f'{where} holds {len(value)} superpixel maps (one per view) '
                                 'but the model expects a single view')
            if not 0 <= view < len(value):
                raise ValueError(f'{where} holds {len(value)} superpixel maps; view {view} '
                                 'does not exist')
            value = value[view]
            where = f'{where}, view {view}'
        elif view not in (None, 0):
            raise ValueError(f'{where} holds one superpixel map; view {view} does not exist '
                             '(use SuperpixelMultiView)')
        sp = _as_map(value, where)
        if not pad and tuple(sp.shape) != (height, width):
            raise ValueError(f'{where}: superpixels of shape {tuple(sp.shape)} do not match '
                             f'inputs of shape {tuple(inputs.shape)}; pad them with the images '
                             '(CASTSegDataPreProcessor)')
        maps.append(pad_superpixels(sp, height, width))
    return torch.stack(maps).to(inputs.device)

"""Superpixels of a batch of MMPretrain data samples, as CAST takes them.

MMPretrain's ``PackInputs(algorithm_keys=['superpixels'])`` stores each
sample's map (an (H, W) array from :class:`~cast.datasets.transforms.Superpixels`)
as ``data_sample.superpixels``; with :class:`SuperpixelMultiView` it is a list
holding one map per view. The data preprocessors leave these fields alone
(they stack and pad only the images), so the models stack them here.

Shape shorthand: B images, H x W the (padded) input size.
"""
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from cast.segmentors.data_preprocessor import pad_superpixels

MISSING_HINT = (
    "add dict(type='Superpixels') to the pipeline after the geometric "
    "transforms and pack it with dict(type='PackInputs', "
    "algorithm_keys=['superpixels']) (multi-view pipelines: "
    "SuperpixelMultiView)")


def _as_long_tensor(value, where: str) -> Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not torch.is_tensor(value):
        raise TypeError(f'{where}: superpixels must be an array or tensor, '
                        f'got {type(value).__name__}')
    if value.dim() == 3 and value.shape[0] == 1:
        value = value[0]
    if value.dim() != 2:
        raise ValueError(f'{where}: superpixels must be (H, W), got shape '
                         f'{tuple(value.shape)}')
    if value.dtype.is_floating_point or value.dtype == torch.bool:
        raise TypeError(f'{where}: superpixels must hold integer labels, got '
                        f'{value.dtype}')
    return value.long()


def stack_superpixels(data_samples: Optional[Sequence],
                      inputs: Tensor,
                      view: Optional[int] = None) -> Tensor:
    """Stack the samples' superpixel maps for ``backbone(inputs, superpixels)``.

    Maps smaller than ``inputs`` (the preprocessor padded the images on the
    bottom/right) are padded the same way with one fresh label per image
    (:func:`~cast.segmentors.pad_superpixels`).

    Args:
        data_samples (Sequence[DataSample]): B samples, each with a
            ``superpixels`` field: an (H, W) integer array/tensor, or, for
            multi-view inputs, a list of them (one per view).
        inputs (Tensor): (B, 3, H, W) images of the batch (or of the view).
        view (int, optional): which view's map to take from a list.
            Defaults to None (single view).

    Returns:
        Tensor: (B, H, W) int64 on ``inputs.device``.

    Raises:
        KeyError: a sample has no ``superpixels`` (the pipeline lacks them).
        ValueError: wrong count, shape or view index.
    """
    if data_samples is None or len(data_samples) != inputs.shape[0]:
        count = 'no' if data_samples is None else len(data_samples)
        raise ValueError(f'CAST needs one data sample per image with its '
                         f'superpixels: got {count} samples for '
                         f'{inputs.shape[0]} images')
    height, width = inputs.shape[-2:]
    maps = []
    for index, sample in enumerate(data_samples):
        where = f'data sample {index}'
        if 'superpixels' not in sample:
            raise KeyError(f'{where} has no "superpixels": {MISSING_HINT}')
        value = sample.superpixels
        if isinstance(value, (list, tuple)):
            if view is None:
                raise ValueError(
                    f'{where} holds {len(value)} superpixel maps (one per '
                    'view) but the model expects a single view')
            if not 0 <= view < len(value):
                raise ValueError(f'{where} holds {len(value)} superpixel '
                                 f'maps; view {view} does not exist')
            value = value[view]
            where = f'{where}, view {view}'
        elif view not in (None, 0):
            raise ValueError(f'{where} holds one superpixel map; view {view} '
                             'does not exist (use SuperpixelMultiView)')
        sp = _as_long_tensor(value, where)
        maps.append(pad_superpixels(sp, height, width))
    return torch.stack(maps).to(inputs.device)

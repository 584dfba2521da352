"""Maps computed on a batch's (padded, possibly flipped) inputs, put back on each original image.

The same three steps as MMSeg's ``BaseSegmentor.postprocess_result`` (which single-level models
keep using): cut the padding (``img_padding_size``, else ``padding_size``: left, right, top,
bottom), undo the flip (``flip``, ``flip_direction``), resize to ``ori_shape`` (the call MMSeg's
``resize`` makes). Here for any map: logits (bilinear) or label maps such as CAST's region ids
(nearest).

Shape shorthand: B images, C channels, H x W the input size, H_i x W_i image i's ``ori_shape``.
"""
from typing import List, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor


def restore_to_original(maps: Tensor,
                        batch_img_metas: Sequence[dict],
                        mode: str = 'bilinear',
                        align_corners: Optional[bool] = False) -> List[Tensor]:
    """Unpad, unflip and resize each image's maps to its original size.

    Args:
        maps (Tensor): (B, C, H, W) maps on the inputs (any dtype; integer maps are resized
            as float and returned in their dtype, exact for ids below 2**24).
        batch_img_metas (Sequence[dict]): B image metas (``ori_shape``; optional
            ``img_padding_size`` / ``padding_size``, ``flip``, ``flip_direction``).
        mode (str): 'bilinear' for logits, 'nearest' for label maps. Defaults to 'bilinear'.
        align_corners (bool, optional): As the decode head's, for 'bilinear' (ignored for
            'nearest'). Defaults to False.

    Returns:
        list[Tensor]: B maps of (C, H_i, W_i), in the dtype of ``maps``.
    """
    if mode == 'nearest':
        align_corners = None  # F.interpolate refuses it for 'nearest'
    height, width = maps.shape[-2:]
    restored = []
    for i, meta in enumerate(batch_img_metas):
        left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size',
                                                                         [0] * 4))
        image_maps = maps[i:i + 1, :, top:height - bottom, left:width - right]
        if meta.get('flip'):
            direction = meta.get('flip_direction')
            if direction not in ('horizontal', 'vertical'):
                raise ValueError(f"flip_direction must be 'horizontal' or 'vertical', got "
                                 f'{direction!r}')
            image_maps = image_maps.flip(dims=(3, ) if direction == 'horizontal' else (2, ))
        floating = image_maps.is_floating_point()
        image_maps = F.interpolate(image_maps if floating else image_maps.float(),
                                   size=tuple(meta['ori_shape'][:2]), mode=mode,
                                   align_corners=align_corners)
        restored.append((image_maps if floating else image_maps.to(maps.dtype)).squeeze(0))
    return restored

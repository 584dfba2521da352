"""CAST's first-stage tokens: ConvStem grid features and a position table
averaged per superpixel, and the [CLS] token with its position.

Shape shorthand as in :mod:`superpixel_ops`; h, w is the ConvStem grid and
gh, gw the position table's grid.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from torch import Tensor

from . import superpixel_ops as ops
from .checkpoint_converter import resize_pos_table


class SuperpixelEmbedding:
    """Mixin of :class:`CAST`: its input check, token embedding and resize
    of a learned table loaded from another grid.

    It reads what CAST's ``__init__`` sets: ``embed_dims``, ``patch_size``,
    ``grid_size``, ``pos_embed_type``, ``feature_resize``,
    ``fast_segment_mean``, ``patch_embed``, ``cls_token``, ``pos_embed``,
    ``_sincos_tables`` and ``drop_after_pos``.
    """

    def _resize_pos_embed(self, state_dict, prefix, *args, **kwargs):
        """Load-time hook: resize a learned table from another grid."""
        name = prefix + 'pos_embed'
        if name not in state_dict:
            return
        ckpt = state_dict[name]
        if ckpt.shape == self.pos_embed.shape:
            return
        resized = resize_pos_table(ckpt, self.grid_size)
        if resized is not None:  # else not a square table: loading reports the shape
            state_dict[name] = resized

    def _check_inputs(self, inputs: Tensor, superpixels: Tensor) -> Tensor:
        if superpixels is None:
            raise ValueError('CAST.forward needs superpixels (B, H, W)')
        if inputs.dim() != 4:
            raise ValueError(f'CAST: inputs must be (B, C, H, W), got '
                             f'{tuple(inputs.shape)}')
        if superpixels.dim() == 4 and superpixels.shape[1] == 1:
            superpixels = superpixels[:, 0]
        B, _, H, W = inputs.shape
        if superpixels.shape != (B, H, W):
            raise ValueError(
                f'CAST: superpixels must be (B, H, W) = {(B, H, W)} like the '
                f'inputs, got {tuple(superpixels.shape)}')
        if (superpixels.dtype.is_floating_point
                or superpixels.dtype == torch.bool):
            raise TypeError('CAST: superpixels must hold integer labels, got '
                            f'{superpixels.dtype}')
        superpixels = superpixels.long()
        if superpixels.numel() and int(superpixels.min()) < 0:
            raise ValueError('CAST: superpixel labels must be >= 0 '
                             f'(got min {int(superpixels.min())})')
        return superpixels

    def _pos_table(self, grid_hw: Tuple[int, int], device,
                   dtype) -> Tuple[Tensor, Tensor]:
        """Position table (1, gh, gw, C) and [CLS] position (1, 1, C).

        The learned table has the ``img_size`` grid. The sin-cos table is
        built for the feature grid ``grid_hw`` with 'nearest' (the reference
        classifier requires the two to agree), and for the ``img_size`` grid
        with 'bilinear', as the reference's MoCo segmentation model.
        """
        C = self.embed_dims
        if self.pos_embed_type == 'sincos':
            if self.feature_resize == 'bilinear':
                grid_hw = self.grid_size
            key = (tuple(grid_hw), torch.device(device), dtype)
            table = self._sincos_tables.get(key)
            if table is None:  # fixed: built once per grid, device, dtype
                with torch.device('cpu'):  # the helper makes CPU tensors
                    table = build_2d_sincos_position_embedding(grid_hw, C)
                table = table.to(device=device, dtype=dtype).view(
                    1, *grid_hw, C)
                self._sincos_tables[key] = table
            return table, table.new_zeros(1, 1, C)
        table = self.pos_embed[:, 1:].reshape(1, *self.grid_size, C)
        return table, self.pos_embed[:, :1]

    def token_labels(self, superpixels: Tensor) -> Tensor:
        """The (B, H, W) map whose labels index the first-stage tokens.

        'bilinear': the superpixels. 'nearest': the superpixel map resized to
        the ConvStem grid and back to the input size by nearest neighbour
        (the map the model sees), so every label has a token.
        """
        if self.feature_resize == 'bilinear':
            return superpixels
        H, W = superpixels.shape[-2:]
        grid = (-(-H // self.patch_size), -(-W // self.patch_size))
        small = ops.resize_labels_nearest(superpixels, grid)
        return ops.resize_labels_nearest(small, (H, W))

    def embed_tokens(self, inputs: Tensor,
                     superpixels: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Superpixel tokens with positions.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            superpixels (Tensor): (B, H, W) long labels.

        Returns:
            tuple: tokens (B, S, C) (position added, dropout applied),
            padding mask (B, S) and [CLS] (B, 1, C) with its position.
        """
        grid = self.patch_embed(inputs)  # B, h, w, C
        B, h, w, C = grid.shape
        table, cls_pos = self._pos_table((h, w), grid.device, grid.dtype)
        if self.feature_resize == 'nearest':
            labels = ops.resize_labels_nearest(superpixels, (h, w))
            num_segs = ops.num_segments(labels)
            if table.shape[1:3] != (h, w):
                table = F.interpolate(
                    table.permute(0, 3, 1, 2), size=(h, w), mode='bicubic',
                    align_corners=False).permute(0, 2, 3, 1)
            # features and positions share the grid: one mean of their sum
            x, mask = ops.segment_mean(grid + table, labels, num_segs)
            x = self.drop_after_pos(x)
        else:
            num_segs = ops.num_segments(superpixels)
            x = ops.segment_mean_resized(
                grid, superpixels, 'bilinear', num_segs,
                fast=self.fast_segment_mean)
            mask = ops.padding_mask(superpixels, num_segs)
            pos = ops.segment_mean_resized(
                table, superpixels, 'bicubic', num_segs,
                fast=self.fast_segment_mean)
            x = self.drop_after_pos(x + pos)
        cls_token = self.cls_token.expand(B, -1, -1) + cls_pos
        return x, mask, cls_token

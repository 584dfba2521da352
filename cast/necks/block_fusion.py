"""Fusion of CAST's stage tokens on the superpixels (the reference's
``block_fusion``), for Segmenter's mask transformer."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS

from ..backbones import superpixel_ops as ops

RAW_KEYS = ('tokens', 'pooled_cls_tokens', 'logits', 'labels')


@MODELS.register_module()
class BlockFusionNeck(BaseModule):
    """Concatenate every stage's tokens on the superpixels, then BatchNorm,
    Dropout and Linear: the reference's ``block_fusion`` (twke18/CAST
    ``cast_models/modules.py`` ``BlockFusion``, used by
    ``cast_seg_deit.py`` before Segmenter's decoder).

    Shape shorthand: B batch, S superpixels (first-stage tokens), N_l tokens
    of stage l, C channels per stage, L stages.

    For every superpixel, the tokens of stages 2..L it belongs to (through
    the argmax chain of the graph poolings) are gathered and concatenated
    with its own stage-1 token, (B, S, L*C). The [CLS] tokens after each
    stage's pooling are concatenated likewise, (B, 1, L*C), and put first.
    ``BatchNorm1d(L*C)`` (statistics over the B * (1 + S) tokens, padded
    superpixels included, as the reference), ``Dropout(dropout)`` and
    ``Linear(L*C, out_channels)`` then give the fused tokens.

    Input: the dict of ``CAST(out_type='raw')`` (:meth:`CAST.forward_raw`
    with every pooling run): ``tokens`` (L tensors (B, N_l, C), after each
    stage's blocks), ``pooled_cls_tokens`` (L tensors (B, C)), ``logits``
    (at least L - 1 tensors (B, N_l, N_{l+1})) and ``labels`` (B, H, W), the
    map indexing the first-stage tokens.

    Output: a dict with ``tokens`` (B, S, out_channels), ``cls_token``
    (B, out_channels) and ``superpixels`` (B, H, W) (the ``labels``), for
    :class:`~cast.heads.SuperpixelSegmenterHead`.

    Args:
        in_channels (int): C, channels of each stage's tokens.
        out_channels (int): channels of the fused tokens.
        num_stages (int): L. Defaults to 4.
        dropout (float): dropout between the norm and the projection.
            Defaults to 0.2 (the reference's).
        norm_cfg (dict): the norm over the L*C channels.
            Defaults to ``dict(type='BN1d')``.
        init_cfg (dict, optional): initialization config; PyTorch's default
            init otherwise, as the reference.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_stages: int = 4,
                 dropout: float = 0.2,
                 norm_cfg: dict = dict(type='BN1d'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not (isinstance(num_stages, int) and num_stages >= 1):
            raise ValueError('BlockFusionNeck: num_stages must be a positive '
                             f'int, got {num_stages!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_stages = num_stages
        fused = in_channels * num_stages
        self.norm = build_norm_layer(norm_cfg, fused)[1]
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(fused, out_channels)

    def _check(self, raw: Dict[str, object]) -> None:
        if not isinstance(raw, dict) or any(k not in raw for k in RAW_KEYS):
            got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise TypeError(
                f'BlockFusionNeck needs the backbone dict of '
                f"CAST(out_type='raw') with keys {RAW_KEYS}, got {got}")
        L = self.num_stages
        if (len(raw['tokens']) < L or len(raw['pooled_cls_tokens']) < L
                or len(raw['logits']) < L - 1):
            raise ValueError(
                f'BlockFusionNeck fuses {L} stages but the backbone gave '
                f"{len(raw['tokens'])} token sets, "
                f"{len(raw['pooled_cls_tokens'])} pooled [CLS] tokens and "
                f"{len(raw['logits'])} poolings; run every stage and pooling "
                "(CAST(out_type='raw'))")
        channels = {t.shape[-1] for t in raw['tokens'][:L]}
        if channels != {self.in_channels}:
            raise ValueError(f'BlockFusionNeck: in_channels is '
                             f'{self.in_channels}, the stage tokens have '
                             f'{sorted(channels)}')

    def forward(self, raw: Dict[str, object]) -> Dict[str, Tensor]:
        """Fuse the stage tokens of a :meth:`CAST.forward_raw` output.

        Returns:
            dict: ``tokens`` (B, S, C_out), ``cls_token`` (B, C_out),
            ``superpixels`` (B, H, W).
        """
        self._check(raw)
        L = self.num_stages
        tokens = raw['tokens']
        num_segs = tokens[0].shape[1]
        if L > 1:
            chain = ops.assignment_chain(raw['logits'][:L - 1], num_segs)
        else:
            chain = [None]
        per_superpixel = [tokens[0]]
        for level in range(1, L):
            index = chain[level].unsqueeze(-1).expand(-1, -1,
                                                      tokens[level].shape[-1])
            per_superpixel.append(tokens[level].gather(1, index))
        x = torch.cat(per_superpixel, dim=-1)  # B, S, L*C
        cls = torch.cat(raw['pooled_cls_tokens'][:L], dim=-1)  # B, L*C
        cls_x = torch.cat([cls.unsqueeze(1), x], dim=1)  # B, 1 + S, L*C
        cls_x = self.norm(cls_x.transpose(1, 2)).transpose(1, 2)
        cls_x = self.proj(self.dropout(cls_x))
        return dict(tokens=cls_x[:, 1:], cls_token=cls_x[:, 0],
                    superpixels=raw['labels'])

"""Graph pooling: the token clustering step between CAST stages.

Shape shorthand: B batch, N input tokens, K clusters, C channels.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.utils import MultiheadAttention
from torch import Tensor

from .fps import BACKENDS, farthest_point_sample


def first_occurrence(seeds: Tensor) -> Tensor:
    """(B, K) seed indices -> (B, K): the column of each seed's first
    occurrence in its row (k itself for a seed not repeated before)."""
    K = seeds.shape[1]
    same = seeds.unsqueeze(2) == seeds.unsqueeze(1)  # (B, K, K)
    columns = torch.arange(K, device=seeds.device).expand_as(same)
    return torch.where(same, columns, K).amin(dim=2)


def repeated_seeds(seeds: Tensor) -> Tensor:
    """(B, K) seed indices -> (B, K) bool, True where a seed repeats an
    earlier one of its row (the duplicate clusters of an exhausted FPS)."""
    columns = torch.arange(seeds.shape[1], device=seeds.device)
    return first_occurrence(seeds) != columns


class GroupingBlock(BaseModule):
    """Attention block giving the node features that clusters compare.

    ``F = X + Attention(LayerNorm(X))``, centred over tokens, plus a learned
    bias vector (init N(0, 0.01)); no MLP. Padded tokens take part like the
    others (as in the reference).

    Args:
        embed_dims (int): C.
        num_heads (int): attention heads. Defaults to 12.
        qkv_bias (bool): bias in the qkv projection. Defaults to True.
        norm_cfg (dict): norm before attention.
            Defaults to ``dict(type='LN', eps=1e-6)``.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int = 12,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads != 0:
            raise ValueError(f'GroupingBlock: embed_dims ({embed_dims}) '
                             f'must be divisible by num_heads ({num_heads})')
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = MultiheadAttention(
            embed_dims=embed_dims, num_heads=num_heads, qkv_bias=qkv_bias)
        self.bias = nn.Parameter(torch.zeros(embed_dims).normal_(0, 1e-2))

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, C) -> (B, N, C)."""
        x = x + self.attn(self.norm(x))
        return x - x.mean(dim=1, keepdim=True) + self.bias.view(1, 1, -1)


class GraphPooling(BaseModule):
    """Pool N tokens into K clusters seeded by farthest point sampling.

    Steps (CAST, Ke et al., ICLR 2024, https://arxiv.org/abs/2210.00314):

    1. Padded tokens are replaced by the mean of the image's valid tokens and
       that mean is prepended as point 0; FPS (float64, starting at point 0)
       takes K + 1 points, the first (the mean) is dropped and the rest
       shifted by -1: K seed indices into the tokens.
    2. ``F = GroupingBlock(X)``; ``logits = 5 * cos(F_i, F_seed_k)``
       (B, N, K); assignments are their softmax over K.
    3. ``fc1`` (LN, Linear C->4C, GELU, Dropout) on [CLS] and X; clusters are
       the assignment-weighted means of fc1(X) over all N tokens (padded ones
       included, as in the reference); ``fc2`` (LN, Linear 4C->C) on fc1([CLS])
       and the clusters. New tokens: ``fc2(cluster_k) + X[seed_k]``; new [CLS]:
       ``fc2(fc1([CLS])) + [CLS]``.

    An image whose valid tokens have fewer than K distinct values exhausts
    FPS: the remaining picks are the mean (index -1 after the shift), where
    the reference's assertion fails. Here those seeds repeat the image's first
    seed, and each repeated seed's logit column is a copy of its first
    occurrence's (:func:`first_occurrence`), so the argmax (which takes the
    first of equal values) gives it no token whatever kernels computed the
    product; CAST marks those clusters as padding for the next stage
    (:func:`repeated_seeds`). With K distinct seeds nothing is copied.

    Args:
        embed_dims (int): C.
        num_clusters (int): K.
        num_heads (int): heads of the grouping attention; 12 in the
            reference whatever the backbone's head count. Defaults to 12.
        qkv_bias (bool): bias in the grouping attention. Defaults to True.
        dropout (float): dropout after fc1's GELU. Defaults to 0.1.
        l2_normalize_for_fps (bool): L2-normalise points before FPS
            (False in CAST). Defaults to False.
        fps_backend (str): 'auto', 'dgl' or 'torch', see
            :func:`cast.backbones.fps.farthest_point_sample`.
            Defaults to 'auto'.
        logit_scale (float): multiplier of the cosine. Defaults to 5.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_clusters: int,
                 num_heads: int = 12,
                 qkv_bias: bool = True,
                 dropout: float = 0.1,
                 l2_normalize_for_fps: bool = False,
                 fps_backend: str = 'auto',
                 logit_scale: float = 5.,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(num_clusters, int) or num_clusters < 1:
            raise ValueError('GraphPooling: num_clusters must be a positive '
                             f'int, got {num_clusters!r}')
        if fps_backend not in BACKENDS:
            raise ValueError(f'GraphPooling: fps_backend must be one of '
                             f'{BACKENDS}, got {fps_backend!r}')
        self.num_clusters = num_clusters
        self.l2_normalize_for_fps = l2_normalize_for_fps
        self.fps_backend = fps_backend
        self.logit_scale = logit_scale
        # The names follow the reference's state dict.
        self.centroid_fc = GroupingBlock(
            embed_dims, num_heads=num_heads, qkv_bias=qkv_bias)
        hidden = embed_dims * 4
        self.fc1 = nn.Sequential(
            nn.LayerNorm(embed_dims), nn.Linear(embed_dims, hidden), nn.GELU(),
            nn.Dropout(dropout))
        self.fc2 = nn.Sequential(
            nn.LayerNorm(hidden), nn.Linear(hidden, embed_dims))

    def sample_seeds(self, x: Tensor,
                     padding_mask: Optional[Tensor]) -> Tensor:
        """Seed indices (B, K) into the N tokens of ``x`` (B, N, C)."""
        B, N, C = x.shape
        if padding_mask is None:
            padding_mask = x.new_zeros((B, N), dtype=torch.bool)
        dtype = x.dtype
        # FPS's float64 from the start: the mean of two tokens is then exact,
        # so they are exactly as far from it and tie whatever the kernels
        x = x.detach().to(torch.float64)
        valid = (~padding_mask).unsqueeze(-1).to(x.dtype)
        mean = (x * valid).sum(1) / valid.sum(1).clamp(min=1)  # (B, C)
        # points (B, 1 + N, C): the mean, then the tokens with the padded ones
        # replaced by the mean
        points = torch.cat([mean.unsqueeze(1), x], dim=1)
        b, n = padding_mask.nonzero().unbind(1)
        points[b, n + 1] = points[b, 0]
        if self.l2_normalize_for_fps:
            points = F.normalize(points.to(dtype), dim=-1)
        seeds = farthest_point_sample(
            points, self.num_clusters + 1, backend=self.fps_backend)
        seeds = seeds[:, 1:] - 1
        exhausted = seeds < 0
        if exhausted.any():
            first_valid = (~padding_mask).to(torch.uint8).argmax(
                dim=1, keepdim=True)
            first = torch.where(seeds[:, :1] < 0, first_valid, seeds[:, :1])
            seeds = torch.where(exhausted, first.expand_as(seeds), seeds)
        return seeds

    def forward(self, cls_token: Tensor, x: Tensor,
                padding_mask: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Pool tokens into clusters.

        Args:
            cls_token (Tensor): (B, 1, C).
            x (Tensor): (B, N, C) tokens.
            padding_mask (Tensor, optional): (B, N) bool, True = padded.

        Returns:
            tuple: new [CLS] (B, 1, C), cluster tokens (B, K, C), logits
            (B, N, K) and seed indices (B, K).
        """
        B, N, C = x.shape
        seeds = self.sample_seeds(x, padding_mask)
        gather_index = seeds.unsqueeze(-1).expand(-1, -1, C)

        nodes = self.centroid_fc(x)
        seed_nodes = nodes.gather(1, gather_index)
        logits = torch.bmm(
            F.normalize(nodes, dim=-1),
            F.normalize(seed_nodes, dim=-1).transpose(1, 2))
        logits = logits * self.logit_scale
        first = first_occurrence(seeds)
        if (first != torch.arange(first.shape[1], device=first.device)).any():
            # Exact ties by construction: the vectorised product need not
            # give equal columns for equal seeds.
            logits = logits.gather(2, first.unsqueeze(1).expand(-1, N, -1))
        assignments = logits.softmax(dim=-1)

        hidden = self.fc1(torch.cat([cls_token, x], dim=1))
        cls_hidden, x_hidden = hidden[:, :1], hidden[:, 1:]
        clusters = torch.bmm(assignments.transpose(1, 2), x_hidden)
        clusters = clusters / assignments.sum(dim=1).unsqueeze(-1)

        out = self.fc2(torch.cat([cls_hidden, clusters], dim=1))
        clusters = out[:, 1:] + x.gather(1, gather_index)
        cls_token = out[:, :1] + cls_token
        return cls_token, clusters, logits, seeds

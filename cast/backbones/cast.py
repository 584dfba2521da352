"""CAST: a ViT on superpixel tokens with graph pooling between stages."""
import math
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torch import Tensor

from mmseg.registry import MODELS

from . import cast_settings
from . import superpixel_ops as ops
from .conv_stem import ConvStem
from .graph_pool import GraphPooling, repeated_seeds
from .superpixel_embed import SuperpixelEmbedding


@MODELS.register_module()
class CAST(SuperpixelEmbedding, BaseModule):
    """CAST backbone.

    "Learning Hierarchical Image Segmentation For Recognition and By
    Recognition", Ke, Mo, Yu, ICLR 2024, https://arxiv.org/abs/2210.00314.
    Reference code: https://github.com/twke18/CAST (``cast_models/``).

    A ViT on superpixel tokens: each stage's transformer blocks are followed
    by a :class:`GraphPooling` into ``num_clusters[i]`` tokens, and the
    argmax chain of the poolings gives a nested segmentation per stage
    (:meth:`forward_hierarchy`). The reference's variants are selected by
    ``out_type``, ``pos_embed_type`` and ``feature_resize``. What it
    computes, the variants, padding and images with fewer superpixels than
    clusters: docs/cast_model.md.

    Args:
        arch (str | dict): 'small' (C=384, depths [3, 3, 3, 2]),
            'small-deep' ([6, 3, 3, 3]), 'base' (C=768), 'base-deep', or a
            dict with keys ``embed_dims``, ``num_layers`` (per-stage depths),
            ``num_heads`` and optionally ``mlp_ratio`` (default 4).
            Defaults to 'small'.
        img_size (int | tuple[int, int]): image size that sets the grid of
            the learned position table (``img_size // 8``). Inputs of any
            size are accepted. Defaults to 224.
        patch_size (int): stride of the ConvStem; only 8. Defaults to 8.
        in_channels (int): image channels. Defaults to 3.
        num_clusters (Sequence[int], optional): clusters made by each stage's
            pooling. Defaults to [64, 32, 16, 8] for ``out_type='cls_token'``
            and [320, 160, 80, 40] otherwise.
        out_indices (Sequence[int] | int): stages to output; stages after
            the last one selected are not run. Defaults to (0, 1, 2, 3).
        out_type (str): 'featmap': a tuple of (B, C, H/s, W/s) maps, each
            selected stage's tokens painted onto the pixels through the argmax
            chain and average-pooled to stride s (``out_strides``), for MMSeg
            decode heads. 'cls_token': a tuple of (B, C) [CLS] features after
            each selected stage's blocks (before pooling); the last stage's
            goes through the final LayerNorm, as the reference classifier.
            'raw': a dict, see :meth:`forward`. Defaults to 'featmap'.
        out_strides (Sequence[int]): output stride per stage for 'featmap';
            sizes are ``ceil(H / s)``. Defaults to (4, 8, 16, 32).
        pos_embed_type (str, optional): 'learned' or 'sincos'. Defaults to
            'sincos' for ``out_type='cls_token'``, else 'learned'.
        feature_resize (str, optional): 'bilinear' or 'nearest'. Defaults to
            'nearest' for ``out_type='cls_token'``, else 'bilinear'.
        frozen_last_pool (bool, optional): stop gradients to the last stage's
            pooling. Only the hierarchy's coarsest level (and 'raw' output)
            uses it, so 'featmap' and 'cls_token' outputs do not; the
            reference classifier freezes it. Defaults to True except for
            ``out_type='raw'``.
        drop_rate (float): dropout after the position embedding, attention
            projection and MLP layers. Defaults to 0.
        attn_drop_rate (float): attention dropout. Defaults to 0.
        drop_path_rate (float): stochastic depth, increasing linearly over
            all blocks. Defaults to 0.
        pool_dropout (float): dropout in the pooling's fc1. Defaults to 0.1.
        pool_num_heads (int): heads of the pooling's grouping attention.
            Defaults to 12.
        qkv_bias (bool): bias in qkv projections. Defaults to True.
        norm_cfg (dict): transformer norms.
            Defaults to ``dict(type='LN', eps=1e-6)``.
        stem_norm_cfg (dict): ConvStem norms. Defaults to ``dict(type='BN')``.
        fps_backend (str): 'auto' (= 'torch', on any device), 'dgl' (the
            reference's sampler, CPU only) or 'torch'; both give the same
            seeds (tested). Defaults to 'auto'.
        fast_segment_mean (bool): average the resized features and position
            table per superpixel from the low-resolution grid directly
            (:func:`superpixel_ops.segment_mean_resized`) instead of
            materialising full-resolution maps as the reference does; equal
            up to float rounding. Only for ``feature_resize='bilinear'``.
            Defaults to True.
        pretrained (str, optional): deprecated, use ``init_cfg``.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint=...)`` with a checkpoint converted by
            ``tools/model_converters/cast2mmseg.py``. Without it the weights
            follow the reference: MoCo v3 init for 'sincos', DeiT (timm)
            init for 'learned'.
    """
    arch_zoo = cast_settings.ARCH_ZOO
    essential_keys = cast_settings.ESSENTIAL_KEYS
    OUT_TYPES = cast_settings.OUT_TYPES
    POS_EMBED_TYPES = cast_settings.POS_EMBED_TYPES
    FEATURE_RESIZES = cast_settings.FEATURE_RESIZES
    SEG_CLUSTERS = cast_settings.SEG_CLUSTERS
    CLS_CLUSTERS = cast_settings.CLS_CLUSTERS

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 patch_size: int = 8,
                 in_channels: int = 3,
                 num_clusters: Optional[Sequence[int]] = None,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 out_type: str = 'featmap',
                 out_strides: Sequence[int] = (4, 8, 16, 32),
                 pos_embed_type: Optional[str] = None,
                 feature_resize: Optional[str] = None,
                 frozen_last_pool: Optional[bool] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 pool_dropout: float = 0.1,
                 pool_num_heads: int = 12,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 stem_norm_cfg: dict = dict(type='BN'),
                 fps_backend: str = 'auto',
                 fast_segment_mean: bool = True,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        if pretrained is not None:
            if init_cfg is not None:
                raise ValueError('CAST: init_cfg and pretrained cannot be set '
                                 'at the same time')
            warnings.warn('CAST: `pretrained` is deprecated, use '
                          '`init_cfg=dict(type="Pretrained", checkpoint=...)`')
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(init_cfg=init_cfg)

        self.arch_settings = cast_settings.parse_arch(arch)
        embed_dims = self.arch_settings['embed_dims']
        depths = list(self.arch_settings['num_layers'])
        num_heads = self.arch_settings['num_heads']
        mlp_ratio = self.arch_settings.get('mlp_ratio', 4)
        self.embed_dims = embed_dims
        self.depths = depths
        self.num_stages = len(depths)
        settings = cast_settings.resolve_settings(
            self.arch_settings, img_size, patch_size, num_clusters,
            out_indices, out_type, out_strides, pos_embed_type,
            feature_resize, frozen_last_pool, fps_backend, pool_num_heads)
        for name, value in settings.items():  # out_type, ..., grid_size
            setattr(self, name, value)
        self.fast_segment_mean = fast_segment_mean

        self.patch_embed = ConvStem(
            in_channels=in_channels,
            embed_dims=embed_dims,
            norm_cfg=stem_norm_cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        if self.pos_embed_type == 'learned':
            num_grid = self.grid_size[0] * self.grid_size[1]
            self.pos_embed = nn.Parameter(
                torch.zeros(1, 1 + num_grid, embed_dims))
            self._register_load_state_dict_pre_hook(self._resize_pos_embed)
        else:
            self.pos_embed = None
        self._sincos_tables = {}  # (grid, device, dtype) -> sin-cos table
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = ModuleList()
        for i, depth in enumerate(depths):
            blocks = ModuleList([
                TransformerEncoderLayer(
                    embed_dims=embed_dims,
                    num_heads=num_heads,
                    feedforward_channels=int(embed_dims * mlp_ratio),
                    drop_rate=drop_rate,
                    attn_drop_rate=attn_drop_rate,
                    drop_path_rate=dpr[sum(depths[:i]) + j],
                    qkv_bias=qkv_bias,
                    norm_cfg=norm_cfg) for j in range(depth)
            ])
            pool = GraphPooling(
                embed_dims=embed_dims,
                num_clusters=self.num_clusters[i],
                num_heads=pool_num_heads,
                qkv_bias=True,
                dropout=pool_dropout,
                fps_backend=fps_backend)
            self.stages.append(nn.ModuleDict(dict(blocks=blocks, pool=pool)))
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

        if self.frozen_last_pool:
            for param in self.stages[-1]['pool'].parameters():
                param.requires_grad = False
        if self.out_type == 'featmap':
            # Only the [CLS] output goes through the final norm; keep it (for
            # checkpoints) but out of the optimizer.
            for param in self.norm.parameters():
                param.requires_grad = False

    # ------------------------------------------------------------------
    # initialisation
    def init_weights(self):
        """Reference initialisation unless a checkpoint is loaded."""
        super().init_weights()
        if (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            return
        if self.pos_embed_type == 'sincos':
            self._init_moco()
        else:
            self._init_deit()

    def _init_moco(self):
        """MoCo v3 ViT init over every Linear (pooling included)."""
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                if 'qkv' in name:
                    val = math.sqrt(
                        6. / float(m.weight.shape[0] // 3 + m.weight.shape[1]))
                    nn.init.uniform_(m.weight, -val, val)
                else:
                    nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.cls_token, std=1e-6)

    def _init_deit(self):
        """timm ViT init of the transformer blocks and tokens (the reference's
        poolings keep PyTorch's default init)."""
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        modules = [stage['blocks'] for stage in self.stages] + [self.norm]
        for module in modules:
            for m in module.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------
    # forward
    def forward_raw(self, inputs: Tensor, superpixels: Tensor,
                    num_stages: Optional[int] = None,
                    last_pool: bool = True) -> Dict[str, object]:
        """Run the stages and return every intermediate.

        Args:
            inputs (Tensor): (B, 3, H, W).
            superpixels (Tensor): (B, H, W) integer labels.
            num_stages (int, optional): run only the first stages.
            last_pool (bool): also run the last run stage's pooling.

        Returns:
            dict: per stage lists (index i = stage i) of
            ``tokens`` (B, N_i, C) after the stage's blocks,
            ``cls_tokens`` (B, C) [CLS] after the blocks,
            ``padding_masks`` (B, N_i) bool,
            ``logits`` (B, N_i, K_i), ``seed_inds`` (B, K_i),
            ``pooled_tokens`` (B, K_i, C), ``pooled_cls_tokens`` (B, C)
            (the pooling outputs, absent for a pooling not run), plus
            ``cls_out`` (B, C), the final LayerNorm of the last run stage's
            [CLS], and ``labels`` (B, H, W), the map indexing stage-0 tokens.
        """
        superpixels = self._check_inputs(inputs, superpixels)
        num_stages = num_stages or self.num_stages
        labels = self.token_labels(superpixels)
        x, mask, cls_token = self.embed_tokens(inputs, superpixels)
        out = {key: [] for key in (
            'tokens', 'cls_tokens', 'padding_masks', 'logits', 'seed_inds',
            'pooled_tokens', 'pooled_cls_tokens')}
        for i in range(num_stages):
            stage = self.stages[i]
            cls_x = torch.cat([cls_token, x], dim=1)
            for block in stage['blocks']:
                cls_x = block(cls_x)
            cls_token, x = cls_x[:, :1], cls_x[:, 1:]
            out['tokens'].append(x)
            out['cls_tokens'].append(cls_token[:, 0])
            out['padding_masks'].append(mask)
            if i == num_stages - 1 and not last_pool:
                break
            cls_token, x, logits, seeds = stage['pool'](cls_token, x, mask)
            mask = repeated_seeds(seeds)
            out['logits'].append(logits)
            out['seed_inds'].append(seeds)
            out['pooled_tokens'].append(x)
            out['pooled_cls_tokens'].append(cls_token[:, 0])
        out['cls_out'] = self.norm(out['cls_tokens'][-1])
        out['labels'] = labels
        return out

    def forward(self, inputs: Tensor, superpixels: Tensor):
        """Extract features.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            superpixels (Tensor): (B, H, W) integer labels 0..S_b-1 aligned
                with the images ((B, 1, H, W) is accepted too).

        Returns:
            tuple[Tensor] | dict: per ``out_type``: 'featmap', one
            (B, C, ceil(H/s), ceil(W/s)) map per index in ``out_indices``;
            'cls_token', one (B, C) tensor per index; 'raw', the dict of
            :meth:`forward_raw` over all stages.
        """
        if self.out_type == 'raw':
            return self.forward_raw(inputs, superpixels)
        last = max(self.out_indices) + 1
        raw = self.forward_raw(inputs, superpixels, num_stages=last,
                               last_pool=False)
        if self.out_type == 'cls_token':
            outs = []
            for i in self.out_indices:
                cls_token = raw['cls_tokens'][i]
                if i == self.num_stages - 1:
                    cls_token = raw['cls_out']
                outs.append(cls_token)
            return tuple(outs)
        return self.paint_featmaps(raw)

    def paint_featmaps(self, raw: Dict[str, object]) -> Tuple[Tensor]:
        """Paint the ``out_indices`` stages' tokens of a :meth:`forward_raw`
        output onto pixels, pooled to ``out_strides``
        (:func:`superpixel_ops.paint_featmaps`)."""
        return ops.paint_featmaps(raw['labels'], raw['tokens'], raw['logits'],
                                  self.out_indices, self.out_strides)

    @staticmethod
    def hierarchy_from_raw(raw: Dict[str, object]) -> List[Tensor]:
        """Region-id maps from a :meth:`forward_raw` output (see
        :meth:`forward_hierarchy`)."""
        return ops.label_hierarchy(raw['labels'], raw['logits'],
                                   raw['tokens'][0].shape[1])

    @torch.no_grad()
    def forward_hierarchy(self, inputs: Tensor,
                          superpixels: Tensor) -> List[Tensor]:
        """Nested segmentations, fine to coarse.

        Args:
            inputs (Tensor): (B, 3, H, W).
            superpixels (Tensor): (B, H, W) integer labels.

        Returns:
            list[Tensor]: ``num_stages + 1`` long maps (B, H, W): the
            superpixels as the model sees them (:meth:`token_labels`), then
            for each stage the cluster id (0..num_clusters[i]-1) of every
            pixel, via the argmax chain. A region of level l lies inside one
            region of level l + 1.
        """
        return self.hierarchy_from_raw(self.forward_raw(inputs, superpixels))


PRETRAIN_MODELS.register_module(module=CAST)

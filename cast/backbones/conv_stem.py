"""Convolutional stem of CAST (patch size 8)."""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor


class ConvStem(BaseModule):
    """Four 3x3 conv-BN-ReLU layers (strides 2, 2, 2, 1; channels C/8, C/4,
    C/2, C; no conv bias) and a 1x1 conv to C: a stride-8 grid of features.

    From "Early Convolutions Help Transformers See Better", Xiao et al.,
    https://arxiv.org/abs/2106.14881, as used by MoCo v3 and CAST.

    Runs in the channels-last memory format, so the (B, h, w, C) grid it
    returns is contiguous (no copy before the per-superpixel averaging; oneDNN
    and cuDNN convolutions are faster on it too), and in eval mode folds each
    BN into its convolution's weights (mmcv's ``efficient_conv_bn_eval``).
    Both change the output only by float rounding.

    Args:
        in_channels (int): input channels. Defaults to 3.
        embed_dims (int): C, divisible by 8. Defaults to 384.
        norm_cfg (dict): norm after each 3x3 conv. Defaults to BN.
        act_cfg (dict): activation after each norm. Defaults to ReLU.
        efficient_conv_bn_eval (bool): fold BN into the convolutions in eval
            mode. Defaults to True.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(self,
                 in_channels: int = 3,
                 embed_dims: int = 384,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 efficient_conv_bn_eval: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if embed_dims % 8 != 0:
            raise ValueError('ConvStem: embed_dims must be divisible by 8, '
                             f'got {embed_dims}')
        convs = []
        channels, out_channels = in_channels, embed_dims // 8
        for stride in (2, 2, 2, 1):
            convs.append(
                ConvModule(
                    channels,
                    out_channels,
                    kernel_size=3,
                    stride=stride,
                    padding=1,
                    bias=False,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    efficient_conv_bn_eval=efficient_conv_bn_eval))
            channels, out_channels = out_channels, out_channels * 2
        self.convs = nn.Sequential(*convs)
        self.proj = nn.Conv2d(channels, embed_dims, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> contiguous grid (B, ceil(H/8), ceil(W/8), C)."""
        x = x.contiguous(memory_format=torch.channels_last)
        return self.proj(self.convs(x)).permute(0, 2, 3, 1)

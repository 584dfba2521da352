"""Tiny models and data samples shared by the segmentor tests (classes of
:mod:`tests.helpers.hierarchies`' tree)."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from torch import Tensor

import cast  # noqa: F401  (registers CAST, the heads and segmentors)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tests.helpers.hierarchies import LEVELS, NUM_CLASSES

# as configs do with default_scope='mmseg': nested configs (the segmentor's
# data_preprocessor) are built from MMSeg's registries
init_default_scope('mmseg')

TINY_CAST = dict(
    type='CAST',
    arch=dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12),
    img_size=32,
    num_clusters=[8, 4, 2, 1])


@MODELS.register_module(name='TestOnlySuperpixelBackbone', force=True)
class SuperpixelPoolBackbone(BaseModule):
    """A real (small) backbone with CAST's call signature: a 3x3 conv, its
    features averaged within each superpixel, pooled to strides 4/8/16/32.

    Records every superpixel map it receives in ``self.seen``.
    """

    def __init__(self, channels: int = 8,
                 strides: Sequence[int] = (4, 8, 16, 32)) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.strides = tuple(strides)
        self.seen = []

    def forward(self, inputs: Tensor, superpixels: Tensor) -> Tuple[Tensor]:
        B, _, H, W = inputs.shape
        assert superpixels.dtype == torch.long
        assert superpixels.shape == (B, H, W)
        self.seen.append(superpixels.clone())
        feats = self.conv(inputs).flatten(2)  # B, C, HW
        num = int(superpixels.max()) + 1
        index = superpixels.flatten(1)[:, None].expand_as(feats)
        sums = feats.new_zeros(B, feats.shape[1], num).scatter_add(
            2, index, feats)
        counts = feats.new_zeros(B, 1, num).scatter_add(
            2, index[:, :1], torch.ones_like(feats[:, :1]))
        means = sums / counts.clamp(min=1)
        painted = means.gather(2, index).view(B, -1, H, W)
        return tuple(
            F.avg_pool2d(painted, s, ceil_mode=True) for s in self.strides)


def grid_superpixels(h: int, w: int, cell: int = 8) -> Tensor:
    """(h, w) long labels of a regular grid of ``cell``-sized squares."""
    cols = -(-w // cell)
    rows = torch.arange(h)[:, None] // cell
    return rows * cols + torch.arange(w)[None] // cell


def make_sample(h: int, w: int, levels: Sequence[str] = LEVELS,
                seed: int = 0, with_superpixels: bool = True,
                ori_shape=None) -> SegDataSample:
    """A SegDataSample as the packing transform makes it."""
    g = torch.Generator().manual_seed(seed)
    sample = SegDataSample()
    for level in levels:
        data = torch.randint(0, NUM_CLASSES[level], (1, h, w), generator=g)
        sample.set_data({f'gt_seg_{level}': PixelData(data=data)})
    sample.gt_sem_seg = PixelData(data=sample.get(f'gt_seg_{levels[0]}').data
                                  .clone())
    if with_superpixels:
        sample.superpixels = PixelData(data=grid_superpixels(h, w)[None])
    sample.set_metainfo(
        dict(img_shape=(h, w), ori_shape=ori_shape or (h, w), flip=False))
    return sample


def make_batch(shapes, seed: int = 0, **kwargs) -> dict:
    """Data-loader output: uint8 images and samples of the given shapes."""
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
        for h, w in shapes
    ]
    samples = [
        make_sample(h, w, seed=seed + i, **kwargs)
        for i, (h, w) in enumerate(shapes)
    ]
    return dict(inputs=inputs, data_samples=samples)


def uper_head(num_classes: int = 3, in_channels=48, **kwargs) -> dict:
    """A tiny UPerHead config."""
    return dict(
        type='UPerHead',
        in_channels=[in_channels] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2),
        channels=16,
        dropout_ratio=0.0,
        num_classes=num_classes,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0),
        **kwargs)


PREPROCESSOR = dict(
    type='CASTSegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size_divisor=16,
    pad_val=0,
    seg_pad_val=255)

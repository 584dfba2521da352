"""FLOPs and parameters of a CAST model on one image with a set number of superpixels.

Counted with torch's ``FlopCounterMode`` (2 FLOPs per multiply-add of convolutions, matrix
products and attention) plus a formula for the CPU attention kernel torch lacks. What is and is
not counted, and how the counts compare with the paper's: ``docs/benchmarks.md`` (FLOPs).

Shape shorthand: H x W pixels, S superpixels.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import parameter_count
from torch.utils import flop_counter

from cast.backbones import CAST
from cast.datasets.transforms.superpixels import Superpixels

aten = torch.ops.aten


def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """aten._scaled_dot_product_flash_attention_for_cpu (query, key, value, ...): the formula
    torch uses for the GPU attention kernels."""
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flop(grad_out_shape, query_shape, key_shape, value_shape, *args,
                            out_shape=None, **kwargs) -> int:
    """Its backward (grad_out, query, key, value, ...)."""
    return flop_counter.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape,
                                                 value_shape)


#: FLOP formulas missing from torch's registry: the CPU flash-attention kernels that
#: ``F.scaled_dot_product_attention`` dispatches to on the CPU.
EXTRA_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward_flop,
}


# ----------------------------------------------------------------------
# inputs
def synthetic_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth RGB image in [0, 1]: bicubically upsampled coarse noise plus a gradient.

    Returns:
        Tensor: (3, H, W) float.
    """
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, height // 32), max(2, width // 32), generator=gen,
                        device='cpu')
    img = F.interpolate(coarse, size=(height, width), mode='bicubic', align_corners=False)[0]
    ramp = torch.linspace(0, 0.3, width, device='cpu').view(1, 1, width)
    return (img + ramp).clamp(0, 1)


def grid_shape(height: int, width: int, num: int) -> Tuple[int, int]:
    """Rows x columns of a grid of ``num`` cells whose aspect ratio is closest to the image's.

    Raises:
        ValueError: no such grid fits the image.
    """
    pairs = [(r, num // r) for r in range(1, num + 1) if num % r == 0]
    pairs = [(r, c) for r, c in pairs if r <= height and c <= width]
    if not pairs:
        raise ValueError(f'cannot split a {height}x{width} image into a grid of {num} '
                         'superpixels')
    target = math.log(height / width)
    return min(pairs, key=lambda rc: abs(math.log(rc[0] / rc[1]) - target))


def grid_superpixels(height: int, width: int, num: int) -> torch.Tensor:
    """(H, W) long map of ``num`` rectangular superpixels 0..num-1 (:func:`grid_shape`)."""
    rows, cols = grid_shape(height, width, num)
    ys = torch.arange(height, device='cpu') * rows // height
    xs = torch.arange(width, device='cpu') * cols // width
    return ys[:, None] * cols + xs[None]


def make_inputs(shape: Sequence[int], num_superpixels: int,
                method: str = 'grid') -> Tuple[torch.Tensor, torch.Tensor, str]:
    """The input of a count: the count depends on S, not on the superpixels' shapes.

    Args:
        shape (Sequence[int]): (H, W).
        num_superpixels (int): S asked.
        method (str): 'grid' (exactly S rectangles) or 'slic' (fast-slic on
            :func:`synthetic_image`, which may return fewer).

    Returns:
        tuple: normalised image (1, 3, H, W), superpixels (1, H, W) long and a description
        naming the S used.

    Raises:
        ValueError: S outside [1, H * W], or an unknown method.
    """
    height, width = shape
    if num_superpixels < 1 or num_superpixels > height * width:
        raise ValueError(f'--superpixels must be in [1, {height * width}] for a '
                         f'{height}x{width} input, got {num_superpixels}')
    img = synthetic_image(height, width)
    if method == 'grid':
        rows, cols = grid_shape(height, width, num_superpixels)
        labels = grid_superpixels(height, width, num_superpixels)
        desc = f'{num_superpixels} superpixels (grid {rows}x{cols})'
    elif method == 'slic':
        rgb = (img.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        labels = torch.from_numpy(Superpixels(
            num_superpixels=num_superpixels,
            channel_order='rgb').compute(np.ascontiguousarray(rgb)))
        desc = (f'{int(labels.max()) + 1} superpixels (fast-slic, {num_superpixels} '
                'requested)')
    else:
        raise ValueError(f"--superpixel-method must be 'grid' or 'slic', got {method!r}")
    mean = img.new_tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = img.new_tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    return ((img - mean) / std)[None], labels[None].long(), desc


# ----------------------------------------------------------------------
# models
class InferencePath(nn.Module):
    """``backbone(inputs, superpixels)`` -> neck -> head: the inference path of a CAST
    segmentor (decode head; the auxiliary head is not run) or classifier. Holding the parts as
    children names them in the counts."""

    def __init__(self, backbone: CAST, neck: Optional[nn.Module] = None,
                 head: Optional[nn.Module] = None):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head

    def forward(self, inputs, superpixels):
        x = self.backbone(inputs, superpixels)
        if self.neck is not None:
            x = self.neck(x)
        if self.head is not None:
            x = self.head(x)
        return x


def build_from_arch(arch, out_type: str, num_classes: int = 1000,
                    num_clusters: Optional[Sequence[int]] = None,
                    fast_segment_mean: bool = True) -> Tuple[InferencePath, str]:
    """A CAST backbone by ``arch`` (a name or dict), with a linear head on the last [CLS] for
    ``out_type='cls_token'`` and ``num_classes > 0`` (as the reference's classifier).

    Returns:
        tuple: the InferencePath and what it holds.
    """
    kwargs = dict(arch=arch, out_type=out_type, num_clusters=num_clusters,
                  fast_segment_mean=fast_segment_mean)
    if out_type == 'cls_token':
        kwargs['out_indices'] = (3, )
    backbone = CAST(**kwargs)
    if out_type == 'cls_token' and num_classes > 0:
        from mmpretrain.registry import MODELS
        head = MODELS.build(dict(type='mmpretrain.VisionTransformerClsHead',
                                 num_classes=num_classes, in_channels=backbone.embed_dims))
        return (InferencePath(backbone, head=head),
                f'CAST backbone (cls_token) + {num_classes}-class linear head')
    return InferencePath(backbone), f'CAST backbone ({out_type})'


# ----------------------------------------------------------------------
# counting
def count_flops(model: nn.Module, *inputs) -> Tuple[int, Dict[str, int]]:
    """Run ``model(*inputs)`` without grad under ``FlopCounterMode`` (with
    :data:`EXTRA_FORMULAS`).

    Returns:
        tuple: total FLOPs and FLOPs per module name (``'InferencePath'``,
        ``'InferencePath.backbone.stages.0.blocks.0'``, ...).
    """
    counter = flop_counter.FlopCounterMode(display=False, depth=None,
                                           custom_mapping=EXTRA_FORMULAS)
    with torch.no_grad(), counter:
        model(*inputs)
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return counter.get_total_flops(), per_module


def breakdown(model: InferencePath, total: int, per_module: Dict[str, int]) -> Dict[str, int]:
    """FLOPs per part of an InferencePath: ``stem``, ``blocks``, ``graph_pooling``, ``norm``,
    ``superpixel_pooling`` (the backbone's own ops), ``backbone_as_run`` (all of them),
    ``backbone_network`` (without superpixel pooling), ``neck``, ``head``, ``model_as_run`` and
    ``model_network``."""
    root = 'InferencePath.backbone'
    backbone = model.backbone
    parts = dict(stem=per_module.get(f'{root}.patch_embed', 0))
    parts['blocks'] = sum(  # ModuleLists are not called: sum their blocks
        per_module.get(f'{root}.stages.{i}.blocks.{j}', 0)
        for i, depth in enumerate(backbone.depths) for j in range(depth))
    parts['graph_pooling'] = sum(per_module.get(f'{root}.stages.{i}.pool', 0)
                                 for i in range(backbone.num_stages))
    parts['norm'] = per_module.get(f'{root}.norm', 0)
    as_run = per_module.get(root, 0)
    parts['superpixel_pooling'] = as_run - sum(parts.values())
    parts['backbone_as_run'] = as_run
    parts['backbone_network'] = as_run - parts['superpixel_pooling']
    parts['neck'] = per_module.get('InferencePath.neck', 0)
    parts['head'] = per_module.get('InferencePath.head', 0)
    parts['model_as_run'] = total
    parts['model_network'] = total - parts['superpixel_pooling']
    return parts


def measure(model: InferencePath, shape: Sequence[int], num_superpixels: int,
            method: str = 'grid') -> dict:
    """FLOPs per part (:func:`breakdown`) and parameters (all, trainable or frozen) of
    ``model`` on one (H, W) image with S superpixels (:func:`make_inputs`)."""
    model.eval()
    inputs, superpixels, desc = make_inputs(shape, num_superpixels, method)
    total, per_module = count_flops(model, inputs, superpixels)
    params = parameter_count(model)
    return dict(
        flops=breakdown(model, total, per_module),
        params=dict(backbone=params['backbone'], neck=params['neck'], head=params['head'],
                    model=params['']),
        superpixels=desc, num_tokens=int(superpixels.max()) + 1, shape=tuple(shape),
        fast_segment_mean=model.backbone.fast_segment_mean,
        feature_resize=model.backbone.feature_resize)

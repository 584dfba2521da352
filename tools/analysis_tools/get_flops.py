"""FLOPs and parameters of CAST models, counted with torch's FlopCounterMode.

    # a segmentation config: backbone and whole model (backbone + decode head)
    python tools/analysis_tools/get_flops.py configs/cast/upernet_cast-s_ade20k.py \\
        [--shape 512 512] [--superpixels 1024] [--superpixel-method grid|slic]
    # a classification config (MMPretrain): backbone and backbone + head
    python tools/analysis_tools/get_flops.py configs/cast/cast-s_deit_in1k.py --shape 224 224
    # no config: a CAST backbone by name; 'cls_token' adds a 1000-class linear head
    python tools/analysis_tools/get_flops.py --arch small --out-type cls_token
    # every variant (S, S-deep, B, B-deep; classification 224 / 196 superpixels,
    # segmentation 512 / 1024) as a markdown table beside the reference's figures
    python tools/analysis_tools/get_flops.py --all

What is counted. ``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs
per multiply-add of convolutions, (batched) matrix products and attention, for
one image; element-wise ops, norms, interpolation, scatter / index ops and
sparse products are not counted. Torch has no formula for the CPU attention
kernel that MMPretrain's attention runs
(``aten._scaled_dot_product_flash_attention_for_cpu``), so this tool adds the
one torch uses for the GPU kernels (two batched products); without it every
attention matrix product would be missed.

The count depends on the number of superpixels S (one token each), not on
their shapes, so the input is a synthetic smooth image with a deterministic
grid of S superpixels (``--superpixel-method grid``, default) or fast-slic
superpixels of that image (``slic``, which may return fewer than asked); the
count actually used is printed.

Parts of a CAST backbone (rows of the per-model table):

- ConvStem, transformer blocks, graph pooling, final norm: their modules.
- superpixel pooling: the backbone's own ops, i.e. the segment means of the
  features and position table. ``fast_segment_mean=True`` computes them as a
  sparse matrix product, ``False`` and the 'nearest' (classification) variant
  as interpolation + scatter means, like the reference: the counter sees
  neither, so this row is 0 unless a dense product appears. 'network'
  excludes this row; 'as run' includes it.

Comparison with the reference (twke18/CAST, measured with the same counter,
batch 1, grid superpixels; see ``REFERENCE``): classification counts
``cast.py``'s forward, i.e. the backbone, its unused last graph pooling
(frozen) and a 1000-class linear head; compare with our backbone + a
1000-class linear head (``--out-type cls_token``; our last pooling is not run).
Segmentation counts ``cast_seg_deit.py``'s forward: the backbone, the unused
last pooling and ``block_fusion`` (Linear 4C->C over stage-1 tokens, 1.21
GFLOPs for CAST-S), which our backbone replaces by painting tokens onto the
pixels (a sparse product, not counted); compare our backbone's 'network'
figure. With those parts taken out, the counts agree to the FLOP: CAST-S
segmentation 40.558 - 0.260 (last pooling) - 1.209 (block_fusion) = 39.089
GFLOPs, ours 39.089; classification 6.285 - 0.050 = 6.235, ours 6.235. The
reference's segmentation parameters include an unused 1000-class head and
block_fusion; its classification parameters include the fixed sin-cos table
(a frozen parameter; ours is computed, not a parameter).
"""
import argparse
import json
import math
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from torch.utils import flop_counter

import cast  # noqa: F401  registers CAST and its segmentors / classifiers
from cast.backbones import CAST
from cast.datasets.transforms.superpixels import Superpixels

aten = torch.ops.aten



def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args,
                   out_shape=None, **kwargs) -> int:
    """aten._scaled_dot_product_flash_attention_for_cpu (query, key, value,
    ...): the formula torch uses for the GPU attention kernels."""
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flop(grad_out_shape, query_shape, key_shape,
                            value_shape, *args, out_shape=None,
                            **kwargs) -> int:
    """Its backward (grad_out, query, key, value, ...)."""
    return flop_counter.sdpa_backward_flop_count(
        grad_out_shape, query_shape, key_shape, value_shape)


# FLOP formulas missing from torch's registry: the CPU flash-attention kernels
# that F.scaled_dot_product_attention dispatches to on CPU.
EXTRA_FORMULAS = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
    _cpu_sdpa_backward_flop,
}

# Settings of the table (--all) and of the reference figures.
CLS_SETTING = dict(out_type='cls_token', shape=(224, 224), superpixels=196)
SEG_SETTING = dict(out_type='featmap', shape=(512, 512), superpixels=1024)
ARCH_NAMES = {'small': 'CAST-S', 'small-deep': 'CAST-S-deep',
              'base': 'CAST-B', 'base-deep': 'CAST-B-deep'}

# The reference implementation (twke18/CAST, cast_models/cast.py for
# classification, cast_seg_deit.py for segmentation; timm 0.4.9) measured
# with this counter, batch 1, a grid of superpixels, img_size=224,
# num_classes=1000: (GFLOPs, parameters in millions). Its counted ops are
# convolutions, Linear layers and the explicit attention / pooling matrix
# products, so no formula had to be added for it.
REFERENCE = {
    ('small', 'cls_token', 224, 196): (6.285, 28.340),
    ('small', 'cls_token', 224, 784): (17.605, 28.340),
    ('small', 'featmap', 512, 1024): (40.558, 28.933),
    ('small-deep', 'cls_token', 224, 196): (8.616, 35.438),
    ('small-deep', 'cls_token', 224, 784): (28.840, 35.438),
    ('small-deep', 'featmap', 512, 1024): (56.578, 36.031),
    ('base', 'cls_token', 224, 196): (24.414, 111.800),
    ('base', 'cls_token', 224, 784): (62.314, 111.800),
    ('base', 'featmap', 512, 1024): (144.311, 114.166),
    ('base-deep', 'cls_token', 224, 196): (33.379, 140.151),
    ('base-deep', 'cls_token', 224, 784): (101.572, 140.151),
    ('base-deep', 'featmap', 512, 1024): (198.689, 142.517),
}


# ----------------------------------------------------------------------
# inputs
def synthetic_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth, natural-ish RGB image in [0, 1]: bicubically upsampled
    coarse noise plus a gradient. Returns (3, H, W) float."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, height // 32), max(2, width // 32),
                        generator=gen)
    img = F.interpolate(coarse, size=(height, width), mode='bicubic',
                        align_corners=False)[0]
    ramp = torch.linspace(0, 0.3, width).view(1, 1, width)
    return (img + ramp).clamp(0, 1)


def grid_shape(height: int, width: int, num: int) -> Tuple[int, int]:
    """Rows x columns of a grid of ``num`` cells whose aspect ratio is
    closest to the image's."""
    pairs = [(r, num // r) for r in range(1, num + 1) if num % r == 0]
    pairs = [(r, c) for r, c in pairs if r <= height and c <= width]
    if not pairs:
        raise ValueError(f'cannot split a {height}x{width} image into a grid '
                         f'of {num} superpixels')
    target = math.log(height / width)
    return min(pairs, key=lambda rc: abs(math.log(rc[0] / rc[1]) - target))


def grid_superpixels(height: int, width: int, num: int) -> torch.Tensor:
    """(H, W) long map of ``num`` rectangular superpixels 0..num-1."""
    rows, cols = grid_shape(height, width, num)
    ys = torch.arange(height) * rows // height
    xs = torch.arange(width) * cols // width
    return ys[:, None] * cols + xs[None]


def make_inputs(shape: Sequence[int], num_superpixels: int,
                method: str = 'grid') -> Tuple[torch.Tensor, torch.Tensor, str]:
    """Image (1, 3, H, W), superpixels (1, H, W) and a description."""
    height, width = shape
    if num_superpixels < 1 or num_superpixels > height * width:
        raise ValueError(f'--superpixels must be in [1, {height * width}] '
                         f'for a {height}x{width} input, got {num_superpixels}')
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
        desc = (f'{int(labels.max()) + 1} superpixels (fast-slic, '
                f'{num_superpixels} requested)')
    else:
        raise ValueError(f"--superpixel-method must be 'grid' or 'slic', "
                         f'got {method!r}')
    mean = img.new_tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = img.new_tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    return ((img - mean) / std)[None], labels[None].long(), desc


# ----------------------------------------------------------------------
# models
class InferencePath(nn.Module):
    """``backbone(inputs, superpixels)`` -> neck -> head, the inference path
    of a CAST segmentor (decode head; the auxiliary head is not run) or
    classifier. Holding the parts as children names them in the counts."""

    def __init__(self, backbone: nn.Module, neck: Optional[nn.Module] = None,
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


def linear_cls_head(in_channels: int, num_classes: int) -> nn.Module:
    """A linear classifier on the last [CLS] feature, as the reference's."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    return PRETRAIN_MODELS.build(dict(
        type='mmpretrain.VisionTransformerClsHead', num_classes=num_classes,
        in_channels=in_channels))


def build_from_config(path: str, cfg_options: Optional[dict] = None
                      ) -> Tuple[InferencePath, str]:
    """InferencePath of the model a config describes, and what it holds."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'{path}: no `model` in the config')
    cfg.work_dir = tempfile.mkdtemp()
    scope = cfg.get('default_scope', 'mmseg')
    init_default_scope(scope)
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS

        import cast.recognition  # noqa: F401  CAST classifiers (MMPretrain)
    else:
        from mmseg.registry import MODELS
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    if not isinstance(getattr(model, 'backbone', None), CAST):
        raise TypeError(f'{path}: model.backbone must be CAST, got '
                        f'{type(getattr(model, "backbone", None)).__name__}')
    neck = model.neck if getattr(model, 'with_neck', False) else None
    if getattr(model, 'decode_head', None) is not None:
        return (InferencePath(model.backbone, neck, model.decode_head),
                f'segmentor {type(model).__name__} (backbone'
                f'{" + neck" if neck else ""} + decode head '
                f'{type(model.decode_head).__name__}; auxiliary head not run)')
    head = getattr(model, 'head', None)
    if head is not None and hasattr(head, 'pre_logits'):
        return (InferencePath(model.backbone, neck, head),
                f'classifier {type(model).__name__} (backbone'
                f'{" + neck" if neck else ""} + head {type(head).__name__})')
    return (InferencePath(model.backbone),
            f'{type(model).__name__}: backbone only (its neck / head are not '
            'part of inference)')


def parse_arch(arch: str):
    """An arch name, or a JSON dict such as
    '{"embed_dims": 48, "num_layers": [1, 1, 1, 1], "num_heads": 4}'."""
    arch = arch.strip()
    return json.loads(arch) if arch.startswith('{') else arch


def build_from_arch(arch, out_type: str, num_classes: int = 1000,
                    num_clusters: Optional[Sequence[int]] = None,
                    fast_segment_mean: bool = True
                    ) -> Tuple[InferencePath, str]:
    """InferencePath of a CAST backbone (+ a linear head for 'cls_token')."""
    kwargs = dict(arch=arch, out_type=out_type, num_clusters=num_clusters,
                  fast_segment_mean=fast_segment_mean)
    if out_type == 'cls_token':
        kwargs['out_indices'] = (3, )
    backbone = CAST(**kwargs)
    if out_type == 'cls_token' and num_classes > 0:
        head = linear_cls_head(backbone.embed_dims, num_classes)
        return (InferencePath(backbone, head=head),
                f'CAST backbone (cls_token) + {num_classes}-class linear head')
    return InferencePath(backbone), f'CAST backbone ({out_type})'


# ----------------------------------------------------------------------
# counting
def count_flops(model: nn.Module, *inputs) -> Tuple[int, Dict[str, int]]:
    """Run ``model(*inputs)`` (no grad) under FlopCounterMode.

    Returns:
        tuple: total FLOPs and FLOPs per module name (``'InferencePath'``,
        ``'InferencePath.backbone.stages.0.blocks'``, ...).
    """
    counter = flop_counter.FlopCounterMode(
        display=False, depth=None, custom_mapping=EXTRA_FORMULAS)
    with torch.no_grad(), counter:
        model(*inputs)
    per_module = {name: sum(ops.values())
                  for name, ops in counter.get_flop_counts().items()}
    return counter.get_total_flops(), per_module


def num_params(module: Optional[nn.Module]) -> int:
    """All parameters, trainable or frozen (as the reference counts)."""
    return 0 if module is None else sum(p.numel()
                                        for p in module.parameters())


def breakdown(model: InferencePath, total: int,
              per_module: Dict[str, int]) -> Dict[str, int]:
    """FLOPs per part of an InferencePath around a CAST backbone."""
    root = 'InferencePath.backbone'
    backbone = model.backbone
    parts = dict(stem=per_module.get(f'{root}.patch_embed', 0))
    parts['blocks'] = sum(  # ModuleLists are not called: sum their blocks
        per_module.get(f'{root}.stages.{i}.blocks.{j}', 0)
        for i, depth in enumerate(backbone.depths) for j in range(depth))
    parts['graph_pooling'] = sum(
        per_module.get(f'{root}.stages.{i}.pool', 0)
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
    """FLOPs (per part) and parameters of ``model`` on one image."""
    model.eval()
    inputs, superpixels, desc = make_inputs(shape, num_superpixels, method)
    total, per_module = count_flops(model, inputs, superpixels)
    return dict(
        flops=breakdown(model, total, per_module),
        params=dict(backbone=num_params(model.backbone),
                    neck=num_params(model.neck), head=num_params(model.head),
                    model=num_params(model)),
        superpixels=desc, num_tokens=int(superpixels.max()) + 1,
        shape=tuple(shape), fast_segment_mean=model.backbone.fast_segment_mean,
        feature_resize=model.backbone.feature_resize)


# ----------------------------------------------------------------------
# reports
def _g(flops: int) -> str:
    return f'{flops / 1e9:.2f}'


def _m(params: int) -> str:
    return f'{params / 1e6:.2f}'


def format_report(result: dict, title: str) -> str:
    """Markdown table of one model's parts."""
    f, p = result['flops'], result['params']
    h, w = result['shape']
    sp_note = ('dense products' if f['superpixel_pooling'] else
               'sparse product or scatter means, not counted')
    lines = [
        f'{title}',
        f'input 1x3x{h}x{w}, {result["superpixels"]}; FlopCounterMode, '
        '2 FLOPs per multiply-add, batch 1',
        '',
        '| part | GFLOPs | params (M) |',
        '|---|---:|---:|',
        f'| ConvStem | {_g(f["stem"])} | |',
        f'| superpixel pooling ({sp_note}) | {_g(f["superpixel_pooling"])} '
        '| |',
        f'| transformer blocks | {_g(f["blocks"])} | |',
        f'| graph pooling | {_g(f["graph_pooling"])} | |',
        f'| final norm | {_g(f["norm"])} | |',
        f'| **backbone, network** | **{_g(f["backbone_network"])}** | '
        f'**{_m(p["backbone"])}** |',
        f'| backbone, as run | {_g(f["backbone_as_run"])} | |',
    ]
    if p['neck'] or f['neck']:
        lines.append(f'| neck | {_g(f["neck"])} | {_m(p["neck"])} |')
    if p['head'] or f['head']:
        lines += [
            f'| head | {_g(f["head"])} | {_m(p["head"])} |',
            f'| **whole model, network** | **{_g(f["model_network"])}** | '
            f'**{_m(p["model"])}** |',
            f'| whole model, as run | {_g(f["model_as_run"])} | |',
        ]
    return '\n'.join(lines)


def arch_name(backbone: CAST) -> Optional[str]:
    """The arch_zoo name of a backbone's settings, if it has one."""
    for name in ARCH_NAMES:
        if CAST.arch_zoo[name] == backbone.arch_settings:
            return name
    return None


def comparable(result: dict, out_type: str) -> Tuple[float, float]:
    """(GFLOPs, M params) to set beside the reference: the backbone's
    network FLOPs, plus the head for classification."""
    f, p = result['flops'], result['params']
    if out_type == 'cls_token':
        return ((f['backbone_network'] + f['head']) / 1e9,
                (p['backbone'] + p['head']) / 1e6)
    return f['backbone_network'] / 1e9, p['backbone'] / 1e6


def reference_for(model: InferencePath, shape: Sequence[int],
                  num_tokens: int) -> Optional[Tuple[float, float]]:
    """Reference (GFLOPs, M params) for this setting, if measured."""
    backbone = model.backbone
    if backbone.out_type == 'cls_token' and (
            model.head is None or backbone.num_clusters != list(
                CAST.CLS_CLUSTERS)):
        return None
    if backbone.out_type == 'featmap' and backbone.num_clusters != list(
            CAST.SEG_CLUSTERS):
        return None
    if shape[0] != shape[1]:
        return None
    return REFERENCE.get(
        (arch_name(backbone), backbone.out_type, shape[0], num_tokens))


def format_comparison(result: dict, ref: Tuple[float, float],
                      out_type: str) -> str:
    ours, params = comparable(result, out_type)
    what = ('cast.py: backbone, its unused last pooling, 1000-class head; '
            'ours: backbone + head' if out_type == 'cls_token' else
            'cast_seg_deit.py: backbone, block_fusion, last pooling; ours: '
            'backbone')
    return (f'reference (twke18/CAST, same counter; {what}): '
            f'{ref[0]:.2f} GFLOPs, {ref[1]:.2f}M params; ours (network): '
            f'{ours:.2f} GFLOPs ({100 * (ours / ref[0] - 1):+.1f}%), '
            f'{params:.2f}M params ({100 * (params / ref[1] - 1):+.1f}%)')


def all_variants(method: str = 'grid') -> str:
    """Markdown table: every arch, classification and segmentation."""
    rows = [
        '| model | variant | input | superpixels | params (M) | GFLOPs '
        '(network) | GFLOPs (as run) | reference params (M) | reference '
        'GFLOPs | difference |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for arch, name in ARCH_NAMES.items():
        for setting, variant in ((CLS_SETTING, 'classification'),
                                 (SEG_SETTING, 'segmentation')):
            out_type = setting['out_type']
            model, _ = build_from_arch(arch, out_type)
            res = measure(model, setting['shape'], setting['superpixels'],
                          method)
            ours = res['flops']['model_network'] / 1e9
            ref = reference_for(model, setting['shape'], res['num_tokens'])
            ref_cells = (f'{ref[1]:.2f} | {ref[0]:.2f} | '
                         f'{100 * (ours / ref[0] - 1):+.1f}%'
                         if ref else '- | - | -')
            h, w = setting['shape']
            rows.append(
                f'| {name} | {variant} | {h}x{w} | {res["num_tokens"]} | '
                f'{_m(res["params"]["model"])} | {ours:.2f} | '
                f'{res["flops"]["model_as_run"] / 1e9:.2f} | {ref_cells} |')
    rows += [
        '',
        'FlopCounterMode (torch.utils.flop_counter), 2 FLOPs per multiply-'
        'add, batch 1, a grid of superpixels. Classification: backbone '
        "(out_type='cls_token', sin-cos positions, clusters 64/32/16/8) + "
        'a 1000-class linear head. Segmentation: backbone only '
        '(featmap outputs, clusters 320/160/80/40). "network" leaves out the '
        'superpixel pooling (a sparse product here, interpolation + scatter '
        'means in the reference: neither is counted). Reference: twke18/CAST cast.py / '
        'cast_seg_deit.py forward, same counter; it also runs the last graph '
        'pooling (unused) and, for segmentation, block_fusion (Linear 4C->C '
        'over stage-1 tokens), which our backbone replaces by painting tokens '
        'onto pixels (a sparse product, not counted): without these two '
        'parts its counts equal ours.',
    ]
    return '\n'.join(rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='FLOPs (torch FlopCounterMode) and parameters of CAST '
        'models on a synthetic image with a set number of superpixels')
    parser.add_argument('config', nargs='?',
                        help='MMSeg segmentation or MMPretrain classification '
                        'config with a CAST backbone')
    parser.add_argument('--shape', type=int, nargs='+', metavar='H [W]',
                        help='input size (default: 512 512 for segmentation, '
                        '224 224 for classification)')
    parser.add_argument('--superpixels', type=int, metavar='N',
                        help='number of superpixels (default: one per 16x16 '
                        'pixels, 1024 at 512x512, 196 at 224x224)')
    parser.add_argument('--superpixel-method', choices=['grid', 'slic'],
                        default='grid',
                        help='a grid of N rectangles (default) or fast-slic '
                        'on the synthetic image (may give fewer)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='count the backbone alone (no head)')
    parser.add_argument('--arch', default='small',
                        help='without a config: CAST arch name (small, '
                        'small-deep, base, base-deep) or a JSON dict '
                        '(default: small)')
    parser.add_argument('--out-type', choices=['featmap', 'cls_token'],
                        default='featmap',
                        help='without a config: segmentation (featmap) or '
                        'classification (cls_token) variant')
    parser.add_argument('--num-clusters', type=int, nargs=4,
                        help='without a config: clusters per stage')
    parser.add_argument('--num-classes', type=int, default=1000,
                        help='without a config, cls_token: classes of the '
                        'linear head (default: 1000)')
    parser.add_argument('--full-res-segment-mean', action='store_true',
                        help='without a config: fast_segment_mean=False')
    parser.add_argument('--all', action='store_true',
                        help='markdown table of every variant beside the '
                        'reference')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error('--shape takes H or H W')
    return args


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    torch.manual_seed(0)
    if args.all:
        print(all_variants(args.superpixel_method))
        return []
    if args.config:
        model, what = build_from_config(args.config, args.cfg_options)
        title = f'{args.config}: {what}'
    else:
        arch = parse_arch(args.arch)
        model, what = build_from_arch(
            arch, args.out_type,
            num_classes=0 if args.backbone_only else args.num_classes,
            num_clusters=args.num_clusters,
            fast_segment_mean=not args.full_res_segment_mean)
        title = f'CAST arch={args.arch}: {what}'
    if args.backbone_only:
        model = InferencePath(model.backbone)
        title += ' [backbone only]'
    out_type = model.backbone.out_type
    if args.shape is None:
        shape = (224, 224) if out_type == 'cls_token' else (512, 512)
    else:
        shape = tuple(args.shape) * (3 - len(args.shape))
    num = args.superpixels or max(1, round(shape[0] * shape[1] / 256))
    result = measure(model, shape, num, args.superpixel_method)
    print(format_report(result, title))
    ref = reference_for(model, shape, result['num_tokens'])
    if ref is not None and args.superpixel_method == 'grid':
        print('\n' + format_comparison(result, ref, out_type))
    return [result]


if __name__ == '__main__':
    main()

"""FLOPs and parameters of every CAST variant beside the reference implementation's.

    python -m benchmarks.flops                          # S, S-deep, B, B-deep (a few minutes)
    python -m benchmarks.flops --archs small            # CAST-S only
    python -m benchmarks.flops --cls-superpixels 196 784
    python -m benchmarks.flops --superpixel-method slic

Each arch as a classifier (224x224, 196 superpixels or ``--cls-superpixels``, a 1000-class
linear head) and as a segmentation backbone (512x512, 1024 superpixels), counted by
:mod:`cast.utils.flops`, in one markdown table with the reference's counts (:data:`REFERENCE`).
What is counted and how the counts match the reference's: ``docs/benchmarks.md`` (FLOPs). One
model's parts: ``tools/analysis_tools/get_flops.py CONFIG``.
"""
import argparse
from typing import Optional, Sequence, Tuple

import torch

from cast.backbones import CAST
from cast.utils.flops import InferencePath, build_from_arch, measure

CLS_SETTING = dict(out_type='cls_token', shape=(224, 224), superpixels=196)
SEG_SETTING = dict(out_type='featmap', shape=(512, 512), superpixels=1024)
ARCH_NAMES = {'small': 'CAST-S', 'small-deep': 'CAST-S-deep', 'base': 'CAST-B',
              'base-deep': 'CAST-B-deep'}

#: The reference implementation (twke18/CAST, cast_models/cast.py for classification,
#: cast_seg_deit.py for segmentation; timm 0.4.9) measured with the same counter, batch 1, a
#: grid of superpixels, img_size=224, num_classes=1000: (GFLOPs, parameters in millions), by
#: (arch, out_type, size, superpixels). Its counted ops are convolutions, Linear layers and the
#: explicit attention / pooling matrix products, so no formula had to be added for it.
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


def arch_name(backbone: CAST) -> Optional[str]:
    """The arch_zoo name of a backbone's settings, if it has one."""
    for name in ARCH_NAMES:
        if CAST.arch_zoo[name] == backbone.arch_settings:
            return name
    return None


def reference_for(model: InferencePath, shape: Sequence[int],
                  num_tokens: int) -> Optional[Tuple[float, float]]:
    """The reference's (GFLOPs, M params) for this model and input, if measured: the paper's
    clusters, a square input and, for classification, a head."""
    backbone = model.backbone
    if backbone.out_type == 'cls_token' and (
            model.head is None or backbone.num_clusters != list(CAST.CLS_CLUSTERS)):
        return None
    if backbone.out_type == 'featmap' and backbone.num_clusters != list(CAST.SEG_CLUSTERS):
        return None
    if shape[0] != shape[1]:
        return None
    return REFERENCE.get((arch_name(backbone), backbone.out_type, shape[0], num_tokens))


def all_variants(method: str = 'grid', archs: Sequence[str] = tuple(ARCH_NAMES),
                 cls_superpixels: Sequence[int] = (CLS_SETTING['superpixels'], )) -> str:
    """Markdown table: each arch, classification (with each number of superpixels) and
    segmentation, beside the reference."""
    settings = [(dict(CLS_SETTING, superpixels=n), 'classification') for n in cls_superpixels]
    settings.append((SEG_SETTING, 'segmentation'))
    rows = [
        '| model | variant | input | superpixels | params (M) | GFLOPs (network) | GFLOPs '
        '(as run) | reference params (M) | reference GFLOPs | difference |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for arch in archs:
        for setting, variant in settings:
            model, _ = build_from_arch(arch, setting['out_type'])
            res = measure(model, setting['shape'], setting['superpixels'], method)
            ours = res['flops']['model_network'] / 1e9
            ref = reference_for(model, setting['shape'], res['num_tokens'])
            ref_cells = (f'{ref[1]:.2f} | {ref[0]:.2f} | {100 * (ours / ref[0] - 1):+.1f}%'
                         if ref else '- | - | -')
            h, w = setting['shape']
            rows.append(
                f'| {ARCH_NAMES[arch]} | {variant} | {h}x{w} | {res["num_tokens"]} | '
                f'{res["params"]["model"] / 1e6:.2f} | {ours:.2f} | '
                f'{res["flops"]["model_as_run"] / 1e9:.2f} | {ref_cells} |')
    rows += [
        '',
        'FlopCounterMode (torch.utils.flop_counter), 2 FLOPs per multiply-add, batch 1, a grid '
        "of superpixels. Classification: backbone (out_type='cls_token', sin-cos positions, "
        'clusters 64/32/16/8) + a 1000-class linear head. Segmentation: backbone only (featmap '
        'outputs, clusters 320/160/80/40). "network" leaves out the superpixel pooling (a sparse '
        'product here, interpolation + scatter means in the reference: neither is counted). '
        'Reference: twke18/CAST cast.py / cast_seg_deit.py forward, same counter; it also runs '
        'the last graph pooling (unused) and, for segmentation, block_fusion (Linear 4C->C over '
        'stage-1 tokens), which our backbone replaces by painting tokens onto pixels (a sparse '
        'product, not counted). Our farthest point sampling (the PyTorch sampler, the default) '
        'measures distances through a Gram matrix product (2 N^2 C per pooling), which is '
        "counted; the reference's (dgl) is not. Without these three parts the counts are equal.",
    ]
    return '\n'.join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+', choices=list(ARCH_NAMES), default=list(ARCH_NAMES),
                        help='CAST archs to count (all four)')
    parser.add_argument('--cls-superpixels', type=int, nargs='+', default=[196],
                        help='superpixels of the classification rows (196)')
    parser.add_argument('--superpixel-method', choices=['grid', 'slic'], default='grid',
                        help='a grid of superpixels (default) or fast-slic on a synthetic image')
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print(all_variants(args.superpixel_method, args.archs, args.cls_superpixels))


if __name__ == '__main__':
    main()

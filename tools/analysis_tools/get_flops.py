"""FLOPs and parameters of a CAST model: an MMSeg segmentor or an MMPretrain classifier.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H [W]] [--superpixels N]
        [--superpixel-method grid|slic] [--backbone-only] [--cfg-options KEY=VALUE ...]

One image with a grid of N superpixels, counted with torch's ``FlopCounterMode``
(:mod:`cast.utils.flops`); what is counted: ``docs/benchmarks.md`` (FLOPs). Every CAST variant
beside the reference's counts: ``python -m benchmarks.flops``.
"""
import argparse
import tempfile

import torch
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from cast.backbones import CAST
from cast.utils.flops import InferencePath, measure


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='FLOPs and parameters of a CAST model')
    parser.add_argument('config', help='MMSeg segmentation or MMPretrain classification config '
                        'with a CAST backbone')
    parser.add_argument('--shape', type=int, nargs='+', metavar='H [W]',
                        help='input size (default: 224 for classification, else 512)')
    parser.add_argument('--superpixels', type=int, metavar='N',
                        help='superpixels (default: one per 16x16 pixels, 1024 at 512x512)')
    parser.add_argument('--superpixel-method', choices=['grid', 'slic'], default='grid',
                        help='a grid of N rectangles (default) or fast-slic on a synthetic '
                        'image (may give fewer)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='count the backbone alone')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error('--shape takes H or H W')
    return args


def build_from_config(path, cfg_options=None):
    """InferencePath of the model a config describes (backbone, neck, decode or classification
    head), and what it holds."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = tempfile.mkdtemp()
    scope = cfg.get('default_scope', 'mmseg')
    init_default_scope(scope)
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS

        import cast.recognition  # noqa: F401  CAST classifiers (MMPretrain)
    else:
        from mmseg.registry import MODELS
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, CAST):
        raise TypeError(f'{path}: model.backbone must be CAST, got {type(backbone).__name__}')
    neck = model.neck if getattr(model, 'with_neck', False) else None
    with_neck = ' + neck' if neck else ''
    if getattr(model, 'decode_head', None) is not None:
        return (InferencePath(backbone, neck, model.decode_head),
                f'segmentor {type(model).__name__} (backbone{with_neck} + decode head '
                f'{type(model.decode_head).__name__}; auxiliary head not run)')
    head = getattr(model, 'head', None)
    if head is not None and hasattr(head, 'pre_logits'):
        return (InferencePath(backbone, neck, head),
                f'classifier {type(model).__name__} (backbone{with_neck} + head '
                f'{type(head).__name__})')
    return (InferencePath(backbone),
            f'{type(model).__name__}: backbone only (its neck / head are not part of '
            'inference)')


def format_report(result, title):
    """Markdown table of one model's parts."""
    f, p = result['flops'], result['params']
    h, w = result['shape']

    def g(flops):
        return f'{flops / 1e9:.2f}'

    def m(params):
        return f'{params / 1e6:.2f}'

    pooling = ('dense products' if f['superpixel_pooling'] else
               'sparse product or scatter means, not counted')
    lines = [
        title,
        f'input 1x3x{h}x{w}, {result["superpixels"]}; FlopCounterMode, 2 FLOPs per '
        'multiply-add, batch 1', '',
        '| part | GFLOPs | params (M) |', '|---|---:|---:|',
        f'| ConvStem | {g(f["stem"])} | |',
        f'| superpixel pooling ({pooling}) | {g(f["superpixel_pooling"])} | |',
        f'| transformer blocks | {g(f["blocks"])} | |',
        f'| graph pooling | {g(f["graph_pooling"])} | |',
        f'| final norm | {g(f["norm"])} | |',
        f'| **backbone, network** | **{g(f["backbone_network"])}** | **{m(p["backbone"])}** |',
        f'| backbone, as run | {g(f["backbone_as_run"])} | |',
    ]
    if p['neck'] or f['neck']:
        lines.append(f'| neck | {g(f["neck"])} | {m(p["neck"])} |')
    if p['head'] or f['head']:
        lines += [
            f'| head | {g(f["head"])} | {m(p["head"])} |',
            f'| **whole model, network** | **{g(f["model_network"])}** | '
            f'**{m(p["model"])}** |',
            f'| whole model, as run | {g(f["model_as_run"])} | |',
        ]
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(0)
    model, what = build_from_config(args.config, args.cfg_options)
    title = f'{args.config}: {what}'
    if args.backbone_only:
        model = InferencePath(model.backbone)
        title += ' [backbone only]'
    if args.shape is None:
        shape = (224, 224) if model.backbone.out_type == 'cls_token' else (512, 512)
    else:
        shape = tuple(args.shape) * (3 - len(args.shape))
    num = args.superpixels or max(1, round(shape[0] * shape[1] / 256))
    result = measure(model, shape, num, args.superpixel_method)
    print(format_report(result, title))
    return result


if __name__ == '__main__':
    main()

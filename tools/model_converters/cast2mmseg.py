"""Convert an official CAST checkpoint (MoCo v3, DeiT or Segmenter form) to
this project's keys: the backbone (``cast.backbones.CAST``) under
``backbone.``, the reference's ``block_fusion`` under ``neck.``
(``cast.necks.BlockFusionNeck``) and its Segmenter decoder under
``decode_head.`` (``cast.heads.SuperpixelSegmenterHead``), where present.

    python tools/model_converters/cast2mmseg.py SRC DST [--img-size 512] [--force]

DST is never overwritten unless ``--force`` is given.

Initialise a backbone with ``backbone=dict(type='CAST', ..., init_cfg=dict(
type='Pretrained', checkpoint=DST, prefix='backbone.'))`` (the configs of
``configs/cast`` do), or a whole Segmenter model with ``load_from=DST``.
MoCo v3 checkpoints hold the classification variant
(``pos_embed_type='sincos'``); DeiT and Segmenter ones the learned position
table (``pos_embed_type='learned'``).
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from cast.backbones.checkpoint_converter import convert_cast_checkpoint, summarize  # noqa: E402
from cast.engine import load_cast_checkpoint  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert official CAST checkpoints to MMSeg CAST keys.')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='path of the converted checkpoint')
    parser.add_argument(
        '--depths', type=int, nargs='+', default=None,
        help='blocks per stage, only for checkpoints without the '
        'blocks{1..4}.M stage views')
    parser.add_argument(
        '--img-size', type=int, nargs='+', default=None,
        help='resize the learned position table to img_size // 8 '
        '(one value or H W); CAST also does this when loading')
    parser.add_argument(
        '--allow-pickle', action='store_true',
        help='load with weights_only=False (only for files you trust)')
    parser.add_argument('--force', action='store_true',
                        help='overwrite DST if it exists')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if osp.exists(args.dst) and not args.force:
        raise SystemExit(f'{args.dst} exists; pass --force to overwrite it or choose another '
                         'DST (nothing was written)')
    grid = None
    if args.img_size is not None:
        if len(args.img_size) not in (1, 2):
            raise SystemExit('--img-size takes one value or H W')
        size = args.img_size * (3 - len(args.img_size))
        grid = tuple(-(-s // 8) for s in size[:2])
    checkpoint = load_cast_checkpoint(args.src, allow_pickle=args.allow_pickle)
    state_dict, report = convert_cast_checkpoint(
        checkpoint, depths=args.depths, grid_size=grid)
    meta = dict(converted_from=osp.basename(args.src),
                depths=report['depths'],
                pos_embed_type=report['pos_embed_type'])
    model_state = OrderedDict()
    for part, tensors in (('backbone', state_dict), ('neck', report['neck']),
                          ('decode_head', report['decode_head'])):
        model_state.update((f'{part}.{k}', v) for k, v in tensors.items())
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    torch.save(dict(state_dict=model_state, meta=meta), args.dst)
    print('\n'.join(summarize(report)))
    print(f'saved {len(model_state)} tensors to {args.dst}')


if __name__ == '__main__':
    main()

"""Draw CAST's nested regions of an image at every level.

    python tools/visualize_hierarchy.py IMAGE CONFIG CKPT --out DIR [--size 224]
        [--num-superpixels N] [--device cpu] [--cfg-options k=v ...]

CONFIG is any config with a CAST backbone (segmentation configs such as
configs/cast/upernet_cast-s_ade20k.py, or the recognition configs
configs/cast/cast-s_deit_in1k.py and mocov3_cast-s_in1k.py); the backbone is
taken from the built model. CKPT is one of our checkpoints, an official CAST
checkpoint or one converted by tools/model_converters/cast2mmseg.py, or
'random' for the config's initialisation.

Writes, for IMAGE = path/NAME.jpg:

    DIR/NAME_hierarchy.png          the image and every level side by side
    DIR/NAME_level{i}_{level}.png   level i's regions (i = 0: superpixels)
    DIR/NAME_level{i}_overlay.png   the same blended over the image

Colours go coarse to fine: each coarsest region owns a band of hues and every
finer region takes a hue inside its parent's band, so a child shares its
parent's hue (lightness alternates between siblings).
"""
import argparse
import os.path as osp

import cv2
import mmcv
import numpy as np
from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

from cast.apis import HierarchyPredictor
from cast.visualization import hierarchy_panel, hierarchy_tiles, nested_colors, overlay
from cast.visualization.hierarchy import level_captions


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Draw CAST's region hierarchy of an image")
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='config with a CAST backbone')
    parser.add_argument('checkpoint',
                        help="checkpoint file, or 'random' for the config's "
                        'initialisation')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--size', type=int,
                        help='resize the shorter image side to SIZE first '
                        '(default: keep the size)')
    parser.add_argument('--num-superpixels', type=int,
                        help="superpixels to ask for (default: the config's "
                        'Superpixels settings, else one per 16x16 pixels)')
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='weight of the colours in the overlays (0.5)')
    parser.add_argument('--device', default='cpu', help='torch device (cpu)')
    parser.add_argument('--seed', type=int, default=0,
                        help="seed for CKPT='random' (0)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.image):
        raise FileNotFoundError(f'image not found: {args.image}')
    img = mmcv.imread(args.image, channel_order='bgr')
    if img is None:
        raise ValueError(f'cannot read the image {args.image}')
    if args.size:
        img = mmcv.imrescale(img, args.size / min(img.shape[:2]),
                             interpolation='bilinear')
    predictor = HierarchyPredictor(
        args.config, args.checkpoint, device=args.device,
        cfg_options=args.cfg_options,
        superpixel_options=dict(num_superpixels=args.num_superpixels),
        seed=args.seed)
    levels = predictor(img)
    rgb = np.ascontiguousarray(img[..., ::-1])
    names = level_captions(levels)
    tiles = hierarchy_tiles(levels)  # nested colours with region boundaries, captioned

    mkdir_or_exist(args.out)
    stem = osp.splitext(osp.basename(args.image))[0]
    written = []

    def save(name, picture_rgb):
        path = osp.join(args.out, f'{stem}_{name}.png')
        cv2.imwrite(path, picture_rgb[..., ::-1])
        written.append(path)

    for i, (labels, picture, (base, _), (_, tile)) in enumerate(
            zip(levels, nested_colors(levels), names, tiles)):
        save(f'level{i}_{base}', tile)
        save(f'level{i}_overlay', overlay(rgb, picture, labels, args.alpha))
    save('hierarchy', hierarchy_panel(rgb, tiles))
    print('levels: ' + ', '.join(f'{b} {n} regions' for b, n in names))
    print('\n'.join(f'wrote {p}' for p in written))
    return written


if __name__ == '__main__':
    main()

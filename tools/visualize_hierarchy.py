"""Draw CAST's nested regions of an image at every level.

    python tools/visualize_hierarchy.py IMAGE CONFIG CKPT --out DIR [--size 224]
        [--num-superpixels N] [--device cpu] [--cfg-options k=v ...]
        [--labeller clip --clip-weights FILE --vocabulary objects.txt [--label-level -1]]

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

With ``--labeller clip`` (CLIP from the local file ``--clip-weights``, never downloaded;
cast/evaluation/open_vocab.py) every region of one level (``--label-level``, default the
coarsest) is named with the closest name of ``--vocabulary`` (one a line) or background:

    DIR/NAME_named.png              that level over the image, each region tagged with its name

Colours go coarse to fine: each coarsest region owns a band of hues and every
finer region takes a hue inside its parent's band, so a child shares its
parent's hue (lightness alternates between siblings).
"""
import argparse
import json
import os.path as osp

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

from cast.apis import HierarchyPredictor
from cast.evaluation.open_vocab import (
    DEFAULT_MODEL,
    MASKINGS,
    REFERENCE_TEMPLATES,
    VILD_TEMPLATES,
    CLIPRegionLabeller,
    read_vocabulary,
)
from cast.visualization import hierarchy_panel, hierarchy_tiles, nested_colors, overlay
from cast.visualization.drawing import draw_tags, font_scale_for, place_tags
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
    clip = parser.add_argument_group('region names (CLIP)')
    clip.add_argument('--labeller', choices=('none', 'clip'), default='none',
                      help='name the regions of one level with CLIP (default: none)')
    clip.add_argument('--clip-weights', help='local CLIP weights file (OpenAI ViT-B-16.pt, its '
                      "state dict, or open_clip's file)")
    clip.add_argument('--clip-model', default=DEFAULT_MODEL,
                      help=f'open_clip model name or config JSON ({DEFAULT_MODEL})')
    clip.add_argument('--vocabulary', help='class names, one a line')
    clip.add_argument('--background-name', default='Background',
                      help="the background's prompt name (Background)")
    clip.add_argument('--label-level', type=int, default=-1,
                      help='index of the level to name, 0 = superpixels (-1: the coarsest)')
    clip.add_argument('--masking', choices=MASKINGS, default='reference')
    clip.add_argument('--templates', nargs='+', default=['reference'],
                      help="templates with one {}, or 'reference' / 'vild'")
    args = parser.parse_args(argv)
    if args.labeller == 'clip' and not (args.clip_weights and args.vocabulary):
        parser.error('--labeller clip needs --clip-weights FILE and --vocabulary FILE')
    return args


def name_regions(args, rgb: np.ndarray, regions: np.ndarray) -> dict:
    """Region id -> CLIP's name for one level (``--labeller clip``)."""
    model = args.clip_model
    if model.endswith('.json'):
        with open(model) as f:
            model = json.load(f)
    sets = dict(reference=REFERENCE_TEMPLATES, vild=VILD_TEMPLATES)
    templates = [t for name in args.templates for t in sets.get(name, (name, ))]
    labeller = CLIPRegionLabeller(args.clip_weights, model=model, templates=templates,
                                  masking=args.masking, device=args.device)
    image = torch.from_numpy(rgb.copy()).permute(2, 0, 1)
    return labeller.name_regions(image, torch.from_numpy(regions),
                                 read_vocabulary(args.vocabulary), args.background_name)


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
    if args.labeller == 'clip':
        k = args.label_level % len(levels)
        regions = levels[k]
        region_names = name_regions(args, rgb, regions)
        picture = nested_colors(levels)[k]
        ids = sorted(region_names)
        palette = {r: picture[regions == r][0] for r in ids}
        scale = font_scale_for(*regions.shape)
        tags = place_tags(regions, ids, [region_names[r] for r in ids], scale, max_per_class=1)
        save('named', draw_tags(overlay(rgb, picture, regions, args.alpha), tags, palette, scale))
        print(f'{names[k][0]} regions named: ' + ', '.join(
            f'{r}: {region_names[r]}' for r in ids))
    print('\n'.join(f'wrote {p}' for p in written))
    return written


if __name__ == '__main__':
    main()

"""A small synthetic SPIN (and PartImageNet_Seg) dataset, generated deterministically from a seed.

Each picture holds one or two shaded, textured objects (quadrupeds, cars, fish) on a textured
background with distractor blobs. Objects are built from polygons (ellipses, rectangles,
triangles); parts tile their object and subparts lie inside their part, so the three levels are
consistent by construction. Every part and subpart has its own colour and texture.

Layout written by :func:`generate_synthetic_spin` (that of the SPIN release, ``style='release'``)::

    out_dir/
    ├── annotations/
    │   ├── spin_train_wholes.json     # object classes, ids from 0, no supercategory
    │   ├── spin_train_parts.json      # 'Quadruped Head' (supercategory 'Quadruped'), from 0
    │   ├── spin_train_subparts.json   # 'Quadruped-Torso-Belly' (SPIN's part words), from 1
    │   └── spin_val_*.json ...
    ├── images/
    │   ├── train/n90000001_000001.JPEG  # file_name in the JSON has no extension
    │   └── val/...
    └── synthetic_spin_manifest.json    # the generation parameters

and by :func:`generate_synthetic_partimagenet` (that of PartImageNet_Seg)::

    out_dir/annotations/{split}/{split}.json  # the part annotations; category ids from 0
    out_dir/annotations/{split}/{stem}.png    # the same as label maps, 40 = background
    out_dir/images/{split}/{file_name}        # file_name with its '.JPEG' extension

Masks are COCO segmentations: compressed RLE in the SPIN release style (as spin-api reads them);
in the 'coco' style and for PartImageNet a polygon list where the polygon rasterizes (with
pycocotools) to exactly the visible mask, else RLE. Every level stays pixel-exact.
"""
import json
import os.path as osp

import cv2
import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar, mkdir_or_exist

from .coco import GENERATOR_VERSION, coco_file, paint_in_file_order, scene_annotations
from .output import OutputFolder, dump_json
from .scenes import SceneGenerator
from .taxonomy import STYLES, synthetic_categories

SPLITS = ('train', 'val', 'test')
LEVEL_FILES = ('wholes', 'parts', 'subparts')  # object, part, subpart


def split_files(fmt, split):
    """Annotation files of a split, relative to the output folder."""
    if fmt == 'spin':
        return [osp.join('annotations', f'spin_{split}_{lv}.json') for lv in LEVEL_FILES]
    return [osp.join('annotations', split, f'{split}.json')]


def missing_images(out_dir, fmt, split):
    """Images a split's (first) annotation file lists that are not on disk."""
    with open(osp.join(out_dir, split_files(fmt, split)[0])) as f:
        images = json.load(f)['images']
    suffix = '.JPEG' if fmt == 'spin' else ''
    paths = [osp.join(out_dir, 'images', split, im['file_name'] + suffix) for im in images]
    return [p for p in paths if not osp.isfile(p)]


def _generate(out_dir, fmt, num_per_split, seed, min_size, max_size, show_progress,
              style='partimagenet'):
    params = dict(generator='cast.datasets.synthetic', version=GENERATOR_VERSION, format=fmt,
                  style=style, seed=int(seed), min_size=int(min_size), max_size=int(max_size),
                  splits={s: int(n) for s, n in num_per_split.items() if n})
    for split, num in num_per_split.items():
        if num < 0:
            raise ValueError(f'num_{split} must be >= 0, got {num}')
    if not params['splits']:
        raise ValueError('nothing to generate: every split has 0 images')
    scene_gen = SceneGenerator(min_size, max_size)
    ann_files = [p for s in params['splits'] for p in split_files(fmt, s)]
    folder = OutputFolder(out_dir, f'synthetic_{fmt}', params)
    if folder.state(lambda: not any(missing_images(out_dir, fmt, s) for s in params['splits']),
                    ann_files) == 'complete':
        print_log(f'synthetic {fmt} data in {out_dir} is complete; nothing to do',
                  logger='current')
        return out_dir
    folder.start()
    mkdir_or_exist(osp.join(out_dir, 'annotations'))

    cats = synthetic_categories(style)
    cat_ids = {lv: {c.pop('key'): c['id'] for c in entries} for lv, entries in cats.items()}
    polygons = style != 'release'  # the release's masks are compressed RLE
    total = sum(params['splits'].values())
    progress = ProgressBar(total) if show_progress else None
    for split_index, split in enumerate(SPLITS):
        num = params['splits'].get(split, 0)
        if not num:
            continue
        img_dir = osp.join(out_dir, 'images', split)
        mkdir_or_exist(img_dir)
        images, anns = [], dict(wholes=[], parts=[], subparts=[])
        next_ids = dict(wholes=0, parts=0, subparts=0)
        for index in range(num):
            rng = np.random.default_rng([int(seed), split_index, index])
            scene = scene_gen(rng)
            image_id = index + 1
            stem = f"{scene['synset']}_{split_index * 100000 + index + 1:06d}"
            file_name = stem if fmt == 'spin' else stem + '.JPEG'
            cv2.imwrite(osp.join(img_dir, stem + '.JPEG'), scene['img'],
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            images.append(dict(id=image_id, file_name=file_name, height=scene['height'],
                               width=scene['width']))
            scene_anns = scene_annotations(scene, image_id, cat_ids, rng, next_ids, polygons)
            for level, entries in scene_anns.items():
                anns[level] += entries
            if fmt == 'partimagenet':  # PartImageNet_Seg's PNGs: part ids, 40 = background
                png_dir = osp.join(out_dir, 'annotations', split)
                mkdir_or_exist(png_dir)
                cv2.imwrite(osp.join(png_dir, stem + '.png'), paint_in_file_order(
                    scene_anns['parts'], scene['height'], scene['width'], 40))
            if progress is not None:
                progress.update()
        if fmt == 'spin':
            for level in LEVEL_FILES:
                dump_json(coco_file(f'synthetic SPIN {split} {level}', images, anns[level],
                                 cats[level]),
                           osp.join(out_dir, 'annotations', f'spin_{split}_{level}.json'))
        else:
            mkdir_or_exist(osp.join(out_dir, 'annotations', split))
            dump_json(coco_file(f'synthetic PartImageNet {split}', images, anns['parts'],
                             cats['parts']),
                       osp.join(out_dir, 'annotations', split, f'{split}.json'))
    folder.finish()
    if progress is not None:
        print()
    print_log(f'synthetic {fmt} data written to {out_dir} ({params["splits"]})', logger='current')
    return out_dir


def generate_synthetic_spin(out_dir: str, num_train: int = 96, num_val: int = 32,
                            num_test: int = 0, seed: int = 0, min_size: int = 128,
                            max_size: int = 192, show_progress: bool = False,
                            style: str = 'release') -> str:
    """Write a synthetic dataset in SPIN's layout (see the module docstring).

    The same arguments give byte-identical files. If ``out_dir`` already holds a complete
    dataset made with the same arguments, nothing is written; an unfinished one is completed.
    Files that this generator did not write (no manifest), or a dataset made with other
    arguments, raise ``FileExistsError``: nothing is overwritten or deleted.

    Args:
        out_dir (str): output folder (created if needed).
        num_train (int): training images. Default: 96.
        num_val (int): validation images. Default: 32.
        num_test (int): test images (0: no test split). Default: 0.
        seed (int): random seed. Default: 0.
        min_size (int): smallest image side in pixels. Default: 128.
        max_size (int): largest image side in pixels. Default: 192.
        show_progress (bool): show a progress bar. Default: False.
        style (str): 'release' (SPIN as published: no supercategory on wholes, SPIN's subpart
            names, compressed RLE) or 'coco' (supercategories everywhere, polygons where exact);
            the images and label maps are the same. See :func:`synthetic_categories`.
            Default: 'release'.

    Returns:
        str: ``out_dir``.
    """
    if style not in STYLES:
        raise ValueError(f'style must be one of {STYLES}, got {style!r}')
    return _generate(out_dir, 'spin', dict(train=num_train, val=num_val, test=num_test), seed,
                     min_size, max_size, show_progress, style)


def generate_synthetic_partimagenet(out_dir: str, num_train: int = 96, num_val: int = 32,
                                    num_test: int = 0, seed: int = 0, min_size: int = 128,
                                    max_size: int = 192, show_progress: bool = False) -> str:
    """Write the same kind of scenes in PartImageNet_Seg's layout:
    ``annotations/{split}/{split}.json`` holding the part masks (category ids from 0,
    supercategory = superclass, polygons where exact), ``annotations/{split}/{stem}.png`` the
    same masks painted in file order (part ids, 40 = background) and
    ``images/{split}/{file_name}`` (``file_name`` with its '.JPEG'). Arguments and overwrite
    rules as :func:`generate_synthetic_spin`."""
    return _generate(out_dir, 'partimagenet', dict(train=num_train, val=num_val, test=num_test),
                     seed, min_size, max_size, show_progress)

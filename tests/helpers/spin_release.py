"""SPIN copies in the format of the public release, with the cases real files hold.

:func:`make_spin_release` starts from the synthetic SPIN in the release style (whole categories
without supercategory, subparts named 'Superclass-Part-Subpart' with SPIN's part words, compressed
RLE) and adds: masks that overlap across annotations of one level (a later big one over an
earlier small one), crowd annotations, non-contiguous category ids, optionally integer whole
names, part categories without supercategory, and subpart classes listed but absent from the
split (named with the part-word aliases).
"""
import json
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils

from cast.datasets.synthetic import generate_synthetic_spin

LEVEL_FILES = ('wholes', 'parts', 'subparts')
#: listed in every split, annotated nowhere; their parents come from the alias table
ABSENT_SUBPARTS = ('Quadruped-Torso-Spots', 'Car-Side_Mirror-Glass', 'Quadruped-Legs-Claw')


def ann_path(root, split, level):
    return osp.join(root, 'annotations', f'spin_{split}_{level}.json')


def load(root, split, level):
    with open(ann_path(root, split, level)) as f:
        return json.load(f)


def save(root, split, level, coco):
    with open(ann_path(root, split, level), 'w') as f:
        json.dump(coco, f)


def rle(mask):
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(v) for v in encoded['size']], counts=encoded['counts'].decode())


def _remap_ids(coco, new_id):
    mapping = {c['id']: new_id(c['id']) for c in coco['categories']}
    for c in coco['categories']:
        c['id'] = mapping[c['id']]
    for ann in coco['annotations']:
        ann['category_id'] = mapping[ann['category_id']]


def _add_overlaps_and_crowd(coco, images, rng, same_class=False, add_boxes=True):
    """Per image: a big box painted after the others (file order decides; of the first
    annotation's class if ``same_class``, else of another class), one crowd mask."""
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    if not add_boxes:
        for anns in by_image.values():
            anns[-1]['iscrowd'] = 1
        return
    next_id = max(a['id'] for a in coco['annotations']) + 1
    extra = []
    for im in images:
        anns = by_image.get(im['id'], [])
        if len(anns) < 2:
            continue
        h, w = im['height'], im['width']
        first = anns[0]
        box = np.zeros((h, w), bool)
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        box[y0:y0 + h // 3, x0:x0 + w // 3] = True
        other = next((a['category_id'] for a in anns
                      if a['category_id'] != first['category_id'] and not same_class),
                     first['category_id'])
        extra.append(dict(id=next_id, image_id=im['id'], category_id=other, segmentation=rle(box),
                          area=int(box.sum()), bbox=[x0, y0, w // 3, h // 3], iscrowd=0))
        next_id += 1
        anns[-1]['iscrowd'] = 1  # spin-api paints crowd masks like any other
    coco['annotations'] += extra


def make_spin_release(root, num_train=6, num_val=4, seed=3, integer_names=False,
                      part_supercategory=True, stems=None, overlaps=True):
    """Write the release-format copy to ``root``; returns ``root``.

    Args:
        overlaps (bool): add the overlapping boxes (they make the ground truth itself
            inconsistent across levels); crowd flags are set either way.
        integer_names (bool): whole categories named by their id (as ints).
        part_supercategory (bool): keep the parts' supercategory field.
        stems (dict, optional): superclass -> file names to give that superclass's pictures
            (e.g. spin-api's table entries), in order.
    """
    generate_synthetic_spin(root, num_train=num_train, num_val=num_val, seed=seed)
    rng = np.random.default_rng(seed)
    for split in ('train', 'val'):
        cocos = {lv: load(root, split, lv) for lv in LEVEL_FILES}
        _remap_ids(cocos['wholes'], lambda i: 5 * i + 2)      # 2, 7, 12, ...
        _remap_ids(cocos['parts'], lambda i: 3 * i)           # 0, 3, 6, ... (< 40)
        _remap_ids(cocos['subparts'], lambda i: 7 * i - 4)    # 3, 10, 17, ...
        top = max(c['id'] for c in cocos['subparts']['categories'])
        cocos['subparts']['categories'] += [dict(id=top + 5 * (k + 1), name=name)
                                            for k, name in enumerate(ABSENT_SUBPARTS)]
        if integer_names:
            for c in cocos['wholes']['categories']:
                c['name'] = c['id']
        if not part_supercategory:
            for c in cocos['parts']['categories']:
                c.pop('supercategory', None)
        for lv in LEVEL_FILES:
            _add_overlaps_and_crowd(cocos[lv], cocos[lv]['images'], rng, lv == 'wholes',
                                    overlaps)
        if stems:
            rename_pictures(root, split, cocos, stems)
        for lv in LEVEL_FILES:
            save(root, split, lv, cocos[lv])
    return root


SYNSET_SUPERCLASS = {'n90000001': 'Quadruped', 'n90000002': 'Quadruped', 'n90000011': 'Car',
                     'n90000012': 'Car', 'n90000021': 'Fish', 'n90000022': 'Fish'}


def rename_pictures(root, split, cocos, stems):
    """Give each picture a file name from ``stems[superclass]`` (moving the image file)."""
    import os
    used = {k: iter(v) for k, v in stems.items()}
    renamed = {}
    for im in cocos['wholes']['images']:
        old = im['file_name']
        new = next(used[SYNSET_SUPERCLASS[old.split('_')[0]]])
        os.rename(osp.join(root, 'images', split, old + '.JPEG'),
                  osp.join(root, 'images', split, new + '.JPEG'))
        renamed[old] = new
    for coco in cocos.values():
        for im in coco['images']:
            im['file_name'] = renamed[im['file_name']]

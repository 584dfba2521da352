"""COCO encoding of the synthetic scenes: masks, annotations, files; PartImageNet's PNGs."""
from typing import Sequence

import numpy as np
import pycocotools.mask as mask_utils

GENERATOR_VERSION = 3  # 2: larger eyes, noses, ...; 3: the release's names, ids and layout


def encode_mask(mask: np.ndarray, polys: Sequence[np.ndarray], use_polygon: bool):
    """COCO segmentation of a visible mask: the polygons when they rasterize to exactly the mask
    (and ``use_polygon``), else compressed RLE with a str ``counts``."""
    h, w = mask.shape
    if use_polygon and polys:
        flat = [np.round(p, 2).reshape(-1).tolist() for p in polys]
        redrawn = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(flat, h, w)))
        if np.array_equal(redrawn.astype(bool), mask):
            return flat
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(h), int(w)], counts=rle['counts'].decode('ascii'))


def annotation(ann_id, image_id, category_id, mask, polys, rng, polygons):
    ys, xs = np.nonzero(mask)
    bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1)]
    use_polygon = rng.random() < 0.8  # drawn whatever the style: the same scenes either way
    return dict(id=ann_id, image_id=image_id, category_id=category_id,
                segmentation=encode_mask(mask, polys, polygons and use_polygon),
                area=int(mask.sum()), bbox=bbox, iscrowd=0)


def scene_annotations(scene, image_id, cat_ids, rng, next_ids, polygons):
    """Annotations of one scene per level file ('wholes', 'parts', 'subparts')."""
    out = dict(wholes=[], parts=[], subparts=[])

    def add(level, name, mask, polys):
        if mask.any():
            next_ids[level] += 1
            out[level].append(annotation(next_ids[level], image_id, cat_ids[level][name], mask,
                                         polys, rng, polygons))

    for obj in scene['objects']:
        add('wholes', obj['name'], obj['mask'], obj['polys'])
        for part in obj['parts']:
            add('parts', part['name'], part['mask'], part['polys'])
            for sub in part['subparts']:
                add('subparts', sub['name'], sub['mask'], sub['polys'])
    return out


def coco_file(description, images, annotations, categories):
    return dict(info=dict(description=description, version=str(GENERATOR_VERSION)),
                licenses=[], images=images, annotations=annotations, categories=categories)


def paint_in_file_order(anns, height, width, background):
    """PartImageNet_Seg's label-map PNG of one image: category ids, later masks on top."""
    label_map = np.full((height, width), background, np.uint8)
    for ann in anns:
        seg = ann['segmentation']
        rle = (mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
               if isinstance(seg, list) else seg)
        label_map[mask_utils.decode(rle) > 0] = ann['category_id']
    return label_map




"""COCO masks and label-map PNGs of one image and level: checking, decoding, painting, reading.

Painting rules (``overlap`` / ``crowd`` of :func:`rasterize_annotations`):

- ``overlap='file_order'`` (default): annotations are painted in file order and the later one
  wins where masks overlap; ``crowd='as_category'`` (default): ``iscrowd`` is not looked at.
  Together these are exactly spin-api's ``SPIN.rasterize_coco_segmentations``, which gives the
  ground truth every other SPIN user scores against.
- ``overlap='smaller_on_top'``: the smaller mask wins (equal areas: the later one).
- ``crowd='ignore'``: crowd pixels that no other annotation covers become ``ignore_index``.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image

OVERLAP_RULES = ('file_order', 'smaller_on_top')
CROWD_RULES = ('as_category', 'ignore')


def check_rules(overlap: str, crowd: str) -> None:
    """Raise a ValueError naming the bad painting rule."""
    if overlap not in OVERLAP_RULES:
        raise ValueError(f'overlap must be one of {OVERLAP_RULES}, got {overlap!r}')
    if crowd not in CROWD_RULES:
        raise ValueError(f'crowd must be one of {CROWD_RULES}, got {crowd!r}')


def _polygon_area(coords: Sequence[float]) -> float:
    xs, ys = np.asarray(coords[0::2], float), np.asarray(coords[1::2], float)
    return 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))


def segmentation_problems(segmentation, height: int, width: int) -> List[str]:
    """What is wrong with one COCO segmentation, found without decoding it.

    Polygons: fewer than 3 points, zero area, points outside the image (pycocotools clips them).
    RLE: a ``size`` other than the image's.

    Returns:
        list[str]: one sentence per problem; empty if none.
    """
    problems = []
    if isinstance(segmentation, list):
        if not segmentation:
            problems.append('has an empty polygon list')
        for i, poly in enumerate(segmentation):
            if not isinstance(poly, (list, tuple)) or len(poly) % 2:
                problems.append(f'polygon {i} is not a flat list of x, y pairs')
                continue
            if len(poly) < 6:
                problems.append(f'polygon {i} has {len(poly) // 2} point(s); 3 are needed: '
                                'it is skipped')
            elif _polygon_area(poly) == 0:
                problems.append(f'polygon {i} has zero area')
            xs, ys = poly[0::2], poly[1::2]
            if poly and (min(xs) < -1 or min(ys) < -1 or max(xs) > width + 1
                         or max(ys) > height + 1):
                problems.append(f'polygon {i} reaches outside the {width}x{height} image '
                                f'(x {min(xs):g}..{max(xs):g}, y {min(ys):g}..{max(ys):g}): '
                                'it is clipped')
    elif isinstance(segmentation, dict) and 'counts' in segmentation:
        size = [int(v) for v in segmentation.get('size', ())]
        if size != [height, width]:
            problems.append(f"is an RLE of size {segmentation.get('size')} for an image of "
                            f'[height, width] = {[height, width]}')
    else:
        problems.append('is neither a polygon list nor an RLE dict with "counts" and "size"')
    return problems


def decode_segmentation(segmentation, height: int, width: int) -> np.ndarray:
    """Decode one COCO segmentation: polygons, uncompressed RLE or compressed RLE.

    Polygons with fewer than three points have no area and are skipped (see
    :func:`segmentation_problems`, which the datasets use to warn about them).

    Args:
        segmentation (list | dict): COCO ``segmentation``.
        height (int): image height H.
        width (int): image width W.

    Returns:
        np.ndarray: (H, W) bool mask.
    """
    if isinstance(segmentation, list):  # polygons
        polygons = [p for p in segmentation if len(p) >= 6]
        if not polygons:
            return np.zeros((height, width), bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation, dict) and 'counts' in segmentation:
        size = [int(v) for v in segmentation.get('size', ())]
        if size != [height, width]:
            raise ValueError(f"RLE size {segmentation.get('size')} differs from the image's "
                             f'[height, width] = {[height, width]}')
        if isinstance(segmentation['counts'], list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = segmentation
    else:
        raise TypeError('expected a polygon list or an RLE dict with "counts" and "size", got '
                        f'{type(segmentation).__name__}')
    return mask_utils.decode(rle).astype(bool)


def decode_annotation(ann: dict, height: int, width: int, where: str = '') -> np.ndarray:
    """:func:`decode_segmentation` of ``ann['segmentation']``; errors name the annotation."""
    try:
        return decode_segmentation(ann['segmentation'], height, width)
    except Exception as err:
        raise ValueError(f"cannot decode the segmentation of annotation {ann.get('id')} for "
                         f'{where or "its image"}: {err}') from err


def rasterize_annotations(anns: Sequence[dict], height: int, width: int,
                          overlap: str = 'file_order', crowd: str = 'as_category',
                          ignore_index: int = 255, where: str = '') -> np.ndarray:
    """Paint one level's annotations of one image into a label map.

    Pixels no mask covers are 0 (background). See the module docstring for the rules; the
    defaults reproduce spin-api's rasterizer.

    Args:
        anns (Sequence[dict]): in file order, each ``dict(label=int, segmentation=...,
            iscrowd=0|1)`` (``id``, if present, names the annotation in errors).
        height (int): H.
        width (int): W.
        overlap (str): 'file_order' or 'smaller_on_top'. Default: 'file_order'.
        crowd (str): 'as_category' or 'ignore'. Default: 'as_category'.
        ignore_index (int): value of ignored crowd pixels. Default: 255.
        where (str): what to name in errors (e.g. the JSON file and image). Default: ''.

    Returns:
        np.ndarray: (H, W) uint8 label map.
    """
    check_rules(overlap, crowd)
    label_map = np.zeros((height, width), np.uint8)
    painted = []
    for order, ann in enumerate(anns):
        mask = decode_annotation(ann, height, width, where)
        if crowd == 'ignore' and ann.get('iscrowd', 0):
            label_map[mask] = ignore_index  # first: every other annotation paints over it
        else:
            area = -int(mask.sum()) if overlap == 'smaller_on_top' else 0
            painted.append((area, order, ann['label'], mask))
    for _, _, label, mask in sorted(painted, key=lambda p: p[:2]):
        label_map[mask] = label
    return label_map


def make_lut(value_to_label: Dict[int, int], unknown: int = 256) -> np.ndarray:
    """A 256-entry lookup table from stored pixel values to labels.

    Args:
        value_to_label (dict[int, int]): stored value -> label.
        unknown (int): entry of values not in the table (256: an error when read). Default: 256.

    Returns:
        np.ndarray: (256,) int16.
    """
    lut = np.full(256, unknown, np.int16)
    for value, label in value_to_label.items():
        if not 0 <= int(value) < 256:
            raise ValueError(f'label-map value {value} does not fit an 8-bit PNG')
        lut[int(value)] = label
    return lut


def read_label_png(path: str, lut: Optional[np.ndarray] = None,
                   shape: Optional[Sequence[int]] = None) -> np.ndarray:
    """Read a single-channel 8-bit label-map PNG and map its values through ``lut``.

    Args:
        path (str): the PNG.
        lut (np.ndarray, optional): (256,) from :func:`make_lut`; entries of 256 are values
            that must not occur. Default: None (values kept).
        shape (Sequence[int], optional): expected (H, W).

    Returns:
        np.ndarray: (H, W) uint8.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'label map {path} does not exist')
    try:
        with Image.open(path) as img:
            mode = img.mode
            stored = np.array(img)  # mode P: the palette indices, as MMSeg reads label maps
    except OSError as err:
        raise ValueError(f'label map {path} cannot be read as an image: {err}') from err
    if mode not in ('L', 'P') or stored.dtype != np.uint8:
        raise ValueError(f'label map {path} has mode {mode} ({stored.dtype}, shape '
                         f'{stored.shape}); expected a single-channel 8-bit PNG (mode L or P)')
    if shape is not None and stored.shape != tuple(shape):
        raise ValueError(f'label map {path} is {stored.shape[1]}x{stored.shape[0]} (WxH), the '
                         f'image is {shape[1]}x{shape[0]}')
    if lut is None:
        return stored
    mapped = lut[stored]
    if (mapped > 255).any():
        bad = np.unique(stored[mapped > 255])
        raise ValueError(f'label map {path} holds values {bad.tolist()[:10]} that are neither '
                         'a category id of its level nor its background value')
    return mapped.astype(np.uint8)

"""Rasterize COCO-style annotations into one label map per hierarchy level."""
from typing import List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_utils
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS


def decode_segmentation(segmentation, height: int, width: int) -> np.ndarray:
    """Decode one COCO segmentation (polygon list, uncompressed or compressed RLE).

    Polygons with fewer than three points (no area) are skipped.

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


def rasterize_annotations(anns: Sequence[dict], height: int, width: int,
                          ignore_index: int = 255, where: str = '') -> np.ndarray:
    """Paint one level's annotations into a label map.

    Crowd annotations are painted first, as ``ignore_index``; then the others by decreasing
    pixel area, so where masks overlap the SMALLER mask wins (equal areas: the later one).
    Pixels no mask covers are 0 (background).

    Args:
        anns (Sequence[dict]): each ``dict(label=int, segmentation=..., iscrowd=bool)``
            (``id`` and ``ann_file``, if present, name the annotation in errors).
        height (int): H.
        width (int): W.
        ignore_index (int): value of crowd pixels. Default: 255.
        where (str): what to name in errors (e.g. the image path). Default: ''.

    Returns:
        np.ndarray: (H, W) uint8 label map.
    """
    label_map = np.zeros((height, width), np.uint8)
    decoded = []
    for order, ann in enumerate(anns):
        try:
            mask = decode_segmentation(ann['segmentation'], height, width)
        except Exception as err:
            source = f" in {ann['ann_file']}" if ann.get('ann_file') else ''
            raise ValueError(f"cannot decode the segmentation of annotation {ann.get('id')}"
                             f'{source} for {where or "its image"}: {err}') from err
        decoded.append((bool(ann.get('iscrowd', 0)), -int(mask.sum()), order, ann['label'], mask))
    for _, _, _, _, mask in (d for d in decoded if d[0]):
        label_map[mask] = ignore_index
    for _, _, _, label, mask in sorted(d for d in decoded if not d[0]):
        label_map[mask] = label
    return label_map


@TRANSFORMS.register_module()
class LoadHierarchicalAnnotations(BaseTransform):
    """Rasterize every level's COCO masks (given by the dataset) into label maps.

    Each level's map holds 0 for background, 1..N for its classes, 255 for ignore (crowd).
    Overlapping masks of one level: the smaller mask wins (crowd masks lose to all others), see
    :func:`rasterize_annotations`. The maps have the annotation size (``height``, ``width``),
    so this may run before or after the image is resized (as MMSeg's test pipelines do).

    Required Keys:

    - seg_anns (dict[str, list[dict]]): level -> annotations ``dict(label, segmentation,
      iscrowd)``, as :class:`HierarchicalSegDataset` gives them.
    - height (int), width (int): annotation size.
    - seg_fields (list[str])
    - main_level (str, optional): level copied to ``gt_seg_map``.
    - ori_shape (tuple, optional): checked against (height, width) when present.

    Modified Keys:

    - seg_fields: every added map is appended, so MMSeg's geometric transforms move them all.

    Added Keys:

    - gt_seg_{level} (np.uint8): (H, W) for every level.
    - gt_seg_map (np.uint8): (H, W), a copy of the main level's map.

    Args:
        main_level (str, optional): level of ``gt_seg_map``; None takes
            ``results['main_level']``, else the first level. Default: None.
        levels (Sequence[str], optional): levels to load; None loads all. Default: None.
        ignore_index (int): label of crowd pixels. Default: 255.
    """

    def __init__(self, main_level: Optional[str] = None,
                 levels: Optional[Sequence[str]] = None, ignore_index: int = 255) -> None:
        self.main_level = main_level
        self.levels = tuple(levels) if levels is not None else None
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        where = results.get('img_path') or f"image {results.get('img_id')}"
        if 'seg_anns' not in results and 'levels' not in results:
            return results  # inference on a bare image (mmseg.apis, MMSegInferencer): no labels
        if 'seg_anns' not in results:
            raise KeyError(f"LoadHierarchicalAnnotations needs 'seg_anns' (level -> COCO "
                           f'annotations) in the results of {where}; use it with '
                           'SPINDataset / PartImageNetDataset')
        seg_anns = results['seg_anns']
        height, width = int(results['height']), int(results['width'])
        if 'ori_shape' in results and tuple(results['ori_shape'][:2]) != (height, width):
            raise ValueError(f'{where} is {results["ori_shape"][0]}x{results["ori_shape"][1]} '
                             f'(HxW) but its annotation says {height}x{width}')
        levels = self.levels or tuple(results.get('levels') or seg_anns)
        unknown = [lv for lv in levels if lv not in seg_anns]
        if unknown:
            raise KeyError(f'levels {unknown} have no annotations for {where} (has '
                           f'{list(seg_anns)})')
        main = self.main_level or results.get('main_level') or levels[0]
        if main not in levels:
            raise KeyError(f'main_level {main!r} is not among the loaded levels {levels}')
        seg_fields: List[str] = results.setdefault('seg_fields', [])
        for level in levels:
            key = f'gt_seg_{level}'
            results[key] = rasterize_annotations(seg_anns[level], height, width,
                                                 self.ignore_index, where)
            if key not in seg_fields:
                seg_fields.append(key)
        results['gt_seg_map'] = results[f'gt_seg_{main}'].copy()
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(main_level={self.main_level!r}, '
                f'levels={self.levels}, ignore_index={self.ignore_index})')

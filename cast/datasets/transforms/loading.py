"""Load one label map per hierarchy level: COCO masks painted, or label-map PNGs read."""
import warnings
from typing import List, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS

from ..checks import misplaced_children
from ..masks import rasterize_annotations, read_label_png


def level_label_map(results: dict, level: str, ignore_index: int = 255) -> np.ndarray:
    """One level's (H, W) uint8 label map of a data-list entry of
    :class:`~cast.datasets.HierarchicalSegDataset`: its COCO masks painted with the entry's
    ``seg_paint`` rules, or its label-map PNG mapped through ``seg_luts[level]``."""
    height, width = int(results['height']), int(results['width'])
    files = results.get('ann_files') or {}
    where = f"image {results.get('img_id')} ({results.get('img_path')}) in " \
            f"{files.get(level, 'its annotation file')}"
    if 'seg_pngs' in results:
        return read_label_png(results['seg_pngs'][level], results['seg_luts'][level],
                              (height, width))
    return rasterize_annotations(results['seg_anns'][level], height, width,
                                 ignore_index=ignore_index, where=where,
                                 **results.get('seg_paint', {}))


@TRANSFORMS.register_module()
class LoadHierarchicalAnnotations(BaseTransform):
    """Load every level's label map (0 background, 1..N the level's classes, 255 ignore).

    The dataset says where each level comes from (:class:`HierarchicalSegDataset`): COCO masks
    (``seg_anns``), painted by :func:`~cast.datasets.masks.rasterize_annotations` with the
    dataset's rules (by default exactly as spin-api paints them: file order, the later mask
    wins, ``iscrowd`` not looked at), or label-map PNGs (``seg_pngs``, e.g. spin-api's
    ``rasterize_dataset`` output) mapped through ``seg_luts``. The maps have the annotation
    size (``height``, ``width``), so this may run before or after the image is resized (as
    MMSeg's test pipelines do). Results without annotations and levels (an image given to
    ``mmseg.apis.inference_model`` or ``MMSegInferencer``) pass through unchanged.

    With ``warn_stray=True`` a child annotation lying mostly (> half its pixels) on its parent
    level's background (e.g. the parent's polygon is degenerate) is reported once per image in
    a warning naming the image, its id, the annotation file and the annotation ids.

    Required Keys:

    - seg_anns (dict[str, list[dict]]) or seg_pngs (dict[str, str]) with seg_luts, as
      :class:`HierarchicalSegDataset` gives them; absent: nothing is loaded.
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
        ignore_index (int): label of ignored (crowd) pixels. Default: 255.
        warn_stray (bool): warn about child annotations outside every parent. Default: True.
    """

    def __init__(self, main_level: Optional[str] = None,
                 levels: Optional[Sequence[str]] = None, ignore_index: int = 255,
                 warn_stray: bool = True) -> None:
        self.main_level = main_level
        self.levels = tuple(levels) if levels is not None else None
        self.ignore_index = ignore_index
        self.warn_stray = warn_stray
        self._warned = set()

    def transform(self, results: dict) -> dict:
        source = 'seg_pngs' if 'seg_pngs' in results else 'seg_anns'
        where = results.get('img_path') or f"image {results.get('img_id')}"
        if source not in results and 'levels' not in results:
            return results  # a bare image to predict on (mmseg.apis, MMSegInferencer)
        if source not in results:
            raise KeyError(f"LoadHierarchicalAnnotations needs 'seg_anns' or 'seg_pngs' (level "
                           f'-> annotations) in the results of {where}; use it with '
                           'SPINDataset / PartImageNetDataset')
        height, width = int(results['height']), int(results['width'])
        if 'ori_shape' in results and tuple(results['ori_shape'][:2]) != (height, width):
            raise ValueError(f'{where} is {results["ori_shape"][0]}x{results["ori_shape"][1]} '
                             f'(HxW) but its annotation says {height}x{width}')
        available = results[source]
        levels = self.levels or tuple(results.get('levels') or available)
        unknown = [lv for lv in levels if lv not in available]
        if unknown:
            raise KeyError(f'levels {unknown} have no annotations for {where} (has '
                           f'{list(available)})')
        main = self.main_level or results.get('main_level') or levels[0]
        if main not in levels:
            raise KeyError(f'main_level {main!r} is not among the loaded levels {levels}')
        maps = {lv: level_label_map(results, lv, self.ignore_index) for lv in levels}
        if self.warn_stray:
            self._check_stray(results, levels, maps, where)
        seg_fields: List[str] = results.setdefault('seg_fields', [])
        for level in levels:
            results[f'gt_seg_{level}'] = maps[level]
        results['gt_seg_map'] = maps[main].copy()
        for key in [f'gt_seg_{lv}' for lv in levels] + ['gt_seg_map']:
            if key not in seg_fields:
                seg_fields.append(key)
        return results

    def _check_stray(self, results: dict, levels: Sequence[str], maps: dict, where: str):
        key = (results.get('img_id'), where)
        if key in self._warned:
            return
        for parent, child in zip(levels[:-1], levels[1:]):
            stray = misplaced_children(results, child, parent, maps,
                                       ignore_index=self.ignore_index)
            if stray:
                self._warned.add(key)
                files = results.get('ann_files') or {}
                listed = ', '.join(
                    f"{'annotation ' + str(s['id']) if s['id'] is not None else 'class'} "
                    f"(label {s['label']}: {s['outside']} of {s['pixels']} px)"
                    for s in stray[:5])
                warnings.warn(
                    f'{where} (image id {results.get("img_id")}): {len(stray)} {child} '
                    f'annotation(s) of {files.get(child, "its annotation file")} lie mostly '
                    f'outside every {parent} mask: {listed}. Check the {parent} annotations '
                    'of this image (tools/check_dataset.py lists all such cases)')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(main_level={self.main_level!r}, '
                f'levels={self.levels}, ignore_index={self.ignore_index}, '
                f'warn_stray={self.warn_stray})')

"""Checks of one image's annotations across levels: children outside their parents.

Used by :class:`~cast.datasets.transforms.LoadHierarchicalAnnotations` (a warning per image)
and by ``tools/check_dataset.py`` (a report over a whole split).
"""
from typing import Dict, List, Optional

import numpy as np

from .masks import decode_annotation


def _flag(pixels: int, outside: int, wrong: int, min_fraction: float) -> bool:
    return pixels > 0 and max(outside, wrong) > min_fraction * pixels


def misplaced_children(results: dict, child: str, parent: str, maps: Dict[str, np.ndarray],
                       allowed: Optional[np.ndarray] = None, min_fraction: float = 0.5,
                       ignore_index: int = 255) -> List[dict]:
    """The child annotations of one image that lie mostly outside their parents.

    An annotation is reported when more than ``min_fraction`` of its pixels lie on the parent
    level's background (outside every parent mask), or, given ``allowed``, on a parent class
    that is not one of its class's parents.

    Args:
        results (dict): the data-list entry (``seg_anns``, or ``seg_pngs`` for PNG sources).
        child (str): child level.
        parent (str): the level above it.
        maps (dict[str, np.ndarray]): (H, W) label maps of both levels.
        allowed (np.ndarray, optional): (N_c, N_p) bool, True where a parent class is allowed
            for a child class. Default: None (only the background is checked).
        min_fraction (float): share of an annotation's pixels that makes it misplaced.
            Default: 0.5.
        ignore_index (int): ignored label. Default: 255.

    Returns:
        list[dict]: ``dict(id, label, pixels, outside, wrong)`` per annotation (PNG entries:
        per child class, ``id`` None).
    """
    child_map, parent_map = maps[child], maps[parent]
    labelled = (child_map > 0) & (child_map != ignore_index) & (parent_map != ignore_index)
    outside = labelled & (parent_map == 0)
    wrong = np.zeros_like(labelled)
    if allowed is not None:
        ok = allowed[np.minimum(child_map, allowed.shape[0] - 1),
                     np.minimum(parent_map, allowed.shape[1] - 1)]
        wrong = labelled & (parent_map > 0) & ~ok
    if not (outside.any() or wrong.any()):
        return []
    if 'seg_anns' in results:  # each annotation's own mask
        h, w = child_map.shape
        regions = ((ann.get('id'), ann['label'], decode_annotation(ann, h, w))
                   for ann in results['seg_anns'][child])
    else:  # label maps: each child class's pixels
        regions = ((None, int(label), child_map == label)
                   for label in np.unique(child_map[outside | wrong]))
    found = []
    for ann_id, label, mask in regions:
        counts = (int(mask.sum()), int((mask & outside).sum()), int((mask & wrong).sum()))
        if _flag(*counts, min_fraction):
            found.append(dict(zip(('id', 'label', 'pixels', 'outside', 'wrong'),
                                  (ann_id, label, *counts))))
    return found

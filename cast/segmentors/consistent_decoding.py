"""Hierarchy-consistent decoding: a child's class is restricted to the
children of its parent's predicted class.

Shape shorthand: C_p parent classes, C_c child classes, `*` any pixel dims
(e.g. H, W). Class 0 is background at every level.
"""
import logging
from typing import Dict, List, Mapping, Sequence

import torch
from mmengine.logging import print_log
from torch import Tensor


def check_hierarchy(hierarchy: Mapping[str, Sequence[int]],
                    levels: Sequence[str],
                    num_classes: Mapping[str, int]) -> Dict[str, List[int]]:
    """Validate ``hierarchy`` against the levels and class counts.

    Args:
        hierarchy (Mapping[str, Sequence[int]]): child level -> parent class
            index of each child class (``dataset_meta['hierarchy']``), for
            every level but the first.
        levels (Sequence[str]): Level names, coarse to fine.
        num_classes (Mapping[str, int]): Classes per level.

    Returns:
        dict[str, list[int]]: The same mapping with plain int lists.
    """
    checked = {}
    for parent, child in zip(levels[:-1], levels[1:]):
        if child not in hierarchy:
            raise KeyError(f'hierarchy has no entry for level {child!r} '
                           f'(keys {sorted(hierarchy)}); expected one parent '
                           f'({parent!r}) class per {child!r} class')
        parents = [int(p) for p in hierarchy[child]]
        if len(parents) != num_classes[child]:
            raise ValueError(
                f'hierarchy[{child!r}] has {len(parents)} entries but level '
                f'{child!r} has {num_classes[child]} classes')
        bad = [(k, p) for k, p in enumerate(parents)
               if not 0 <= p < num_classes[parent]]
        if bad or parents[0] != 0:
            raise ValueError(
                f'hierarchy[{child!r}] must map background (0) to 0 and '
                f'every class to a {parent!r} class in '
                f'0..{num_classes[parent] - 1}; bad (class, parent) pairs: '
                f'{bad or [(0, parents[0])]}')
        orphans = [k for k, p in enumerate(parents) if k > 0 and p == 0]
        if orphans:
            print_log(
                f'hierarchy[{child!r}] maps {child} classes {orphans} to '
                f'background (e.g. classes absent from the data the '
                'hierarchy was derived from); consistent decoding never '
                'predicts them',
                logger='current',
                level=logging.WARNING)
        checked[child] = parents
    return checked


def allowed_children(parent_of: Sequence[int], num_parent_classes: int,
                     device=None) -> Tensor:
    """Which child classes may appear under which parent class.

    Background (child 0) is allowed under any parent; a foreground child only
    under its own parent; under a background parent only background. So a
    foreground child whose parent is background is allowed nowhere.

    Args:
        parent_of (Sequence[int]): Parent class of each child class (C_c).
        num_parent_classes (int): C_p.

    Returns:
        Tensor: (C_c, C_p) bool.
    """
    parent_of = torch.as_tensor(parent_of, dtype=torch.long, device=device)
    parents = torch.arange(num_parent_classes, device=device)
    allowed = (parent_of[:, None] == parents[None, :]) & (parents != 0)
    allowed[0] = True
    return allowed


def consistent_argmax(level_logits: Sequence[Tensor],
                      allowed: Sequence[Tensor]) -> List[Tensor]:
    """Decode levels coarse to fine, each restricted by the one above.

    Args:
        level_logits (Sequence[Tensor]): Per level (C_l, *) logits, coarse
            to fine.
        allowed (Sequence[Tensor]): For each level but the first, the
            (C_l, C_{l-1}) bool matrix of :func:`allowed_children`.

    Returns:
        list[Tensor]: Per level (*) long predictions; for every pixel and
        level l > 0, ``allowed[l-1][pred_l, pred_{l-1}]`` holds.
    """
    preds = [level_logits[0].argmax(dim=0)]
    for logits, mask in zip(level_logits[1:], allowed):
        ok = mask[:, preds[-1]]  # (C_l, *)
        preds.append(logits.masked_fill(~ok, float('-inf')).argmax(dim=0))
    return preds

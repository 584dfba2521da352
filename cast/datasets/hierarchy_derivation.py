"""How a hierarchical dataset derives its class hierarchy: from the category names, from
containment in the ground truth, cached.

Shape shorthand: N_c classes of the child level, N_p of the parent level, both counting
background as class 0.

A hierarchy maps each child class to its parent class(es): per child class a tuple of parent
indices (background -> ``(0,)``). :func:`derive_hierarchy` finds them, level pair by level pair
(given, else by name, else by containment); :class:`~cast.structures.ClassHierarchy` checks them
and holds the relations.
"""
import json
import os
import os.path as osp
import warnings
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from .part_names import norm

#: (N_c tuples of parent indices or None where not placed yet, N_c rule names or None)
NamedParents = Tuple[List[Optional[Tuple[int, ...]]], List[Optional[str]]]

CACHE_VERSION = 2


def parents_from_names(child_classes: Sequence[str], child_supercats: Sequence[Optional[str]],
                       parent_classes: Sequence[str],
                       parent_groups: Optional[Sequence[Optional[str]]] = None
                       ) -> Tuple[List[Optional[Tuple[int, ...]]], List[Optional[str]]]:
    """Read the hierarchy off the category names, where they spell it.

    A child class's parent is, in this order: the parent class named by its
    ``supercategory``; the parent class whose name is the longest prefix of the child's name
    ('Car Tire Rim' -> 'Car Tire', separators ' ', '-', '_' alike); else, if ``parent_groups``
    is given, every parent class of the group named by the supercategory or name prefix (SPIN
    parts -> object classes: 'Quadruped Head' -> all Quadruped classes).

    Args:
        child_classes (Sequence[str]): N_c names, index 0 background.
        child_supercats (Sequence[str | None]): N_c ``supercategory`` fields (entry 0 unused).
        parent_classes (Sequence[str]): N_p names, index 0 background.
        parent_groups (Sequence[str | None], optional): N_p group names of the parent classes
            (e.g. the superclass of each object class). Default: None.

    Returns:
        tuple: (N_c tuples of parent indices, None where the names say nothing; N_c rule names:
        'supercategory', 'name', 'group' or None), entry 0 ``(0,)`` / 'background'.
    """
    by_name = {norm(n): i for i, n in enumerate(parent_classes) if i > 0}
    groups: Dict[str, List[int]] = {}
    for i, g in enumerate(parent_groups or ()):
        if i > 0 and g:
            groups.setdefault(norm(g), []).append(i)
    parents: List[Optional[Tuple[int, ...]]] = [(0, )]
    sources: List[Optional[str]] = ['background']
    for name, supercat in zip(child_classes[1:], child_supercats[1:]):
        name, supercat = norm(name), norm(supercat) if supercat else None
        prefixes = [p for p in by_name if name.startswith(p + ' ')]
        group = supercat if supercat in groups else next(
            (g for g in sorted(groups, key=len, reverse=True) if name.startswith(g + ' ')), None)
        if supercat in by_name:
            parents.append((by_name[supercat], ))
            sources.append('supercategory')
        elif prefixes:
            parents.append((by_name[max(prefixes, key=len)], ))
            sources.append('name')
        elif group is not None:
            parents.append(tuple(groups[group]))
            sources.append('group')
        else:
            parents.append(None)
            sources.append(None)
    return parents, sources


def containment_counts(label_map_pairs: Iterable[Tuple[np.ndarray, np.ndarray]],
                       num_child: int, num_parent: int, ignore_index: int = 255) -> np.ndarray:
    """Count, over images, the child-class pixels lying on each parent class.

    Args:
        label_map_pairs (Iterable): (child, parent) (H, W) label maps per image.
        num_child (int): N_c.
        num_parent (int): N_p.
        ignore_index (int): pixels ignored in either map. Default: 255.

    Returns:
        np.ndarray: (N_c, N_p) int64; row 0 (background) stays 0.
    """
    counts = np.zeros((num_child, num_parent), np.int64)
    for child, parent in label_map_pairs:
        keep = (child > 0) & (child != ignore_index) & (parent != ignore_index)
        if not keep.any():
            continue
        c, p = child[keep].astype(np.int64), parent[keep].astype(np.int64)
        if c.max() >= num_child or p.max() >= num_parent:
            raise ValueError(f'label maps hold classes beyond N_c={num_child} / N_p={num_parent}')
        counts += np.bincount(c * num_parent + p,
                              minlength=num_child * num_parent).reshape(num_child, num_parent)
    return counts


def parents_by_containment(counts: np.ndarray, child_classes: Sequence[str],
                           parent_classes: Sequence[str], child_level: str = 'child',
                           parent_level: str = 'parent', tolerance: float = 0.05,
                           source: str = '', only: Optional[Sequence[int]] = None
                           ) -> List[Optional[int]]:
    """Each child class's parent: the parent class covering most of its pixels.

    Args:
        counts (np.ndarray): (N_c, N_p) from :func:`containment_counts`.
        child_classes (Sequence[str]): N_c names.
        parent_classes (Sequence[str]): N_p names.
        child_level (str): name of the child level, for messages. Default: 'child'.
        parent_level (str): name of the parent level, for messages. Default: 'parent'.
        tolerance (float): largest fraction of a class's pixels allowed outside its parent
            (on background or another parent class), e.g. polygon borders. Default: 0.05.
        source (str): the annotation files, for messages. Default: ''.
        only (Sequence[int], optional): the classes to place (others get None). Default: all.

    Returns:
        list: N_c entries, the parent index (0 for background), or None for classes without
        pixels and classes not in ``only``.

    Raises:
        ValueError: a class has no consistent parent; names it and its conflicting pixels.
    """
    parents: List[Optional[int]] = [0] + [None] * (len(child_classes) - 1)
    for k in (range(1, len(child_classes)) if only is None else only):
        if k == 0:
            continue
        total = int(counts[k].sum())
        if total == 0:
            continue
        best = int(np.argmax(counts[k, 1:])) + 1
        conflict = total - int(counts[k, best])
        if counts[k, best] == 0 or conflict > tolerance * total:
            others = sorted(((int(n), parent_classes[j]) for j, n in enumerate(counts[k])
                             if j != best and n > 0), reverse=True)[:3]
            detail = ', '.join(f'{name!r}: {n} px' for n, name in others)
            raise ValueError(
                f'{child_level} class {child_classes[k]!r} has no consistent {parent_level} '
                f'class: {conflict} of its {total} pixels ({conflict / total:.1%}, tolerance '
                f'{tolerance:.1%}) lie outside its most common {parent_level} class '
                f'{parent_classes[best]!r} (elsewhere: {detail}){" in " + source if source else ""}'
                '. Give the hierarchy explicitly (hierarchy=...) or fix the annotations '
                '(tools/check_dataset.py lists the annotations).')
        parents[k] = best
    return parents


def _is_fresh(path: str, newer_than: Sequence[str]) -> bool:
    """Whether the file ``path`` exists and is newer than every existing file of
    ``newer_than``."""
    return osp.isfile(path) and not any(
        osp.getmtime(f) >= osp.getmtime(path) for f in newer_than if osp.exists(f))


def load_cached(path: str, newer_than: Sequence[str], child_level: str,
                child_classes: Sequence[str], parent_classes: Sequence[str]
                ) -> Optional[List[Optional[int]]]:
    """The cached parents of ``child_level``, if the cache is newer than every file in
    ``newer_than`` and was made for the same classes; else None."""
    if not _is_fresh(path, newer_than):
        return None
    try:
        with open(path) as f:
            content = json.load(f)
        entry = content['pairs'][child_level]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if content.get('version') != CACHE_VERSION:
        return None
    if (entry.get('child_classes') != list(child_classes)
            or entry.get('parent_classes') != list(parent_classes)):
        return None
    return [None if p is None else int(p) for p in entry['parents']]


def save_cached(path: str, newer_than: Sequence[str], child_level: str, parent_level: str,
                child_classes: Sequence[str], parent_classes: Sequence[str],
                parents: Sequence[Optional[int]]) -> None:
    """Write (merge) one level pair into the cache file, atomically."""
    content = dict(version=CACHE_VERSION, pairs={})
    if _is_fresh(path, newer_than):
        try:
            with open(path) as f:
                old = json.load(f)
            if isinstance(old.get('pairs'), dict):
                content['pairs'] = old['pairs']
        except (OSError, ValueError):
            pass
    content['pairs'][child_level] = dict(
        parent_level=parent_level, child_classes=list(child_classes),
        parent_classes=list(parent_classes), parents=list(parents),
        derived_by='containment')
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(content, f, indent=1)
    os.replace(tmp, path)


def derive_hierarchy(levels: Sequence[str], level_classes: Mapping[str, Sequence[str]],
                     by_name: Callable[[str, str], NamedParents],
                     label_maps: Callable[[str, str], Iterable[Tuple[np.ndarray, np.ndarray]]],
                     level_files: Mapping[str, str], cache_file: str,
                     given: Optional[Mapping[str, object]] = None, tolerance: float = 0.05,
                     split: str = '') -> Tuple[Dict[str, object], Dict[str, Tuple[str, ...]]]:
    """Per child level, the parents of its classes, and the rule that placed each one.

    A child class's parent is, in this order: ``given[child level]`` (the whole level, checked
    later by :class:`~cast.structures.ClassHierarchy`); ``by_name``; by containment (the parent
    class covering its pixels, up to ``tolerance``: :func:`parents_by_containment`), cached in
    ``cache_file`` while it is newer than every file of ``level_files``. A class absent from the
    ground truth that its name does not place gets parent 0 (background), with a warning.

    Args:
        levels (Sequence[str]): level names, coarse -> fine.
        level_classes (Mapping[str, Sequence[str]]): level -> class names (0 = background).
        by_name (callable): ``(child level, parent level) ->`` (per child class a tuple of
            parent indices or None where the names say nothing, per class the rule or None),
            e.g. :func:`parents_from_names` on the level's categories.
        label_maps (callable): ``(child level, parent level) ->`` iterable of (child, parent)
            (H, W) label maps per image; called only when containment is needed.
        level_files (Mapping[str, str]): level -> its annotation file (cache freshness,
            messages).
        cache_file (str): where containment results are cached (JSON).
        given (Mapping, optional): child level -> its parents entry. Default: None.
        tolerance (float): see :func:`parents_by_containment`. Default: 0.05.
        split (str): the split the label maps come from, for messages. Default: ''.

    Returns:
        tuple: (child level -> N_c parent entries, child level -> N_c rule names: 'given',
        'background', 'supercategory', 'name', 'group', 'containment', 'absent' or a rule of
        ``by_name``).

    Raises:
        ValueError: ``given`` has a key that is not a child level; a class has no consistent
            parent by containment.
    """
    given = given or {}
    unknown = [k for k in given if k not in levels[1:]]
    if unknown:
        raise ValueError(f'hierarchy has keys {unknown}; child levels are {tuple(levels[1:])}')
    level_parents, level_sources = {}, {}
    for parent_level, child_level in zip(levels[:-1], levels[1:]):
        if child_level in given:
            parents = given[child_level]
            sources = ['given'] * len(level_classes[child_level])
        else:
            parents, sources = by_name(child_level, parent_level)
            parents, sources = list(parents), list(sources)
            if any(p is None for p in parents):
                _place_by_containment(
                    parents, sources, level_classes[child_level],
                    level_classes[parent_level], child_level, parent_level,
                    label_maps, level_files, cache_file, tolerance, split)
            parents = tuple(parents)
        level_parents[child_level] = parents
        level_sources[child_level] = tuple(sources)
    return level_parents, level_sources


def _place_by_containment(parents: List, sources: List, child_classes: Sequence[str],
                          parent_classes: Sequence[str], child_level: str, parent_level: str,
                          label_maps: Callable[[str, str], Iterable],
                          level_files: Mapping[str, str],
                          cache_file: str, tolerance: float, split: str) -> None:
    """Fill the entries of ``parents`` (and ``sources``) the names left None, in place."""
    files = sorted(set(level_files.values()))
    derived = load_cached(cache_file, files, child_level, child_classes, parent_classes)
    if derived is not None:
        print_log(f'{child_level} -> {parent_level} hierarchy read from {cache_file}',
                  logger='current')
    else:
        unplaced = [child_classes[k] for k, p in enumerate(parents) if p is None]
        print_log(f'{len(unplaced)} {child_level} classes are not placed by their names '
                  f'({unplaced[:5]}...): deriving their {parent_level} classes by '
                  f'containment over the {split} ground truth', logger='current')
        counts = containment_counts(label_maps(child_level, parent_level), len(child_classes),
                                    len(parent_classes))
        derived = parents_by_containment(
            counts, child_classes, parent_classes, child_level, parent_level, tolerance,
            f'{level_files[child_level]} / {level_files[parent_level]}',
            only=[k for k, p in enumerate(parents) if p is None])
        try:
            save_cached(cache_file, files, child_level, parent_level, child_classes,
                        parent_classes, derived)
        except OSError as err:
            print_log(f'cannot cache the hierarchy in {cache_file}: {err}', logger='current',
                      level=30)
    absent = []
    for k, p in enumerate(parents):
        if p is None:
            parents[k] = (derived[k], ) if derived[k] is not None else (0, )
            sources[k] = 'containment' if derived[k] is not None else 'absent'
            if derived[k] is None:
                absent.append(child_classes[k])
    if absent:
        warnings.warn(f'{len(absent)} {child_level} classes have no pixels in {split} '
                      'and names that place them nowhere; they get parent 0 (background): '
                      f'{absent[:10]}')

"""The superclass of each SPIN whole category (158 ImageNet classes -> 11 superclasses).

SPIN's whole categories may carry no ``supercategory``; spin-api maps each picture to its
superclass with a file-name table instead. :func:`resolve_superclasses` takes, for every whole
category, its ``supercategory`` if that names a superclass, else a vote over its pictures, each
picture's superclass coming from (first that answers): spin-api's table
(``spin.object_mapping.file_to_object_mapping``, when the ``spin-dataset-api`` package is
installed), the superclass its part annotations name ('Quadruped Head' -> 'Quadruped'), the
user's mapping file; a category without pictures may still be named in the user's file.
"""
import json
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from .part_names import norm

SOURCES = ('supercategory', 'spin-api table', 'part names', 'superclass_file')


def spin_api_table() -> Optional[Dict[str, str]]:
    """spin-api's file name -> superclass table, or None if ``spin-dataset-api`` is absent."""
    try:
        from spin.object_mapping import file_to_object_mapping
    except ImportError:
        return None
    return dict(file_to_object_mapping)


def read_superclass_file(path: str) -> Dict[str, str]:
    """A user's mapping: JSON ``{file name or whole category name or id: superclass}``, or a
    list of such dicts (spin-api's own file has that form)."""
    try:
        with open(path) as f:
            content = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f'superclass_file {path} cannot be read as JSON: {err}') from err
    parts = content if isinstance(content, list) else [content]
    if not all(isinstance(p, dict) for p in parts):
        raise ValueError(f'superclass_file {path} must hold a dict (or a list of dicts) mapping '
                         'file names or whole class names/ids to superclass names')
    mapping = {}
    for part in parts:
        for key, value in part.items():
            if not isinstance(value, str) or not value:
                raise ValueError(f'superclass_file {path}: the value of {key!r} is {value!r}; '
                                 'expected a superclass name')
            mapping[osp.splitext(str(key))[0] if re.match(r'n\d+_', str(key)) else str(key)] \
                = value
    return mapping


def whole_class_name(category: dict, stems: Sequence[str]) -> str:
    """A whole category's class name: its ``name``; an integer name becomes the ImageNet wnid
    its pictures share ('n02930766' from 'n02930766_37217'), if they share one."""
    name = category['name']
    if not isinstance(name, int) and not str(name).strip().isdigit():
        return str(name)
    wnids = {s.split('_')[0] for s in stems if re.match(r'n\d{8}_', s)}
    return wnids.pop() if len(wnids) == 1 else str(name)


class SuperclassResolver:
    """Resolve the superclass of every whole category of one split.

    Args:
        known (Sequence[str]): superclasses the part categories name, in their order; empty:
            any ``supercategory`` of a whole category is taken as its superclass.
        table (dict, optional): spin-api's file-name table.
        user_map (dict, optional): :func:`read_superclass_file`.
    """

    def __init__(self, known: Sequence[str], table: Optional[Dict[str, str]] = None,
                 user_map: Optional[Dict[str, str]] = None):
        self.superclasses: List[str] = list(known)
        self.restrict = bool(known)
        self.table = table or {}
        self.user_map = user_map or {}
        self.used = Counter()  # source -> categories (or pictures) it decided
        self.conflicts: List[str] = []

    def canonical(self, name: Optional[str], strict: bool) -> Optional[str]:
        """``name`` as spelled in :attr:`superclasses` (appended if new and not ``strict``)."""
        if not name:
            return None
        by_norm = {norm(s): s for s in self.superclasses}
        if norm(name) in by_norm:
            return by_norm[norm(name)]
        if strict:
            return None
        self.superclasses.append(str(name))
        return str(name)

    def picture_vote(self, stem: str, part_superclasses: Sequence[Optional[str]]
                     ) -> Tuple[Optional[str], Optional[str]]:
        """(superclass, source) of one picture."""
        if stem in self.table:
            return self.canonical(self.table[stem], False), 'spin-api table'
        named = Counter(s for s in part_superclasses if s)
        if named:
            return named.most_common(1)[0][0], 'part names'
        if stem in self.user_map:
            return self.canonical(self.user_map[stem], False), 'superclass_file'
        return None, None

    def resolve(self, category: dict, name: str, pictures: Dict[str, Sequence[Optional[str]]]
                ) -> Tuple[Optional[str], Optional[str]]:
        """(superclass, source) of one whole category.

        Args:
            category (dict): the COCO category.
            name (str): its class name.
            pictures (dict): stem -> superclasses of the picture's part annotations, for every
                picture holding the category.
        """
        own = self.canonical(category.get('supercategory'), self.restrict)
        if own is not None and norm(own) != norm(name):
            self.used['supercategory'] += 1
            return own, 'supercategory'
        votes, sources = Counter(), Counter()
        for stem, part_superclasses in pictures.items():
            value, source = self.picture_vote(stem, part_superclasses)
            if value:
                votes[value] += 1
                sources[source] += 1
        if votes:
            (best, count), = votes.most_common(1)
            if len(votes) > 1:
                self.conflicts.append(f'{name!r}: {dict(votes)} pictures (took {best!r})')
            source = sources.most_common(1)[0][0]
            self.used[source] += 1
            return best, source
        for key in (name, str(category['name']), str(category['id'])):
            if key in self.user_map:
                self.used['superclass_file'] += 1
                return self.canonical(self.user_map[key], False), 'superclass_file'
        return None, None

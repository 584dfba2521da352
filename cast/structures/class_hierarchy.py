"""The class hierarchy of a hierarchical dataset: levels, classes, child -> parent relations.

Shape shorthand: L levels ordered coarse -> fine (object, part, subpart); N_l classes of level l,
index 0 = background (N_c / N_p: a child level and its parent level); Q valid chains.

The one convention of the project, checked here:

- Every level's class 0 is background, and background's parent is background: ``(0,)``.
- A foreground class has one or more foreground parents (several make a DAG, not a tree: SPIN's
  parts under every object class of their superclass with ``object_level='class'``), or exactly
  ``(0,)``: an *orphan* (a class no annotation placed), which no valid chain holds.
- A chain is one class per level, coarse to fine. Background ends a chain: after a background
  level every finer level is background, and a foreground class follows one of its parents. So
  the chains are (0, 0, 0), (o, 0, 0), (o, p, 0) and (o, p, s) with p under o and s under p.

``dataset_meta`` keeps the hierarchy as plain data (checkpoints load with ``weights_only``):
``levels``, ``level_classes``, ``level_parents`` (child level -> per class a tuple of parent
indices) and ``hierarchy`` (child level -> one parent index per class, for the levels where
every class has one parent). :meth:`ClassHierarchy.from_meta` reads it, :meth:`to_meta` writes it.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

Parents = Tuple[Tuple[int, ...], ...]


def pair_names(levels: Sequence[str]) -> List[Tuple[str, str, str]]:
    """Names of the adjacent (child, parent) pairs of ``levels``, fine -> coarse.

    Initials where they are unique (``('object', 'part', 'subpart')`` -> ``S2P``, ``P2O``), the
    full level names otherwise (``subpart2part``).

    Returns:
        list[tuple]: (name, child, parent) per pair.
    """
    initials = [level[:1].upper() for level in levels]
    unique = len(set(initials)) == len(initials) and all(initials)
    pairs = []
    for i in range(len(levels) - 1, 0, -1):
        child, parent = levels[i], levels[i - 1]
        pairs.append((f'{initials[i]}2{initials[i - 1]}' if unique else f'{child}2{parent}',
                      child, parent))
    return pairs


class ClassHierarchy:
    """Levels, their classes and the child -> parent relations, validated once.

    Args:
        levels (Sequence[str]): level names, coarse -> fine.
        parents (Mapping[str, object]): child level (every level but the first) -> its entry:
            a sequence with, per child class, a parent index or a sequence of parent indices;
            or, with class names known, ``{child class name: parent name or names}`` for every
            foreground child class.
        classes (Mapping[str, Sequence[str]], optional): level -> class names (0 = background).
        num_classes (Mapping[str, int], optional): level -> N_l; needed when ``classes`` is
            not given, checked against it when both are.
        source (str | Mapping[str, str]): what the entries are called in errors, for all levels
            or per child level. Default: 'hierarchy'.

    Raises:
        KeyError: a child level has no entry.
        ValueError: an entry of the wrong length, a parent index out of range, background not
            under background, a foreground class whose parents mix background with classes;
            the message names the entry, the level and the classes.
    """

    def __init__(self, levels: Sequence[str], parents: Mapping[str, object],
                 classes: Optional[Mapping[str, Sequence[str]]] = None,
                 num_classes: Optional[Mapping[str, int]] = None,
                 source='hierarchy') -> None:
        if isinstance(levels, str) or not levels or len(set(levels)) != len(levels):
            raise ValueError(f'levels must be unique level names, got {levels!r}')
        self.levels = tuple(levels)
        self.num_classes = self._class_counts(classes, num_classes)
        self.classes = None if classes is None else {
            lv: tuple(classes[lv]) for lv in self.levels}
        self.parents: Dict[str, Parents] = {}
        for parent, child in zip(self.levels[:-1], self.levels[1:]):
            src = source if isinstance(source, str) else source.get(child, 'hierarchy')
            if child not in parents:
                raise KeyError(f'{src} has no entry for level {child!r} (keys '
                               f'{sorted(parents)}); expected one {parent!r} class per '
                               f'{child!r} class')
            self.parents[child] = self._check(parents[child], child, parent, src)
        self._cache: Dict[tuple, object] = {}

    def _class_counts(self, classes, num_classes) -> Dict[str, int]:
        counts = {}
        for level in self.levels:
            n = None if num_classes is None else num_classes.get(level)
            if classes is not None:
                if level not in classes:
                    raise KeyError(f'no class names for level {level!r}')
                if n is not None and int(n) != len(classes[level]):
                    raise ValueError(f'level {level!r} has {len(classes[level])} class names '
                                     f'but {n} classes are expected (e.g. the model predicts)')
                n = len(classes[level])
            if n is None or int(n) < 1:
                raise ValueError(f'level {level!r}: number of classes unknown (give classes or '
                                 'num_classes)')
            counts[level] = int(n)
        return counts

    def name(self, level: str, k: int) -> str:
        """Class ``k`` of ``level`` for messages: its name, else its index."""
        return repr(self.classes[level][k]) if self.classes else str(k)

    def _check(self, entry, child: str, parent: str, src: str) -> Parents:
        n_c, n_p = self.num_classes[child], self.num_classes[parent]
        key = f'{src}[{child!r}]'
        if isinstance(entry, Mapping):
            entry = self._from_names(entry, child, parent, key)
        elif hasattr(entry, 'tolist'):  # numpy array, tensor
            entry = entry.tolist()
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence):
            raise ValueError(f'{key} must be a sequence of parent entries or a mapping of '
                             f'class names, got {type(entry).__name__}')
        if len(entry) != n_c:
            raise ValueError(f'{key} must hold one parent entry per {child} class ({n_c} with '
                             'background: a parent index or a tuple of them), got '
                             f'{len(entry)} entries')
        out, bad = [], []
        for k, allowed in enumerate(entry):
            allowed = list(allowed) if isinstance(allowed, (list, tuple)) else [allowed]
            if not allowed:
                raise ValueError(f'{key}: {child} class {self.name(child, k)} has no parent')
            allowed = [int(p) for p in allowed]
            bad += [(k, p) for p in allowed if not 0 <= p < n_p]
            out.append(tuple(sorted(set(allowed))))
        if bad:
            raise ValueError(f'{key} holds parents outside the {n_p} {parent} classes '
                             f'(0..{n_p - 1}); bad (class, parent) pairs: {bad[:10]}')
        if out[0] != (0, ):
            raise ValueError(f'{key}: background (class 0) must have the parent background '
                             f'(0); bad (class, parent) pairs: {[(0, p) for p in out[0]]}')
        for k, allowed in enumerate(out[1:], 1):
            if len(allowed) > 1 and 0 in allowed:
                raise ValueError(f'{key}: {child} class {self.name(child, k)} has the parents '
                                 f'{allowed}; a foreground class lies under foreground '
                                 f'{parent} classes, or under (0,) alone (orphan)')
        return tuple(out)

    def _from_names(self, entry: Mapping, child: str, parent: str, key: str) -> list:
        if self.classes is None:
            raise ValueError(f'{key}: a mapping of class names needs the class names')
        child_classes, parent_classes = self.classes[child], list(self.classes[parent])
        named = {n: (v, ) if isinstance(v, str) else tuple(v) for n, v in entry.items()}
        missing = [n for n in child_classes[1:] if n not in named]
        unknown = [n for n in named if n not in child_classes]
        bad = [p for v in named.values() for p in v if p not in parent_classes]
        if missing or unknown or bad:
            raise ValueError(f'{key}: child classes missing {missing[:5]}, unknown child '
                             f'classes {unknown[:5]}, unknown parent classes {bad[:5]} '
                             f'(parents: {parent_classes})')
        return [(0, )] + [tuple(parent_classes.index(p) for p in named[n])
                          for n in child_classes[1:]]

    @classmethod
    def from_meta(cls, meta: Mapping, levels: Optional[Sequence[str]] = None,
                  num_classes: Optional[Mapping[str, int]] = None,
                  overrides: Optional[Mapping[str, object]] = None) -> 'ClassHierarchy':
        """The hierarchy ``dataset_meta`` describes, restricted to ``levels``.

        Per child level the parents come from ``overrides`` (e.g. a ``hierarchy=`` argument),
        else ``meta['level_parents']``, else ``meta['hierarchy']``; where both meta entries
        exist they must agree.

        Args:
            meta (Mapping): ``dataset_meta``; ``levels`` (may be missing when ``levels`` is
                given), ``level_classes`` (may be missing when ``num_classes`` is given).
            levels (Sequence[str], optional): a coarse -> fine subsequence of the meta's levels
                (relations composed through the skipped ones). Default: all.
            num_classes (Mapping[str, int], optional): classes per level, checked against
                ``level_classes``.
            overrides (Mapping, optional): child level -> entry, taking precedence.
        """
        all_levels = tuple(meta.get('levels') or levels or ())
        if not all_levels:
            raise KeyError("dataset_meta has no 'levels'")
        levels = tuple(levels or all_levels)
        index = cls.subsequence_index(levels, all_levels, "dataset_meta['levels']")
        used = all_levels[index[0]:index[-1] + 1]
        names = meta.get('level_classes') or {}
        names = {lv: names[lv] for lv in used} if all(lv in names for lv in used) else None
        tables = (('the hierarchy argument', overrides or {}),
                  ("dataset_meta['level_parents']", meta.get('level_parents') or {}),
                  ("dataset_meta['hierarchy']", meta.get('hierarchy') or {}))
        entries, sources = {}, {}
        for child in used[1:]:
            found = [(src, table[child]) for src, table in tables if child in table]
            if not found:
                raise KeyError(f'no parents of the {child} classes in dataset_meta'
                               "['level_parents'] or ['hierarchy'] (nor a hierarchy argument)")
            sources[child], entries[child] = found[0]
        full = cls(used, entries, classes=names, num_classes=num_classes, source=sources)
        single = meta.get('hierarchy') or {}
        for child in used[1:]:
            if sources[child].endswith("['level_parents']") and child in single and \
                    tuple((int(p), ) for p in single[child]) != full.parents[child]:
                raise ValueError(f"dataset_meta['hierarchy'][{child!r}] and "
                                 f"dataset_meta['level_parents'][{child!r}] disagree")
        return full if used == levels else full.restrict(levels)

    @staticmethod
    def subsequence_index(levels: Sequence[str], all_levels: Sequence[str],
                          name: str = 'the levels') -> List[int]:
        """Where ``levels`` lie in ``all_levels``, checked to be a coarse -> fine subsequence.

        Args:
            levels (Sequence[str]): the levels asked for.
            all_levels (Sequence[str]): the levels there are, coarse -> fine.
            name (str): what ``all_levels`` is called in the error. Default: 'the levels'.

        Returns:
            list[int]: the index of each of ``levels`` in ``all_levels``, increasing.

        Raises:
            ValueError: a level not in ``all_levels``, repeated or out of order; names both.
        """
        levels, all_levels = tuple(levels), tuple(all_levels)
        index = [all_levels.index(lv) for lv in levels if lv in all_levels]
        if len(index) != len(levels) or index != sorted(set(index)):
            raise ValueError(f'levels {levels} are not a coarse -> fine subsequence of '
                             f'{name} = {all_levels}')
        return index

    def to_meta(self) -> dict:
        """The plain-data ``dataset_meta`` entries of this hierarchy (needs class names)."""
        if self.classes is None:
            raise ValueError('to_meta needs the class names')
        return dict(levels=self.levels, level_classes=dict(self.classes),
                    level_parents=dict(self.parents),
                    hierarchy={child: tuple(p[0] for p in parents)
                               for child, parents in self.parents.items()
                               if all(len(p) == 1 for p in parents)})

    # ---- relations --------------------------------------------------------------------------

    def parent_level(self, child: str) -> str:
        """The level above ``child``."""
        i = self.levels.index(child)
        if i == 0:
            raise ValueError(f'level {child!r} is the coarsest level; it has no parent level')
        return self.levels[i - 1]

    def pair_names(self) -> List[Tuple[str, str, str]]:
        """(name, child, parent) of each adjacent pair, fine -> coarse (see :func:`pair_names`)."""
        return pair_names(self.levels)

    def is_single_parent(self, child: str) -> bool:
        """Whether every class of ``child`` has one parent (a tree between the two levels)."""
        return all(len(p) == 1 for p in self.parents[child])

    def orphans(self, child: str) -> List[int]:
        """Foreground classes of ``child`` whose only parent is background (never decoded)."""
        return [k for k, p in enumerate(self.parents[child]) if k and p == (0, )]

    def relation(self, child: str, parent: Optional[str] = None, device=None) -> Tensor:
        """(N_c, N_p) bool: True where a ``parent``-level class is a parent of a child class.

        ``parent`` defaults to the level above; a coarser level composes the relations through
        the levels between (through foreground classes: the relation of :meth:`restrict`).
        Rows as the data says: background -> background, an orphan -> background.
        """
        parent = self.parent_level(child) if parent is None else parent
        if self.levels.index(parent) >= self.levels.index(child):
            raise ValueError(f'level {parent!r} is not coarser than {child!r} in {self.levels}')
        if parent != self.parent_level(child):
            return self.restrict((parent, child)).relation(child, device=device)
        key = ('relation', child, str(device))
        if key not in self._cache:
            rel = torch.zeros(self.num_classes[child], self.num_classes[parent], dtype=torch.bool,
                              device='cpu')  # filled here, then moved
            for k, allowed in enumerate(self.parents[child]):
                rel[k, list(allowed)] = True
            self._cache[key] = rel.to(device)
        return self._cache[key]

    def parent_index(self, child: str, device=None) -> Optional[Tensor]:
        """(N_c,) long parent of each class, or None where a class has several parents."""
        if not self.is_single_parent(child):
            return None
        return torch.tensor([p[0] for p in self.parents[child]], dtype=torch.long, device=device)

    def allowed_children(self, child: str, device=None) -> Tensor:
        """(N_c, N_p) bool for decoding: may child class j lie under parent class k?

        Background (row 0) under any parent; a foreground class under its foreground parents;
        under a background parent only background (so an orphan lies nowhere).
        """
        key = ('allowed', child, str(device))
        if key not in self._cache:
            allowed = self.relation(child, device='cpu').clone()
            allowed[:, 0] = False
            allowed[0] = True
            self._cache[key] = allowed.to(device)
        return self._cache[key]

    def restrict(self, levels: Sequence[str]) -> 'ClassHierarchy':
        """The hierarchy of a coarse -> fine subsequence of the levels, with each new pair's
        relation composed through the skipped levels' foreground classes."""
        levels = tuple(levels)
        self.subsequence_index(levels, self.levels, "the hierarchy's levels")
        parents = {}
        for parent, child in zip(levels[:-1], levels[1:]):
            # reach[k]: the classes of the current level a child class k lies under
            reach = [set(p) for p in self.parents[child]]
            level = self.parent_level(child)
            while level != parent:
                above = self.parents[level]
                reach = [reach[0]] + [{g for q in r if q for g in above[q] if g} for r in reach[1:]]
                level = self.parent_level(level)
            parents[child] = [(0, )] + [tuple(sorted(r - {0})) or (0, ) for r in reach[1:]]
        return ClassHierarchy(
            levels, parents, classes=None if self.classes is None else {
                lv: self.classes[lv] for lv in levels},
            num_classes={lv: self.num_classes[lv] for lv in levels})

    # ---- chains -----------------------------------------------------------------------------

    def children(self, child: str) -> List[List[int]]:
        """Per class of the level above ``child``: its foreground children, in index order."""
        out = [[] for _ in range(self.num_classes[self.parent_level(child)])]
        for j, allowed in enumerate(self.parents[child]):
            if j:
                for k in allowed:
                    if k:
                        out[k].append(j)
        return out

    def chains(self, device=None) -> Tensor:
        """(Q, L) long: every valid chain (background ends a chain), in lexicographic order."""
        key = ('chains', str(device))
        if key not in self._cache:
            kids = [self.children(child) for child in self.levels[1:]]
            depth = len(self.levels)
            out = [(0, ) * depth]

            def extend(prefix):
                out.append(prefix + (0, ) * (depth - len(prefix)))
                if len(prefix) < depth:
                    for j in kids[len(prefix) - 1][prefix[-1]]:
                        extend(prefix + (j, ))

            for k in range(1, self.num_classes[self.levels[0]]):
                extend((k, ))
            self._cache[key] = torch.tensor(out, dtype=torch.long, device=device)
        return self._cache[key]

    def chain_mask(self, extra: int = 0, device=None) -> Tensor:
        """(N_1 + extra, ..., N_L + extra) bool, True at every valid all-foreground chain
        (``extra`` bins per level for values that are no class, e.g. the metric's "none")."""
        chains = self.chains(device='cpu')
        chains = chains[(chains > 0).all(1)]
        mask = torch.zeros([self.num_classes[lv] + extra for lv in self.levels],
                           dtype=torch.bool, device='cpu')
        mask[tuple(chains.t())] = True
        return mask.to(device)

    def child_groups(self, child: str, device=None) -> Tuple[Tensor, Tensor, Tensor]:
        """The parent classes of ``child``'s level grouped by their set of foreground children,
        for reducing child scores into parents (:mod:`cast.structures.chain_scores`).

        Returns:
            tuple: ``edge_child`` (E,) and ``edge_group`` (E,) long, one edge per (child class,
            group) membership; ``parent_group`` (N_p,) long, each parent's group in 0..G-1, or
            G for background and for parents without foreground children. A tree has one group
            per parent with children; SPIN's object classes of one superclass share a group.
        """
        key = ('groups', child, str(device))
        if key not in self._cache:
            groups: Dict[Tuple[int, ...], int] = {}
            kids = self.children(child)
            parent_group = []
            for k, members in enumerate(kids):
                if k == 0 or not members:
                    parent_group.append(-1)
                else:
                    parent_group.append(groups.setdefault(tuple(members), len(groups)))
            parent_group = [len(groups) if g < 0 else g for g in parent_group]
            edges = [(j, g) for members, g in groups.items() for j in members]
            edge_child = torch.tensor([j for j, _ in edges], dtype=torch.long, device=device)
            edge_group = torch.tensor([g for _, g in edges], dtype=torch.long, device=device)
            self._cache[key] = (edge_child, edge_group,
                                torch.tensor(parent_group, dtype=torch.long, device=device))
        return self._cache[key]

    def __repr__(self) -> str:
        sizes = ' / '.join(f'{lv} {self.num_classes[lv]}' for lv in self.levels)
        multi = [c for c in self.levels[1:] if not self.is_single_parent(c)]
        return f'ClassHierarchy({sizes}' + (f'; several parents: {multi})' if multi else ')')

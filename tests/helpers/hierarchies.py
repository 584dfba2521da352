"""Toy class hierarchies shared by the structure, loss and segmentor tests: hand-made (a tree and
a DAG over three levels of 3 / 5 / 7 classes) and random (trees and DAGs), with brute-force
references for the chain programmes."""
import itertools
import random

import torch

from cast.structures import ClassHierarchy

LEVELS = ('object', 'part', 'subpart')
NUM_CLASSES = dict(object=3, part=5, subpart=7)
# part k -> object, subpart j -> part (entry 0: background -> background)
TREE = dict(part=(0, 1, 1, 2, 2), subpart=(0, 1, 2, 2, 3, 4, 4))
# part 2 under both objects; subpart 3 under parts 2 and 3; subpart 5 an orphan
DAG = dict(part=((0, ), (1, ), (1, 2), (2, ), (2, )),
           subpart=((0, ), (1, ), (2, ), (2, 3), (4, ), (0, ), (4, )))


def tree():
    return ClassHierarchy(LEVELS, TREE, num_classes=NUM_CLASSES)


def dag():
    return ClassHierarchy(LEVELS, DAG, num_classes=NUM_CLASSES)


def random_hierarchy(sizes, seed, max_parents=1, orphans=0.1):
    """Random levels of the given class counts; each foreground class gets 1..max_parents
    foreground parents, or is an orphan with probability ``orphans``."""
    rng = random.Random(seed)
    levels = tuple(f'level{i}' for i in range(len(sizes)))
    parents = {}
    for n_p, n_c, child in zip(sizes[:-1], sizes[1:], levels[1:]):
        entry = [(0, )]
        for _ in range(1, n_c):
            if rng.random() < orphans:
                entry.append((0, ))
            else:
                k = rng.randint(1, min(max_parents, n_p - 1))
                entry.append(tuple(sorted(rng.sample(range(1, n_p), k))))
        parents[child] = entry
    return ClassHierarchy(levels, parents, num_classes=dict(zip(levels, sizes)))


def is_valid_chain(hierarchy, chain):
    """The chain rule, spelled out independently of ClassHierarchy's own code."""
    for i, child in enumerate(hierarchy.levels[1:], start=1):
        above, here = chain[i - 1], chain[i]
        if above == 0 and here != 0:
            return False  # background ends a chain
        if here != 0 and above not in hierarchy.parents[child][here]:
            return False
    return True


def brute_force_chains(hierarchy):
    """(K, L) every valid chain, found by trying every tuple of classes (lexicographic)."""
    ranges = [range(hierarchy.num_classes[lv]) for lv in hierarchy.levels]
    chains = [c for c in itertools.product(*ranges) if is_valid_chain(hierarchy, c)]
    return torch.tensor(chains, dtype=torch.long)


def chain_scores(chains, scores):
    """(K, P) total score of every chain at every pixel; scores: L tensors (N_l, P)."""
    total = scores[0][chains[:, 0]]
    for level, s in enumerate(scores[1:], start=1):
        total = total + s[chains[:, level]]
    return total

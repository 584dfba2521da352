"""Hand-made 4x4 hierarchical maps shared by the metric tests (their own hierarchy: its expected
scores are worked out by hand on these maps).

Hierarchy (index 0 = background everywhere):
    object:  background, animal, car, boat        (boat never appears)
    part:    background, head(animal), body(animal), wheel(car)
    subpart: background, eye(head), nose(head), tire(wheel)
"""
import numpy as np
import torch

from tests.helpers.hierarchies import LEVELS

LEVEL_CLASSES = dict(
    object=('background', 'animal', 'car', 'boat'),
    part=('background', 'head', 'body', 'wheel'),
    subpart=('background', 'eye', 'nose', 'tire'))
HIERARCHY = dict(part=(0, 1, 1, 2), subpart=(0, 1, 1, 3))
X = 255  # ignore / no prediction


def meta(levels=LEVELS, hierarchy=True):
    """dataset_meta as the hierarchical datasets give it (main level: object)."""
    out = dict(levels=tuple(levels), level_classes={k: LEVEL_CLASSES[k] for k in levels},
               classes=LEVEL_CLASSES['object'], main_level='object')
    if hierarchy:
        out['hierarchy'] = {k: HIERARCHY[k] for k in levels[1:]}
    return out


# Image A: one wrong part pixel, one inconsistent subpart, a nose that is never predicted,
# a prediction of 255 on an ignored pixel.
GT_A = dict(
    object=[[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 2, 2], [0, 0, 2, X]],
    part=[[1, 1, 0, 0], [2, 2, 0, 0], [0, 0, 3, 3], [0, 0, 3, X]],
    subpart=[[1, 2, 0, 0], [0, 0, 0, 0], [0, 0, 3, 0], [0, 0, 0, X]])
PRED_A = dict(
    object=[[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 2, 2], [0, 0, 2, 2]],
    part=[[1, 1, 0, 0], [2, 1, 0, 0], [0, 0, 3, 3], [0, 0, 3, 3]],
    subpart=[[1, 1, 0, 0], [3, 0, 0, 0], [0, 0, 3, 0], [0, 0, 0, X]])
# Image B: only the car; its last row is ignored in the ground truth but predicted.
GT_B = dict(
    object=[[2, 2, 2, 2], [2, 2, 2, 2], [0, 0, 0, 0], [X, X, X, X]],
    part=[[3, 3, 3, 3], [3, 3, 3, 3], [0, 0, 0, 0], [X, X, X, X]],
    subpart=[[3, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [X, X, X, X]])
PRED_B = dict(
    object=[[2, 2, 0, 0], [2, 2, 0, 0], [0, 0, 0, 0], [2, 2, 2, 2]],
    part=[[2, 2, 0, 0], [2, 2, 0, 0], [0, 0, 0, 0], [3, 3, 3, 3]],
    subpart=[[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 0]])


def sample(gt, pred, levels=LEVELS, name='a', dtype=torch.int64):
    """A data sample as ``SegDataSample.to_dict()`` gives it to a metric."""
    out = dict(img_path=f'/data/{name}.JPEG')
    for level in levels:
        out[f'gt_seg_{level}'] = dict(data=torch.tensor([gt[level]], dtype=torch.uint8))
        out[f'pred_seg_{level}'] = dict(data=torch.tensor([pred[level]], dtype=dtype))
    return out


def random_samples(num, seed=0, size=(12, 9), levels=LEVELS):
    """Blocky random maps (GT with ignore pixels, noisy predictions) for consistency checks."""
    rng = np.random.default_rng(seed)
    samples = []
    parents = dict(HIERARCHY)
    for i in range(num):
        h, w = size[0] + i % 3, size[1] + i % 2
        sub = rng.integers(0, 4, (h // 3 + 1, w // 3 + 1)).repeat(3, 0).repeat(3, 1)[:h, :w]
        part = np.asarray(parents['subpart'])[sub]
        part[(sub == 0) & (rng.random((h, w)) < 0.3)] = 2
        obj = np.asarray(parents['part'])[part]
        gt = dict(object=obj.copy(), part=part.copy(), subpart=sub.copy())
        for level in LEVELS:
            gt[level][rng.random((h, w)) < 0.05] = X
        pred = {}
        for level, n in zip(LEVELS, (4, 4, 4)):
            p = np.where(gt[level] == X, rng.integers(0, n, (h, w)), gt[level])
            noise = rng.random((h, w)) < 0.25
            p[noise] = rng.integers(0, n + 1, noise.sum())
            p[p == n] = X
            pred[level] = p
        samples.append(sample({k: gt[k].tolist() for k in levels},
                              {k: pred[k].tolist() for k in levels}, levels, f'r{i}'))
    return samples

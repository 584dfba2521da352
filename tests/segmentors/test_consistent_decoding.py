"""Tests of hierarchy-consistent decoding on hand-made logits."""
import pytest
import torch
from seg_helpers import HIERARCHY, LEVELS, NUM_CLASSES

from cast.segmentors import (allowed_children, check_hierarchy,
                             consistent_argmax)


def test_allowed_children_matrix():
    allowed = allowed_children((0, 1, 1, 2, 2), 3)
    expected = torch.tensor([
        [1, 1, 1],  # background: under any parent
        [0, 1, 0],
        [0, 1, 0],
        [0, 0, 1],
        [0, 0, 1],
    ]).bool()
    assert torch.equal(allowed, expected)


def test_consistent_argmax_restricts_children():
    # 1 x 4 pixels; parent argmax: 0, 1, 2, 2
    parent = torch.tensor([[5., 0, 0, 0], [0, 5, 0, 0], [0, 0, 5, 5]])
    parent = parent[:, None]  # (3, 1, 4)
    # child logits prefer class 3 (parent 2) everywhere, class 1 second
    child = torch.zeros(5, 1, 4)
    child[3] = 9
    child[1] = 4
    allowed = [allowed_children((0, 1, 1, 2, 2), 3)]
    free = [parent.argmax(0), child.argmax(0)]
    p, c = consistent_argmax([parent, child], allowed)
    assert torch.equal(p, free[0])
    assert torch.equal(free[1], torch.tensor([[3, 3, 3, 3]]))
    # bg parent -> bg only; parent 1 -> class 1; parent 2 -> class 3
    assert torch.equal(c, torch.tensor([[0, 1, 3, 3]]))


def test_three_levels_random_logits_give_valid_chains():
    torch.manual_seed(0)
    logits = [torch.randn(NUM_CLASSES[lv], 6, 9) for lv in LEVELS]
    hierarchy = check_hierarchy(HIERARCHY, LEVELS, NUM_CLASSES)
    allowed = [
        allowed_children(hierarchy[child], NUM_CLASSES[parent])
        for parent, child in zip(LEVELS[:-1], LEVELS[1:])
    ]
    preds = consistent_argmax(logits, allowed)
    for (parent, child), p, c in zip(
            zip(LEVELS[:-1], LEVELS[1:]), preds[:-1], preds[1:]):
        parent_of = torch.tensor(hierarchy[child])
        fg = c > 0
        assert torch.equal(parent_of[c[fg]], p[fg])
        assert (c[p == 0] == 0).all()


@pytest.mark.parametrize('hierarchy, match', [
    (dict(part=HIERARCHY['part']), "no entry for level 'subpart'"),
    (dict(HIERARCHY, part=(0, 1, 1)), '3 entries'),
    (dict(HIERARCHY, part=(0, 1, 1, 3, 2)), 'bad'),
    (dict(HIERARCHY, part=(1, 1, 1, 2, 2)), r'background.*\(0, 1\)'),
    (dict(HIERARCHY, part=(0, 1, 1, -1, 2)), r'\(3, -1\)'),
])
def test_check_hierarchy_errors(hierarchy, match):
    with pytest.raises((KeyError, ValueError), match=match):
        check_hierarchy(hierarchy, LEVELS, NUM_CLASSES)


def test_child_of_background_is_never_predicted():
    hierarchy = check_hierarchy(dict(HIERARCHY, part=(0, 0, 1, 2, 2)),
                                LEVELS, NUM_CLASSES)
    allowed = allowed_children(hierarchy['part'], NUM_CLASSES['object'])
    assert not allowed[1].any()
    parent = torch.randn(3, 4, 4)
    child = torch.zeros(5, 4, 4)
    child[1] = 10.  # the orphan class wins every free argmax
    _, c = consistent_argmax([parent, child], [allowed])
    assert (c != 1).all()

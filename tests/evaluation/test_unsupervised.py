"""cast.evaluation.unsupervised on hand-made 4x4 maps."""
import math

import pytest
import torch

from cast.evaluation.unsupervised import (
    boundary_counts,
    boundary_mask,
    boundary_tolerance,
    dilate,
    majority_labels,
    region_stats,
    summarize,
)

T = torch.tensor


def test_majority_labels():
    regions = T([[0, 0, 1, 1],
                 [0, 0, 1, 1],
                 [2, 2, 7, 7],
                 [2, 2, 7, 7]])
    gt = T([[1, 1, 0, 2],
            [1, 0, 2, 2],
            [255, 255, 255, 255],
            [0, 1, 255, 255]])
    out = majority_labels(regions, gt, num_classes=3)
    expected = T([[1, 1, 2, 2],
                  [1, 1, 2, 2],
                  [0, 0, 255, 255],   # region 2: tie 0/1 -> 0; region 7: only ignored pixels
                  [0, 0, 255, 255]])
    assert torch.equal(out, expected)
    with pytest.raises(ValueError, match='outside'):
        majority_labels(regions, torch.full((4, 4), 3), num_classes=3)
    with pytest.raises(ValueError, match='same size|one size'):
        majority_labels(regions[:3], gt, num_classes=3)


def test_boundary_mask_and_ignore():
    labels = T([[0, 0, 1, 1],
                [0, 0, 1, 1],
                [2, 2, 2, 2],
                [2, 2, 2, 2]])
    edge = boundary_mask(labels)
    assert edge.int().tolist() == [[0, 1, 0, 0],
                                   [1, 1, 1, 1],
                                   [0, 0, 0, 0],
                                   [0, 0, 0, 0]]
    valid = torch.ones(4, 4, dtype=torch.bool)
    valid[2] = False  # pairs touching row 2 do not count
    assert boundary_mask(labels, valid).int().tolist() == [[0, 1, 0, 0],
                                                           [0, 1, 0, 0],
                                                           [0, 0, 0, 0],
                                                           [0, 0, 0, 0]]


def test_dilate_is_a_disk():
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[2, 2] = True
    assert dilate(mask, 0.5).sum() == 1
    assert dilate(mask, 1).int().tolist()[1:4] == [[0, 0, 1, 0, 0],
                                                   [0, 1, 1, 1, 0],
                                                   [0, 0, 1, 0, 0]]
    assert dilate(mask, 1.5).sum() == 9
    assert boundary_tolerance(4, 4) == 1.0
    assert boundary_tolerance(3000, 4000) == pytest.approx(0.0075 * 5000)


def test_boundary_counts_with_tolerance():
    gt = T([[0, 0, 1, 1]] * 4)          # vertical boundary after column 1
    shifted = T([[0, 1, 1, 1]] * 4)     # one column to the left
    assert boundary_counts(gt, gt, 1).tolist() == [4, 4, 4, 4]
    assert boundary_counts(shifted, gt, 1).tolist() == [4, 4, 4, 4]
    assert boundary_counts(shifted, gt, 0.5).tolist() == [0, 4, 0, 4]
    flat = torch.zeros(4, 4, dtype=torch.long)
    assert boundary_counts(flat, gt, 1).tolist() == [0, 0, 0, 4]


def test_region_stats_and_summary():
    gt = T([[0, 0, 1, 1],
            [0, 0, 1, 1],
            [0, 0, 2, 2],
            [0, 0, 2, 2]])
    # Perfect regions (over-segmented background) give 100.
    regions = T([[0, 1, 2, 2],
                 [0, 1, 2, 2],
                 [3, 3, 4, 4],
                 [3, 3, 4, 4]])
    stats = region_stats(regions, gt, num_classes=3, tolerance=1)
    assert stats['num_regions'] == 5
    scores = summarize(stats['areas'], stats['boundary'])
    assert scores['mIoU'] == pytest.approx(100)
    assert scores['BF'] == pytest.approx(100)
    # One region over everything: all background.
    one = region_stats(torch.zeros(4, 4, dtype=torch.long), gt, 3, tolerance=1)
    s = summarize(one['areas'], one['boundary'])
    assert s['mIoU'] == pytest.approx(100 * 0.5 / 3)  # IoU 8/16 for background, 0 for the rest
    assert s['mIoU_fg'] == 0
    assert s['BF'] == 0 and math.isnan(s['precision']) and s['recall'] == 0
    # Counts add up over images.
    total = summarize(stats['areas'] + one['areas'], stats['boundary'] + one['boundary'])
    assert total['recall'] == pytest.approx(50)
    assert total['precision'] == pytest.approx(100)

import pytest
import torch
import torch.nn.functional as F

from cast.backbones import superpixel_ops as ops


def random_labels(B, H, W, num, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, num, (B, H, W), generator=gen)


def naive_segment_mean(x, labels, num_segs):
    B, C = x.shape[0], x.shape[-1]
    out = torch.zeros(B, num_segs, C, dtype=x.dtype)
    for b in range(B):
        for s in range(num_segs):
            sel = labels[b] == s
            if sel.any():
                out[b, s] = x[b][sel].mean(0)
    return out


def test_segment_mean_and_padding_mask():
    labels = random_labels(2, 6, 7, 5)
    labels[1][labels[1] == 3] = 4  # label 3 absent from image 1
    x = torch.randn(2, 6, 7, 4)
    means, mask = ops.segment_mean(x, labels)
    assert means.shape == (2, 5, 4)
    torch.testing.assert_close(means, naive_segment_mean(x, labels, 5))
    assert mask.tolist() == [[False] * 5, [False, False, False, True, False]]
    assert torch.equal(ops.padding_mask(labels), mask)
    assert means[1, 3].abs().max() == 0


@pytest.mark.parametrize('mode', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('grid,size', [((4, 6), (32, 48)), ((5, 3), (17, 30)),
                                       ((1, 2), (8, 8))])
def test_segment_mean_resized_fast_equals_slow(mode, grid, size):
    labels = random_labels(2, *size, 9, seed=1)
    labels[0][labels[0] == 8] = 0  # an empty segment
    table = torch.randn(2, *grid, 5)
    fast = ops.segment_mean_resized(table, labels, mode, fast=True)
    slow = ops.segment_mean_resized(table, labels, mode, fast=False)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    assert fast[0, 8].abs().max() == 0
    # A shared table (batch 1) broadcasts.
    fast1 = ops.segment_mean_resized(table[:1], labels, mode, fast=True)
    slow1 = ops.segment_mean_resized(table[:1], labels, mode, fast=False)
    torch.testing.assert_close(fast1, slow1, atol=1e-5, rtol=1e-5)


def test_segment_mean_resized_is_differentiable():
    labels = random_labels(1, 16, 16, 4)
    table = torch.randn(1, 2, 2, 3, requires_grad=True)
    ops.segment_mean_resized(table, labels, 'bicubic').sum().backward()
    assert table.grad is not None and table.grad.abs().sum() > 0


def test_interpolation_matrix_bad_mode():
    with pytest.raises(ValueError, match='bilinear or bicubic'):
        ops.interpolation_matrix(4, 8, 'nearest')


def test_resize_labels_nearest_matches_interpolate():
    labels = random_labels(2, 20, 30, 50)
    out = ops.resize_labels_nearest(labels, (3, 4))
    ref = F.interpolate(labels[:, None].float(), (3, 4), mode='nearest')
    assert torch.equal(out, ref[:, 0].long())


@pytest.mark.parametrize('size,stride', [((16, 24), 4), ((17, 23), 4),
                                         ((16, 24), 8), ((9, 5), 16)])
def test_pooled_paint_equals_paint_then_avg_pool(size, stride):
    labels = random_labels(2, *size, 6, seed=3)
    tokens = torch.randn(2, 6, 3)
    matrix = ops.pooled_paint_matrix(labels, stride, 6)
    out_size = (-(-size[0] // stride), -(-size[1] // stride))
    pooled = ops.pooled_paint(tokens, matrix, out_size)
    painted = ops.paint_tokens(tokens, labels)
    ref = F.avg_pool2d(painted, stride, stride, ceil_mode=True)
    assert pooled.shape == ref.shape == (2, 3) + out_size
    torch.testing.assert_close(pooled, ref)


@pytest.mark.parametrize('size', [(32, 48), (37, 21), (5, 9)])
def test_coarsen_pooled_equals_direct_pooling(size):
    painted = torch.randn(2, 3, *size)
    fine = F.avg_pool2d(painted, 4, 4, ceil_mode=True)
    for factor in (1, 2, 4, 8):
        stride = 4 * factor
        coarse = ops.coarsen_pooled(fine, size, 4, factor)
        ref = F.avg_pool2d(painted, stride, stride, ceil_mode=True)
        torch.testing.assert_close(coarse, ref)


def test_assignment_chain_and_paint_labels():
    # 4 tokens -> 3 clusters -> 2 clusters.
    logits1 = torch.tensor([[[5., 0, 0], [0, 0, 5], [0, 5, 0], [0, 0, 5]]])
    logits2 = torch.tensor([[[0., 5], [5, 0], [0, 5]]])
    chain = ops.assignment_chain([logits1, logits2], 4)
    assert chain[0].tolist() == [[0, 1, 2, 3]]
    assert chain[1].tolist() == [[0, 2, 1, 2]]
    assert chain[2].tolist() == [[1, 1, 0, 1]]
    superpixels = torch.tensor([[[0, 1], [2, 3]]])
    assert ops.paint_labels(chain[2], superpixels).tolist() == [[[1, 1],
                                                                  [0, 1]]]
    with pytest.raises(ValueError):
        ops.assignment_chain([], 4)

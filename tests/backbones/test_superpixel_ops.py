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
                                       ((1, 2), (8, 8)), ((8, 10), (6, 7))])
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


def dense_resize_matrix(labels, grid, mode, num_segs):
    """(B, S, h * w): the mean over each segment's pixels of the 2D
    interpolation weights, from ``F.interpolate`` of every unit grid map."""
    B, H, W = labels.shape
    h, w = grid
    eye = torch.eye(h * w, dtype=torch.float64).view(h * w, 1, h, w)
    weights = F.interpolate(eye, size=(H, W), mode=mode,
                            align_corners=False)[:, 0]  # (h*w, H, W)
    out = torch.zeros(B, num_segs, h * w, dtype=torch.float64)
    for b in range(B):
        for s in range(num_segs):
            sel = labels[b] == s
            if sel.any():
                out[b, s] = weights[:, sel].mean(1)
    return out


@pytest.mark.parametrize('mode', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('shared', [False, True])
@pytest.mark.parametrize('num,grid', [(7, (3, 5)), (300, (6, 10))])
def test_segment_resize_matrix_is_sparse_and_exact(mode, shared, num, grid):
    # 7 labels: segments spread over the whole map; 300: tiny scattered ones.
    labels = random_labels(2, 24, 40, num, seed=2)
    labels[1, :, 8:] = 3  # long runs spanning most grid columns
    labels[1][labels[1] == 6] = 5  # segment 6 is empty in image 1
    matrix = ops.segment_resize_matrix(labels, grid, mode, num,
                                       dtype=torch.float64,
                                       shared_grid=shared)
    assert matrix.is_sparse and matrix.is_coalesced()
    torch.testing.assert_close(matrix.indices(),
                               matrix.coalesce().indices())
    G, cells = 1 if shared else 2, grid[0] * grid[1]
    assert matrix.shape == (2 * num, G * cells)
    dense = matrix.to_dense().view(2, num, G, cells)
    ref = dense_resize_matrix(labels, grid, mode, num)
    for b in range(2):
        torch.testing.assert_close(dense[b, :, 0 if shared else b], ref[b])
        if not shared:  # block diagonal: no weight on the other grid
            assert dense[b, :, 1 - b].abs().max() == 0
    assert dense[1, 6].abs().max() == 0
    # Every pixel's weights sum to 1, so a non-empty segment's row does too.
    nonempty = ref.sum(2) > 0
    torch.testing.assert_close(
        dense.sum((2, 3))[nonempty],
        torch.ones(int(nonempty.sum()), dtype=torch.float64))


@pytest.mark.parametrize('spread', [False, True])
def test_sum_per_cell_both_paths(spread):
    # spread=False: few cells, many entries (bounding boxes); True: entries
    # over the whole grid in every row (boxes outnumber them: coalesce).
    gen = torch.Generator().manual_seed(6)
    h, w, E = 9, 11, 40 if spread else 400
    rows = torch.randint(0, 5, (E, ), generator=gen)
    cols = torch.randint(0, w if spread else 3, (E, ), generator=gen)
    taps = torch.randint(0, h if spread else 2, (E, 2), generator=gen)
    taps = taps.sort(1).values
    values = torch.randn(E, 2, generator=gen, dtype=torch.float64)
    ref = torch.zeros(6, h * w, dtype=torch.float64)  # row 5: no entry
    for a in range(2):
        ref.index_put_((rows, taps[:, a] * w + cols), values[:, a],
                       accumulate=True)
    out_rows, cells, sums = ops._sum_per_cell(rows, cols, taps, values, 6,
                                              (h, w))
    key = out_rows * h * w + cells
    assert torch.equal(key, key.unique())  # distinct and sorted
    dense = torch.zeros(6, h * w, dtype=torch.float64)
    dense[out_rows, cells] = sums
    torch.testing.assert_close(dense, ref)


def test_segment_resize_matrix_stores_only_local_entries():
    # 8x8-pixel square segments on a 64x64 map, stride-8 grid: a segment
    # touches at most 3x3 (bilinear) / 5x5 (bicubic) of the 8x8 cells.
    ys = torch.arange(64).view(64, 1) // 8
    xs = torch.arange(64).view(1, 64) // 8
    labels = (ys * 8 + xs).expand(2, 64, 64)
    for mode, side in (('bilinear', 3), ('bicubic', 5)):
        matrix = ops.segment_resize_matrix(labels, (8, 8), mode, 64)
        assert matrix._nnz() <= 2 * 64 * side * side


@pytest.mark.parametrize('mode', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('grid_batch', [1, 2])
def test_segment_mean_resized_gradients_match_full_resolution(mode,
                                                              grid_batch):
    labels = random_labels(2, 20, 28, 6, seed=4)
    base = torch.randn(grid_batch, 3, 4, 5, dtype=torch.float64)
    weights = torch.randn(2, 6, 5, dtype=torch.float64)
    grads = []
    for fast in (True, False):
        grid = base.clone().requires_grad_()
        out = ops.segment_mean_resized(grid, labels, mode, fast=fast)
        (out * weights).sum().backward()
        grads.append(grid.grad)
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0


def test_segment_mean_resized_half_precision():
    labels = random_labels(1, 16, 16, 4)
    grid = torch.randn(1, 2, 2, 3)
    out = ops.segment_mean_resized(grid.bfloat16(), labels, 'bilinear')
    assert out.dtype == torch.bfloat16
    ref = ops.segment_mean_resized(grid, labels, 'bilinear')
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)


def test_segment_mean_resized_bad_grid_batch():
    with pytest.raises(ValueError, match='grid batch must be 1 or 2'):
        ops.segment_mean_resized(torch.randn(3, 2, 2, 1),
                                 random_labels(2, 8, 8, 3), 'bilinear')


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


@pytest.mark.parametrize('stride', [4, 8, 32])
def test_pooled_paint_gradients_match_paint_then_avg_pool(stride):
    labels = random_labels(2, 37, 45, 6, seed=5)
    base = torch.randn(2, 6, 3, dtype=torch.float64)
    matrix = ops.pooled_paint_matrix(labels, stride, 6)
    out_size = (-(-37 // stride), -(-45 // stride))
    weights = torch.randn(2, 3, *out_size, dtype=torch.float64)
    grads = []
    for fast in (True, False):
        tokens = base.clone().requires_grad_()
        if fast:
            out = ops.pooled_paint(tokens, matrix, out_size)
        else:
            out = F.avg_pool2d(ops.paint_tokens(tokens, labels), stride,
                               stride, ceil_mode=True)
        (out * weights).sum().backward()
        grads.append(tokens.grad)
    torch.testing.assert_close(grads[0], grads[1])


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

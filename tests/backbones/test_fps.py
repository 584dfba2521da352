import pytest
import torch

from cast.backbones import fps
from cast.backbones.fps import farthest_point_sample


@pytest.mark.parametrize('B,N,D,K', [(2, 50, 8, 20), (3, 129, 24, 33),
                                     (1, 7, 3, 7), (4, 300, 2, 100)])
def test_backends_identical_on_random_points(B, N, D, K):
    gen = torch.Generator().manual_seed(N)
    points = torch.randn(B, N, D, generator=gen)
    dgl_inds = farthest_point_sample(points, K, backend='dgl')
    torch_inds = farthest_point_sample(points, K, backend='torch')
    assert dgl_inds.dtype == torch_inds.dtype == torch.long
    assert dgl_inds.shape == (B, K)
    assert torch.equal(dgl_inds, torch_inds)
    assert (dgl_inds[:, 0] == 0).all()
    # Distinct points: no index repeats while points remain.
    for row in dgl_inds:
        assert len(set(row.tolist())) == K


def test_backends_identical_with_duplicates_and_exhaustion():
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(2, 12, 4, generator=gen)
    # Copies of point 0 (how padded tokens look) and of another point.
    points[:, 5:8] = points[:, :1]
    points[1, 9] = points[1, 3]
    for K in (6, 12, 20):  # 20 > N: dgl alone would refuse
        dgl_inds = farthest_point_sample(points, K, backend='dgl')
        torch_inds = farthest_point_sample(points, K, backend='torch')
        assert torch.equal(dgl_inds, torch_inds)
    distinct = {0: 9, 1: 8}  # distinct points per batch element
    for b, n in distinct.items():
        row = dgl_inds[b].tolist()
        assert len(set(row[:n])) == n
        assert 5 not in row[:n] and 6 not in row[:n] and 7 not in row[:n]
        assert all(i == 0 for i in row[n:])  # exhausted -> index 0


def test_float64_is_used():
    # Two candidates whose squared distances differ below float32 precision.
    points = torch.tensor([[[0.0], [1.0], [-1.0 - 1e-9]]], dtype=torch.float64)
    for backend in ('dgl', 'torch'):
        inds = farthest_point_sample(points, 2, backend=backend)
        assert inds.tolist() == [[0, 2]]


def test_auto_backend_on_cpu_and_bad_args():
    points = torch.randn(1, 10, 3)
    assert torch.equal(
        farthest_point_sample(points, 4),
        farthest_point_sample(points, 4, backend='dgl'))
    with pytest.raises(ValueError, match='backend'):
        farthest_point_sample(points, 4, backend='cuda')
    with pytest.raises(ValueError, match='B, N, D'):
        farthest_point_sample(points[0], 4)
    with pytest.raises(ValueError, match='num_samples'):
        farthest_point_sample(points, 0)


def _both_paths(points, K):
    """Indices of the matrix path, the loop path and dgl."""
    points = points.double()
    matrix = fps._fps_torch_matrix(points, K)
    assert matrix is not None
    return matrix, fps._fps_torch_loop(points, K), farthest_point_sample(points, K, 'dgl')


@pytest.mark.parametrize('case', ['offset', 'padded', 'near_copies', 'signed_zero', 'many_copies'])
def test_matrix_path_identical_to_loop_and_dgl(case):
    gen = torch.Generator().manual_seed(1)
    points = torch.randn(3, 150, 32, generator=gen, dtype=torch.float64)
    if case == 'offset':  # a common component much larger than the spread (the residual stream)
        points = points * 1e-3 + 50 * torch.randn(1, 1, 32, generator=gen, dtype=torch.float64)
    elif case == 'padded':  # how CAST's padded tokens look: copies of point 0 (the mean)
        points[0, 100:] = points[0, :1]
        points[2, 140:] = points[2, :1]
    elif case == 'near_copies':  # distinct points closer than the expansion resolves
        points[:, 50:60] = points[:, :10] * (1 + 1e-12)
        points[:, 60:70] = points[:, 10:20]
    elif case == 'signed_zero':  # -0.0 and 0.0 are at distance 0, as dgl sums them
        points[:, :, 0] = 0.
        points[:, 5] = points[:, 4]
        points[:, 5, 0] = -0.
    elif case == 'many_copies':  # copies of a few points, more picks than distinct points
        points = points[:, torch.arange(150) % 7]
    for K in (1, 40, 160):
        matrix, loop, dgl = _both_paths(points, K)
        assert torch.equal(matrix, dgl), (case, K)
        assert torch.equal(loop, dgl), (case, K)


def test_copies_get_their_first_copy():
    points = torch.randn(2, 9, 5, dtype=torch.float64)
    points[0, 6] = points[0, 2]
    points[0, 8] = points[0, 2]
    points[1, 3] = points[1, 0]
    points[1, 4, 0] = -0.
    points[1, 7] = points[1, 4]
    points[1, 7, 0] = 0.
    first = fps.first_copies(points)
    expected = torch.arange(9).repeat(2, 1)
    expected[0, 6] = expected[0, 8] = 2
    expected[1, 3] = 0
    expected[1, 7] = 4
    assert torch.equal(first, expected)


def test_too_many_near_pairs_fall_back_to_the_loop():
    gen = torch.Generator().manual_seed(2)
    points = torch.randn(2, 40, 8, generator=gen, dtype=torch.float64)
    points[:, 20:] = points[:, :20] * (1 + 1e-9)  # 20 near pairs per image
    assert fps.pairwise_sq_dists(points, max_exact=10) is None
    assert fps.pairwise_sq_dists(points, max_exact=80) is not None
    # farthest_point_sample still returns dgl's answer through the loop
    assert torch.equal(farthest_point_sample(points, 30, 'torch'),
                       farthest_point_sample(points, 30, 'dgl'))


def test_sampling_ignores_autocast_and_keeps_float64():
    points = torch.randn(2, 30, 6)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        inds = farthest_point_sample(points, 10, 'torch')
    assert torch.equal(inds, farthest_point_sample(points, 10, 'dgl'))


@pytest.mark.parametrize('backend', ['torch', 'dgl'])
def test_points_symmetric_about_the_start_tie_exactly(backend):
    """Two points at the same distance from the first sample (as two tokens are from their
    mean): the lower index wins on every image, not whichever rounding the product gives."""
    torch.manual_seed(0)
    a = torch.randn(64, 1, 96).double()  # float32 tokens in FPS's float64
    b = torch.randn(64, 1, 96).double()
    mean = (a + b) / 2  # exact, so a - mean == -(b - mean)
    points = torch.cat([mean, a, b, mean.expand(-1, 5, -1)], dim=1)
    inds = farthest_point_sample(points, 4, backend=backend)
    assert (inds[:, 1] == 1).all() and (inds[:, 2] == 2).all() and (inds[:, 3] == 0).all()

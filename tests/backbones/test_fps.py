import pytest
import torch

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

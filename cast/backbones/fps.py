"""Farthest point sampling (FPS) over token features.

Two backends return the same indices:

- ``'dgl'``: ``dgl.geometry.farthest_point_sampler``, the sampler the
  reference CAST calls. dgl's wheel here is CPU-only, so CUDA inputs are
  copied to the CPU and back.
- ``'torch'``: the same algorithm in PyTorch, on the input's device.

Both run in float64 and start every batch element at index 0. At each step the
point whose distance to the sampled set is largest is taken; ties go to the
lowest index (dgl keeps the first strict maximum, ``torch.argmax`` the first
maximum). Once every distinct point is taken all distances are zero and both
return index 0 for the remaining picks (also when ``num_samples`` exceeds the
number of points, which dgl alone refuses).

The PyTorch sampler computes all squared distances at once (B, N, N) from
one batched Gram matrix G of the points centred on their mean,
``G_ii + G_jj - 2 G_ij``, so that the K sequential steps only read rows of
that matrix. Exact copies (found by a fingerprint of their bits, then
checked) get the column of their first copy, so they tie exactly as in dgl
and the lower index wins; the diagonal is exactly 0; other pairs closer than
``NEAR * (G_ii + G_jj)``, where the expansion could lose digits, are summed
from the differences, as dgl does. The two backends can therefore differ only
when two candidates' distances agree to within the rounding of the expansion
(relative 1e-13 in practice). Inputs whose matrix would exceed
``MATRIX_BUDGET`` entries, or with very many near pairs, use a loop that
computes one row of distances per step instead (same indices, slower).
"""
from typing import Optional

import torch
from torch import Tensor

BACKENDS = ('auto', 'dgl', 'torch')
#: Pairs closer than NEAR times the sum of their squared norms (about the mean)
#: get their distance summed from the differences.
NEAR = 1e-3
#: Largest B * N * N distance matrix (float64 entries: 256 MiB).
MATRIX_BUDGET = 1 << 25
#: Near pairs summed at once (float64 (EXACT_CHUNK, D) differences).
EXACT_CHUNK = 1 << 14


def _fps_dgl(points: Tensor, num_samples: int) -> Tensor:
    from dgl.geometry import farthest_point_sampler
    device = points.device
    points = points.detach().cpu()
    B, N, D = points.shape
    if N < num_samples:
        # dgl refuses more samples than points. Copies of point 0 are at
        # distance 0 from the first sample, so they are never taken; this
        # keeps dgl's answer for the other picks (index 0 once exhausted).
        extra = points[:, :1].expand(B, num_samples - N, D)
        points = torch.cat([points, extra], dim=1)
    inds = farthest_point_sampler(points.contiguous(), num_samples, 0)
    return inds.long().to(device)


def _fps_torch_loop(points: Tensor, num_samples: int) -> Tensor:
    """One (B, N) row of distances per step: memory O(B N D)."""
    B = points.shape[0]
    points = points.detach().contiguous()
    batch = torch.arange(B, device=points.device)
    inds = points.new_zeros((B, num_samples), dtype=torch.long)
    current = inds[:, 0].clone()
    diff = torch.empty_like(points)
    min_dist = None
    for i in range(1, num_samples):
        torch.sub(points, points[batch, current].unsqueeze(1), out=diff)
        dist = diff.square_().sum(-1)
        min_dist = dist if min_dist is None else torch.minimum(min_dist, dist)
        current = min_dist.argmax(dim=1)
        inds[:, i] = current
    return inds


def first_copies(points: Tensor) -> Optional[Tensor]:
    """Index of the first exact copy of every point, (B, N) long (its own
    index for a point without an earlier copy); None on a fingerprint
    collision (never seen; the caller then uses the loop).

    Rows are grouped by an exact fingerprint (a weighted sum of their float64
    bits, with -0.0 read as 0.0), sorted per image, and every copy is
    checked against its first one.
    """
    B, N, D = points.shape
    bits = (points + 0.).view(torch.int64)  # -0.0 + 0.0 = +0.0
    weights = torch.arange(D, device=points.device) * 2 + 1  # odd
    key = (bits * (weights * -7046029254386353131)).sum(-1)  # wraps mod 2^64
    sorted_key, order = key.sort(dim=1, stable=True)
    index = torch.arange(N, device=points.device).expand(B, N)
    starts = torch.ones_like(sorted_key, dtype=torch.bool)
    starts[:, 1:] = sorted_key[:, 1:] != sorted_key[:, :-1]
    group_start = torch.where(starts, index, 0).cummax(dim=1).values
    first = torch.empty_like(order).scatter_(1, order,
                                             order.gather(1, group_start))
    b, n = (first != index).nonzero().unbind(1)
    if b.numel() and not (points[b, n] == points[b, first[b, n]]).all():
        return None
    return first


def pairwise_sq_dists(points: Tensor, max_exact: int) -> Optional[Tensor]:
    """Squared distances (B, N, N) of float64 points (B, N, D), as FPS needs
    them (module docstring): near pairs summed from the differences, exact
    duplicates with the column of their first copy. None when more than
    ``max_exact`` near pairs need summing (or on a fingerprint collision).
    """
    B, N, _ = points.shape
    centred = points - points.mean(1, keepdim=True)
    gram = torch.bmm(centred, centred.transpose(1, 2))  # (B, N, N)
    # squared norms on the diagonal of G: the diagonal of dist is exactly 0
    norms = gram.diagonal(dim1=1, dim2=2)
    norm_sum = norms.unsqueeze(2) + norms.unsqueeze(1)
    dist = norm_sum.sub(gram, alpha=2)
    near = dist <= norm_sum.mul_(NEAR)
    near.diagonal(dim1=1, dim2=2).fill_(False)
    if not near.any():  # the common case after the first pooling
        return dist
    first = first_copies(points)
    if first is None:
        return None
    is_first = first == torch.arange(N, device=points.device)
    copies = not bool(is_first.all())
    if copies:  # copies take their first copy's column: no need to sum them
        near &= is_first.unsqueeze(2) & is_first.unsqueeze(1)
    b, i, j = near.nonzero().unbind(1)
    if b.numel() > max_exact:
        return None
    for k in range(0, b.numel(), EXACT_CHUNK):
        bk, ik, jk = b[k:k + EXACT_CHUNK], i[k:k + EXACT_CHUNK], \
            j[k:k + EXACT_CHUNK]
        dist[bk, ik, jk] = (points[bk, ik] - points[bk, jk]).square_().sum(-1)
    if copies:
        # the same distance to every sample as their first copy, so they tie
        # with it and the lower index wins, as in dgl
        dist = dist.gather(2, first.unsqueeze(1).expand(B, N, N))
    return dist


def _fps_torch_matrix(points: Tensor, num_samples: int) -> Optional[Tensor]:
    """Rows of the (B, N, N) distance matrix, one per step; None where the
    loop must be used (see :func:`pairwise_sq_dists`)."""
    B, N, D = points.shape
    # summing one near pair costs D: allow a quarter of the loop's B N K D
    dist = pairwise_sq_dists(points, max_exact=B * N * num_samples // 4)
    if dist is None:
        return None
    dist = dist.view(B * N, N)
    row0 = torch.arange(B, device=points.device) * N
    current = points.new_zeros(B, dtype=torch.long)
    min_dist = dist.index_select(0, row0)
    picks = [current]
    for _ in range(1, num_samples):
        current = min_dist.argmax(dim=1)
        picks.append(current)
        torch.minimum(min_dist, dist.index_select(0, row0 + current),
                      out=min_dist)
    return torch.stack(picks, dim=1)


def _fps_torch(points: Tensor, num_samples: int) -> Tensor:
    B, N, _ = points.shape
    inds = None
    if B * N * N <= MATRIX_BUDGET:
        inds = _fps_torch_matrix(points, num_samples)
    if inds is None:
        inds = _fps_torch_loop(points, num_samples)
    return inds


def farthest_point_sample(points: Tensor,
                          num_samples: int,
                          backend: str = 'auto') -> Tensor:
    """Farthest point sampling starting from index 0.

    Args:
        points (Tensor): (B, N, D) points (any float dtype; cast to float64,
            outside autocast).
        num_samples (int): samples per batch element, K.
        backend (str): 'dgl', 'torch' or 'auto' (= 'torch': same indices,
            on the input's device, and faster than dgl on CPU too).
            Defaults to 'auto'.

    Returns:
        Tensor: (B, K) long indices into N; the first column is 0.
    """
    if backend not in BACKENDS:
        raise ValueError(f'FPS backend must be one of {BACKENDS}, '
                         f'got {backend!r}')
    if points.dim() != 3:
        raise ValueError(
            f'points must be (B, N, D), got {tuple(points.shape)}')
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    if backend == 'auto':
        backend = 'torch'
    with torch.autocast(points.device.type, enabled=False):
        points = points.detach().to(torch.float64)
        if backend == 'dgl':
            return _fps_dgl(points, num_samples)
        return _fps_torch(points, num_samples)

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
number of points, which dgl alone refuses). Squared distances are summed in a
different order (dgl: sequentially over channels), so the two can differ only
when two candidates' distances agree to within float64 rounding; distances of
exact duplicates agree exactly in both.
"""
import torch
from torch import Tensor

BACKENDS = ('auto', 'dgl', 'torch')


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


def _fps_torch(points: Tensor, num_samples: int) -> Tensor:
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


def farthest_point_sample(points: Tensor,
                          num_samples: int,
                          backend: str = 'auto') -> Tensor:
    """Farthest point sampling starting from index 0.

    Args:
        points (Tensor): (B, N, D) points (any float dtype; cast to float64).
        num_samples (int): samples per batch element, K.
        backend (str): 'dgl', 'torch' or 'auto' (= 'torch': same indices,
            on the input's device, and faster than dgl on CPU too: 0.63 s
            against 0.78 s for 8 x 1025 x 384 -> 321 samples, 0.28 s against
            1.5 s for a CAST step at 32 x 144 tokens). Defaults to 'auto'.

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
    points = points.to(torch.float64)
    if backend == 'dgl':
        return _fps_dgl(points, num_samples)
    return _fps_torch(points, num_samples)

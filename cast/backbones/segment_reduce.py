"""Per-segment reductions: sums, pixel counts and means of features within
the segments of a label map.

Shape shorthand (as in :mod:`superpixel_ops`):
    B: batch size.
    H, W: height and width of the label map.
    P: positions of a flattened map (H * W).
    S: number of segments, ``labels.max() + 1`` over the batch.
    C: channels.
"""
from typing import Tuple

import torch
from torch import Tensor


def num_segments(labels: Tensor) -> int:
    """Number of segments S = labels.max() + 1 over the whole batch."""
    return int(labels.max().item()) + 1


def segment_sum_count(x: Tensor, labels: Tensor,
                      num_segs: int) -> Tuple[Tensor, Tensor]:
    """Sum features and count pixels per segment.

    Args:
        x (Tensor): (B, H, W, C) or (B, P, C) features, channels last.
        labels (Tensor): (B, H, W) or (B, P) long labels in [0, num_segs).
        num_segs (int): S.

    Returns:
        tuple[Tensor, Tensor]: sums (B, S, C) and counts (B, S) (float).
    """
    B, C = x.shape[0], x.shape[-1]
    x = x.reshape(B, -1, C)
    labels = labels.reshape(B, -1)
    if x.shape[1] != labels.shape[1]:
        raise ValueError(f'features have {x.shape[1]} positions but labels '
                         f'have {labels.shape[1]}')
    offset = torch.arange(B, device=labels.device).view(B, 1) * num_segs
    flat = (labels + offset).reshape(-1)
    # index_add_ sums in index order as index_put_(accumulate=True) does,
    # twice as fast on CPU
    sums = x.new_zeros(B * num_segs, C).index_add_(0, flat, x.reshape(-1, C))
    counts = torch.bincount(flat, minlength=B * num_segs).to(x.dtype)
    return sums.view(B, num_segs, C), counts.view(B, num_segs)


def segment_mean(x: Tensor, labels: Tensor,
                 num_segs: int = None) -> Tuple[Tensor, Tensor]:
    """Average features within each segment (the reference's
    ``segment_mean_nd``): empty segments get a zero vector.

    Args:
        x (Tensor): (B, H, W, C) features, channels last.
        labels (Tensor): (B, H, W) long labels.
        num_segs (int, optional): S. Defaults to ``labels.max() + 1``.

    Returns:
        tuple[Tensor, Tensor]: means (B, S, C) and the padding mask (B, S),
        True where a segment has no pixel.
    """
    if num_segs is None:
        num_segs = num_segments(labels)
    sums, counts = segment_sum_count(x, labels, num_segs)
    means = sums / counts.clamp(min=1).unsqueeze(-1)
    return means, counts == 0


def padding_mask(labels: Tensor, num_segs: int = None) -> Tensor:
    """(B, S) bool mask, True for labels absent from an image's map."""
    if num_segs is None:
        num_segs = num_segments(labels)
    B = labels.shape[0]
    offset = torch.arange(B, device=labels.device).view(B, 1) * num_segs
    counts = torch.bincount(
        (labels.reshape(B, -1) + offset).reshape(-1),
        minlength=B * num_segs)
    return counts.view(B, num_segs) == 0

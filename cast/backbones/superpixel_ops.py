"""Pure tensor functions linking pixels, superpixel tokens and clusters.

Shape shorthand:
    B: batch size.
    H, W: height and width of the image / superpixel map.
    h, w: height and width of a low-resolution grid (the ConvStem output).
    S: number of superpixel tokens (the batch maximum of ``superpixels + 1``).
    N: number of tokens entering a stage (S for the first stage).
    K: number of clusters a graph pooling produces.
    C: channels.

A superpixel map is a long tensor (B, H, W) with labels 0..S_b-1 per image.
Tokens of the first stage are superpixel means; the argmax of each stage's
pooling logits maps its tokens to the next stage's clusters. Chaining these
maps ("the argmax chain") gives every pixel a token at every stage.

Per-segment sums and means (:mod:`segment_reduce`) and means of resized grids
(:mod:`segment_resize`) are re-exported here.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .segment_reduce import num_segments, padding_mask, segment_mean, segment_sum_count
from .segment_resize import (
    _sparse_mm,
    _sum_per_cell,  # noqa: F401 (private, tested through this module)
    interpolation_matrix,
    segment_mean_resized,
    segment_resize_matrix,
)

__all__ = [
    'num_segments', 'segment_sum_count', 'segment_mean', 'padding_mask',
    'interpolation_matrix', 'segment_resize_matrix', 'segment_mean_resized',
    'resize_labels_nearest', 'assignment_chain', 'paint_labels',
    'paint_tokens', 'pooled_paint_matrix', 'pooled_paint', 'paint_featmaps',
    'label_hierarchy'
]


def resize_labels_nearest(labels: Tensor, size: Tuple[int, int]) -> Tensor:
    """Resize a label map by nearest neighbour, as ``F.interpolate`` does.

    Args:
        labels (Tensor): (B, H, W) integer labels.
        size (tuple[int, int]): target (h, w).

    Returns:
        Tensor: (B, h, w) long labels.
    """
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels.long()
    resized = F.interpolate(
        labels[:, None].float(), size=tuple(size), mode='nearest')
    return resized[:, 0].long()


def assignment_chain(logits: Sequence[Tensor],
                     num_tokens: int) -> List[Tensor]:
    """Map first-stage tokens to the tokens of every later stage.

    Args:
        logits (list[Tensor]): pooling logits of stages 1..L, each
            (B, N_l, K_l) with N_{l+1} = K_l.
        num_tokens (int): N_1, the number of first-stage tokens.

    Returns:
        list[Tensor]: L + 1 long tensors (B, N_1); entry 0 is the identity,
        entry l holds, for each first-stage token, its token index after
        l poolings (argmax of each stage's logits, composed).
    """
    if not logits:
        raise ValueError('assignment_chain needs at least one logits tensor')
    B = logits[0].shape[0]
    ident = torch.arange(num_tokens, device=logits[0].device)
    chain = [ident.unsqueeze(0).expand(B, -1)]
    for logit in logits:
        assign = logit.argmax(dim=-1)
        chain.append(assign.gather(1, chain[-1]))
    return chain


def paint_labels(token_labels: Tensor, superpixels: Tensor) -> Tensor:
    """Paint per-superpixel labels (B, S) onto the pixel grid -> (B, H, W)."""
    B = superpixels.shape[0]
    flat = token_labels.gather(1, superpixels.reshape(B, -1))
    return flat.view_as(superpixels)


def paint_tokens(tokens: Tensor, superpixels: Tensor) -> Tensor:
    """Paint superpixel tokens (B, S, C) onto pixels -> (B, C, H, W).

    Materialises the full-resolution map; prefer :func:`pooled_paint_matrix`
    for strided outputs.
    """
    B, _, C = tokens.shape
    H, W = superpixels.shape[-2:]
    index = superpixels.reshape(B, -1, 1).expand(-1, -1, C)
    painted = tokens.gather(1, index)
    return painted.transpose(1, 2).reshape(B, C, H, W)


def _cell_areas(size: Tuple[int, int], stride: int, device=None) -> Tensor:
    """Pixels per ``stride x stride`` cell, (ceil(H/s), ceil(W/s)) float64.
    """
    H, W = size
    ny = torch.bincount(torch.arange(H, device=device) // stride)
    nx = torch.bincount(torch.arange(W, device=device) // stride)
    return (ny.view(-1, 1) * nx.view(1, -1)).double()


def pooled_paint_matrix(superpixels: Tensor, stride: int, num_segs: int,
                        dtype: torch.dtype = torch.float32) -> Tensor:
    """Sparse matrix that paints superpixel tokens and average-pools them.

    Row ``b * cells + cell`` holds, for each superpixel, the fraction of the
    output cell's pixels it covers; cells are ``stride x stride`` windows
    (the last ones truncated at the border: ``ceil`` output size, as
    ``F.avg_pool2d(ceil_mode=True)``). Built from horizontal runs of one label
    within one cell, so it never touches (B, C, H, W) features.

    Args:
        superpixels (Tensor): (B, H, W) long labels.
        stride (int): output stride s.
        num_segs (int): S, the number of superpixel tokens.
        dtype (torch.dtype): dtype of the matrix (its fractions are computed
            in float64). Defaults to float32.

    Returns:
        Tensor: sparse COO (B * ceil(H/s) * ceil(W/s), B * S), coalesced.
    """
    B, H, W = superpixels.shape
    device = superpixels.device
    Ho, Wo = -(-H // stride), -(-W // stride)
    is_start = torch.ones_like(superpixels, dtype=torch.bool)
    cell_edge = (torch.arange(1, W, device=device) % stride) == 0
    is_start[..., 1:] = (superpixels[..., 1:] != superpixels[..., :-1]) | \
        cell_edge
    starts = is_start.reshape(-1).nonzero().squeeze(1)
    ends = torch.cat([starts[1:], starts.new_full((1, ), superpixels.numel())])
    row, x0 = starts // W, starts % W
    batch, y = row // H, row % H
    cy, cx = y // stride, x0 // stride
    area = _cell_areas((H, W), stride, device)
    vals = (ends - starts).double() / area[cy, cx]
    rows = (batch * Ho + cy) * Wo + cx
    cols = batch * num_segs + superpixels.reshape(-1)[starts]
    matrix = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), vals, (B * Ho * Wo, B * num_segs),
        device=device, check_invariants=False)
    return matrix.coalesce().to(dtype)


def pooled_paint(tokens: Tensor, matrix: Tensor,
                 out_size: Tuple[int, int]) -> Tensor:
    """Apply :func:`pooled_paint_matrix` to superpixel tokens.

    Args:
        tokens (Tensor): (B, S, C) per-superpixel features.
        matrix (Tensor): from :func:`pooled_paint_matrix`.
        out_size (tuple[int, int]): (ceil(H/s), ceil(W/s)).

    Returns:
        Tensor: (B, C, H/s, W/s).
    """
    B, S, C = tokens.shape
    out = _sparse_mm(matrix, tokens.reshape(B * S, C))
    return out.view(B, out_size[0], out_size[1], C).permute(0, 3, 1, 2)


def paint_featmaps(labels: Tensor, tokens: Sequence[Tensor],
                   logits: Sequence[Tensor], indices: Sequence[int],
                   strides: Sequence[int]) -> Tuple[Tensor]:
    """Paint stage tokens onto pixels and pool them to their strides.

    Each stride has its own sparse paint matrix (:func:`pooled_paint_matrix`,
    (B * cells, B * S)), so no map finer than an output is ever built.

    Args:
        labels (Tensor): (B, H, W) long labels indexing the S first-stage
            tokens.
        tokens (list[Tensor]): per stage i, (B, N_i, C), N_0 = S.
        logits (list[Tensor]): pooling logits (B, N_i, K_i) of (at least) the
            stages before ``max(indices)``.
        indices (Sequence[int]): stages to paint, ascending.
        strides (Sequence[int]): output stride s_i per stage.

    Returns:
        tuple[Tensor]: (B, C, ceil(H/s_i), ceil(W/s_i)) for each stage i of
        ``indices``.
    """
    H, W = labels.shape[-2:]
    num_segs = tokens[0].shape[1]
    logits = logits[:max(indices)]
    if logits:
        chain = assignment_chain(logits, num_segs)
    else:  # only the first stage: tokens are the superpixels
        chain = [torch.arange(num_segs, device=labels.device).expand(
            labels.shape[0], -1)]
    # One sparse paint matrix per output stride: each map is painted and
    # pooled straight at its own stride (never at a finer one).
    dtype = torch.promote_types(tokens[0].dtype, torch.float32)
    matrices = {}
    outs = []
    for i in indices:
        stride = strides[i]
        if stride not in matrices:
            matrices[stride] = pooled_paint_matrix(
                labels, stride, num_segs, dtype)
        per_superpixel = tokens[i].gather(  # (B, S, C)
            1, chain[i].unsqueeze(-1).expand(-1, -1, tokens[i].shape[-1]))
        outs.append(pooled_paint(
            per_superpixel, matrices[stride],
            (-(-H // stride), -(-W // stride))))
    return tuple(outs)


def label_hierarchy(labels: Tensor, logits: Sequence[Tensor],
                    num_tokens: int) -> List[Tensor]:
    """Nested region-id maps, fine to coarse.

    Args:
        labels (Tensor): (B, H, W) long labels indexing the first-stage
            tokens.
        logits (list[Tensor]): pooling logits of stages 1..L, as
            :func:`assignment_chain`.
        num_tokens (int): N_1, the number of first-stage tokens.

    Returns:
        list[Tensor]: L + 1 long maps (B, H, W): ``labels``, then the cluster
        id of every pixel after each pooling (the argmax chain).
    """
    chain = assignment_chain(logits, num_tokens)
    return [labels] + [paint_labels(c, labels) for c in chain[1:]]

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
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def num_segments(labels: Tensor) -> int:
    """Number of segments S = labels.max() + 1 over the whole batch."""
    return int(labels.max().item()) + 1


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
    sums = x.new_zeros(B * num_segs, C)
    sums.index_put_((flat, ), x.reshape(-1, C), accumulate=True)
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


def interpolation_matrix(in_size: int, out_size: int, mode: str,
                         device=None) -> Tensor:
    """The (out_size, in_size) matrix of 1D ``F.interpolate``
    (``align_corners=False``), obtained by interpolating the identity, so the
    weights are exactly those PyTorch applies (border clamping included).

    ``bilinear`` and ``bicubic`` are separable: a 2D resize of a map ``X``
    (h, w) equals ``Ry @ X @ Rx.T``.
    """
    if mode not in ('bilinear', 'bicubic'):
        raise ValueError(f'mode must be bilinear or bicubic, got {mode!r}')
    eye = torch.eye(in_size, device=device).view(in_size, 1, in_size, 1)
    mat = F.interpolate(
        eye, size=(out_size, 1), mode=mode, align_corners=False)
    return mat.view(in_size, out_size).t().contiguous()


def _taps(matrix: Tensor, max_taps: int) -> Tuple[Tensor, Tensor]:
    """Column indices and weights of the (at most ``max_taps``) non-zero
    entries of each row of an interpolation matrix."""
    k = min(max_taps, matrix.shape[1])
    weights, index = matrix.abs().topk(k, dim=1)
    return index, matrix.gather(1, index)


def segment_resize_matrix(labels: Tensor,
                          grid_size: Tuple[int, int],
                          mode: str,
                          num_segs: int = None,
                          dtype: torch.dtype = torch.float32) -> Tensor:
    """Matrix M such that ``M @ X.flatten`` equals the per-segment mean of X
    resized (``mode``, ``align_corners=False``) from the grid to the label
    map's size, without building the full-resolution map.

    Averaging an interpolated map within a segment is linear in the map, and
    the 2D interpolation is separable (``Ry @ X @ Rx.T``). Pixels are grouped
    into horizontal runs of one label: a run's x-weights are a difference of
    cumulative sums of ``Rx``; each run then adds them, times its row's
    y-weights (2 taps for bilinear, 4 for bicubic) and divided by the
    segment's pixel count, to its segment's rows of M. Run weights are
    computed in float64.

    Args:
        labels (Tensor): (B, H, W) long labels.
        grid_size (tuple[int, int]): (h, w) of the low-resolution map.
        mode (str): 'bilinear' or 'bicubic'.
        num_segs (int, optional): S. Defaults to ``labels.max() + 1``.
        dtype (torch.dtype): dtype of M. Defaults to float32.

    Returns:
        Tensor: (B, S, h * w); rows of empty segments are zero.
    """
    if num_segs is None:
        num_segs = num_segments(labels)
    B, H, W = labels.shape
    h, w = grid_size
    device = labels.device
    iy, wy = _taps(
        interpolation_matrix(h, H, mode, device).double(),
        2 if mode == 'bilinear' else 4)
    rx = interpolation_matrix(w, W, mode, device).double()
    cum_rx = torch.cat([rx.new_zeros(1, w), rx.cumsum(0)])  # (W + 1, w)

    # Runs: maximal horizontal stretches of one label within a pixel row.
    is_start = torch.ones_like(labels, dtype=torch.bool)
    is_start[..., 1:] = labels[..., 1:] != labels[..., :-1]
    starts = is_start.reshape(-1).nonzero().squeeze(1)
    ends = torch.cat([starts[1:], starts.new_full((1, ), labels.numel())])
    row = starts // W  # b * H + y
    x0 = starts % W
    x1 = x0 + (ends - starts)
    batch, y = row // H, row % H
    seg = batch * num_segs + labels.reshape(-1)[starts]
    counts = torch.bincount(
        (labels.reshape(B, -1) +
         torch.arange(B, device=device).view(B, 1) * num_segs).reshape(-1),
        minlength=B * num_segs)
    run_weights = (cum_rx[x1] - cum_rx[x0]) / counts[seg].unsqueeze(1)

    matrix = torch.zeros(B * num_segs * h, w, dtype=dtype, device=device)
    for a in range(iy.shape[1]):
        matrix.index_put_((seg * h + iy[y, a], ),
                          (run_weights * wy[y, a].unsqueeze(1)).to(dtype),
                          accumulate=True)
    return matrix.view(B, num_segs, h * w)


def segment_mean_resized(grid: Tensor, labels: Tensor, mode: str,
                         num_segs: int = None, fast: bool = True) -> Tensor:
    """Per-segment mean of ``grid`` resized to the label map's size.

    Args:
        grid (Tensor): (B or 1, h, w, C) channels-last map.
        labels (Tensor): (B, H, W) long labels.
        mode (str): 'bilinear' or 'bicubic' (``align_corners=False``).
        num_segs (int, optional): S. Defaults to ``labels.max() + 1``.
        fast (bool): compute through :func:`segment_resize_matrix` (default)
            instead of materialising the (B, H, W, C) resized map.

    Returns:
        Tensor: (B, S, C) means; zero for empty segments.
    """
    if num_segs is None:
        num_segs = num_segments(labels)
    B = labels.shape[0]
    h, w, C = grid.shape[1:]
    if fast:
        flat = grid.reshape(grid.shape[0], h * w, C)
        matrix = segment_resize_matrix(labels, (h, w), mode, num_segs,
                                       dtype=flat.dtype)
        return torch.matmul(matrix, flat)
    resized = F.interpolate(
        grid.permute(0, 3, 1, 2),
        size=labels.shape[-2:],
        mode=mode,
        align_corners=False).permute(0, 2, 3, 1)
    resized = resized.expand(B, -1, -1, -1)
    return segment_mean(resized, labels, num_segs)[0]


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
    """Pixels per ``stride x stride`` cell, (ceil(H/s), ceil(W/s)) float."""
    H, W = size
    ny = torch.bincount(torch.arange(H, device=device) // stride)
    nx = torch.bincount(torch.arange(W, device=device) // stride)
    return (ny.view(-1, 1) * nx.view(1, -1)).float()


def pooled_paint_matrix(superpixels: Tensor, stride: int,
                        num_segs: int) -> Tensor:
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
    vals = (ends - starts).float() / area[cy, cx]
    rows = (batch * Ho + cy) * Wo + cx
    cols = batch * num_segs + superpixels.reshape(-1)[starts]
    matrix = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), vals, (B * Ho * Wo, B * num_segs),
        check_invariants=False)
    return matrix.coalesce()


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
    out = torch.sparse.mm(matrix.to(tokens.dtype), tokens.reshape(B * S, C))
    return out.view(B, out_size[0], out_size[1], C).permute(0, 3, 1, 2)


def coarsen_pooled(x: Tensor, size: Tuple[int, int], stride: int,
                   factor: int) -> Tensor:
    """Turn a stride-s average-pooled map into the stride-(s * factor) one.

    Cells are weighted by their pixel counts, so the result equals pooling
    the full-resolution map with stride ``s * factor`` (``ceil`` sizes).

    Args:
        x (Tensor): (B, C, ceil(H/s), ceil(W/s)).
        size (tuple[int, int]): (H, W) of the full-resolution map.
        stride (int): s.
        factor (int): integer ratio of the strides.

    Returns:
        Tensor: (B, C, ceil(H/(s*f)), ceil(W/(s*f))).
    """
    if factor == 1:
        return x
    area = _cell_areas(size, stride, x.device).to(x.dtype)[None, None]
    num = F.avg_pool2d(x * area, factor, factor, ceil_mode=True)
    den = F.avg_pool2d(area, factor, factor, ceil_mode=True)
    return num / den

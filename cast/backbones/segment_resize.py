"""Per-segment means of a low-resolution grid resized to the label map,
without materialising the full-resolution map.

Shape shorthand (as in :mod:`superpixel_ops`):
    B: batch size.
    G: grids, B (one per image) or 1 (shared by all images).
    H, W: height and width of the label map.
    h, w: height and width of the grid (the ConvStem output).
    S: number of segments, ``labels.max() + 1`` over the batch.
    C: channels.

``bilinear`` / ``bicubic`` resizing (``align_corners=False``) and averaging
within a segment are linear, so the means are one sparse matrix (B * S,
G * h * w) times the flattened grids (:func:`segment_resize_matrix`).
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .segment_reduce import num_segments, segment_mean


def interpolation_matrix(in_size: int, out_size: int, mode: str,
                         device=None,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """The (out_size, in_size) matrix of 1D ``F.interpolate``
    (``align_corners=False``), obtained by interpolating the identity, so the
    weights are exactly those PyTorch applies to ``dtype`` data (border
    clamping included).

    ``bilinear`` and ``bicubic`` are separable: a 2D resize of a map ``X``
    (h, w) equals ``Ry @ X @ Rx.T``.
    """
    if mode not in ('bilinear', 'bicubic'):
        raise ValueError(f'mode must be bilinear or bicubic, got {mode!r}')
    eye = torch.eye(in_size, device=device, dtype=dtype).view(
        in_size, 1, in_size, 1)
    mat = F.interpolate(
        eye, size=(out_size, 1), mode=mode, align_corners=False)
    return mat.view(in_size, out_size).t().contiguous()


def _taps(matrix: Tensor, max_taps: int) -> Tuple[Tensor, Tensor]:
    """Column indices, ascending, and weights (R, k) of the (at most
    ``max_taps``) non-zero entries of each row of an interpolation matrix
    (R, n). A row with fewer non-zeros repeats its largest entry's column,
    with weight 0.
    """
    k = min(max_taps, matrix.shape[1])
    magnitude, index = matrix.abs().topk(k, dim=1)
    nonzero = magnitude > 0
    index = torch.where(nonzero, index, index[:, :1])
    weight = matrix.gather(1, index) * nonzero
    order = index.argsort(1)
    return index.gather(1, order), weight.gather(1, order)


def _sparse_mm(matrix: Tensor, dense: Tensor) -> Tensor:
    """``matrix @ dense`` for a sparse COO ``matrix`` (R, N) and a dense
    (N, C) tensor -> (R, C), differentiable w.r.t. ``dense``.

    Half-precision inputs are multiplied in float32 (sparse kernels do not
    cover every half type on every device) and cast back; autocast is off
    for the product, which would otherwise run it in half precision and
    give its backward mismatched types.
    """
    dtype = dense.dtype
    if dtype in (torch.float16, torch.bfloat16):
        dense = dense.float()
    with torch.autocast(dense.device.type, enabled=False):
        out = torch.sparse.mm(matrix.to(dense.dtype), dense)
    return out.to(dtype)


def _column_window(matrix: Tensor) -> Tuple[Tensor, Tensor]:
    """First and last non-zero column of every row of an interpolation
    matrix (W, w), widened so that both are non-decreasing: for pixels
    ``x0 <= x < x1`` every non-zero column lies in ``[lo[x0], hi[x1 - 1]]``.
    """
    nonzero = matrix != 0
    cols = torch.arange(matrix.shape[1], device=matrix.device)
    lo = torch.where(nonzero, cols, matrix.shape[1]).amin(1)
    hi = torch.where(nonzero, cols, -1).amax(1)
    lo = lo.flip(0).cummin(0).values.flip(0)  # min over x' >= x
    hi = hi.cummax(0).values  # max over x' <= x
    return lo, hi


def _sum_per_cell(rows: Tensor, cols: Tensor, taps: Tensor, values: Tensor,
                  num_rows: int,
                  grid_size: Tuple[int, int]) -> Tuple[Tensor, Tensor, Tensor]:
    """Sum sparse entries that fall on the same (matrix row, grid cell).

    Entry e adds ``values[e, a]`` at row ``rows[e]``, grid cell
    ``(taps[e, a], cols[e])``. The bounding boxes of each row's cells are
    laid out one after the other in a flat float buffer, the entries summed
    into it by ``index_add`` (no sort) and the non-zero cells read back in
    coalesced order. Compact segments make the boxes small; if they hold
    more cells than there are entries (sprawling segments), the entries are
    sorted instead (``coalesce``), so memory stays within the entries'.

    Args:
        rows (Tensor): (E, ) long matrix rows in [0, num_rows).
        cols (Tensor): (E, ) long grid columns in [0, w).
        taps (Tensor): (E, k) long grid rows in [0, h), ascending along k.
        values (Tensor): (E, k) float values.
        num_rows (int): rows of the matrix.
        grid_size (tuple[int, int]): (h, w).

    Returns:
        tuple[Tensor, Tensor, Tensor]: rows, cells ``y * w + x`` and sums,
        each (M, ), of the M distinct positions, sorted by row then cell.
    """
    h, w = grid_size
    y0 = rows.new_full((num_rows, ), h).scatter_reduce(
        0, rows, taps[:, 0], 'amin')
    y1 = rows.new_full((num_rows, ), -1).scatter_reduce(
        0, rows, taps[:, -1], 'amax')
    x0 = rows.new_full((num_rows, ), w).scatter_reduce(0, rows, cols, 'amin')
    x1 = rows.new_full((num_rows, ), -1).scatter_reduce(0, rows, cols, 'amax')
    width = (x1 - x0 + 1).clamp(min=0)
    area = (y1 - y0 + 1).clamp(min=0) * width  # 0 for a row without entries
    end = area.cumsum(0)
    start = end - area
    if int(end[-1]) > values.numel():
        matrix = torch.sparse_coo_tensor(
            torch.stack([rows.repeat_interleave(taps.shape[1]),
                         (taps * w + cols.unsqueeze(1)).reshape(-1)]),
            values.reshape(-1), (num_rows, h * w), device=values.device,
            check_invariants=False).coalesce()
        rows, cells = matrix.indices()
        return rows, cells, matrix.values()
    # Cell (y, x) of row r: start[r] + (y - y0[r]) * width[r] + x - x0[r].
    origin = (start - y0 * width - x0)[rows]  # (E, )
    pos = (origin + cols).unsqueeze(1) + taps * width[rows].unsqueeze(1)
    sums = values.new_zeros(int(end[-1])).index_add_(
        0, pos.reshape(-1), values.reshape(-1))
    pos = sums.nonzero().squeeze(1)  # (M, )
    rows = torch.searchsorted(end, pos, right=True)
    offset = pos - start[rows]
    cells = (y0[rows] + offset // width[rows]) * w + x0[rows] + \
        offset % width[rows]
    return rows, cells, sums[pos]


def segment_resize_matrix(labels: Tensor,
                          grid_size: Tuple[int, int],
                          mode: str,
                          num_segs: int = None,
                          dtype: torch.dtype = torch.float32,
                          shared_grid: bool = False) -> Tensor:
    """Sparse matrix M such that ``M @ X`` gives the per-segment means of
    the grid map X resized (``mode``, ``align_corners=False``) to the label
    map's size, without building the full-resolution map.

    Averaging an interpolated map within a segment is linear in the map, and
    the 2D interpolation is separable (``Ry @ X @ Rx.T``). Pixels are grouped
    into horizontal runs of one label. A run's weight on grid column c is a
    difference of cumulative sums of ``Rx``, non-zero only in a short window
    of columns (the taps of its pixels); each such (run, column) entry is
    multiplied by the 2 (bilinear) or 4 (bicubic) y-weights of the run's row
    and divided by the segment's pixel count, and entries of one (segment,
    cell) are summed (:func:`_sum_per_cell`), all in float64. Only non-zero
    entries are stored: a segment touches the grid cells around it, so their
    number grows with the pixel count, not with ``S * h * w`` as a dense
    matrix.

    Args:
        labels (Tensor): (B, H, W) long labels.
        grid_size (tuple[int, int]): (h, w) of the low-resolution map.
        mode (str): 'bilinear' or 'bicubic'.
        num_segs (int, optional): S. Defaults to ``labels.max() + 1``.
        dtype (torch.dtype): dtype of M. Defaults to float32.
        shared_grid (bool): one grid for all images (G = 1) instead of one
            per image (G = B). Defaults to False.

    Returns:
        Tensor: sparse COO (B * S, G * h * w), coalesced; row ``b * S + s``
        holds segment s of image b (zero for an empty segment), column
        ``g * h * w + i * w + j`` grid cell (i, j) of grid g. ``X`` is the
        grids flattened to (G * h * w, C).
    """
    if num_segs is None:
        num_segs = num_segments(labels)
    B, H, W = labels.shape
    h, w = grid_size
    device = labels.device
    iy, wy = _taps(
        interpolation_matrix(h, H, mode, device, torch.float64),
        2 if mode == 'bilinear' else 4)  # (H, k) each
    rx = interpolation_matrix(w, W, mode, device, torch.float64)  # (W, w)
    cum_rx = torch.cat([rx.new_zeros(1, w), rx.cumsum(0)])  # (W + 1, w)
    lo, hi = _column_window(rx)  # (W, ) each

    # Runs: maximal horizontal stretches of one label within a pixel row.
    is_start = torch.ones_like(labels, dtype=torch.bool)
    is_start[..., 1:] = labels[..., 1:] != labels[..., :-1]
    starts = is_start.reshape(-1).nonzero().squeeze(1)  # (R, )
    ends = torch.cat([starts[1:], starts.new_full((1, ), labels.numel())])
    row = starts // W  # b * H + y
    x0 = starts % W
    x1 = x0 + (ends - starts)
    batch, y = row // H, row % H
    seg = batch * num_segs + labels.reshape(-1)[starts]
    counts = torch.bincount(seg, weights=(x1 - x0).double(),
                            minlength=B * num_segs)  # pixels per segment

    # One entry per (run, grid column in the run's window): (E, ).
    col0 = lo[x0]
    span = hi[x1 - 1] - col0 + 1
    run = torch.repeat_interleave(
        torch.arange(starts.numel(), device=device), span)
    first = torch.cumsum(span, 0) - span
    col = col0[run] + torch.arange(run.numel(), device=device) - first[run]
    cum_rx = cum_rx.view(-1)
    x_weight = (cum_rx[x1[run] * w + col] - cum_rx[x0[run] * w + col]) / \
        counts[seg[run]]

    # Times the y-taps of the run's row: (E, k); summed per (segment, cell).
    y_run = y[run]
    rows, cells, values = _sum_per_cell(
        seg[run], col, iy.index_select(0, y_run),
        wy.index_select(0, y_run) * x_weight.unsqueeze(1), B * num_segs,
        (h, w))
    if not shared_grid:  # block diagonal: image b reads grid b
        cells = cells + (rows // num_segs) * (h * w)
    return torch.sparse_coo_tensor(
        torch.stack([rows, cells]), values.to(dtype),
        (B * num_segs, (1 if shared_grid else B) * h * w), device=device,
        is_coalesced=True, check_invariants=False)


def segment_mean_resized(grid: Tensor, labels: Tensor, mode: str,
                         num_segs: int = None, fast: bool = True) -> Tensor:
    """Per-segment mean of ``grid`` resized to the label map's size.

    Args:
        grid (Tensor): (G, h, w, C) channels-last map, G = B (one per image)
            or 1 (shared by all images).
        labels (Tensor): (B, H, W) long labels.
        mode (str): 'bilinear' or 'bicubic' (``align_corners=False``).
        num_segs (int, optional): S. Defaults to ``labels.max() + 1``.
        fast (bool): multiply by the sparse :func:`segment_resize_matrix`
            (default) instead of materialising the (B, H, W, C) resized map.

    Returns:
        Tensor: (B, S, C) means; zero for empty segments.
    """
    if num_segs is None:
        num_segs = num_segments(labels)
    B = labels.shape[0]
    G, h, w, C = grid.shape
    if G not in (1, B):
        raise ValueError(f'grid batch must be 1 or {B} (the labels\'), '
                         f'got {G}')
    if fast:
        compute_dtype = torch.float32 if grid.dtype in (
            torch.float16, torch.bfloat16) else grid.dtype
        matrix = segment_resize_matrix(labels, (h, w), mode, num_segs,
                                       dtype=compute_dtype,
                                       shared_grid=G == 1)
        out = _sparse_mm(matrix, grid.reshape(G * h * w, C))
        return out.view(B, num_segs, C)
    resized = F.interpolate(
        grid.permute(0, 3, 1, 2),
        size=labels.shape[-2:],
        mode=mode,
        align_corners=False).permute(0, 2, 3, 1)
    resized = resized.expand(B, -1, -1, -1)
    return segment_mean(resized, labels, num_segs)[0]

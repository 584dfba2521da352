"""Scores of the valid chains of a :class:`ClassHierarchy`, by dynamic programming.

Shape shorthand: L levels (coarse -> fine), N_l classes of level l, P pixels (any number of
trailing dims, flattened), E child -> group edges of a level pair (see
:meth:`ClassHierarchy.child_groups`).

A chain (one class per level; background ends a chain) scores the sum of its classes' scores
``s_l[c_l]``, e.g. each level's log-probabilities. The *completion* ``C_l[k]`` of class k of
level l reduces (max, or log-sum-exp) the scores of the chains' levels l..L-1 over the valid
chains through k, fine to coarse:

    C_{L-1}[k] = s_{L-1}[k]
    C_l[0]     = s_l[0] + C_{l+1}[0]                                   (background ends it)
    C_l[k]     = s_l[k] + R(C_{l+1}[0], C_{l+1}[j] for foreground j under k),    k > 0

R = max gives the max-product programme (the best chain: :func:`best_chains`, read back coarse
to fine by :func:`descend`, which on raw scores is greedy decoding), R = log-sum-exp the
sum-product one (the log partition function: :func:`chain_logsumexp`). Reducing children
into parents goes through the hierarchy's child groups (parents sharing one set of children,
e.g. SPIN's object classes of one superclass, are reduced once), so a multi-parent DAG costs
O(sum_l N_l + E) per pixel like a tree; no (N_c, N_p, P) tensor is formed.

The log-sum-exp of every group at once is one matrix product: ``exp(C - m)`` with m the
pixel's largest child completion, times the (G + 1, N_c) 0/1 matrix of the groups' members
(background in every group), then ``m + log``. A group far below the pixel's largest child
(sum under ``finfo.tiny * 2**24``, about 1e-31 in float32: gaps of some 70 nats) would lose
precision to underflow there; such pixels are recomputed with a shift per group, as
``torch.logsumexp`` shifts, so the result is the per-group computation's up to rounding.
"""
from typing import Callable, List, Sequence, Tuple

import torch
from torch import Tensor

from .class_hierarchy import ClassHierarchy

REDUCTIONS = ('max', 'logsumexp')


def _reduce_children(child: Tensor, edges: Tuple[Tensor, Tensor, Tensor],
                     reduce: str) -> Tensor:
    """(N_c, P) completions of a level -> (N_p, P) reductions R over each parent's children."""
    edge_child, edge_group, parent_group = edges
    if edge_child.numel() == 0:
        return child[:1].expand(parent_group.numel(), -1)
    if reduce == 'max':
        best = _max_per_group(child, edges)
    else:
        best = _logsumexp_by_product(child, edges)
    return best.index_select(0, parent_group)


def _max_per_group(child: Tensor, edges: Tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """(N_c, P) -> (G + 1, P): the max over background and each group's members; row G is
    background alone."""
    edge_child, edge_group, parent_group = edges
    bg = child[:1]
    gathered = child.index_select(0, edge_child)  # (E, P)
    index = edge_group[:, None].expand_as(gathered)
    best = torch.full((int(parent_group.max()), child.shape[1]), float('-inf'),
                      dtype=child.dtype, device=child.device)
    best = torch.maximum(best.scatter_reduce(0, index, gathered, 'amax'), bg)
    return torch.cat([best, bg])


def _logsumexp_per_group(child: Tensor, edges: Tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """(N_c, P) -> (G + 1, P): log-sum-exp over background and each group's members, shifted
    per group; row G is background alone."""
    edge_child, edge_group, parent_group = edges
    bg = child[:1]
    gathered = child.index_select(0, edge_child)  # (E, P)
    with torch.no_grad():  # a per-group shift, as torch.logsumexp does
        shift = _max_per_group(child, edges)[:-1]
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    total = torch.exp(bg - shift).index_add(
        0, edge_group, torch.exp(gathered - shift.index_select(0, edge_group)))
    return torch.cat([_shifted_log(total, shift), bg])


def _logsumexp_by_product(child: Tensor, edges: Tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """:func:`_logsumexp_per_group` as one matrix product with a per-pixel shift (module
    docstring); the pixels where that underflows are recomputed per group."""
    edge_child, edge_group, parent_group = edges
    members = torch.zeros(int(parent_group.max()) + 1, child.shape[0], dtype=child.dtype,
                          device=child.device)
    members[:, 0] = 1  # background is in every group; row G holds it alone
    members[edge_group, edge_child] = 1
    with torch.no_grad():
        shift = child.amax(0, keepdim=True)
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    with torch.autocast(child.device.type, enabled=False):  # in the scores' precision
        total = members @ torch.exp(child - shift)  # (G + 1, P)
        best = _shifted_log(total, shift)
        with torch.no_grad():
            weak = total < torch.finfo(total.dtype).tiny * 2**24
            if weak.any():  # a sum that underflowed (or is empty: then -inf is right)
                reachable = members @ torch.isfinite(child).to(child.dtype) > 0
                redo = torch.nonzero((weak & reachable).any(0)).view(-1)
            else:
                redo = weak.new_zeros(0, dtype=torch.long)
    if redo.numel():
        exact = _logsumexp_per_group(child.index_select(1, redo), edges)
        best = best.index_copy(1, redo, exact)
    return best


def _shifted_log(total: Tensor, shift: Tensor) -> Tensor:
    """shift + log(total), -inf where total is 0 (every chain through it scores -inf)."""
    positive = total > 0
    return torch.where(positive, shift + torch.log(torch.where(positive, total, 1.)),
                       float('-inf'))


def chain_completions(hierarchy: ClassHierarchy, scores: Sequence[Tensor],
                      reduce: str = 'max') -> List[Tensor]:
    """Completion scores of every class of every level (see the module docstring).

    Args:
        hierarchy (ClassHierarchy): L levels.
        scores (Sequence[Tensor]): L tensors (N_l, P), coarse -> fine.
        reduce (str): 'max' or 'logsumexp'. Default: 'max'.

    Returns:
        list[Tensor]: L tensors (N_l, P): ``C_l``. Reducing ``C_0`` over its classes gives the
        best chain score ('max') or the log of the sum of exp(chain score) over all valid chains.
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f'reduce must be one of {REDUCTIONS}, got {reduce!r}')
    levels = hierarchy.levels
    if len(scores) != len(levels):
        raise ValueError(f'{len(scores)} score tensors for the {len(levels)} levels {levels}')
    for level, s in zip(levels, scores):
        if s.dim() != 2 or s.shape[0] != hierarchy.num_classes[level]:
            raise ValueError(f'scores of level {level!r} must be ({hierarchy.num_classes[level]},'
                             f' P), got {tuple(s.shape)}')
    out = [None] * len(levels)
    out[-1] = scores[-1]
    for i in range(len(levels) - 2, -1, -1):
        edges = hierarchy.child_groups(levels[i + 1], scores[i].device)
        out[i] = scores[i] + _reduce_children(out[i + 1], edges, reduce)
    return out


def in_pixel_chunks(fn: Callable[[List[Tensor]], Sequence[Tensor]], tensors: Sequence[Tensor],
                    chunk_size: int = 1 << 14) -> List[Tensor]:
    """Run ``fn`` on chunks of pixels: the one pixel loop of the decodings.

    Args:
        fn (callable): L tensors (N_l, P') -> tensors (P',), on a chunk of P' pixels.
        tensors (Sequence[Tensor]): L tensors (N_l, *), same trailing dims.
        chunk_size (int): pixels per chunk (bounds the memory to a few (N_l, chunk) tensors).
            Default: 16384.

    Returns:
        list[Tensor]: ``fn``'s outputs over all pixels, each (*).
    """
    shape = tensors[0].shape[1:]
    flat = [x.reshape(x.shape[0], -1) for x in tensors]
    total = flat[0].shape[1]
    outs = None
    for start in range(0, max(total, 1), chunk_size):  # once on no pixels: outputs' dtypes
        part = slice(start, start + chunk_size)
        results = fn([x[:, part] for x in flat])
        if outs is None:
            outs = [torch.empty(total, dtype=r.dtype, device=r.device) for r in results]
        for out, result in zip(outs, results):
            out[part] = result
        del results  # not held while the next chunk is decoded
    return [out.view(shape) for out in outs]


def descend(hierarchy: ClassHierarchy, scores: Sequence[Tensor]) -> List[Tensor]:
    """Per pixel, coarse to fine: the first level's argmax, then each level's argmax among the
    classes allowed under the class chosen above (:meth:`ClassHierarchy.allowed_children`).

    On chain completions (:func:`chain_completions`) this is the backtrack of the best chain;
    on logits, greedy decoding. Ties go to the smallest class index, as ``argmax``.

    Args:
        hierarchy (ClassHierarchy): L levels.
        scores (Sequence[Tensor]): L tensors (N_l, P), coarse -> fine.

    Returns:
        list[Tensor]: L long tensors (P,).
    """
    choice = scores[0].argmax(0)  # the first maximum
    preds = [choice]
    for child, x in zip(hierarchy.levels[1:], scores[1:]):
        ok = hierarchy.allowed_children(child, x.device).index_select(1, choice)  # (N_l, P)
        choice = x.masked_fill(~ok, float('-inf')).argmax(0)
        preds.append(choice)
    return preds


def best_chain(hierarchy: ClassHierarchy,
               scores: Sequence[Tensor]) -> Tuple[List[Tensor], Tensor]:
    """:func:`best_chains` of L tensors (N_l, P) in one piece: L long (P,), the (P,) scores."""
    completions = chain_completions(hierarchy, scores, 'max')
    return descend(hierarchy, completions), completions[0].amax(0)


def best_chains(hierarchy: ClassHierarchy, scores: Sequence[Tensor],
                chunk_size: int = 1 << 14) -> Tuple[List[Tensor], Tensor]:
    """Per pixel, the valid chain with the highest total score (exact: max-product).

    Ties go to the lexicographically smallest chain (class indices coarse -> fine), as
    ``argmax`` takes the first maximum at each level.

    Args:
        hierarchy (ClassHierarchy): L levels.
        scores (Sequence[Tensor]): L tensors (N_l, *), coarse -> fine, same trailing dims.
        chunk_size (int): pixels decoded at once (bounds the memory to a few (N_l, chunk)
            tensors). Default: 16384.

    Returns:
        tuple: L long tensors (*), one class per level, and the (*) best scores.
    """
    def chunk(part):
        preds, best = best_chain(hierarchy, part)
        return preds + [best]

    *preds, best = in_pixel_chunks(chunk, scores, chunk_size)
    return preds, best


def chain_logsumexp(hierarchy: ClassHierarchy, scores: Sequence[Tensor]) -> Tensor:
    """log sum over the valid chains of exp(chain score), per pixel (sum-product).

    Args:
        hierarchy (ClassHierarchy): L levels.
        scores (Sequence[Tensor]): L tensors (N_l, P); -inf excludes a class (the result is
            -inf where every chain is excluded).

    Returns:
        Tensor: (P,); differentiable in ``scores``.
    """
    return log_partition(chain_completions(hierarchy, scores, 'logsumexp')[0])


def log_partition(top: Tensor) -> Tensor:
    """(N_0, P) log-sum-exp completions of the top level -> (P,) their log-sum-exp (-inf where
    all are -inf, with finite gradients)."""
    finite = torch.isfinite(top).any(0)
    safe = torch.where(finite[None], top, torch.zeros_like(top))
    return torch.where(finite, torch.logsumexp(safe, 0), float('-inf'))

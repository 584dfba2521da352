"""Decoding a hierarchical prediction into one label map per level.

Shape shorthand: L levels (coarse -> fine), N_l classes of level l (0 = background), ``*`` any
pixel dims (e.g. H, W).

- independent: each level's argmax.
- greedy (:func:`greedy_argmax`): coarse to fine, each level's argmax restricted to the
  children of the class chosen above. Valid chains, but a confident part cannot overrule an
  unsure object.
- joint (:func:`joint_argmax`): per pixel the valid chain with the highest sum of the levels'
  log-probabilities, exact (max-product over the hierarchy, :func:`~cast.structures.
  best_chains`).

Both consistent decodings give only valid chains (background ends a chain), so SpCS and SeCS
are 100 by construction.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from cast.structures import ClassHierarchy, best_chains

DECODINGS = ('independent', 'greedy', 'joint')


def _in_chunks(level_logits: Sequence[Tensor], decode, chunk_size: int) -> List[Tensor]:
    """Run ``decode`` (L tensors (N_l, P) -> L tensors (P,)) on chunks of pixels."""
    shape = level_logits[0].shape[1:]
    flat = [x.reshape(x.shape[0], -1) for x in level_logits]
    total = flat[0].shape[1]
    preds = [torch.empty(total, dtype=torch.long, device=flat[0].device) for _ in flat]
    for start in range(0, total, chunk_size):
        part = slice(start, start + chunk_size)
        for out, pred in zip(preds, decode([x[:, part] for x in flat])):
            out[part] = pred
    return [p.view(shape) for p in preds]


def greedy_argmax(level_logits: Sequence[Tensor], hierarchy: ClassHierarchy,
                  chunk_size: int = 1 << 14) -> List[Tensor]:
    """Decode levels coarse to fine, each restricted to the children of the class above.

    Args:
        level_logits (Sequence[Tensor]): per level (N_l, *) logits, coarse to fine.
        hierarchy (ClassHierarchy): the L levels' hierarchy.
        chunk_size (int): pixels decoded at once. Default: 16384.

    Returns:
        list[Tensor]: per level (*) long predictions; for every pixel and level l > 0,
        ``hierarchy.allowed_children(level_l)[pred_l, pred_{l-1}]`` holds.
    """
    allowed = [hierarchy.allowed_children(child, level_logits[0].device)
               for child in hierarchy.levels[1:]]

    def decode(logits):
        preds = [logits[0].argmax(dim=0)]
        for x, mask in zip(logits[1:], allowed):
            ok = mask.index_select(1, preds[-1])  # (N_l, P): children of the class above
            preds.append(x.masked_fill(~ok, float('-inf')).argmax(dim=0))
        return preds
    return _in_chunks(level_logits, decode, chunk_size)


def joint_argmax(level_logits: Sequence[Tensor], hierarchy: ClassHierarchy,
                 chunk_size: int = 1 << 14) -> List[Tensor]:
    """Per pixel, the valid chain maximising the sum of the levels' log-softmax scores.

    Args:
        level_logits (Sequence[Tensor]): per level (N_l, *) logits, coarse to fine.
        hierarchy (ClassHierarchy): the L levels' hierarchy.
        chunk_size (int): pixels decoded at once (log-softmax included). Default: 16384.

    Returns:
        list[Tensor]: per level (*) long predictions.
    """
    def decode(logits):
        scores = [F.log_softmax(x.float(), dim=0) for x in logits]
        return best_chains(hierarchy, scores, chunk_size)[0]
    return _in_chunks(level_logits, decode, chunk_size)


def decode_levels(level_logits: Sequence[Tensor], decoding: str,
                  hierarchy: ClassHierarchy = None, chunk_size: int = 1 << 14) -> List[Tensor]:
    """Label maps from per-level (N_l, *) logits with ``decoding`` in :data:`DECODINGS`
    (``chunk_size``: pixels decoded at once by the consistent decodings)."""
    if decoding == 'independent':
        return [x.argmax(dim=0) for x in level_logits]
    if decoding == 'greedy':
        return greedy_argmax(level_logits, hierarchy, chunk_size)
    if decoding == 'joint':
        return joint_argmax(level_logits, hierarchy, chunk_size)
    raise ValueError(f'decoding must be one of {DECODINGS}, got {decoding!r}')

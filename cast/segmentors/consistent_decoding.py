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
- hssn (:func:`hssn_argmax`): HSSN's decoding (Li et al., CVPR 2022), a class scored by its
  logit plus its ancestors' logits: per pixel the valid chain with the highest sum of the
  levels' raw logits (for models trained with per-class sigmoids, :class:`~cast.losses.
  TreeMinLoss`). HSSN scores leaf classes of a tree; generalised here to chains that end at
  background and to classes with several parents (the best chain through any of them), by the
  same max-product programme as joint decoding.

The consistent decodings walk down the levels alike (:func:`~cast.structures.descend`,
on the logits or on the chains' completions) in one loop over chunks of pixels
(:func:`~cast.structures.in_pixel_chunks`), and give only valid chains (background
ends a chain), so SpCS and SeCS are 100 by construction.
"""
from typing import List, Sequence

import torch.nn.functional as F
from torch import Tensor

from cast.structures import ClassHierarchy, best_chain, descend, in_pixel_chunks

DECODINGS = ('independent', 'greedy', 'joint', 'hssn')


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
    return in_pixel_chunks(lambda logits: descend(hierarchy, logits), level_logits, chunk_size)


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
        return best_chain(hierarchy, [F.log_softmax(x.float(), dim=0) for x in logits])[0]
    return in_pixel_chunks(decode, level_logits, chunk_size)


def hssn_argmax(level_logits: Sequence[Tensor], hierarchy: ClassHierarchy,
                chunk_size: int = 1 << 14) -> List[Tensor]:
    """Per pixel, the valid chain maximising the sum of the levels' raw logits (HSSN).

    Args:
        level_logits (Sequence[Tensor]): per level (N_l, *) logits, coarse to fine.
        hierarchy (ClassHierarchy): the L levels' hierarchy.
        chunk_size (int): pixels decoded at once. Default: 16384.

    Returns:
        list[Tensor]: per level (*) long predictions.
    """
    def decode(logits):
        return best_chain(hierarchy, [x.float() for x in logits])[0]
    return in_pixel_chunks(decode, level_logits, chunk_size)


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
    if decoding == 'hssn':
        return hssn_argmax(level_logits, hierarchy, chunk_size)
    raise ValueError(f'decoding must be one of {DECODINGS}, got {decoding!r}')

"""HSSN's hierarchy losses, the peer baseline of the chain likelihood loss.

Li et al., "Deep Hierarchical Semantic Segmentation", CVPR 2022 (https://arxiv.org/abs/2203.14335),
written here from the paper and generalised to :class:`~cast.structures.ClassHierarchy`'s
convention (any number of levels, background ends a chain, several parents per class).

Shape shorthand: B batch, L levels (coarse -> fine), N_l classes of level l (0 = background),
H/W label size, P pixels, D embedding channels, h/w embedding size.

Adaptations (HSSN's own setting is a two-level tree without background: Cityscapes' 7
categories -> 19 classes, one sigmoid per class of every level):

- Background is a class of every level with its own sigmoid. It has no foreground descendants,
  and a chain that ends at level l (background below) counts its labelled classes above as
  the background's ancestors: a positive background is scored by the minimum over them too.
- Ancestors of a positive class are the pixel's *labelled* classes above it (with several
  parents per class, "all ancestors" would ask two objects to be positive at once); a level
  labelled ``ignore_index`` is skipped.
- Descendants of a negative class are its foreground descendants through every parent link,
  except the pixel's labelled class of their level (with several parents a negative object's
  part may be positive through another object). In a tree with labels that fit a chain no
  descendant of a negative class is labelled, so this is HSSN's rule there.
- The losses are written as ``-log min sigmoid = max softplus(-z)`` and
  ``-log(1 - max sigmoid) = max softplus(z)`` (the same value without HSSN's ``eps``; no
  underflow).
- Labels are not overwritten (HSSN's code sets ignored pixels to class 0 in the caller's
  tensor), any batch size, no process group (HSSN gathers class counts over processes to
  switch the triplet loss on only where every process has an anchor; here it is on wherever
  a triplet exists).
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from cast.structures import ClassHierarchy
from mmseg.registry import MODELS

from .base import HierarchyLoss
from .chain_loss import ChainLikelihoodLoss


def _max_over_children(values: Tensor, edges: Tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """(N_c, P) non-negative values -> (N_p, P): each parent's max over its foreground
    children (0 for a parent without any)."""
    edge_child, edge_group, parent_group = edges
    if edge_child.numel() == 0:
        return values.new_zeros(parent_group.numel(), values.shape[1])
    gathered = values.index_select(0, edge_child)  # (E, P)
    groups = values.new_zeros(int(parent_group.max()) + 1, values.shape[1])
    groups = groups.scatter_reduce(0, edge_group[:, None].expand_as(gathered), gathered, 'amax')
    return groups.index_select(0, parent_group)


def tree_min_terms(hierarchy: ClassHierarchy, logits: Sequence[Tensor],
                   targets: Sequence[Tensor], ignore_index: int = 255) -> List[Tensor]:
    """Per level and pixel, HSSN's tree-min loss summed over the level's classes.

    Positive class ``y_l``: ``max_{m <= l labelled} softplus(-z_m[y_m])``, i.e.
    ``-log min`` of the sigmoids of the class and its labelled ancestors. Negative class k:
    ``max(softplus(z_l[k]), softplus(z_m[d]) for foreground descendants d of k at finer
    levels m, d != y_m)``, i.e. ``-log(1 - max)`` of the sigmoids of the class and its
    descendants (module docstring).

    Args:
        hierarchy (ClassHierarchy): L levels.
        logits (Sequence[Tensor]): L tensors (N_l, P).
        targets (Sequence[Tensor]): L long tensors (P,), classes or ``ignore_index``.
        ignore_index (int): Default: 255.

    Returns:
        list[Tensor]: L tensors (P,) (0 where the level is ignored).
    """
    levels = hierarchy.levels
    labelled = [t != ignore_index for t in targets]
    is_label = [(torch.arange(x.shape[0], device=x.device)[:, None] == t[None]) & lab[None]
                for x, t, lab in zip(logits, targets, labelled)]  # (N_l, P) bool
    positives, running = [], None
    for x, t, lab in zip(logits, targets, labelled):
        own = F.softplus(-x.gather(0, torch.where(lab, t, 0)[None])[0])
        own = torch.where(lab, own, 0.)  # softplus > 0: 0 is neutral for the max
        running = own if running is None else torch.maximum(running, own)
        positives.append(running)
    own_neg = [F.softplus(x) for x in logits]
    below = [None] * len(levels)  # (N_l, P): max over the descendants' negative terms
    below[-1] = torch.zeros_like(own_neg[-1])
    for i in range(len(levels) - 2, -1, -1):
        child = torch.maximum(own_neg[i + 1].masked_fill(is_label[i + 1], 0.), below[i + 1])
        below[i] = _max_over_children(child, hierarchy.child_groups(levels[i + 1],
                                                                    child.device))
    terms = []
    for i, x in enumerate(logits):
        negatives = torch.maximum(own_neg[i], below[i]).masked_fill(is_label[i], 0.)
        terms.append(torch.where(labelled[i], negatives.sum(0) + positives[i], 0.) / x.shape[0])
    return terms


@MODELS.register_module()
class TreeMinLoss(HierarchyLoss):
    """HSSN's tree-min loss: per-class sigmoids whose positives respect their ancestors and
    whose negatives respect their descendants (:func:`tree_min_terms`).

    The loss is ``loss_weight * sum_l mean over the pixels labelled at level l of the level's
    term / N_l``, as HSSN normalises each level (its weight is 5). HSSN adds a cross-entropy per
    level; in :class:`~cast.heads.HierarchicalDecodeHead` those are the level losses
    (``loss_weights``), so a config keeps them and adds this loss as ``hierarchy_loss``.
    Decode with ``decoding='hssn'`` (a chain's score is the sum of its classes' logits).

    Args:
        loss_weight (float): Weight of the loss. Default: 5.0 (HSSN's).
        ignore_index (int): Label of unlabelled pixels. Default: 255.
        loss_name (str): Key of the loss in the head's loss dict. Default: 'loss_tree_min'.
    """

    def __init__(self, loss_weight: float = 5.0, ignore_index: int = 255,
                 loss_name: str = 'loss_tree_min') -> None:
        super().__init__(loss_weight, ignore_index, loss_name)

    def forward(self, level_logits: Sequence[Tensor], labels: Sequence[Tensor],
                hierarchy: ClassHierarchy) -> Tuple[Tensor, Tensor]:
        """The weighted loss.

        Args:
            level_logits (Sequence[Tensor]): L tensors (B, N_l, H, W), coarse -> fine.
            labels (Sequence[Tensor]): L tensors (B, H, W), classes or ``ignore_index``.
            hierarchy (ClassHierarchy): the L levels' hierarchy.

        Returns:
            tuple[Tensor, Tensor]: the loss, and the fraction of labelled pixels whose labels
            fit no valid chain (as :class:`ChainLikelihoodLoss` reports; here kept as they
            are), both scalars.
        """
        logits, targets = self.flatten(level_logits, labels, hierarchy)
        terms = tree_min_terms(hierarchy, logits, targets, self.ignore_index)
        total = sum(x.sum() for x in logits) * 0.  # a graph also when nothing is labelled
        for term, t in zip(terms, targets):
            count = (t != self.ignore_index).sum()
            total = total + term.sum() / count.clamp(min=1)
        with torch.no_grad():
            any_label = torch.stack([t != self.ignore_index for t in targets]).any(0)
            fits = ChainLikelihoodLoss(ignore_index=self.ignore_index)._fits(hierarchy, targets)
            misfit = (any_label & ~fits).sum() / any_label.sum().clamp(min=1)
        return self.loss_weight * total, misfit.to(total.dtype)


def triplet_factor(step: int, warmup_iters: int) -> float:
    """HSSN's schedule of the triplet loss: ``(1 + cos(pi (step - T) / T)) / 4`` for step < T,
    then 0.5 (T = ``warmup_iters``, 80k in HSSN: its whole schedule)."""
    if step >= warmup_iters:
        return 0.5
    return 0.25 * (1 + math.cos((step - warmup_iters) / warmup_iters * math.pi))


@MODELS.register_module()
class TreeTripletLoss(HierarchyLoss):
    """HSSN's tree-triplet loss on an L2-normalised pixel embedding.

    For each child level (every level but the first) and each foreground class k there: anchors
    are pixels labelled k, positives pixels labelled a *sibling* (another foreground class
    sharing a foreground parent with k), negatives pixels labelled a foreground class sharing no
    parent with k. The first ``max_triplets`` of each in raster order (as HSSN) make triplets
    with ``relu(d(a, p) - d(a, n) + margin)``, ``d = 1 - cosine``; the loss is the mean over
    the (level, class) pairs that have triplets, times :func:`triplet_factor` and
    ``loss_weight``. Labels are resized to the embedding by nearest neighbour.

    Adaptations: HSSN (two levels, no background) takes anchors at its finest level only; here
    every child level gives anchors, background and ignored pixels give none of the three.

    Args:
        loss_weight (float): Weight of the loss. Default: 1.0.
        margin (float): Triplet margin. Default: 0.6 (HSSN's ``0.1 + (4 - 2) / 4``).
        max_triplets (int): Triplets per anchor class. Default: 200.
        warmup_iters (int): T of :func:`triplet_factor`. Default: 80000 (HSSN's schedule).
        ignore_index (int): Default: 255.
        loss_name (str): Default: 'loss_tree_triplet'.
    """

    def __init__(self, loss_weight: float = 1.0, margin: float = 0.6, max_triplets: int = 200,
                 warmup_iters: int = 80000, ignore_index: int = 255,
                 loss_name: str = 'loss_tree_triplet') -> None:
        super().__init__(loss_weight, ignore_index, loss_name)
        if warmup_iters < 1 or max_triplets < 1:
            raise ValueError(f'warmup_iters ({warmup_iters}) and max_triplets ({max_triplets}) '
                             'must be positive')
        self.margin = float(margin)
        self.max_triplets = int(max_triplets)
        self.warmup_iters = int(warmup_iters)

    def triplet_terms(self, feats: Tensor, labels: Sequence[Tensor],
                      hierarchy: ClassHierarchy) -> List[Tensor]:
        """One mean triplet loss per (level, anchor class) that has triplets.

        Args:
            feats (Tensor): (P, D) normalised embeddings.
            labels (Sequence[Tensor]): L long tensors (P,) at the embedding's size.
        """
        terms = []
        for i, level in enumerate(hierarchy.levels[1:], start=1):
            y = labels[i]
            rel = hierarchy.relation(level, device=feats.device)[:, 1:].float()
            sibling = (rel @ rel.t()) > 0  # (N_l, N_l): share a foreground parent
            fg = (y != self.ignore_index) & (y > 0)
            y_safe = torch.where(fg, y, 0)
            for k in torch.unique(y[fg]).tolist():
                anchor = y == k
                related = sibling[k].index_select(0, y_safe) & fg
                pos, neg = related & ~anchor, fg & ~related
                n = min(int(anchor.sum()), int(pos.sum()), int(neg.sum()), self.max_triplets)
                if n == 0:
                    continue
                a, p, q = (feats[m][:n] for m in (anchor, pos, neg))
                d_pos = 1 - (a * p).sum(1)
                d_neg = 1 - (a * q).sum(1)
                terms.append(F.relu(d_pos - d_neg + self.margin).mean())
        return terms

    def forward(self, embedding: Tensor, labels: Sequence[Tensor], hierarchy: ClassHierarchy,
                step: int) -> Tensor:
        """The weighted, scheduled loss (a zero with a graph where no triplet exists).

        Args:
            embedding (Tensor): (B, D, h, w), L2-normalised over D.
            labels (Sequence[Tensor]): L tensors (B, H, W).
            hierarchy (ClassHierarchy): the L levels' hierarchy.
            step (int): training iterations so far (for :func:`triplet_factor`).
        """
        if len(labels) != len(hierarchy.levels):
            raise ValueError(f'{len(labels)} label maps for the levels {hierarchy.levels}')
        size = embedding.shape[2:]
        small = [F.interpolate(y[:, None].float(), size, mode='nearest')[:, 0].long()
                 .reshape(-1) for y in labels]
        feats = embedding.permute(0, 2, 3, 1).reshape(-1, embedding.shape[1])
        terms = self.triplet_terms(feats, small, hierarchy)
        if not terms:
            return embedding.sum() * 0.
        return (self.loss_weight * triplet_factor(step, self.warmup_iters)
                * torch.stack(terms).mean())

"""A hierarchy-aware training loss: the likelihood of the ground-truth chain of classes.

Shape shorthand: B batch, L levels (coarse -> fine), N_l classes of level l (0 = background),
H/W label size, P = B*H*W pixels of the batch.
"""
from typing import Sequence, Tuple

import torch
from torch import Tensor

from cast.structures import ClassHierarchy, chain_completions, chain_logsumexp, log_partition
from mmseg.registry import MODELS

from .base import HierarchyLoss


@MODELS.register_module()
class ChainLikelihoodLoss(HierarchyLoss):
    """Negative log-likelihood of the ground-truth chain among the hierarchy's valid chains.

    The levels' logits ``z_l`` score a chain c = (c_1, ..., c_L) (one class per level;
    background ends a chain; see :class:`~cast.structures.ClassHierarchy`) by
    ``sum_l z_l[c_l]``, and ``P(c) = exp(score(c)) / Z`` with Z summed over the valid chains
    only. Per pixel the loss is ``log Z - log sum_{c fitting the labels} exp(score(c))``: with
    every level labelled, ``-log P(ground-truth chain)``; a level labelled ``ignore_index`` is
    summed out. Both sums are the sum-product programme of :mod:`cast.structures.chain_scores`
    (O(sum_l N_l + E) per pixel, also for levels with several parents per class).

    It is the distribution whose most probable chain joint decoding returns; why this loss and
    not HSSN's tree-min loss or a flat marginal loss: docs/hierarchical_segmentation.md.

    Labels that fit no valid chain (annotation noise, e.g. a subpart on another part's pixels)
    would give an infinite loss: on such a pixel the finest labels are dropped (as if ignored),
    finest first, until the rest fits a chain; ``forward`` returns the fraction of labelled
    pixels where that happened, and the head logs it.

    Args:
        loss_weight (float): Weight of the loss. Default: 1.0.
        ignore_index (int): Label of unlabelled pixels. Default: 255.
        loss_name (str): Key of the loss in the head's loss dict. Default: 'loss_chain'.
    """

    def __init__(self, loss_weight: float = 1.0, ignore_index: int = 255,
                 loss_name: str = 'loss_chain') -> None:
        super().__init__(loss_weight, ignore_index, loss_name)

    def forward(self, level_logits: Sequence[Tensor], labels: Sequence[Tensor],
                hierarchy: ClassHierarchy) -> Tuple[Tensor, Tensor]:
        """The weighted loss, averaged over the pixels labelled at some level.

        Args:
            level_logits (Sequence[Tensor]): L tensors (B, N_l, H, W), coarse -> fine, at the
                labels' size.
            labels (Sequence[Tensor]): L tensors (B, H, W), classes or ``ignore_index``.
            hierarchy (ClassHierarchy): the L levels' hierarchy.

        Returns:
            tuple[Tensor, Tensor]: the loss and the fraction of labelled pixels whose labels
            fit no chain (finer labels dropped), both scalars.
        """
        # the whole batch as one set of pixels: one programme for all images (a copy of the
        # logits; a loop over images runs B times the operations on B-times-smaller tensors)
        scores, targets = self.flatten(level_logits, labels, hierarchy)
        labelled = self._patterns(targets)[0].any(0)
        if not labelled.any():  # nothing labelled: a zero loss with a graph
            zero = sum(s.sum() for s in scores) * 0.
            return zero, zero.detach()
        dropped = self._fit_to_chains(hierarchy, targets).sum()
        completions = chain_completions(hierarchy, scores, 'logsumexp')
        nll = log_partition(completions[0]) - self._fitting_logsumexp(
            hierarchy, scores, completions, targets)
        count = labelled.sum()
        total = torch.where(labelled, nll, 0.).sum()  # unlabelled pixels: 0
        return self.loss_weight * total / count, dropped / count

    def _patterns(self, targets: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """(L, P) bool labelled levels and (P,) bool: labelled exactly at the top levels down
        to some level (every level, or the finer ones ignored; none counts too)."""
        labelled = torch.stack([t != self.ignore_index for t in targets])
        return labelled, (labelled[1:] <= labelled[:-1]).all(0)

    def _fitting_logsumexp(self, hierarchy: ClassHierarchy, scores: Sequence[Tensor],
                           completions: Sequence[Tensor], targets: Sequence[Tensor]) -> Tensor:
        """(P,) log sum of exp(chain score) over the chains fitting each pixel's labels (which
        fit a chain by now; nothing on unlabelled pixels).

        Labelled at levels 0..k and ignored below: ``sum_{l<k} s_l[y_l] + C_k[y_k]`` with C_k
        the sum-product completions of the full programme (every level labelled: the
        labelled chain's score). Other patterns (a coarse level ignored under a labelled finer
        one): the programme over the allowed classes of those pixels.
        """
        labelled, prefix = self._patterns(targets)
        last = labelled.sum(0) - 1  # the finest labelled level of a prefix pattern
        fitting = torch.zeros_like(scores[0][0])
        for i, (s, c, t) in enumerate(zip(scores, completions, targets)):
            t = torch.where(labelled[i], t, 0)[None]
            # dense gradients: a sparse one (sparse_grad=True) is added to the (B, N_l, H, W)
            # logits' gradient one element at a time on the CPU, 4x this loss's whole backward
            picked = c.gather(0, t)[0]
            fitting = fitting + torch.where(prefix & (last == i), picked, 0.)
            if i < len(scores) - 1:
                picked = s.gather(0, t)[0]
                fitting = fitting + torch.where(prefix & (last > i), picked, 0.)
        other = torch.nonzero(~prefix).view(-1)
        if other.numel():
            allowed = [s.index_select(1, other).masked_fill(
                ~self._allowed(t.index_select(0, other), s.shape[0]), float('-inf'))
                for s, t in zip(scores, targets)]
            fitting = fitting.index_copy(0, other, chain_logsumexp(hierarchy, allowed))
        return fitting

    def _allowed(self, target: Tensor, num_classes: int) -> Tensor:
        """(N_l, P) bool: the classes a pixel's label allows (all of them where ignored)."""
        classes = torch.arange(num_classes, device=target.device)[:, None]
        return (classes == target[None]) | (target == self.ignore_index)[None]

    @torch.no_grad()
    def _fits(self, hierarchy: ClassHierarchy, targets: Sequence[Tensor]) -> Tensor:
        """(P,) bool: do a pixel's labels fit a valid chain? Labelled at the top levels down to
        some level: a lookup of each labelled (parent, child) pair in the hierarchy; other
        patterns: the max-product programme over the allowed classes."""
        levels = hierarchy.levels
        labelled, prefix = self._patterns(targets)
        fits = prefix.clone()
        for i, child in enumerate(levels[1:], start=1):
            allowed = hierarchy.allowed_children(child, fits.device)  # (N_c, N_p)
            both = labelled[i] & labelled[i - 1]  # on prefix patterns: labelled[i]
            pair = (torch.where(both, targets[i], 0) * allowed.shape[1]
                    + torch.where(both, targets[i - 1], 0))
            fits &= allowed.view(-1).index_select(0, pair) | ~both
        other = torch.nonzero(~prefix).view(-1)
        if other.numel():
            masks = [torch.zeros(hierarchy.num_classes[lv], other.numel(), device=t.device)
                     .masked_fill_(~self._allowed(t.index_select(0, other),
                                                  hierarchy.num_classes[lv]), float('-inf'))
                     for lv, t in zip(levels, targets)]
            best = chain_completions(hierarchy, masks, 'max')[0].amax(0)
            fits[other] = torch.isfinite(best)
        return fits

    @torch.no_grad()
    def _fit_to_chains(self, hierarchy: ClassHierarchy, targets: list) -> Tensor:
        """Drop (in place) the finest labels of pixels whose labels fit no valid chain."""
        fits = self._fits(hierarchy, targets)
        dropped = ~fits
        for i in range(len(targets) - 1, 0, -1):
            if fits.all():
                break
            targets[i] = torch.where(fits, targets[i], self.ignore_index)
            fits = self._fits(hierarchy, targets)
        return dropped

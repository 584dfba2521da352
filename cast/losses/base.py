"""What the losses over every level share: weight, ignored label, name in the loss dict, and
the check of their inputs.

Shape shorthand: B batch, L levels (coarse -> fine), N_l classes of level l, H/W label size,
P = B*H*W pixels of the batch.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from cast.structures import ClassHierarchy


class HierarchyLoss(nn.Module):
    """Base of the losses :class:`~cast.heads.HierarchicalDecodeHead` adds over all levels
    (``hierarchy_loss``, ``embedding_loss``).

    Args:
        loss_weight (float): Weight of the loss.
        ignore_index (int): Label of unlabelled pixels.
        loss_name (str): Key of the loss in the head's loss dict.
    """

    def __init__(self, loss_weight: float, ignore_index: int, loss_name: str) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.ignore_index = ignore_index
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def check_inputs(self, level_logits: Sequence[Tensor], labels: Sequence[Tensor],
                     hierarchy: ClassHierarchy) -> None:
        """Raise ValueError unless there are L logits (B, N_l, H, W) and L label maps (B, H, W)
        of classes 0..N_l-1 or ``ignore_index``."""
        levels = hierarchy.levels
        if not len(level_logits) == len(labels) == len(levels):
            raise ValueError(f'{len(level_logits)} logits and {len(labels)} label maps for the '
                             f'{len(levels)} levels {levels}')
        for level, x, y in zip(levels, level_logits, labels):
            n = hierarchy.num_classes[level]
            if x.shape[1] != n or x.shape[2:] != y.shape[1:] or x.shape[0] != y.shape[0]:
                raise ValueError(f'{level}: logits {tuple(x.shape)} and labels '
                                 f'{tuple(y.shape)} do not match (B, {n}, H, W) / (B, H, W)')
            bad = (y != self.ignore_index) & ((y < 0) | (y >= n))
            if bad.any():
                raise ValueError(f'{level} labels hold values {y[bad].unique()[:10].tolist()} '
                                 f'outside 0..{n - 1} that are not ignore_index='
                                 f'{self.ignore_index}')

    def flatten(self, level_logits: Sequence[Tensor], labels: Sequence[Tensor],
                hierarchy: ClassHierarchy) -> Tuple[List[Tensor], List[Tensor]]:
        """Check the inputs (:meth:`check_inputs`), then give the whole batch as one set of
        pixels: L tensors (N_l, P), a copy in float32 also under AMP, and L long labels (P,)."""
        self.check_inputs(level_logits, labels, hierarchy)
        scores = [(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x)
                  .transpose(0, 1).reshape(x.shape[1], -1) for x in level_logits]
        return scores, [y.reshape(-1).long() for y in labels]

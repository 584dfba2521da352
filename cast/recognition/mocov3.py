"""MoCo v3 self-supervised training of a backbone that takes superpixels."""
from typing import Dict, List, Optional

import torch
from mmpretrain.models.selfsup import MoCoV3
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..utils import stack_superpixels


@MODELS.register_module()
class CASTMoCoV3(MoCoV3):
    """:class:`mmpretrain.models.MoCoV3` for CAST: both encoders are called
    as ``backbone(view, superpixels_of_view)``.

    MoCo v3: "An Empirical Study of Training Self-Supervised Vision
    Transformers", Chen, Xie, He, https://arxiv.org/abs/2104.02057; CAST:
    https://arxiv.org/abs/2210.00314 (reference ``moco-v3/moco/builder.py``
    with superpixels).

    Each view brings its own superpixels, computed by that view's pipeline
    after its own crop and flip (:class:`SuperpixelMultiView`, packed by
    ``PackInputs(algorithm_keys=['superpixels'])``)::

     loss(): for view v in (1, 2):
               sp_v = stack_superpixels(view=v)
               q_v = neck(backbone(view_v, sp_v))
               k_v = momentum neck(momentum backbone(view_v, sp_v))  # no grad
             head.loss(q1, k2) + head.loss(q2, k1)

    The momentum encoder (``momentum_encoder.module.0`` = backbone,
    ``.1`` = neck) is updated before the keys are computed, as the parent.
    Checkpoints keep the online backbone under ``backbone.``: load it into
    other configs with ``init_cfg=dict(type='Pretrained', checkpoint=...,
    prefix='backbone.')``.

    Args:
        See :class:`mmpretrain.models.MoCoV3`.
    """

    def forward(self,
                inputs,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """As the parent's; mode 'tensor' also needs ``data_samples`` with
        superpixels."""
        if mode == 'tensor':
            return self.extract_feat(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def extract_feat(self, inputs,
                     data_samples: Optional[List[DataSample]] = None):
        """Backbone features of one view (a tensor, or the first of a list).

        Args:
            inputs (Tensor | list[Tensor]): (B, 3, H, W) view(s).
            data_samples (list[DataSample]): samples with ``superpixels``.

        Returns:
            tuple[Tensor]: the backbone outputs.
        """
        view = None
        if isinstance(inputs, (list, tuple)):
            inputs, view = inputs[0], 0
        return self.backbone(inputs,
                             stack_superpixels(data_samples, inputs, view))

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """The symmetric MoCo v3 loss of two views.

        Args:
            inputs (list[Tensor]): two (B, 3, H, W) views.
            data_samples (list[DataSample]): B samples whose ``superpixels``
                list one (H, W) map per view.

        Returns:
            dict[str, Tensor]: ``loss``.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('CASTMoCoV3 needs a list of two views (use '
                             'SuperpixelMultiView with num_views=[1, 1])')
        view_1, view_2 = inputs
        sp_1 = stack_superpixels(data_samples, view_1, view=0)
        sp_2 = stack_superpixels(data_samples, view_2, view=1)

        q1 = self.neck(self.backbone(view_1, sp_1))[0]
        q2 = self.neck(self.backbone(view_2, sp_2))[0]

        with torch.no_grad():
            self.momentum_encoder.update_parameters(
                torch.nn.Sequential(self.backbone, self.neck))
            backbone, neck = self.momentum_encoder.module
            k1 = neck(backbone(view_1, sp_1))[0]
            k2 = neck(backbone(view_2, sp_2))[0]

        loss = self.head.loss(q1, k2) + self.head.loss(q2, k1)
        return dict(loss=loss)

"""Image classifier whose backbone takes superpixels (CAST)."""
from typing import List, Optional

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..utils import stack_superpixels


@MODELS.register_module()
class CASTImageClassifier(ImageClassifier):
    """:class:`mmpretrain.models.ImageClassifier` for CAST: the backbone is
    called as ``backbone(inputs, superpixels)``.

    "Learning Hierarchical Image Segmentation For Recognition and By
    Recognition", Ke, Mo, Yu, ICLR 2024, https://arxiv.org/abs/2210.00314.

    Only the feature extraction differs from the parent; the superpixels come
    from ``data_samples[i].superpixels`` (``Superpixels`` in the pipeline,
    packed by ``PackInputs(algorithm_keys=['superpixels'])``)::

     loss(): extract_feat(data_samples) -> head.loss()
     predict(): extract_feat(data_samples) -> head.predict()
     extract_feat(): stack_superpixels() -> backbone(inputs, superpixels)
                     -> neck (optional) -> head.pre_logits (optional)

    Batch augmentations (``train_cfg.augments``: Mixup, CutMix) mix the
    images and labels only: every image keeps the superpixels of its own
    (unmixed) view, as in the reference DeiT training.

    Linear probing (``freeze_backbone=True``, the MoCo v3 protocol of the
    reference's ``main_lincls_suppix.py``): the backbone gets no gradient and
    stays in eval mode while training (BatchNorm statistics and dropout
    untouched), so only the neck and head learn.

    Args:
        freeze_backbone (bool): freeze the backbone as above. Defaults to
            False.
        **kwargs: see :class:`mmpretrain.models.ImageClassifier`; the backbone
            must take ``(inputs, superpixels)``, e.g. ``dict(type='CAST',
            out_type='cls_token')``.
    """

    def __init__(self, *args, freeze_backbone: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            for param in self.backbone.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        """Set the mode; a frozen backbone stays in eval mode."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """As the parent's; mode 'tensor' also needs ``data_samples`` with
        superpixels."""
        if mode == 'tensor':
            feats = self.extract_feat(inputs, data_samples=data_samples)
            return self.head(feats) if self.with_head else feats
        return super().forward(inputs, data_samples, mode)

    def extract_feat(self,
                     inputs: Tensor,
                     stage: str = 'neck',
                     data_samples: Optional[List[DataSample]] = None,
                     superpixels: Optional[Tensor] = None):
        """Features of images and their superpixels.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            stage (str): 'backbone', 'neck' or 'pre_logits', as the parent.
            data_samples (list[DataSample], optional): samples holding
                ``superpixels``; used when ``superpixels`` is None.
            superpixels (Tensor, optional): (B, H, W) integer labels.

        Returns:
            tuple | Tensor: the output of ``stage``.
        """
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'Invalid output stage "{stage}", choose from '
                             '"backbone", "neck" and "pre_logits"')
        if superpixels is None:
            superpixels = stack_superpixels(data_samples, inputs)
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.freeze_backbone):
            x = self.backbone(inputs, superpixels)
        if stage == 'backbone':
            return x
        if self.with_neck:
            x = self.neck(x)
        if stage == 'neck':
            return x
        if not (self.with_head and hasattr(self.head, 'pre_logits')):
            raise ValueError('stage "pre_logits" needs a head with a '
                             '`pre_logits` method')
        return self.head.pre_logits(x)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """Losses of a batch (see the parent)."""
        feats = self.extract_feat(inputs, data_samples=data_samples)
        return self.head.loss(feats, data_samples)

    def predict(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predictions of a batch (see the parent)."""
        feats = self.extract_feat(inputs, data_samples=data_samples)
        return self.head.predict(feats, data_samples, **kwargs)

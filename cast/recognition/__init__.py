"""Recognition with CAST on MMPretrain: supervised (DeiT) and MoCo v3
training with superpixels in the pipeline, and a synthetic ImageNet-layout generator
(the region hierarchy of a trained CAST: :class:`cast.apis.HierarchyPredictor`).

Importing it registers ``CASTImageClassifier``, ``CASTMoCoV3`` (MODELS) and
``SuperpixelMultiView``, ``SafeColorJitter``, ``Superpixels`` (TRANSFORMS) in
MMPretrain's registries.
"""
from .classifier import CASTImageClassifier
from .mocov3 import CASTMoCoV3
from .superpixel_batch import stack_superpixels
from .synthetic_imagenet import (generate_synthetic_imagenet,
                                 synthetic_imagenet_classes)
from .transforms import SafeColorJitter, SuperpixelMultiView

__all__ = [
    'CASTImageClassifier', 'CASTMoCoV3',
    'SafeColorJitter', 'SuperpixelMultiView', 'generate_synthetic_imagenet',
    'stack_superpixels', 'synthetic_imagenet_classes'
]

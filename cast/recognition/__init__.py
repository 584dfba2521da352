"""Recognition with CAST on MMPretrain: supervised (DeiT) and MoCo v3
training with superpixels in the pipeline, hierarchy inference and
visualization (the synthetic ImageNet-layout generator is
:mod:`cast.datasets.synthetic.imagenet`).

Importing it registers ``CASTImageClassifier``, ``CASTMoCoV3`` (MODELS) and
``SuperpixelMultiView``, ``SafeColorJitter``, ``Superpixels`` (TRANSFORMS) in
MMPretrain's registries.
"""
from .classifier import CASTImageClassifier
from .inference import HierarchyPredictor
from .mocov3 import CASTMoCoV3
from .superpixel_batch import stack_superpixels
from .transforms import SafeColorJitter, SuperpixelMultiView
from .visualization import nested_colors

__all__ = [
    'CASTImageClassifier', 'CASTMoCoV3', 'HierarchyPredictor',
    'SafeColorJitter', 'SuperpixelMultiView', 'nested_colors',
    'stack_superpixels'
]

"""Recognition with CAST on MMPretrain: supervised (DeiT) and MoCo v3
training with superpixels in the pipeline (the region hierarchy of a trained
CAST: :class:`cast.apis.HierarchyPredictor`; the synthetic ImageNet-layout
generator: :mod:`cast.datasets.synthetic.imagenet`).

Test-time adaptation of a trained one to each image: :class:`TestTimeAdapter`.

Importing it registers ``CASTImageClassifier``, ``CASTMoCoV3``, ``TestTimeAdapter`` (MODELS) and
``SuperpixelMultiView``, ``SafeColorJitter``, ``Superpixels`` (TRANSFORMS) in
MMPretrain's registries.
"""
from .adaptation import TestTimeAdapter, adaptation_pipelines
from .classifier import CASTImageClassifier
from .mocov3 import CASTMoCoV3
from .transforms import SafeColorJitter, SuperpixelMultiView

__all__ = [
    'CASTImageClassifier', 'CASTMoCoV3', 'SafeColorJitter', 'SuperpixelMultiView',
    'TestTimeAdapter', 'adaptation_pipelines'
]

"""Synthetic data the project generates itself (nothing is downloaded): the same scenes of
quadrupeds, cars and fish with their parts and subparts, written as SPIN (the release's format),
PartImageNet_Seg, or an ImageNet-layout classification folder.

- :mod:`.taxonomy`: classes, parts, subparts and their COCO categories per style;
- :mod:`.shapes`, :mod:`.textures`, :mod:`.scenes`: drawing one picture and its masks;
- :mod:`.coco`: COCO encoding; :mod:`.output`: the folder rules every generator follows;
- :mod:`.spin` and :mod:`.imagenet`: the generators.
"""
from .imagenet import generate_synthetic_imagenet, synthetic_imagenet_classes
from .scenes import SceneGenerator
from .spin import generate_synthetic_partimagenet, generate_synthetic_spin
from .taxonomy import SYNTHETIC_TAXONOMY, synthetic_categories

__all__ = [
    'SYNTHETIC_TAXONOMY', 'SceneGenerator', 'generate_synthetic_imagenet',
    'generate_synthetic_partimagenet', 'generate_synthetic_spin', 'synthetic_categories',
    'synthetic_imagenet_classes'
]

"""Hierarchical segmentation datasets (SPIN, PartImageNet), their transforms, and a synthetic
SPIN generator."""
from .cityscapes_hierarchy import CityscapesHierarchyDataset
from .hierarchical import HierarchicalSegDataset, LevelSpec
from .partimagenet import PartImageNetDataset
from .spin import SPINDataset
from .synthetic import generate_synthetic_partimagenet, generate_synthetic_spin
from .transforms import *  # noqa: F401,F403

__all__ = [
    'HierarchicalSegDataset', 'LevelSpec', 'SPINDataset', 'PartImageNetDataset',
    'generate_synthetic_spin', 'generate_synthetic_partimagenet', 'CityscapesHierarchyDataset'
]

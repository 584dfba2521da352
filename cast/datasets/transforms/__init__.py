"""Transforms for hierarchical segmentation: per-level annotations, superpixels, packing."""
from .center_crop import CenterCropLevels
from .corruptions import CORRUPTIONS, Corrupt, corrupt
from .formatting import PackHierSegInputs
from .loading import LoadHierarchicalAnnotations, level_label_map
from .superpixels import Superpixels

__all__ = ['CenterCropLevels', 'CORRUPTIONS', 'Corrupt', 'corrupt', 'LoadHierarchicalAnnotations',
           'PackHierSegInputs', 'Superpixels', 'level_label_map']

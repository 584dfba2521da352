"""Transforms for hierarchical segmentation: per-level annotations, superpixels, packing."""
from .formatting import PackHierSegInputs
from .loading import (LoadHierarchicalAnnotations, decode_segmentation,
                      rasterize_annotations)
from .superpixels import Superpixels, relabel_consecutive

__all__ = [
    'LoadHierarchicalAnnotations', 'PackHierSegInputs', 'Superpixels', 'decode_segmentation',
    'rasterize_annotations', 'relabel_consecutive'
]

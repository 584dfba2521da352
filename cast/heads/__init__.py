"""Decode heads of this project (MMSeg's UPerHead/SegformerHead are used as they are)."""
from .hierarchical_head import HierarchicalDecodeHead
from .superpixel_segmenter_head import SuperpixelSegmenterHead

__all__ = ['HierarchicalDecodeHead', 'SuperpixelSegmenterHead']

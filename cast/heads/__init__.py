"""Decode heads of this project (MMSeg's UPerHead/SegformerHead are used as they are)."""
from .hierarchical_head import HierarchicalDecodeHead

__all__ = ['HierarchicalDecodeHead']

"""Hierarchical segmentation evaluation: per-level mIoU, SpCS and SeCS."""
from . import functional
from .metrics import HierarchicalMetric

__all__ = ['HierarchicalMetric', 'functional']

"""Evaluation: per-level mIoU, SpCS and SeCS of hierarchical predictions; region mIoU and
boundary F of CAST's unsupervised regions."""
from . import functional
from .metrics import HierarchicalMetric, UnsupervisedRegionMetric

__all__ = ['HierarchicalMetric', 'UnsupervisedRegionMetric', 'functional']

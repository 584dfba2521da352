"""Evaluation: per-level mIoU, SpCS and SeCS of hierarchical predictions; region mIoU and
boundary F of CAST's unsupervised regions; SPIN's prompt protocol (masks answering
per-class prompts)."""
from . import functional, prompts
from .metrics import HierarchicalMetric, PromptMetric, UnsupervisedRegionMetric

__all__ = ['HierarchicalMetric', 'PromptMetric', 'UnsupervisedRegionMetric', 'functional',
           'prompts']

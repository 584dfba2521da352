"""Evaluation: per-level mIoU, SpCS and SeCS of hierarchical predictions; region mIoU and
boundary F of CAST's unsupervised regions; SPIN's prompt protocol (masks answering
per-class prompts); open-vocabulary names for unlabelled regions (CLIP)."""
from . import functional, prompts
from .metrics import HierarchicalMetric, PromptMetric, UnsupervisedRegionMetric
from .open_vocab import CLIPRegionLabeller

__all__ = ['CLIPRegionLabeller', 'HierarchicalMetric', 'PromptMetric', 'UnsupervisedRegionMetric',
           'functional', 'prompts']

"""Data structures shared by datasets, models and metrics: the class hierarchy."""
from .chain_scores import best_chains, chain_completions, chain_logsumexp, log_partition
from .class_hierarchy import ClassHierarchy, pair_names

__all__ = ['ClassHierarchy', 'pair_names', 'best_chains', 'chain_completions',
           'chain_logsumexp', 'log_partition']

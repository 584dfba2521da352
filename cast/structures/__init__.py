"""Data shared by datasets, models, metrics and pictures: the class hierarchy, the scores of
its chains, the levels' palettes."""
from .chain_scores import best_chains, chain_completions, chain_logsumexp, log_partition
from .class_hierarchy import ClassHierarchy, pair_names
from .palette import level_palette

__all__ = ['ClassHierarchy', 'pair_names', 'best_chains', 'chain_completions',
           'chain_logsumexp', 'log_partition', 'level_palette']

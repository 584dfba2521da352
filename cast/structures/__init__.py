"""Data shared by datasets, models, metrics and pictures: the class hierarchy, the scores of
its chains, the levels' palettes."""
from .chain_scores import (
    best_chain,
    best_chains,
    chain_completions,
    chain_logsumexp,
    descend,
    in_pixel_chunks,
    log_partition,
)
from .class_hierarchy import ClassHierarchy, pair_names
from .palette import level_palette

__all__ = ['ClassHierarchy', 'pair_names', 'best_chain', 'best_chains', 'chain_completions',
           'chain_logsumexp', 'descend', 'in_pixel_chunks', 'log_partition', 'level_palette']

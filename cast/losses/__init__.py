"""Training losses of this project (MMSeg's CrossEntropyLoss etc. are used as they are)."""
from .base import HierarchyLoss
from .chain_loss import ChainLikelihoodLoss
from .hssn_loss import TreeMinLoss, TreeTripletLoss, tree_min_terms, triplet_factor

__all__ = ['ChainLikelihoodLoss', 'HierarchyLoss', 'TreeMinLoss', 'TreeTripletLoss',
           'tree_min_terms', 'triplet_factor']

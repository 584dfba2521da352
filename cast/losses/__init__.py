"""Training losses of this project (MMSeg's CrossEntropyLoss etc. are used as they are)."""
from .chain_loss import ChainLikelihoodLoss

__all__ = ['ChainLikelihoodLoss']

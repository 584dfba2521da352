"""Necks of this project (registered in MMSeg's MODELS)."""
from .block_fusion import BlockFusionNeck

__all__ = ['BlockFusionNeck']

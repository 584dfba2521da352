"""CAST backbone (registered in MMSeg's and MMPretrain's MODELS), its graph
pooling, farthest point sampling and superpixel tensor functions."""
from .cast import CAST
from .conv_stem import ConvStem
from .fps import farthest_point_sample
from .graph_pool import GraphPooling, GroupingBlock

__all__ = [
    'CAST', 'ConvStem', 'GraphPooling', 'GroupingBlock',
    'farthest_point_sample'
]

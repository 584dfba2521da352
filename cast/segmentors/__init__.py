"""Segmentors and data preprocessor that hand superpixels to CAST."""
from .cast_encoder_decoder import CASTEncoderDecoder
from .consistent_decoding import DECODINGS, greedy_argmax, hssn_argmax, joint_argmax
from .data_preprocessor import CASTSegDataPreProcessor
from .hierarchical_encoder_decoder import HierarchicalEncoderDecoder
from .region_segmentor import CASTRegionSegmentor

__all__ = [
    'CASTEncoderDecoder', 'CASTRegionSegmentor', 'CASTSegDataPreProcessor', 'DECODINGS',
    'HierarchicalEncoderDecoder', 'greedy_argmax', 'hssn_argmax', 'joint_argmax'
]

"""Segmentors and data preprocessor that hand superpixels to CAST."""
from .cast_encoder_decoder import CASTEncoderDecoder, relabel_superpixels
from .consistent_decoding import DECODINGS, greedy_argmax, joint_argmax
from .data_preprocessor import CASTSegDataPreProcessor, pad_superpixels
from .hierarchical_encoder_decoder import HierarchicalEncoderDecoder

__all__ = [
    'CASTEncoderDecoder', 'CASTSegDataPreProcessor', 'DECODINGS',
    'HierarchicalEncoderDecoder', 'greedy_argmax', 'joint_argmax',
    'pad_superpixels', 'relabel_superpixels'
]

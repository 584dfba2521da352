"""Segmenter's mask transformer decoding superpixel tokens."""
from typing import Dict

from torch import Tensor

from mmseg.models.decode_heads import SegmenterMaskTransformerHead
from mmseg.registry import MODELS


@MODELS.register_module()
class SuperpixelSegmenterHead(SegmenterMaskTransformerHead):
    """MMSeg's :class:`SegmenterMaskTransformerHead` on superpixel tokens,
    its masks painted onto the pixels.

    Segmenter ("Segmenter: Transformer for Semantic Segmentation", Strudel
    et al., ICCV 2021, https://arxiv.org/abs/2105.05633) decodes a grid of
    patch tokens; CAST's reference (twke18/CAST
    ``segmenter/segm/model/decoder.py`` ``SuperpixMaskTransformer``) runs the
    same decoder on the S fused superpixel tokens (padded ones included) and
    gives every pixel the class masks of its superpixel. This head does
    exactly that: the parent's transformer, projections and mask norm see the
    tokens as a (B, C, 1, S) map, and the (B, K, 1, S) masks are gathered
    per pixel into (B, K, H, W) logits at the superpixel map's resolution, so
    MMSeg's losses and slide inference take them unchanged.

    Shape shorthand: B batch, S superpixels, C channels, K classes.

    Input: the dict of :class:`~cast.necks.BlockFusionNeck`: ``tokens``
    (B, S, C) and ``superpixels`` (B, H, W) long labels in 0..S-1.

    Args:
        See :class:`mmseg.models.decode_heads.SegmenterMaskTransformerHead`.
    """

    def forward(self, inputs: Dict[str, Tensor]) -> Tensor:
        """(B, K, H, W) logits: each pixel gets its superpixel's masks."""
        if not isinstance(inputs, dict) or not {'tokens', 'superpixels'
                                                } <= set(inputs):
            raise TypeError(
                'SuperpixelSegmenterHead takes the dict of BlockFusionNeck '
                "(keys 'tokens' and 'superpixels'), got "
                f'{type(inputs).__name__}')
        tokens, superpixels = inputs['tokens'], inputs['superpixels']
        B, S, C = tokens.shape
        if superpixels.dim() != 3 or superpixels.shape[0] != B:
            raise ValueError(
                f'SuperpixelSegmenterHead: superpixels must be (B, H, W) with'
                f' B={B}, got {tuple(superpixels.shape)}')
        grid = tokens.transpose(1, 2).reshape(B, C, 1, S)
        masks = super().forward([grid])[:, :, 0]  # B, K, S
        H, W = superpixels.shape[-2:]
        index = superpixels.reshape(B, 1, H * W).expand(-1, masks.shape[1],
                                                        -1)
        return masks.gather(2, index).view(B, -1, H, W)

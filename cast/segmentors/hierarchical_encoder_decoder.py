"""CAST encoder-decoder predicting every level of a class hierarchy."""
from typing import Dict, List, Mapping, Optional, Sequence

from mmengine.structures import PixelData
from torch import Tensor

from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from .cast_encoder_decoder import CASTEncoderDecoder
from .consistent_decoding import (allowed_children, check_hierarchy,
                                  consistent_argmax)


@MODELS.register_module()
class HierarchicalEncoderDecoder(CASTEncoderDecoder):
    """CAST encoder-decoder with one prediction per hierarchy level.

    The decode head is a :class:`HierarchicalDecodeHead` (one sub-head per
    level, losses summed with per-level weights against ``gt_seg_{level}``).
    Prediction fills, for every level, ``seg_logits_{level}`` (C_l, H, W) and
    ``pred_seg_{level}`` (1, H, W), plus ``seg_logits`` / ``pred_sem_seg`` of
    the head's ``main_level``, so MMSeg's IoUMetric and visualizer work
    unchanged.

    .. code:: text

     loss(): extract_feat() -> decode_head.loss() (sum over levels) -> auxiliary heads (optional)
     predict(): stack_superpixels() -> inference() -> postprocess_result()
     inference(): whole_inference()/slide_inference(), each level's logits merged alike
     encode_decode(): extract_feat() -> decode_head.predict() -> {level: logits}
     postprocess_result(): per level: unpad, unflip, resize -> decode_levels()
     decode_levels(): per-level argmax, or consistent_argmax() coarse to fine

    With ``consistent_decoding=True`` levels are decoded coarse to fine and
    a child level's class is restricted, per pixel, to the children of the
    parent level's predicted class (``hierarchy[child][k]`` is the parent of
    child class k). Background (child 0) is allowed under any parent, and
    under a background parent only background is allowed (so a foreground
    class that the hierarchy maps to background is never predicted; a warning
    names such classes). Every predicted foreground chain is then valid, so
    SeCS is 100 by construction. The stored ``seg_logits_{level}`` stay the
    raw logits.

    The hierarchy is read from the ``hierarchy`` argument, else from
    ``self.dataset_meta['hierarchy']`` (set by ``mmseg.apis.init_model`` from
    a checkpoint's meta, or by whoever sets ``model.dataset_meta``).

    Args:
        backbone (dict): Backbone config; takes ``(inputs, superpixels)``.
        decode_head (dict): :class:`HierarchicalDecodeHead` config.
        consistent_decoding (bool): Restrict each level's prediction to the
            children of the level above. Defaults to False.
        hierarchy (dict, optional): child level -> parent class index per
            child class (``dataset_meta['hierarchy']``). Defaults to None.
        Others: see :class:`mmseg.models.EncoderDecoder`.
    """  # noqa: E501

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 consistent_decoding: bool = False,
                 hierarchy: Optional[Mapping[str, Sequence[int]]] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        if not hasattr(self.decode_head, 'levels'):
            raise TypeError('HierarchicalEncoderDecoder needs a hierarchical '
                            'decode head (e.g. HierarchicalDecodeHead), got '
                            f'{type(self.decode_head).__name__}')
        self.levels = self.decode_head.levels
        self.main_level = self.decode_head.main_level
        self.consistent_decoding = consistent_decoding
        self.hierarchy = None if hierarchy is None else check_hierarchy(
            hierarchy, self.levels, self.decode_head.level_num_classes)

    def get_hierarchy(self) -> Dict[str, List[int]]:
        """The hierarchy used by consistent decoding (validated)."""
        if self.hierarchy is not None:
            return self.hierarchy
        meta = getattr(self, 'dataset_meta', None) or {}
        if 'hierarchy' not in meta:
            raise KeyError(
                'consistent_decoding=True needs the class hierarchy: pass '
                "model.hierarchy in the config (dataset_meta['hierarchy']) "
                "or set model.dataset_meta with a 'hierarchy' entry")
        return check_hierarchy(meta['hierarchy'], self.levels,
                               self.decode_head.level_num_classes)

    def decode_levels(self, level_logits: Dict[str, Tensor]
                      ) -> Dict[str, Tensor]:
        """Label maps from logits.

        Args:
            level_logits (dict[str, Tensor]): level -> (C_l, H, W) logits.

        Returns:
            dict[str, Tensor]: level -> (H, W) long predictions.
        """
        logits = [level_logits[level] for level in self.levels]
        if not self.consistent_decoding:
            preds = [x.argmax(dim=0) for x in logits]
        else:
            hierarchy = self.get_hierarchy()
            allowed = [
                allowed_children(hierarchy[child], logits[i].shape[0],
                                 logits[i].device)
                for i, child in enumerate(self.levels[1:])
            ]
            preds = consistent_argmax(logits, allowed)
        return dict(zip(self.levels, preds))

    def postprocess_result(self,
                           seg_logits: Dict[str, Tensor],
                           data_samples: SampleList = None) -> SampleList:
        """Fill ``seg_logits_{level}``, ``pred_seg_{level}`` for every level
        and ``seg_logits`` / ``pred_sem_seg`` for the main level.

        Args:
            seg_logits (dict[str, Tensor]): level -> (B, C_l, H, W) logits
                on the padded input.
            data_samples (list[:obj:`SegDataSample`]): Samples (metainfo
                ``padding_size``/``img_padding_size``, ``flip``,
                ``ori_shape``).

        Returns:
            list[:obj:`SegDataSample`]: The samples, with predictions at
            ``ori_shape``.
        """
        for i, data_sample in enumerate(data_samples):
            meta = data_sample.metainfo
            padding = meta.get('img_padding_size',
                               meta.get('padding_size', [0] * 4))
            left, right, top, bottom = padding
            flip = meta.get('flip', None)
            direction = meta.get('flip_direction', None)
            level_logits = {}
            for level in self.levels:
                logits = seg_logits[level]
                H, W = logits.shape[-2:]
                logits = logits[i:i + 1, :, top:H - bottom, left:W - right]
                if flip:
                    assert direction in ['horizontal', 'vertical']
                    logits = logits.flip(
                        dims=(3, ) if direction == 'horizontal' else (2, ))
                level_logits[level] = resize(
                    logits,
                    size=meta['ori_shape'],
                    mode='bilinear',
                    align_corners=self.align_corners,
                    warning=False).squeeze(0)
            preds = self.decode_levels(level_logits)
            fields = {}
            for level in self.levels:
                fields[f'seg_logits_{level}'] = PixelData(
                    data=level_logits[level])
                fields[f'pred_seg_{level}'] = PixelData(
                    data=preds[level][None])
            fields['seg_logits'] = fields[f'seg_logits_{self.main_level}']
            fields['pred_sem_seg'] = fields[f'pred_seg_{self.main_level}']
            data_sample.set_data(fields)
        return data_samples

"""Encoder-decoder that hands superpixels to a CAST backbone."""
import logging
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList

from ..utils import relabel_consecutive, stack_superpixels

Logits = Union[Tensor, Dict[str, Tensor]]

MISSING_SUPERPIXELS = (
    "needs a 'superpixels' field in every data sample: add "
    "dict(type='Superpixels') to the pipeline after the geometric transforms "
    '(and pack its output), and use CASTSegDataPreProcessor so it is padded '
    'with the images')


@MODELS.register_module()
class CASTEncoderDecoder(EncoderDecoder):
    """Encoder-decoder whose backbone takes superpixels: ``backbone(inputs,
    superpixels)``, as CAST does.

    Only what passes the superpixels differs from :class:`EncoderDecoder`:
    they come from ``data_samples[i].superpixels`` (made by the
    ``Superpixels`` transform, padded by ``CASTSegDataPreProcessor``) and are
    stacked into a (B, H, W) long tensor aligned with ``inputs``.

    1. ``loss``:

    .. code:: text

     loss(): extract_feat() -> _decode_head_forward_train() -> _auxiliary_head_forward_train (optional)
     extract_feat(): stack_superpixels() -> backbone(inputs, superpixels) -> neck (optional)

    2. ``predict``:

    .. code:: text

     predict(): stack_superpixels() -> inference() -> postprocess_result()
     inference(): whole_inference()/slide_inference()
     whole_inference(): encode_decode()
     slide_inference(): per window: crop inputs and superpixels -> relabel_consecutive() -> encode_decode()
     encode_decode(): extract_feat() -> decode_head.predict()

    3. ``_forward``:

    .. code:: text

     _forward(): extract_feat() -> decode_head.forward()

    ``encode_decode`` may return a tensor or, for heads predicting several
    levels, a dict of tensors; slide inference merges either.

    The arguments are those of :class:`mmseg.models.EncoderDecoder`; none
    are added. The backbone must accept ``(inputs, superpixels)``.
    """  # noqa: E501

    def extract_feat(self,
                     inputs: Tensor,
                     data_samples: OptSampleList = None,
                     superpixels: Optional[Tensor] = None) -> List[Tensor]:
        """Features from images and their superpixels.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            data_samples (list[:obj:`SegDataSample`], optional): Samples
                holding ``superpixels``; used when ``superpixels`` is None.
            superpixels (Tensor, optional): (B, H, W) long labels.

        Returns:
            list[Tensor]: Backbone (and neck) feature maps.
        """
        if superpixels is None:
            superpixels = stack_superpixels(data_samples, inputs, pad=False)
        x = self.backbone(inputs, superpixels)
        if self.with_neck:
            x = self.neck(x)
        return x

    def encode_decode(self,
                      inputs: Tensor,
                      batch_img_metas: List[dict],
                      superpixels: Optional[Tensor] = None) -> Logits:
        """Logits of the same size as ``inputs``.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            batch_img_metas (list[dict]): Image metas.
            superpixels (Tensor): (B, H, W) long labels.
        """
        if superpixels is None:
            raise ValueError(
                f'CASTEncoderDecoder.encode_decode {MISSING_SUPERPIXELS}; '
                'pass superpixels=(B, H, W) labels')
        x = self.extract_feat(inputs, superpixels=superpixels)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses of a batch; see :meth:`EncoderDecoder.loss`."""
        x = self.extract_feat(inputs, data_samples)
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predictions with post-processing; see
        :meth:`EncoderDecoder.predict`. ``data_samples`` are required (they
        carry the superpixels)."""
        superpixels = stack_superpixels(data_samples, inputs, pad=False)
        batch_img_metas = [sample.metainfo for sample in data_samples]
        seg_logits = self.inference(inputs, batch_img_metas, superpixels)
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Logits:
        """Raw decode-head output (no post-processing)."""
        x = self.extract_feat(inputs, data_samples)
        return self.decode_head.forward(x)

    def inference(self,
                  inputs: Tensor,
                  batch_img_metas: List[dict],
                  superpixels: Optional[Tensor] = None) -> Logits:
        """Whole or sliding-window inference, per ``test_cfg.mode``.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            batch_img_metas (list[dict]): Image metas.
            superpixels (Tensor): (B, H, W) long labels.
        """
        mode = (self.test_cfg or {}).get('mode', 'whole')
        if mode not in ('slide', 'whole'):
            raise ValueError('test_cfg.mode must be "slide" or "whole", got '
                             f'{mode!r}')
        ori_shape = batch_img_metas[0]['ori_shape']
        if not all(meta['ori_shape'] == ori_shape for meta in batch_img_metas):
            print_log(
                'Image shapes are different in the batch.',
                logger='current',
                level=logging.WARN)
        if mode == 'slide':
            return self.slide_inference(inputs, batch_img_metas, superpixels)
        return self.whole_inference(inputs, batch_img_metas, superpixels)

    def whole_inference(self,
                        inputs: Tensor,
                        batch_img_metas: List[dict],
                        superpixels: Optional[Tensor] = None) -> Logits:
        """Inference on the full image; see :meth:`encode_decode`."""
        return self.encode_decode(inputs, batch_img_metas, superpixels)

    def slide_inference(self,
                        inputs: Tensor,
                        batch_img_metas: List[dict],
                        superpixels: Optional[Tensor] = None) -> Logits:
        """Sliding-window inference with overlap (``test_cfg.crop_size``,
        ``test_cfg.stride``), as :meth:`EncoderDecoder.slide_inference`.

        Each window crops the superpixel map with the image and relabels the
        crop 0..S-1 before the backbone sees it.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            batch_img_metas (list[dict]): Image metas.
            superpixels (Tensor): (B, H, W) long labels.

        Returns:
            Tensor | dict[str, Tensor]: (B, C, H, W) logits averaged over
            windows (per key when ``encode_decode`` returns a dict).
        """
        if superpixels is None:
            raise ValueError(
                f'CASTEncoderDecoder.slide_inference {MISSING_SUPERPIXELS}')
        h_stride, w_stride = self.test_cfg['stride']
        h_crop, w_crop = self.test_cfg['crop_size']
        batch_size, _, h_img, w_img = inputs.size()
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds: Dict[str, Tensor] = {}
        count_mat = inputs.new_zeros((batch_size, 1, h_img, w_img))
        is_dict = False
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y1 = h_idx * h_stride
                x1 = w_idx * w_stride
                y2 = min(y1 + h_crop, h_img)
                x2 = min(x1 + w_crop, w_img)
                y1 = max(y2 - h_crop, 0)
                x1 = max(x2 - w_crop, 0)
                crop_img = inputs[:, :, y1:y2, x1:x2]
                crop_sp = torch.stack([relabel_consecutive(m)
                                       for m in superpixels[:, y1:y2, x1:x2]])
                # a torch.Size img_shape tells predict_by_feat it is a window
                batch_img_metas[0]['img_shape'] = crop_img.shape[2:]
                crop_logits = self.encode_decode(crop_img, batch_img_metas,
                                                 crop_sp)
                is_dict = isinstance(crop_logits, dict)
                if not is_dict:
                    crop_logits = {'': crop_logits}
                for key, logit in crop_logits.items():
                    if key not in preds:
                        preds[key] = inputs.new_zeros(
                            (batch_size, logit.shape[1], h_img, w_img))
                    preds[key] += F.pad(logit,
                                        (int(x1), int(w_img - x2), int(y1),
                                         int(h_img - y2)))
                count_mat[:, :, y1:y2, x1:x2] += 1
        assert (count_mat == 0).sum() == 0
        preds = {key: pred / count_mat for key, pred in preds.items()}
        return preds if is_dict else preds['']

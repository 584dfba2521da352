"""Data preprocessor that pads hierarchical label maps and superpixels."""
from typing import Any, Dict, List

import torch.nn.functional as F
from mmengine.structures import PixelData

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..utils import pad_superpixels


@MODELS.register_module()
class CASTSegDataPreProcessor(SegDataPreProcessor):
    """:class:`SegDataPreProcessor` that also pads superpixels and the maps
    of every hierarchy level.

    MMSeg's ``stack_batch`` pads only ``gt_sem_seg``, ``gt_edge_map`` and
    ``gt_depth_map``. After the parent has normalized, padded and stacked the
    images, this class pads, on the bottom/right like the images:

    - in training, every ``gt_seg_{level}`` :obj:`PixelData` with
      ``seg_pad_val`` (255, ignored by the losses);
    - in training and testing, ``superpixels`` with one fresh label per image
      (``max + 1``): the padded area is one extra superpixel, so labels stay
      0..S-1 and no real superpixel spreads into the padding. At test time
      without ``test_cfg`` padding the images are not padded and neither
      are the superpixels (same as the parent).

    Ground-truth maps are not padded at test time (the parent does not pad
    ``gt_sem_seg`` either: metrics compare them at the original size). In
    training, a ``pad_shape`` left as None by ``stack_batch`` (no
    ``gt_sem_seg``) is set to the padded image size.

    Args:
        See :class:`mmseg.models.SegDataPreProcessor`; none are added.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalize, pad and stack images (parent), then pad the extra maps.

        Args:
            data (dict): Data from the data loader: ``inputs`` (list of
                (3, H_i, W_i) tensors) and ``data_samples``.
            training (bool): Whether this is a training step.

        Returns:
            dict: ``inputs`` (B, 3, H, W) and ``data_samples`` whose
            ``superpixels`` (and, in training, ``gt_seg_{level}``) are
            (1, H, W).
        """
        data = super().forward(data, training)
        data_samples = data['data_samples']
        if data_samples is not None:
            height, width = data['inputs'].shape[-2:]
            self.pad_data_samples(data_samples, height, width, training)
        return data

    def pad_data_samples(self, data_samples: List[SegDataSample], height: int,
                         width: int, training: bool) -> None:
        """Pad the maps the parent leaves alone, in place, to (H, W)."""
        for data_sample in data_samples:
            if 'superpixels' in data_sample:
                data_sample.superpixels = PixelData(
                    data=pad_superpixels(data_sample.superpixels.data, height,
                                         width),
                    metainfo=data_sample.superpixels.metainfo)
            if not training:
                continue
            for key in list(data_sample.keys()):
                if not key.startswith('gt_seg_'):
                    continue
                seg = getattr(data_sample, key).data
                pad_h, pad_w = height - seg.shape[-2], width - seg.shape[-1]
                if pad_h < 0 or pad_w < 0:
                    raise ValueError(
                        f'{key} of shape {tuple(seg.shape[-2:])} is larger '
                        f'than the padded image ({height}, {width}); the '
                        'geometric transforms must move every level map '
                        "(list it in results['seg_fields'])")
                setattr(
                    data_sample, key,
                    PixelData(
                        data=F.pad(seg, (0, pad_w, 0, pad_h),
                                   value=self.seg_pad_val),
                        metainfo=getattr(data_sample, key).metainfo))
            if data_sample.metainfo.get('pad_shape') is None:
                data_sample.set_metainfo(dict(pad_shape=(height, width)))

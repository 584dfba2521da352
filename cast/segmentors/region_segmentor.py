"""CAST's unsupervised region hierarchy as a model's predictions, for MMEngine's test loop."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.registry import MODELS

from ..utils import stack_superpixels


@MODELS.register_module()
class CASTRegionSegmentor(BaseModel):
    """Predicts CAST's nested regions, no classes: for each image ``pred_regions`` (L, H, W),
    the superpixels the backbone sees, then each stage's clusters (``forward_hierarchy``).

    The one computation of CAST's regions: :func:`~cast.apis.init_region_model` builds it from
    any config with a CAST backbone (with the model's own data preprocessor), and
    :func:`~cast.apis.add_region_hierarchy` from a segmentor's backbone and data preprocessor.
    ``tools/eval_unsupervised.py`` runs it in MMEngine's test loop with
    :class:`~cast.evaluation.UnsupervisedRegionMetric`; it holds no head and does not train.

    Args:
        backbone (dict | nn.Module): A CAST backbone config, or a built backbone.
        data_preprocessor (dict | nn.Module, optional): Normalizes the images (e.g.
            :class:`~cast.segmentors.CASTSegDataPreProcessor`, which also pads superpixels, or
            MMPretrain's). Defaults to None.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self, backbone: Union[dict, nn.Module],
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = backbone if isinstance(backbone, nn.Module) else MODELS.build(backbone)
        if not hasattr(self.backbone, 'forward_hierarchy'):
            raise TypeError(f'{type(self.backbone).__name__} has no forward_hierarchy(): a CAST '
                            'backbone is needed')

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """'tensor': (L, B, H, W) region ids on the (padded) inputs; 'predict': the samples with
        ``pred_regions`` (L, H, W) cut to each ``img_shape``."""
        if mode == 'loss':
            raise RuntimeError('CASTRegionSegmentor predicts unsupervised regions; it has no loss')
        superpixels = stack_superpixels(data_samples, inputs, pad=False)
        with torch.no_grad():
            levels: List[Tensor] = self.backbone.forward_hierarchy(inputs, superpixels)
        if mode == 'tensor':
            return torch.stack(levels)
        if mode != 'predict':
            raise ValueError(f"mode must be 'tensor' or 'predict', got {mode!r}")
        for i, sample in enumerate(data_samples):
            h, w = sample.metainfo.get('img_shape', inputs.shape[-2:])[:2]
            sample.pred_regions = PixelData(data=torch.stack([lv[i, :h, :w] for lv in levels]))
        return data_samples

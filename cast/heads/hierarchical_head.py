"""One decode head per hierarchy level (object, part, subpart, ...)."""
import copy
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptMultiConfig, SampleList

PerLevel = Union[Mapping[str, object], Sequence[object]]


def per_level(value: PerLevel, levels: Sequence[str], name: str) -> list:
    """Read a per-level setting given as a dict keyed by level or a sequence
    ordered like ``levels``; return a list ordered like ``levels``."""
    if isinstance(value, Mapping):
        missing = [level for level in levels if level not in value]
        extra = [key for key in value if key not in levels]
        if missing or extra:
            raise ValueError(f'{name} must have one entry per level '
                             f'{tuple(levels)}; missing {missing}, unknown '
                             f'{extra}')
        return [value[level] for level in levels]
    if isinstance(value, (list, tuple)):
        if len(value) != len(levels):
            raise ValueError(f'{name} has {len(value)} entries for '
                             f'{len(levels)} levels {tuple(levels)}')
        return list(value)
    raise TypeError(f'{name} must be a dict keyed by level or a sequence, '
                    f'got {type(value).__name__}')


@MODELS.register_module()
class HierarchicalDecodeHead(BaseModule):
    """Decode every level of a class hierarchy, one decode head per level.

    Each level (coarse to fine, e.g. ``('object', 'part', 'subpart')``) gets
    its own MMSeg decode head built from ``decode_head``: a single config is a
    template whose ``num_classes`` is set per level; a dict keyed by level or
    a list gives each level its own config. All levels read the same backbone
    features. The choice of head is the config's: ``UPerHead`` per level is
    the faithful, heavy choice (its PPM and FPN are repeated per level);
    ``SegformerHead`` or ``FPNHead`` per level are lighter. The class is a
    container (not a :class:`BaseDecodeHead`), so it owns no unused
    classifier of its own and every parameter gets a gradient under DDP.

    Training (``loss``) sums, over levels, ``loss_weights[level]`` times each
    sub-head's own ``loss_by_feat`` against ``gt_seg_{level}`` (so the loss
    type, ``ignore_index`` (255 by default) and sampler are the sub-head's).
    Loss keys get the level as suffix: ``loss_ce_object``,
    ``acc_seg_object``, ...

    The attributes :class:`EncoderDecoder` reads (``num_classes``,
    ``out_channels``, ``align_corners``, ``threshold``) are those of the
    ``main_level`` head.

    Args:
        levels (Sequence[str]): Level names, coarse to fine.
        num_classes (dict | Sequence[int]): Classes per level (background
            included), keyed by level or ordered like ``levels``.
        decode_head (dict | Sequence[dict]): Head config used as a template
            for every level (its ``num_classes`` is overwritten), or one
            config per level (dict keyed by level, or list).
        loss_weights (dict | Sequence[float], optional): Weight of each
            level's loss. Defaults to 1.0 for every level.
        main_level (str, optional): Level reported as ``pred_sem_seg``.
            Defaults to the first (coarsest) level.
        init_cfg (dict, optional): Initialization config. Defaults to None
            (each sub-head initializes itself).
    """

    def __init__(self,
                 levels: Sequence[str],
                 num_classes: PerLevel,
                 decode_head: Union[ConfigType, PerLevel],
                 loss_weights: Optional[PerLevel] = None,
                 main_level: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(levels, str) or not levels:
            raise ValueError('levels must be a non-empty sequence of level '
                             f'names, got {levels!r}')
        if len(set(levels)) != len(levels):
            raise ValueError(f'levels must be unique, got {levels!r}')
        self.levels = tuple(levels)
        self.main_level = self.levels[0] if main_level is None else main_level
        if self.main_level not in self.levels:
            raise ValueError(f'main_level {self.main_level!r} is not one of '
                             f'the levels {self.levels}')
        classes = per_level(num_classes, self.levels, 'num_classes')
        for level, n in zip(self.levels, classes):
            if not isinstance(n, int) or n < 2:
                raise ValueError(
                    f'num_classes[{level!r}] must be an int >= 2 (background '
                    f'included), got {n!r}')
        self.level_num_classes = dict(zip(self.levels, classes))
        weights = [1.0] * len(self.levels) if loss_weights is None else \
            per_level(loss_weights, self.levels, 'loss_weights')
        self.loss_weights = dict(zip(self.levels, map(float, weights)))

        if isinstance(decode_head, Mapping) and 'type' in decode_head:
            head_cfgs = [copy.deepcopy(decode_head) for _ in self.levels]
        else:
            head_cfgs = [
                copy.deepcopy(cfg)
                for cfg in per_level(decode_head, self.levels, 'decode_head')
            ]
        self.heads = nn.ModuleDict()
        for level, cfg in zip(self.levels, head_cfgs):
            cfg['num_classes'] = self.level_num_classes[level]
            head = MODELS.build(cfg)
            if not isinstance(head, BaseDecodeHead):
                raise TypeError(f'decode_head for level {level!r} must build '
                                'an MMSeg BaseDecodeHead, got '
                                f'{type(head).__name__}')
            if head.out_channels != head.num_classes:
                raise ValueError(f'decode_head for level {level!r}: binary '
                                 '(out_channels=1) heads are not supported')
            self.heads[level] = head

        main = self.heads[self.main_level]
        self.num_classes = main.num_classes
        self.out_channels = main.out_channels
        self.align_corners = main.align_corners
        self.threshold = None

    def forward(self, inputs: Tuple[Tensor]) -> Dict[str, Tensor]:
        """Logits of every level.

        Args:
            inputs (tuple[Tensor]): Multi-scale features (B, C_i, H_i, W_i).

        Returns:
            dict[str, Tensor]: level -> (B, num_classes[level], h, w) logits
            at the sub-head's output resolution.
        """
        return {level: self.heads[level](inputs) for level in self.levels}

    def loss(self, inputs: Tuple[Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Forward, then :meth:`loss_by_feat`."""
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    def loss_by_feat(self, seg_logits: Dict[str, Tensor],
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Weighted per-level losses against ``gt_seg_{level}``.

        Args:
            seg_logits (dict[str, Tensor]): level -> (B, C_l, h, w) logits.
            batch_data_samples (list[:obj:`SegDataSample`]): Samples with a
                ``gt_seg_{level}`` PixelData (1, H, W) for every level.

        Returns:
            dict[str, Tensor]: ``{name}_{level}`` for each sub-head loss
            (scaled by the level weight) and accuracy.
        """
        losses = dict()
        for level in self.levels:
            key = f'gt_seg_{level}'
            missing = [
                i for i, sample in enumerate(batch_data_samples)
                if key not in sample
            ]
            if missing:
                raise KeyError(
                    f'HierarchicalDecodeHead needs {key!r} in every data '
                    f'sample (data samples {missing} have none); the dataset '
                    f'pipeline must load and pack the {level!r} level map')
            level_samples = [
                SegDataSample(gt_sem_seg=sample.get(key))
                for sample in batch_data_samples
            ]
            level_losses = self.heads[level].loss_by_feat(
                seg_logits[level], level_samples)
            for name, value in level_losses.items():
                if 'loss' in name:
                    value = value * self.loss_weights[level]
                losses[f'{name}_{level}'] = value
        return losses

    def predict(self, inputs: Tuple[Tensor], batch_img_metas: List[dict],
                test_cfg: ConfigType) -> Dict[str, Tensor]:
        """Logits of every level resized to the input size.

        Returns:
            dict[str, Tensor]: level -> (B, C_l, H, W) logits.
        """
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    def predict_by_feat(self, seg_logits: Dict[str, Tensor],
                        batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Resize every level's logits as its sub-head does."""
        return {
            level: self.heads[level].predict_by_feat(seg_logits[level],
                                                     batch_img_metas)
            for level in self.levels
        }

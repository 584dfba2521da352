"""Decode heads for every hierarchy level (object, part, subpart, ...): one per level, or one
shared trunk with a classifier per level."""
import copy
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
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
    """Decode every level of a class hierarchy: one decode head per level, or one shared trunk.

    Levels are ordered coarse to fine (e.g. ``('object', 'part', 'subpart')``); all read the
    same backbone features.

    - ``shared=False`` (default): each level gets its own MMSeg decode head built from
      ``decode_head``: a single config is a template whose ``num_classes`` is set per level; a
      dict keyed by level or a list gives each level its own config. ``UPerHead`` per level is
      the faithful, heavy choice (its PPM and FPN are repeated per level); ``SegformerHead``
      or ``FPNHead`` per level are lighter.
    - ``shared=True``: ONE decode head built from the ``decode_head`` template (the trunk: e.g.
      UperNet's PPM + FPN once) whose own classifier is replaced by one 1x1 conv per level
      (``classifiers[level]``: trunk channels -> N_l, after the trunk's dropout).

    The class is a container (not a :class:`BaseDecodeHead`), so it owns no unused classifier
    and every parameter gets a gradient under DDP.

    Training (``loss``) sums, over levels, ``loss_weights[level]`` times the level's own loss
    (the sub-head's ``loss_by_feat``, or the trunk's for every level: its ``loss_decode``,
    ``ignore_index`` (255 by default) and sampler, which must not depend on the class count)
    against ``gt_seg_{level}``; keys get the level as suffix (``loss_ce_object``,
    ``acc_seg_object``, ...). With ``hierarchy_loss`` (e.g.
    ``dict(type='ChainLikelihoodLoss')``, :class:`~cast.losses.ChainLikelihoodLoss`) a
    hierarchy-aware loss over all levels' logits (resized to the labels once, for it and the
    level losses) is added under its ``loss_name``; it needs ``self.class_hierarchy``, which
    :class:`HierarchicalEncoderDecoder` sets from ``dataset_meta`` before every loss. To train
    with it alone, set every ``loss_weights`` entry to 0 (the level losses are then skipped;
    their accuracies are still logged).

    With ``embedding_loss`` (e.g. ``dict(type='TreeTripletLoss')``,
    :class:`~cast.losses.TreeTripletLoss`, HSSN's) the head also projects the main head's last
    input feature map to an L2-normalised embedding (HSSN's 'convmlp' projection: 1x1 conv, norm,
    ReLU, 1x1 conv to ``embedding_channels``), in training only, and adds that loss, given the
    iterations so far (the ``step`` buffer, counted by :meth:`loss`).

    The attributes :class:`EncoderDecoder` reads (``num_classes``, ``out_channels``,
    ``align_corners``, ``threshold``) are those of the ``main_level``.

    Args:
        levels (Sequence[str]): Level names, coarse to fine.
        num_classes (dict | Sequence[int]): Classes per level (background included), keyed
            by level or ordered like ``levels``.
        decode_head (dict | Sequence[dict]): Head config used as a template for every level
            (its ``num_classes`` is overwritten), or one config per level (dict keyed by level,
            or list; not with ``shared``).
        loss_weights (dict | Sequence[float], optional): Weight of each level's loss.
            Defaults to 1.0 for every level.
        main_level (str, optional): Level reported as ``pred_sem_seg``. Defaults to the
            first (coarsest) level.
        shared (bool): One trunk with a 1x1 classifier per level. Defaults to False.
        hierarchy_loss (dict, optional): Config of a loss over all levels taking
            ``(logits list, labels list, ClassHierarchy)``. Defaults to None.
        embedding_loss (dict, optional): Config of a loss taking ``(embedding (B, D, h, w),
            labels list, ClassHierarchy, step)``. Defaults to None.
        embedding_channels (int): D of the embedding. Defaults to 256 (HSSN's).
        embedding_in_index (int, optional): Which input feature map the embedding projects
            (HSSN: its backbone's last, at stride 8). Defaults to the main head's last input.
        init_cfg (dict, optional): Initialization config. Defaults to None (each sub-head
            initializes itself; the per-level classifiers of ``shared`` as MMSeg's
            ``conv_seg``: normal, std 0.01).
    """

    def __init__(self,
                 levels: Sequence[str],
                 num_classes: PerLevel,
                 decode_head: Union[ConfigType, PerLevel],
                 loss_weights: Optional[PerLevel] = None,
                 main_level: Optional[str] = None,
                 shared: bool = False,
                 hierarchy_loss: Optional[ConfigType] = None,
                 embedding_loss: Optional[ConfigType] = None,
                 embedding_channels: int = 256,
                 embedding_in_index: Optional[int] = None,
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

        template = isinstance(decode_head, Mapping) and 'type' in decode_head
        self.shared = bool(shared)
        if self.shared:
            if not template:
                raise ValueError('shared=True takes one decode_head config (the trunk), not '
                                 'one per level')
            cfg = copy.deepcopy(decode_head)
            cfg['num_classes'] = self.level_num_classes[self.main_level]
            self.trunk = self._build(cfg, 'the shared trunk')
            self.trunk.conv_seg = nn.Identity()  # its forward now ends in features
            self.classifiers = nn.ModuleDict({
                level: nn.Conv2d(self.trunk.channels, n, kernel_size=1)
                for level, n in self.level_num_classes.items()})
            for conv in self.classifiers.values():
                nn.init.normal_(conv.weight, std=0.01)
                nn.init.zeros_(conv.bias)
            main = self.trunk
        else:
            head_cfgs = [copy.deepcopy(decode_head) for _ in self.levels] if template else [
                copy.deepcopy(cfg) for cfg in per_level(decode_head, self.levels, 'decode_head')]
            self.heads = nn.ModuleDict()
            for level, cfg in zip(self.levels, head_cfgs):
                cfg['num_classes'] = self.level_num_classes[level]
                self.heads[level] = self._build(cfg, f'level {level!r}')
            main = self.heads[self.main_level]
        self.hierarchy_loss = None if hierarchy_loss is None else MODELS.build(hierarchy_loss)
        self.embedding_loss = None
        if embedding_loss is not None:
            self.embedding_loss = MODELS.build(embedding_loss)
            in_index = main.in_index if isinstance(main.in_index, (list, tuple)) else [
                main.in_index]
            in_channels = main.in_channels if isinstance(main.in_channels, (list, tuple)) \
                else [main.in_channels]
            pick = len(in_index) - 1 if embedding_in_index is None else embedding_in_index
            if pick not in range(-len(in_index), len(in_index)):
                raise ValueError(f'embedding_in_index={embedding_in_index} picks none of the '
                                 f'{len(in_index)} inputs of the decode head')
            self.embedding_index, in_channels = in_index[pick], in_channels[pick]
            self.embedding = nn.Sequential(
                nn.Conv2d(in_channels, in_channels, kernel_size=1),
                build_norm_layer(main.norm_cfg or dict(type='BN'), in_channels)[1],
                nn.ReLU(inplace=True), nn.Conv2d(in_channels, embedding_channels, kernel_size=1))
            self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self.class_hierarchy = None  # set by the segmentor for hierarchy_loss
        self.num_classes = self.level_num_classes[self.main_level]
        self.out_channels = self.num_classes
        self.align_corners = main.align_corners
        self.threshold = None

    @staticmethod
    def _build(cfg: dict, what: str) -> BaseDecodeHead:
        head = MODELS.build(cfg)
        if not isinstance(head, BaseDecodeHead):
            raise TypeError(f'decode_head for {what} must build an MMSeg BaseDecodeHead, got '
                            f'{type(head).__name__}')
        if head.out_channels != head.num_classes:
            raise ValueError(f'decode_head for {what}: binary (out_channels=1) heads are not '
                             'supported')
        return head

    @property
    def needs_hierarchy(self) -> bool:
        """Whether the losses need ``self.class_hierarchy``."""
        return self.hierarchy_loss is not None or self.embedding_loss is not None

    def level_head(self, level: str) -> BaseDecodeHead:
        """The MMSeg head that computes ``level``'s loss and resizing (the trunk if shared)."""
        return self.trunk if self.shared else self.heads[level]

    def classifier(self, level: str) -> nn.Conv2d:
        """The final 1x1 conv producing ``level``'s logits."""
        return self.classifiers[level] if self.shared else self.heads[level].conv_seg

    def forward(self, inputs: Tuple[Tensor]) -> Dict[str, Tensor]:
        """Logits of every level.

        Args:
            inputs (tuple[Tensor]): Multi-scale features (B, C_i, H_i, W_i).

        Returns:
            dict[str, Tensor]: level -> (B, N_l, h, w) logits at the head's output
            resolution.
        """
        if self.shared:
            feats = self.trunk(inputs)
            return {level: self.classifiers[level](feats) for level in self.levels}
        return {level: self.heads[level](inputs) for level in self.levels}

    def loss(self, inputs: Tuple[Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """Forward (and the embedding, with ``embedding_loss``), then :meth:`loss_by_feat`."""
        embedding = None
        if self.embedding_loss is not None:
            self.step += 1
            embedding = F.normalize(self.embedding(inputs[self.embedding_index]), p=2, dim=1)
        return self.loss_by_feat(self.forward(inputs), batch_data_samples, embedding)

    def loss_by_feat(self, seg_logits: Dict[str, Tensor], batch_data_samples: SampleList,
                     embedding: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Weighted per-level losses against ``gt_seg_{level}``, and the hierarchy loss.

        Args:
            seg_logits (dict[str, Tensor]): level -> (B, N_l, h, w) logits.
            batch_data_samples (list[:obj:`SegDataSample`]): Samples with a
                ``gt_seg_{level}`` PixelData (1, H, W) for every level.
            embedding (Tensor, optional): (B, D, h, w) normalised, for ``embedding_loss``.

        Returns:
            dict[str, Tensor]: ``{name}_{level}`` for each level loss (scaled by the level
            weight) and accuracy; with ``hierarchy_loss`` its ``loss_name`` and
            ``{loss_name}_dropped`` (fraction of labelled pixels whose labels fit no chain); with
            ``embedding_loss`` its ``loss_name``.
        """
        losses = dict()
        need_labels = self.hierarchy_loss is not None or embedding is not None
        labels, resized = [], []
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
            head = self.level_head(level)
            label = (head._stack_batch_gt(level_samples)  # (B, 1, H, W)
                     if need_labels else None)
            logits = seg_logits[level]
            if self.hierarchy_loss is not None:
                # resized once for both losses: the level loss's own resize to the same size
                # is an exact copy, and one upsampling (and its backward) is saved
                logits = resize(logits, size=label.shape[2:], mode='bilinear',
                                align_corners=head.align_corners)
                resized.append(logits)
            if self.loss_weights[level] or self.hierarchy_loss is None:
                level_losses = head.loss_by_feat(logits, level_samples)
            else:  # the hierarchy loss alone: log the level's accuracy only
                level_losses = dict(acc_seg=accuracy(logits, label.squeeze(1),
                                                     ignore_index=head.ignore_index))
            for name, value in level_losses.items():
                if 'loss' in name:
                    value = value * self.loss_weights[level]
                losses[f'{name}_{level}'] = value
            if label is not None:
                labels.append(label.squeeze(1))
        if not need_labels:
            return losses
        if self.class_hierarchy is None:
            raise RuntimeError(
                'hierarchy_loss needs the class hierarchy (so does embedding_loss): '
                'HierarchicalEncoderDecoder sets it from dataset_meta (DatasetMetaHook) or '
                'model.hierarchy before each loss; set head.class_hierarchy when using the head '
                'alone')
        hierarchy = self.class_hierarchy
        if hierarchy.levels != self.levels:
            hierarchy = hierarchy.restrict(self.levels)
        if self.hierarchy_loss is not None:
            name = self.hierarchy_loss.loss_name
            losses[name], losses[f'{name}_dropped'] = self.hierarchy_loss(
                resized, labels, hierarchy)
        if embedding is not None:
            losses[self.embedding_loss.loss_name] = self.embedding_loss(
                embedding, labels, hierarchy, int(self.step))
        return losses

    def predict(self, inputs: Tuple[Tensor], batch_img_metas: List[dict],
                test_cfg: ConfigType) -> Dict[str, Tensor]:
        """Logits of every level resized to the input size.

        Returns:
            dict[str, Tensor]: level -> (B, N_l, H, W) logits.
        """
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    def predict_by_feat(self, seg_logits: Dict[str, Tensor],
                        batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Resize every level's logits as its (sub-)head does."""
        return {
            level: self.level_head(level).predict_by_feat(seg_logits[level],
                                                          batch_img_metas)
            for level in self.levels
        }

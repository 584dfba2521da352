"""CAST encoder-decoder predicting every level of a class hierarchy."""
from typing import Dict, Mapping, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.structures import PixelData
from torch import Tensor, nn

from cast.structures import ClassHierarchy
from cast.utils import restore_to_original
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList

from .cast_encoder_decoder import CASTEncoderDecoder
from .consistent_decoding import DECODINGS, decode_levels


@MODELS.register_module()
class HierarchicalEncoderDecoder(CASTEncoderDecoder):
    """CAST encoder-decoder with one prediction per hierarchy level.

    The decode head is a :class:`HierarchicalDecodeHead` (per-level losses against
    ``gt_seg_{level}``, optionally a hierarchy-aware loss over all levels). Prediction fills,
    for every level, ``seg_logits_{level}`` (N_l, H, W) and ``pred_seg_{level}`` (1, H, W), plus
    ``seg_logits`` / ``pred_sem_seg`` of the head's ``main_level``, so MMSeg's IoUMetric and
    visualizer work unchanged.

    .. code:: text

     loss(): hand the ClassHierarchy to the heads -> extract_feat() -> decode_head.loss() -> auxiliary heads
     predict(): stack_superpixels() -> inference() -> postprocess_result()
     inference(): whole_inference()/slide_inference(), each level's logits merged alike
     encode_decode(): extract_feat() -> decode_head.predict() -> {level: logits}
     postprocess_result(): per level: restore_to_original() (unpad, unflip, resize) -> decode_levels()

    ``decoding`` turns the logits into label maps (:mod:`~cast.segmentors.consistent_decoding`):
    'independent' (each level's argmax), 'greedy' (coarse to fine, each level restricted to the
    children of the class chosen above), 'joint' (per pixel the valid chain with the highest
    sum of the levels' log-probabilities, exact) or 'hssn' (HSSN's: the valid chain with the
    highest sum of raw logits). The consistent decodings predict only valid
    chains (background ends a chain; a class the hierarchy places under background is never
    predicted, a warning names it), so SpCS and SeCS are 100 by construction. The stored
    ``seg_logits_{level}`` stay the raw logits.

    The hierarchy (:class:`~cast.structures.ClassHierarchy`) comes from the ``hierarchy``
    argument, else from ``self.dataset_meta`` (set by ``DatasetMetaHook`` or
    ``mmseg.apis.init_model`` from a checkpoint's meta), else from the loaded weights (the
    ``hierarchy_{level}`` buffers); it is built once per ``dataset_meta``.

    Args:
        backbone (dict): Backbone config; takes ``(inputs, superpixels)``.
        decode_head (dict): :class:`HierarchicalDecodeHead` config.
        decoding (str): 'independent', 'greedy', 'joint' or 'hssn'. Defaults to 'independent'.
        hierarchy (dict, optional): child level -> parent class (or tuple of parent classes) per
            child class, taking precedence over ``dataset_meta``. Defaults to None.
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
                 decoding: str = 'independent',
                 hierarchy: Optional[Mapping[str, Sequence]] = None,
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
        self.decoding = decoding
        self.hierarchy = None if hierarchy is None else ClassHierarchy(
            self.levels, hierarchy, num_classes=self.decode_head.level_num_classes,
            source='model.hierarchy')
        self._hierarchy_of = (None, None)  # (dataset_meta, its ClassHierarchy)
        self._saved_of = (None, None)  # (state of the buffers, their ClassHierarchy)
        # The hierarchy also travels with the weights, as one (N_c, N_p) bool relation buffer
        # per child level (all False: not known yet), so that whatever loads them can decode
        # consistently: MMSeg's inferencer keeps only classes and palette of a checkpoint's meta.
        for child, parent in zip(self.levels[1:], self.levels):
            n_c, n_p = (self.decode_head.level_num_classes[lv] for lv in (child, parent))
            self.register_buffer(f'hierarchy_{child}', torch.zeros(n_c, n_p, dtype=torch.bool))

    @property
    def dataset_meta(self) -> Optional[dict]:
        """The metainfo of the data (``DatasetMetaHook``, ``init_model``); setting one with a
        hierarchy also stores the hierarchy's relations in the ``hierarchy_{level}`` buffers."""
        return self.__dict__.get('_dataset_meta')

    @dataset_meta.setter
    def dataset_meta(self, meta: Optional[dict]) -> None:
        self.__dict__['_dataset_meta'] = meta
        if meta and (meta.get('level_parents') or meta.get('hierarchy')):
            try:
                hierarchy = ClassHierarchy.from_meta(
                    meta, levels=self.levels, num_classes=self.decode_head.level_num_classes)
            except (KeyError, ValueError):
                return  # class_hierarchy() raises it where a hierarchy is needed
            for child in self.levels[1:]:
                getattr(self, f'hierarchy_{child}').copy_(hierarchy.relation(child))

    def _saved_hierarchy(self) -> Optional[ClassHierarchy]:
        """The hierarchy of the ``hierarchy_{level}`` buffers, None while they are empty."""
        buffers = [getattr(self, f'hierarchy_{child}') for child in self.levels[1:]]
        key = tuple((b.data_ptr(), b._version) for b in buffers)  # loading bumps the version
        if self._saved_of[0] != key:  # built once per loaded state, not per batch
            relations = {child: b.cpu() for child, b in zip(self.levels[1:], buffers)}
            hierarchy = None
            if all(r.any() for r in relations.values()):
                parents = {child: [tuple(row.nonzero().flatten().tolist()) or (0, )
                                   for row in rel] for child, rel in relations.items()}
                hierarchy = ClassHierarchy(
                    self.levels, parents, num_classes=self.decode_head.level_num_classes,
                    source='the hierarchy_{level} buffers of the checkpoint')
            self._saved_of = (key, hierarchy)
        return self._saved_of[1]

    @property
    def decoding(self) -> str:
        """'independent', 'greedy' or 'joint'."""
        return self._decoding

    @decoding.setter
    def decoding(self, value: str) -> None:
        if value not in DECODINGS:
            raise ValueError(f'decoding must be one of {DECODINGS}, got {value!r}')
        self._decoding = value

    def class_hierarchy(self, purpose: str = 'this model') -> ClassHierarchy:
        """The validated :class:`ClassHierarchy` of the model's levels.

        Raises:
            KeyError: neither a ``hierarchy`` argument nor ``dataset_meta`` with one.
        """
        if self.hierarchy is not None:
            return self.hierarchy
        meta = self.dataset_meta or {}
        if self._hierarchy_of[0] is meta:
            return self._hierarchy_of[1]
        if not (meta.get('level_parents') or meta.get('hierarchy')):
            saved = self._saved_hierarchy()
            if saved is not None:
                return saved
            raise KeyError(
                f'{purpose} needs the class hierarchy: pass model.hierarchy in the config '
                "(dataset_meta['hierarchy']), set model.dataset_meta with a 'hierarchy' or "
                "'level_parents' entry (DatasetMetaHook does it from the dataset), or load a "
                'checkpoint trained with one')
        hierarchy = ClassHierarchy.from_meta(
            meta, levels=self.levels, num_classes=self.decode_head.level_num_classes)
        for child in hierarchy.levels[1:]:
            orphans = hierarchy.orphans(child)
            if orphans:
                print_log(f'{child} classes {orphans} have only background as parent (e.g. '
                          'classes absent from the data the hierarchy was derived from); '
                          'consistent decoding never predicts them', logger='current',
                          level=30)
        self._hierarchy_of = (meta, hierarchy)
        return hierarchy

    def attach_hierarchy(self) -> None:
        """Hand the class hierarchy to the decode and auxiliary heads whose losses need it
        (``loss`` does it before every loss; call it when computing a head's loss directly)."""
        heads = [self.decode_head]
        if self.with_auxiliary_head:
            aux = self.auxiliary_head
            heads += list(aux) if isinstance(aux, nn.ModuleList) else [aux]
        for head in heads:
            if getattr(head, 'needs_hierarchy', False):
                head.class_hierarchy = self.class_hierarchy(
                    f'{type(head).__name__}.hierarchy_loss')

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Hand the hierarchy to the heads whose losses need it, then MMSeg's loss()."""
        self.attach_hierarchy()
        return super().loss(inputs, data_samples)

    def decode_levels(self, level_logits: Dict[str, Tensor]
                      ) -> Dict[str, Tensor]:
        """Label maps from logits, as ``self.decoding`` says.

        Args:
            level_logits (dict[str, Tensor]): level -> (N_l, H, W) logits.

        Returns:
            dict[str, Tensor]: level -> (H, W) long predictions.
        """
        logits = [level_logits[level] for level in self.levels]
        hierarchy = None if self.decoding == 'independent' else self.class_hierarchy(
            f'decoding={self.decoding!r}')
        return dict(zip(self.levels, decode_levels(logits, self.decoding, hierarchy)))

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
        metas = [data_sample.metainfo for data_sample in data_samples]
        restored = {level: restore_to_original(seg_logits[level], metas, 'bilinear',
                                               self.align_corners) for level in self.levels}
        for i, data_sample in enumerate(data_samples):
            level_logits = {level: restored[level][i] for level in self.levels}
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

"""CAST's region hierarchy of images, for any config with a CAST backbone.

One computation: :class:`~cast.segmentors.CASTRegionSegmentor` (the model's own data
preprocessor, then the backbone's ``forward_hierarchy`` on the images and their superpixels).
:func:`init_region_model` builds it from a config and a checkpoint as ``init_model`` builds a
segmentor; :class:`HierarchyPredictor` runs it on raw images (``tools/visualize_hierarchy.py``),
``tools/eval_unsupervised.py`` in MMEngine's test loop, and :func:`add_region_hierarchy` over a
segmentor's own backbone and data preprocessor (``inference_model(..., with_hierarchy=True)``,
:class:`~cast.apis.HierarchicalInferencer`, ``demo/image_demo.py --with-hierarchy``).

Configs: the segmentation configs of ``configs/cast/`` (scope mmseg, MMSeg's
``SegDataPreProcessor``) and the recognition configs (scope mmpretrain, MMPretrain's
``ClsDataPreprocessor`` / ``SelfSupDataPreprocessor``). Checkpoints: any that
:func:`~cast.backbones.checkpoint_converter.convert_cast_checkpoint` reads (ours, with the
backbone under ``backbone.``; official CAST checkpoints of MoCo v3, DeiT or Segmenter; their
converted form).

Shape shorthand: B images, L levels (superpixels, then one per stage), H x W an image.
"""
import copy
import warnings
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import PixelData
from mmengine.utils import import_modules_from_strings

from mmseg.structures import SegDataSample

from ..backbones.checkpoint_converter import convert_cast_checkpoint
from ..engine import load_cast_checkpoint
from ..segmentors import CASTRegionSegmentor
from ..utils import init_weights_quietly, restore_to_original, superpixels_from_config
from ..visualization.hierarchical_visualizer import HIERARCHY_FIELD


def _strip_init(model_cfg: dict) -> dict:
    """Drop checkpoint loading from a model config (the caller loads)."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.pop('init_cfg', None)
    model_cfg.pop('pretrained', None)
    backbone = model_cfg.get('backbone')
    if not isinstance(backbone, dict):
        raise KeyError('the config\'s model has no "backbone" dict: a CAST backbone is needed')
    backbone.pop('init_cfg', None)
    backbone.pop('pretrained', None)
    return model_cfg


def init_region_model(config: Union[str, Path, Config],
                      checkpoint: Optional[str] = None,
                      device: Optional[str] = None,
                      cfg_options: Optional[dict] = None,
                      seed: int = 0) -> CASTRegionSegmentor:
    """Build the region model of a config with a CAST backbone, as ``init_model`` builds a
    segmentor: the config's model is built, its backbone loaded, and the backbone and the
    model's own data preprocessor kept.

    Args:
        config (str | Path | Config): Config file or object (its ``custom_imports`` are
            imported).
        checkpoint (str, optional): Checkpoint file (see the module docstring); None for the
            config's own initialisation (``init_weights`` after seeding with ``seed``). A
            checkpoint holding the other position embedding (learned / sin-cos) than the
            config switches the backbone's ``pos_embed_type``, with a warning.
        device (str, optional): 'cpu', 'cuda:0', ...; None takes CUDA when available.
        cfg_options (dict, optional): Merged into the config.
        seed (int): Seed of the initialisation without a checkpoint. Defaults to 0.

    Returns:
        CASTRegionSegmentor: In eval mode, with ``cfg`` (the config) and ``load_report``
        (``missing`` / ``unexpected`` keys and the checkpoint's ``pos_embed_type``).

    Raises:
        KeyError: The config's model has no backbone, or the checkpoint does not fit it.
        TypeError: The backbone is not CAST (no ``forward_hierarchy``).
    """
    cfg = Config.fromfile(str(config)) if isinstance(config, (str, Path)) else \
        copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    import cast.recognition  # noqa: F401  (MMPretrain registrations)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = _strip_init(cfg.model)
    if cfg.get('data_preprocessor') is not None:  # MMPretrain's runner does the same
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)

    state_dict, report = None, dict(missing=[], unexpected=[])
    if checkpoint is not None:
        state_dict, conversion = convert_cast_checkpoint(load_cast_checkpoint(checkpoint))
        report['pos_embed_type'] = conversion['pos_embed_type']
        model = MODELS.build(model_cfg)
        wanted = conversion['pos_embed_type']
        if model.backbone.pos_embed_type != wanted:
            warnings.warn(f'{checkpoint} holds a {wanted!r} position embedding; building the '
                          f'backbone with pos_embed_type={wanted!r} instead of the config\'s '
                          f'{model.backbone.pos_embed_type!r}')
            model_cfg['backbone']['pos_embed_type'] = wanted
            model = MODELS.build(model_cfg)
    else:
        torch.manual_seed(seed)  # before building: some layers draw their weights then
        model = MODELS.build(model_cfg)
        init_weights_quietly(model)
    regions = CASTRegionSegmentor(model.backbone, data_preprocessor=model.data_preprocessor)
    if state_dict is not None:
        result = regions.backbone.load_state_dict(state_dict, strict=False)
        missing = [k for k in result.missing_keys if not k.endswith('num_batches_tracked')]
        if missing or result.unexpected_keys:
            raise KeyError(f'{checkpoint} does not fit the backbone of the config: missing '
                           f'{missing[:8]}, unexpected {result.unexpected_keys[:8]} (check '
                           'arch and num_layers)')
        report.update(missing=missing, unexpected=list(result.unexpected_keys))
    regions.cfg = cfg
    regions.load_report = report
    device = device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    return regions.to(device).eval()


class HierarchyPredictor:
    """CAST's nested regions of raw images: :func:`init_region_model` and the config's
    ``Superpixels`` transform.

    Args:
        config (str | Config): Model config.
        checkpoint (str): Checkpoint file, or 'random' for the config's own initialisation
            (``init_weights`` with ``seed``).
        device (str): Torch device. Defaults to 'cpu'.
        cfg_options (dict, optional): Merged into the config.
        superpixel_options (dict, optional): Superpixels arguments that override the config's
            (e.g. ``num_superpixels``).
        seed (int): Seed of the random initialisation. Defaults to 0.

    Attributes:
        model (CASTRegionSegmentor): From :func:`init_region_model` (``cfg``, ``load_report``).
        backbone (CAST): The model's backbone, in eval mode.
        superpixels (Superpixels): The superpixel transform.
    """

    def __init__(self,
                 config: Union[str, Config],
                 checkpoint: str,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 superpixel_options: Optional[dict] = None,
                 seed: int = 0):
        self.model = init_region_model(config, None if checkpoint == 'random' else checkpoint,
                                       device, cfg_options, seed)
        self.superpixels = superpixels_from_config(self.model.cfg, **(superpixel_options or {}))

    @property
    def backbone(self):
        return self.model.backbone

    @property
    def load_report(self) -> dict:
        return self.model.load_report

    @torch.no_grad()
    def __call__(self, img: np.ndarray,
                 superpixels: Optional[np.ndarray] = None) -> List[np.ndarray]:
        """Nested regions of one image, fine to coarse.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image (as mmcv loads it).
            superpixels (np.ndarray, optional): (H, W) labels; computed with
                :attr:`superpixels` when None.

        Returns:
            list[np.ndarray]: L (H, W) int64 maps: the superpixels the model sees, then each
            stage's clusters.
        """
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'expected an (H, W, 3) BGR image, got shape {img.shape}')
        if superpixels is None:
            superpixels = self.superpixels.compute(img)
        sample = SegDataSample(metainfo=dict(img_shape=img.shape[:2], ori_shape=img.shape[:2]))
        sample.superpixels = PixelData(
            data=torch.from_numpy(np.asarray(superpixels, np.int64))[None])
        # a (1, 3, H, W) batch, as default_collate stacks PackSegInputs' images: every data
        # preprocessor takes it (MMPretrain's SelfSupDataPreprocessor takes no list)
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]
        sample, = self.model.test_step(dict(inputs=inputs, data_samples=[sample]))
        return [level.cpu().numpy() for level in sample.pred_regions.data]


def add_region_hierarchy(model, batch: dict, samples: List[SegDataSample]) -> None:
    """Store CAST's nested regions of a batch in each sample's ``region_hierarchy``.

    Args:
        model (nn.Module): A segmentor with a CAST backbone (``forward_hierarchy``); its
            backbone and data preprocessor make a :class:`CASTRegionSegmentor`.
        batch (dict): The collated batch ``model.test_step`` took (``inputs``,
            ``data_samples`` with ``superpixels``).
        samples (list[SegDataSample]): Its results; each gets a (L, H, W) long PixelData of
            region ids at ``ori_shape`` (:func:`~cast.utils.restore_to_original`, nearest),
            fine to coarse.
    """
    regions = CASTRegionSegmentor(model.backbone, data_preprocessor=model.data_preprocessor)
    data = regions.data_preprocessor(batch, False)
    levels = regions(**data, mode='tensor')  # (L, B, H, W)
    metas = [sample.metainfo for sample in data['data_samples']]
    for sample, maps in zip(samples, restore_to_original(levels.transpose(0, 1), metas,
                                                         'nearest')):
        sample.set_data({HIERARCHY_FIELD: PixelData(data=maps.cpu())})

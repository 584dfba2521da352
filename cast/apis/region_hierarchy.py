"""CAST's region hierarchy from a config and a checkpoint, for the tools.

Works with any config whose model has a CAST ``backbone`` (the segmentation
configs of ``configs/cast/`` with scope mmseg, the recognition configs with
scope mmpretrain) and with any checkpoint that
:func:`~cast.backbones.checkpoint_converter.convert_cast_checkpoint` reads: our
training checkpoints (backbone under ``backbone.``), official CAST
checkpoints (MoCo v3, DeiT, Segmenter) or their converted form.
"""
import copy
import logging
import warnings
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import MODELS, init_default_scope
from mmengine.utils import import_modules_from_strings
from torch import Tensor

from cast.backbones.checkpoint_converter import convert_cast_checkpoint
from cast.datasets.transforms import Superpixels
from cast.engine import load_cast_checkpoint

#: Pipeline keys searched (in order) for the config's Superpixels settings.
PIPELINE_SOURCES = ('test_dataloader', 'val_dataloader', 'train_dataloader')
DEFAULT_MEAN = (123.675, 116.28, 103.53)
DEFAULT_STD = (58.395, 57.12, 57.375)


def find_transform(node, type_name: str) -> Optional[dict]:
    """The first ``dict(type=type_name, ...)`` nested anywhere in ``node``."""
    if isinstance(node, dict):
        if node.get('type') == type_name:
            return dict(node)
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = find_transform(child, type_name)
        if found is not None:
            return found
    return None


def superpixels_from_config(cfg: Config, **overrides) -> Superpixels:
    """The config's ``Superpixels`` transform (test, val, then train
    pipeline; defaults when none), with ``overrides`` applied.

    Args:
        cfg (Config): a model config.
        **overrides: Superpixels arguments that win (None values are
            ignored), e.g. ``num_superpixels=196``.

    Returns:
        Superpixels: the transform.
    """
    args = {}
    for key in PIPELINE_SOURCES:
        found = find_transform(cfg.get(key), 'Superpixels')
        if found is not None:
            found.pop('type')
            args = found
            break
    args.update({k: v for k, v in overrides.items() if v is not None})
    if args.get('num_superpixels') is not None:
        args.pop('area_per_superpixel', None)
    return Superpixels(**args)


def _strip_init(model_cfg: dict) -> dict:
    """Drop checkpoint loading from a model config (the caller loads)."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.pop('init_cfg', None)
    model_cfg.pop('pretrained', None)
    backbone = model_cfg.get('backbone')
    if not isinstance(backbone, dict):
        raise KeyError('the config\'s model has no "backbone" dict: a CAST '
                       'backbone is needed')
    backbone.pop('init_cfg', None)
    backbone.pop('pretrained', None)
    return model_cfg


class HierarchyPredictor:
    """CAST's nested regions for raw images.

    Builds the config's model, loads the backbone weights, and runs
    :meth:`CAST.forward_hierarchy` on images normalised as the config's data
    preprocessor does, with superpixels from the config's ``Superpixels``.

    Args:
        config (str | Config): model config.
        checkpoint (str): checkpoint path, or 'random' for the config's own
            initialisation (``init_weights`` with ``seed``).
        device (str): torch device. Defaults to 'cpu'.
        cfg_options (dict, optional): merged into the config.
        superpixel_options (dict, optional): Superpixels arguments that
            override the config's (e.g. ``num_superpixels``).
        seed (int): seed of the random initialisation. Defaults to 0.

    Attributes:
        backbone (CAST): the model's backbone, in eval mode.
        superpixels (Superpixels): the superpixel transform.
        load_report (dict): ``missing``/``unexpected`` keys and the source
            ``pos_embed_type`` of the checkpoint.
    """

    def __init__(self,
                 config: Union[str, Config],
                 checkpoint: str,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 superpixel_options: Optional[dict] = None,
                 seed: int = 0):
        cfg = Config.fromfile(config) if isinstance(config, str) else \
            copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        if cfg.get('custom_imports'):
            import_modules_from_strings(**cfg.custom_imports)
        import cast.recognition  # noqa: F401  (MMPretrain registrations)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        self.cfg = cfg
        model_cfg = _strip_init(cfg.model)
        if cfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)

        state_dict, report = None, dict(missing=[], unexpected=[])
        if checkpoint != 'random':
            state_dict, conversion = convert_cast_checkpoint(
                load_cast_checkpoint(checkpoint))
            report['pos_embed_type'] = conversion['pos_embed_type']
            model = MODELS.build(model_cfg)
            wanted = conversion['pos_embed_type']
            if model.backbone.pos_embed_type != wanted:
                warnings.warn(
                    f'{checkpoint} holds a {wanted!r} position embedding; '
                    f'building the backbone with pos_embed_type={wanted!r} '
                    f'instead of the config\'s '
                    f'{model.backbone.pos_embed_type!r}')
                model_cfg['backbone']['pos_embed_type'] = wanted
                model = MODELS.build(model_cfg)
        else:
            torch.manual_seed(seed)  # before building: some layers draw their weights then
            model = MODELS.build(model_cfg)
            logger = MMLogger.get_current_instance()
            level = logger.level
            logger.setLevel(logging.WARNING)  # no per-parameter init report
            try:
                model.init_weights()
            finally:
                logger.setLevel(level)
        backbone = model.backbone
        if not hasattr(backbone, 'forward_hierarchy'):
            raise TypeError(f'the backbone {type(backbone).__name__} has no '
                            'forward_hierarchy(): a CAST backbone is needed')
        if state_dict is not None:
            result = backbone.load_state_dict(state_dict, strict=False)
            missing = [k for k in result.missing_keys
                       if not k.endswith('num_batches_tracked')]
            if missing or result.unexpected_keys:
                raise KeyError(
                    f'{checkpoint} does not fit the backbone of the config: '
                    f'missing {missing[:8]}, unexpected '
                    f'{result.unexpected_keys[:8]} (check arch and '
                    'num_layers)')
            report.update(missing=missing,
                          unexpected=list(result.unexpected_keys))
        self.load_report = report
        self.backbone = backbone.to(device).eval()
        self.device = device
        self.mean, self.std, self.to_rgb = self._normalization(model)
        self.superpixels = superpixels_from_config(
            cfg, **(superpixel_options or {}))

    @staticmethod
    def _normalization(model) -> Tuple[Tensor, Tensor, bool]:
        """Mean, std (3,) and the BGR->RGB flag of the model's preprocessor."""
        dp = getattr(model, 'data_preprocessor', None)
        mean = getattr(dp, 'mean', None)
        std = getattr(dp, 'std', None)
        # on the CPU, where preprocess() normalises before moving the image
        mean = torch.tensor(DEFAULT_MEAN, device='cpu') if mean is None else \
            mean.detach().reshape(-1).cpu().float()
        std = torch.tensor(DEFAULT_STD, device='cpu') if std is None else \
            std.detach().reshape(-1).cpu().float()
        to_rgb = True
        for name in ('channel_conversion', '_channel_conversion', 'to_rgb'):
            if hasattr(dp, name):
                to_rgb = bool(getattr(dp, name))
                break
        return mean, std, to_rgb

    def preprocess(self, img: np.ndarray) -> Tensor:
        """(H, W, 3) uint8 BGR image -> (1, 3, H, W) normalised tensor."""
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'expected an (H, W, 3) BGR image, got shape '
                             f'{img.shape}')
        x = torch.from_numpy(np.ascontiguousarray(img)).float()
        if self.to_rgb:
            x = x.flip(-1)
        x = (x - self.mean) / self.std
        return x.permute(2, 0, 1)[None].contiguous().to(self.device)

    @torch.no_grad()
    def __call__(self, img: np.ndarray,
                 superpixels: Optional[np.ndarray] = None) -> List[np.ndarray]:
        """Nested regions of one image, fine to coarse.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.
            superpixels (np.ndarray, optional): (H, W) labels; computed with
                :attr:`superpixels` when None.

        Returns:
            list[np.ndarray]: ``num_stages + 1`` (H, W) int64 maps: the
            superpixels the model sees, then each stage's clusters.
        """
        if superpixels is None:
            superpixels = self.superpixels.compute(img)
        sp = torch.from_numpy(np.asarray(superpixels, np.int64))[None]
        levels = self.backbone.forward_hierarchy(self.preprocess(img),
                                                 sp.to(self.device))
        return [level[0].cpu().numpy() for level in levels]

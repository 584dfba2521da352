"""Inference in one call, as ``mmseg.apis`` does it, for every segmentation config we ship.

:func:`init_model` and :func:`inference_model` take the same arguments as MMSeg's and differ in
what a hierarchical model needs: the checkpoint's whole ``dataset_meta`` (levels, per-level
classes and palettes, the class hierarchy that consistent decoding reads) is kept, the test
pipeline is the config's with every annotation loader dropped (the ``Superpixels`` transform
stays, so superpixels are computed exactly as in testing), and SyncBN is turned back into BN
off CUDA. A hierarchical model's result holds ``pred_seg_{level}`` for every level.
"""
import copy
import time
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmseg.registry import MODELS, VISUALIZERS
from mmseg.structures import SegDataSample

from .region_hierarchy import add_region_hierarchy

#: Pipeline steps that read labels; inference on a bare image drops them.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadHierarchicalAnnotations', 'LoadDepthAnnotation')
ImageType = Union[str, np.ndarray, Sequence[str], Sequence[np.ndarray]]


def inference_pipeline_config(cfg: Config) -> List[dict]:
    """The config's test pipeline (``test_dataloader.dataset.pipeline``, else
    ``test_pipeline``) without its annotation loaders.

    Raises:
        KeyError: the config has neither, or its pipeline does not start by loading the image.
    """
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    pipeline = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise KeyError('the config has no test pipeline (test_dataloader.dataset.pipeline or '
                       'test_pipeline): inference runs the images through it')
    pipeline = [copy.deepcopy(dict(t)) for t in pipeline if t.get('type') not in ANNOTATION_LOADERS]
    if pipeline[0].get('type') not in ('LoadImageFromFile', 'LoadImageFromNDArray'):
        raise KeyError(f"the test pipeline starts with {pipeline[0].get('type')!r}, not "
                       'LoadImageFromFile: inference needs to load the image first')
    return pipeline


def fallback_dataset_meta(model) -> dict:
    """Numbered class names when a checkpoint carries no ``dataset_meta`` (e.g. no checkpoint):
    ``{level}_0 ...`` per level of a hierarchical model, ``class_0 ...`` otherwise."""
    levels = getattr(model, 'levels', None)
    if levels:
        counts = model.decode_head.level_num_classes
        level_classes = {lv: [f'{lv}_{k}' for k in range(counts[lv])] for lv in levels}
        main = model.main_level
        return dict(levels=tuple(levels), level_classes=level_classes, main_level=main,
                    classes=level_classes[main])
    return dict(classes=[f'class_{k}' for k in range(model.decode_head.num_classes)])


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: Optional[str] = None,
               cfg_options: Optional[dict] = None):
    """Build a segmentor from a config and load a checkpoint, as ``mmseg.apis.init_model``.

    Args:
        config (str | Path | Config): Config file or object (its ``custom_imports`` are
            imported, so ``cast`` registers itself).
        checkpoint (str, optional): Checkpoint file; None keeps the initial weights.
        device (str, optional): 'cpu', 'cuda:0', ...; None takes CUDA when available.
        cfg_options (dict, optional): Merged into the config.

    Returns:
        nn.Module: The segmentor in eval mode, with ``cfg`` (its test pipeline without
        annotation loaders in ``cfg.test_pipeline``) and ``dataset_meta`` (the checkpoint's,
        every key kept; numbered class names without one).

    Raises:
        TypeError: the config's model is not a segmentor (e.g. a recognition config: use
            :class:`~cast.apis.HierarchyPredictor` for CAST's regions).
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a file name or a Config, got {type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    config.model.pretrained = None
    config.model.train_cfg = None
    if isinstance(config.model.get('backbone'), dict):
        config.model.backbone.init_cfg = None  # the checkpoint holds the backbone
    init_default_scope(config.get('default_scope', 'mmseg'))
    model = MODELS.build(config.model)
    if not hasattr(model, 'decode_head'):
        raise TypeError(f'{type(model).__name__} is not a segmentor (no decode_head); '
                        'cast.apis.init_model builds segmentation configs. For the region '
                        'hierarchy of a recognition CAST use cast.apis.HierarchyPredictor')
    meta = None
    if checkpoint is not None:
        meta = load_checkpoint(model, checkpoint, map_location='cpu').get('meta', {})
        meta = meta.get('dataset_meta')
    if meta is None:
        if checkpoint is not None:
            warnings.warn(f'{checkpoint} holds no dataset_meta: classes are numbered')
        meta = fallback_dataset_meta(model)
    model.dataset_meta = meta
    config.test_pipeline = inference_pipeline_config(config)
    model.cfg = config
    device = device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    if not str(device).startswith('cuda'):
        model = revert_sync_batchnorm(model)
    return model.to(device).eval()


def build_test_pipeline(model, image_type: type = str) -> Compose:
    """The model's test pipeline for images given as file names or (H, W, 3) BGR arrays."""
    pipeline = copy.deepcopy(model.cfg.get('test_pipeline') or inference_pipeline_config(model.cfg))
    pipeline = [t for t in pipeline if t.get('type') not in ANNOTATION_LOADERS]
    pipeline[0] = dict(pipeline[0], type='LoadImageFromNDArray'
                       if issubclass(image_type, np.ndarray) else 'LoadImageFromFile')
    return Compose(pipeline)


def inference_model(model, img: ImageType, with_hierarchy: bool = False
                    ) -> Union[SegDataSample, List[SegDataSample]]:
    """Segment image(s) with a model from :func:`init_model`.

    Args:
        model (nn.Module): The segmentor.
        img (str | np.ndarray | Sequence): An image file or an (H, W, 3) BGR array, or a list
            of them.
        with_hierarchy (bool): Also store CAST's nested regions, (L, H, W) fine to coarse, in
            each result's ``region_hierarchy`` (see :func:`~cast.apis.add_region_hierarchy`).
            Defaults to False.

    Returns:
        SegDataSample | list[SegDataSample]: One per image (a list for a list), predictions at
        the image's size: ``pred_sem_seg`` (1, H, W) of the main level and, for hierarchical
        models, ``pred_seg_{level}`` (1, H, W) and ``seg_logits_{level}`` (N_l, H, W) per level.
    """
    is_batch = isinstance(img, (list, tuple))
    imgs = list(img) if is_batch else [img]
    if not imgs:
        return []
    pipeline = build_test_pipeline(model, type(imgs[0]))
    items = [pipeline(dict(img=x) if isinstance(x, np.ndarray) else dict(img_path=str(x)))
             for x in imgs]
    results = []
    with torch.no_grad():
        for item in items:  # one at a time: images of a list may differ in size
            batch = pseudo_collate([item])
            results += model.test_step(batch)
            if with_hierarchy:
                add_region_hierarchy(model, batch, results[-1:])
    return results if is_batch else results[0]


def show_result(model,
                img: Union[str, np.ndarray],
                result: SegDataSample,
                opacity: float = 0.6,
                title: str = '',
                draw_gt: bool = True,
                draw_pred: bool = True,
                wait_time: float = 0,
                show: bool = False,
                out_file: Optional[str] = None) -> np.ndarray:
    """Draw a result as ``mmseg.apis.show_result_pyplot`` does, every level of a hierarchical
    model (and CAST's regions when the result holds them) in one picture.

    Args:
        model (nn.Module): The segmentor (its ``dataset_meta`` names the classes).
        img (str | np.ndarray): The image file, or the (H, W, 3) BGR array segmented.
        result (SegDataSample): From :func:`inference_model`.
        opacity (float): Opacity of the colours. Defaults to 0.6.
        title (str): Title bar of the picture (and window name). Defaults to ''.
        draw_gt (bool): Draw the ground truth the sample holds. Defaults to True.
        draw_pred (bool): Draw the predictions. Defaults to True.
        wait_time (float): Display time with ``show``. Defaults to 0.
        show (bool): Display the picture in a window. Defaults to False.
        out_file (str, optional): Write the picture there. Defaults to None.

    Returns:
        np.ndarray: The (H', W', 3) RGB picture.
    """
    model = getattr(model, 'module', model)
    image = mmcv.imread(img, channel_order='rgb') if isinstance(img, str) else \
        np.ascontiguousarray(np.asarray(img)[..., ::-1])
    visualizer = VISUALIZERS.build(dict(type='HierarchicalSegVisualizer', alpha=opacity,
                                        name=f'show_result{time.time()}'))
    visualizer.dataset_meta = dict(model.dataset_meta)
    visualizer.add_datasample(title, image, result, draw_gt=draw_gt, draw_pred=draw_pred,
                              show=show, wait_time=wait_time, out_file=out_file)
    return visualizer.get_image()

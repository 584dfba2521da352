"""Test-time adaptation in one call: build a recognition CAST from a config and a checkpoint,
then adapt it to each image of a file, a folder or a dataset split, writing a picture per image
(:func:`~cast.visualization.adaptation.adaptation_picture`) and returning JSON-ready results.
``tools/adapt.py`` is this module on the command line; :class:`~cast.recognition.TestTimeAdapter`
does the adapting.
"""
import copy
import os
import os.path as osp
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import collect_results, get_dist_info
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, set_random_seed
from mmengine.utils import ProgressBar, import_modules_from_strings
from mmpretrain.registry import DATASETS, MODELS

from ..utils import init_weights_quietly
from ..visualization.adaptation import adaptation_picture

#: Model types test-time adaptation takes.
RECOGNITION_MODELS = ('CASTImageClassifier', 'ImageClassifier', 'CASTMoCoV3')
#: Suffixes of the image files a folder input is searched for.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: The dataset splits an input may name.
SPLITS = ('train', 'val', 'test')


def init_recognition_model(config: Union[str, Path, Config],
                           checkpoint: Optional[str] = None,
                           device: Optional[str] = None,
                           cfg_options: Optional[dict] = None,
                           seed: int = 0):
    """Build a recognition model (classifier with its head, or MoCo v3) and load a checkpoint.

    Args:
        config (str | Path | Config): A recognition config (scope mmpretrain).
        checkpoint (str, optional): Checkpoint of that config (keys ``backbone.``, ``head.``,
            ...); None for the config's initialisation after seeding with ``seed``.
        device (str, optional): 'cpu', 'cuda:0', ...; None takes CUDA when available.
        cfg_options (dict, optional): Merged into the config.
        seed (int): Seed of the initialisation without a checkpoint. Defaults to 0.

    Returns:
        nn.Module: In eval mode, with ``cfg`` and ``dataset_meta`` (``classes`` from the
        checkpoint's meta, else numbered).

    Raises:
        TypeError: The config's model is not a recognition model (e.g. a segmentor).
    """
    name = str(config) if isinstance(config, (str, Path)) else (config.filename or 'config')
    cfg = Config.fromfile(str(config)) if isinstance(config, (str, Path)) else \
        copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_type = cfg.get('model', {}).get('type')
    if model_type not in RECOGNITION_MODELS or (model_type != 'CASTMoCoV3'
                                                and not cfg.model.get('head')):
        raise TypeError(f'{name}: test-time adaptation needs a recognition model, '
                        f'{" or ".join(RECOGNITION_MODELS)} with a head (a CAST classifier or '
                        f'MoCo v3 config), but its model is {model_type!r}'
                        f'{"" if cfg.model.get("head") else " without a head"}')
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope('mmpretrain')
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pop('init_cfg', None)  # the checkpoint (or init_weights) gives weights
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    meta = {}
    if checkpoint is None:
        init_weights_quietly(model)
    else:
        loaded = load_checkpoint(model, checkpoint, map_location='cpu',
                                 logger=MMLogger.get_current_instance())
        meta = dict(loaded.get('meta', {}).get('dataset_meta') or {})
    if not meta.get('classes') and getattr(model, 'head', None) is not None \
            and hasattr(model.head, 'num_classes'):
        meta['classes'] = [f'class_{k}' for k in range(model.head.num_classes)]
    model.dataset_meta = meta
    model.cfg = cfg
    device = device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    if not str(device).startswith('cuda'):
        model = revert_sync_batchnorm(model)
    return model.to(device).eval()


def load_image(path: str) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 BGR array.

    Raises:
        ValueError: ``path`` cannot be decoded as an image.
    """
    try:
        img = mmcv.imread(path, backend='cv2')
    except Exception as error:  # mmcv raises assorted errors for undecodable bytes
        raise ValueError(f'{path} is not an image file that can be read: {error}') from error
    if img is None or img.ndim != 3:
        raise ValueError(f'{path} is not an image file that can be read (expected a colour '
                         f'image: {", ".join(IMAGE_SUFFIXES)})')
    return img


def list_inputs(input: str, cfg: Optional[Config] = None) -> List[Tuple[str, Optional[int]]]:
    """The images an input names, with their ground-truth class when known.

    Args:
        input (str): An image file, a folder (searched recursively for image suffixes), or a
            dataset split of ``cfg`` ('train', 'val', 'test': its ``{split}_dataloader``).
        cfg (Config, optional): The config, for splits.

    Returns:
        list[tuple[str, int | None]]: (image path, class index or None), sorted.

    Raises:
        FileNotFoundError: ``input`` is neither, or a folder holds no image.
    """
    if osp.isfile(input):
        return [(input, None)]
    if osp.isdir(input):
        found = sorted(osp.join(root, f) for root, _, files in os.walk(input) for f in files
                       if f.lower().endswith(IMAGE_SUFFIXES))
        if not found:
            raise FileNotFoundError(f'{input} holds no image file ({", ".join(IMAGE_SUFFIXES)})')
        return [(path, None) for path in found]
    if cfg is not None and input in SPLITS and cfg.get(f'{input}_dataloader'):
        init_default_scope('mmpretrain')
        dataset_cfg = copy.deepcopy(cfg.get(f'{input}_dataloader').dataset)
        dataset_cfg.pipeline = []
        dataset = DATASETS.build(dataset_cfg)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        return [(info['img_path'], int(info['gt_label']) if 'gt_label' in info else None)
                for info in infos]
    raise FileNotFoundError(f'{input} is not an image file, a folder, or a dataset split of the '
                            f'config ({", ".join(SPLITS)} with a {{split}}_dataloader)')


def _titles(objective: Sequence[float]) -> List[str]:
    steps = len(objective)
    titles = ['before']
    for i, loss in enumerate(objective, 1):
        when = f'after (step {i})' if i == steps else f'step {i}'
        titles.append(f'{when}: loss {loss:.4f}')
    return titles


def adapt_images(adapter,
                 images: Sequence[Tuple[str, Optional[int]]],
                 out_dir: Optional[str] = None,
                 seed: Optional[int] = 0,
                 progress: bool = True,
                 draw_every: int = 1) -> Optional[List[dict]]:
    """Adapt to every image; each process of a distributed run takes every world_size-th one.

    Args:
        adapter (TestTimeAdapter): The adapter.
        images (Sequence[tuple[str, int | None]]): (path, class or None), e.g. from
            :func:`list_inputs`.
        out_dir (str, optional): Folder receiving one picture per image
            (``{index:05d}_{name}.png``); None draws none.
        seed (int, optional): Image i's views are drawn after seeding with ``seed + i``, so
            results do not depend on the number of processes. None: no seeding.
        progress (bool): Show a progress bar (on rank 0). Defaults to True.
        draw_every (int): Pictures show before, every ``draw_every``-th step and the last
            step. Defaults to 1 (every step).

    Returns:
        list[dict] | None: On rank 0, per image in input order: ``image``, ``gt_label``,
        ``topk_before`` / ``topk_after`` (lists of ``[index, name, score]``, classifiers
        only), ``objective`` (per step), ``picture``; None on the other ranks.
    """
    if draw_every < 1:
        raise ValueError(f'draw_every must be at least 1, got {draw_every}')
    rank, world_size = get_dist_info()
    share = list(range(rank, len(images), world_size))
    per_rank = -(-len(images) // world_size)
    bar = ProgressBar(len(share)) if progress and rank == 0 else None
    results = []
    for index in share:
        path, gt_label = images[index]
        img = load_image(path)
        if seed is not None:
            set_random_seed(seed + index)
        out = adapter.adapt(img)
        records = out['records']
        result = dict(image=path, gt_label=gt_label, objective=out['objective'], picture=None)
        if 'topk' in records[0]:
            result.update(topk_before=[list(t) for t in records[0]['topk']],
                          topk_after=[list(t) for t in records[-1]['topk']])
        if out_dir is not None:
            name = f'{index:05d}_{osp.splitext(osp.basename(path))[0]}.png'
            steps = len(records) - 1
            rows = [i for i in range(steps + 1) if i % draw_every == 0 or i == steps]
            titles = _titles(out['objective'])
            picture = adaptation_picture(mmcv.bgr2rgb(out['test_image']),
                                         [records[i] for i in rows], [titles[i] for i in rows])
            result['picture'] = osp.join(out_dir, name)
            mmcv.imwrite(mmcv.rgb2bgr(picture), result['picture'])
        results.append(result)
        if bar is not None:
            bar.update()
    results += [None] * (per_rank - len(results))  # equal parts: collect_results interleaves
    if world_size == 1:
        return results[:len(images)]
    return collect_results(results, len(images), device='cpu')

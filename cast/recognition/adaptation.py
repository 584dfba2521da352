"""Test-time adaptation of a recognition CAST to one image: its segments and its recognition
change together ("Learning Hierarchical Image Segmentation For Recognition and By Recognition",
Ke, Mo, Yu, ICLR 2024, https://arxiv.org/abs/2210.00314).

:class:`TestTimeAdapter` is a small registered class (MMPretrain's ``MODELS``) that wraps a built
model, as MMEngine's model wrappers do, rather than a loop: it owns what a loop does not (the
optimizer wrapper, the snapshot that restores the weights, the views) and is called per image
from a tool, a notebook or a test loop alike. ``docs/adaptation.md`` gives the protocol.

Shape shorthand: V views, K classes, D embedding size, L levels (superpixels, then one per
stage), H x W an image or view.
"""
import copy
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from mmpretrain.models import ImageClassifier, MoCoV3
from mmpretrain.registry import MODELS, TRANSFORMS
from torch import Tensor

from ..utils import stack_superpixels
from ..utils.config import find_transform

#: Objectives: 'memo' for classifiers, 'cosine' for MoCo v3 models.
OBJECTIVES = ('memo', 'cosine')
#: Parameter sets that adapt.
PARAM_SETS = ('all', 'backbone', 'norm')
#: Transforms dropped from a config's pipelines (the adapter loads and packs itself).
_OWN_STEPS = ('LoadImageFromFile', 'PackInputs')
_PACK = dict(type='PackInputs', algorithm_keys=['superpixels'])


def _steps(pipeline: Sequence[dict]) -> List[dict]:
    return [copy.deepcopy(dict(t)) for t in pipeline if t.get('type') not in _OWN_STEPS]


def _pipeline_of(cfg: Config, loader: str) -> Optional[list]:
    node = cfg.get(loader)
    if not node or not node.get('dataset'):
        return None
    return node['dataset'].get('pipeline')


def adaptation_pipelines(cfg: Config,
                         superpixels: bool = True) -> Tuple[List[List[dict]], List[dict]]:
    """The views' pipelines and the test view's pipeline of a recognition config.

    The views are the config's training augmentations: each view of ``SuperpixelMultiView``
    (MoCo v3), or the training pipeline (DeiT), with ``Superpixels`` where the config puts it
    (after the view's crop and flip). The test view is the test (or val) pipeline; a config
    without one (MoCo v3) gets a short-side resize and centre crop to the views' crop size.

    Args:
        cfg (Config): A recognition config (scope mmpretrain).
        superpixels (bool): Whether the model reads superpixels (CAST), so that every
            pipeline must compute them. Defaults to True.

    Returns:
        tuple[list[list[dict]], list[dict]]: View pipelines (used in turn for the V views) and
        the test pipeline, each without loading and ending with ``PackInputs``.

    Raises:
        KeyError: The config has no training pipeline, or (``superpixels``) a pipeline has no
            ``Superpixels``.
    """
    train = _pipeline_of(cfg, 'train_dataloader')
    if not train:
        raise KeyError(f'{cfg.filename}: no train_dataloader.dataset.pipeline; the views of '
                       'test-time adaptation are the training augmentations')
    multi = find_transform(train, 'SuperpixelMultiView')
    views = [_steps(p) for p in multi['transforms']] if multi else [_steps(train)]
    test = _pipeline_of(cfg, 'test_dataloader') or _pipeline_of(cfg, 'val_dataloader')
    if test:
        test = _steps(test)
    else:
        crop = find_transform(views[0], 'RandomResizedCrop')
        size = crop['scale'] if crop else 224
        test = [dict(type='ResizeEdge', scale=size, edge='short', backend='pillow',
                     interpolation='bicubic'),
                dict(type='CenterCrop', crop_size=size)]
        if superpixels:
            test.append(find_transform(views[0], 'Superpixels') or dict(type='Superpixels'))
    for name, pipeline in [('view', v) for v in views] + [('test', test)]:
        if superpixels and find_transform(pipeline, 'Superpixels') is None:
            raise KeyError(f'{cfg.filename}: the {name} pipeline has no Superpixels transform '
                           f'(CAST needs superpixels): {[t["type"] for t in pipeline]}')
    return [v + [_PACK] for v in views], test + [_PACK]


def marginal_entropy(logits: Tensor) -> Tensor:
    """MEMO's objective: the entropy of the views' averaged softmax.

    Args:
        logits (Tensor): (V, K) class scores of V views of one image.

    Returns:
        Tensor: () entropy in nats.
    """
    log_probs = logits.float().log_softmax(-1)
    log_mean = torch.logsumexp(log_probs, 0) - math.log(logits.shape[0])  # (K, )
    return -(log_mean.exp() * log_mean).sum()


def cross_view_cosine(queries: Tensor, keys: Tensor) -> Tensor:
    """Negative-free agreement of views: ``2 - 2 cos(q_v, k_w)`` averaged over pairs v != w.

    Args:
        queries (Tensor): (V, D) predictor outputs of the online encoder.
        keys (Tensor): (V, D) projections of the momentum encoder (no gradient).

    Returns:
        Tensor: () loss in [0, 4].
    """
    num = queries.shape[0]
    if num < 2:
        raise ValueError('the cosine objective needs at least 2 views')
    sim = F.normalize(queries.float(), dim=-1) @ F.normalize(keys.float(), dim=-1).t()
    off = ~torch.eye(num, dtype=torch.bool, device=sim.device)
    return 2 - 2 * sim[off].mean()


@MODELS.register_module()
class TestTimeAdapter:
    """Adapts a recognition CAST to each image with N steps on V augmented views, recording
    the prediction and the region hierarchy of the un-augmented test view before and after
    every step; the weights are restored afterwards unless ``online``.

    Objectives: 'memo', MEMO's marginal entropy (Zhang, Levine, Finn, NeurIPS 2022,
    https://arxiv.org/abs/2110.09506) for classifiers; 'cosine', for MoCo v3 models, the
    predictor output of each view pulled towards the momentum encoder's projection of every
    other view (negative-free, as BYOL; the momentum encoder is not updated, a fixed target).

    ::

     adapt(img): test = test_pipeline(img)
                 record(test)                            # before
                 for step in 1..N:
                     views = V x view_pipeline(img)      # crop, flip, ..., Superpixels
                     loss = objective(views); optim_wrapper.update_params(loss)
                     record(test)                        # after the step
                 restore the snapshot (episodic)

    The model stays in eval mode (dropout, stochastic depth off; BatchNorm of the conv stem and
    of MoCo's projector uses and keeps its running statistics). Parameters with
    ``requires_grad=False`` (the classifier's last graph pooling) stay frozen whatever
    ``params`` selects.

    Args:
        model (nn.Module): A built :class:`~cast.recognition.CASTImageClassifier` (or any
            MMPretrain ``ImageClassifier`` with a head: with another backbone, such as a ViT
            baseline, it adapts the same way and records no hierarchy) or
            :class:`~cast.recognition.CASTMoCoV3` (CAST backbone), with its data preprocessor,
            on its device.
        view_pipelines (list[list[dict]]): Pipelines of the views, used in turn
            (:func:`adaptation_pipelines`); each ends with ``Superpixels`` and ``PackInputs``.
        test_pipeline (list[dict]): Pipeline of the test view.
        objective (str, optional): 'memo' or 'cosine'. Defaults to the model's: 'memo' for a
            classifier, 'cosine' for MoCo v3.
        params (str): What adapts: 'all', 'backbone', or 'norm' (LayerNorm / BatchNorm affine
            parameters). Defaults to 'all' (MEMO's).
        steps (int): Optimisation steps N per image. Defaults to 1 (MEMO's).
        num_views (int): Views V per step. Defaults to 16.
        optim_wrapper (dict): MMEngine optimizer wrapper config; ``AmpOptimWrapper`` for mixed
            precision on CUDA. Defaults to AdamW, lr 1e-5, weight decay 0.01 (MEMO's for ViTs).
        online (bool): Keep adapting across images (no restore; one optimizer). Defaults to
            False (episodic).
        topk (int): Classes recorded per prediction. Defaults to 5.
        classes (Sequence[str], optional): Class names for the records.
    """

    def __init__(self,
                 model: nn.Module,
                 view_pipelines: List[List[dict]],
                 test_pipeline: List[dict],
                 objective: Optional[str] = None,
                 params: str = 'all',
                 steps: int = 1,
                 num_views: int = 16,
                 optim_wrapper: dict = dict(
                     type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.01)),
                 online: bool = False,
                 topk: int = 5,
                 classes: Optional[Sequence[str]] = None):
        self.is_classifier = isinstance(model, ImageClassifier)
        if self.is_classifier and not model.with_head:
            raise TypeError(f'{type(model).__name__} has no head: test-time adaptation needs '
                            'a classifier with a head or a MoCo v3 model')
        if not self.is_classifier and not isinstance(model, MoCoV3):
            raise TypeError(f'test-time adaptation needs a recognition model (CASTImageClassifier'
                            f' or CASTMoCoV3), got {type(model).__name__}')
        # A backbone without a hierarchy (a ViT baseline) adapts the same way, with no regions.
        self.has_hierarchy = hasattr(model.backbone, 'forward_hierarchy')
        if not self.has_hierarchy and not self.is_classifier:
            raise TypeError(f'{type(model.backbone).__name__} is not CAST (no '
                            'forward_hierarchy): a MoCo v3 model needs a CAST backbone')
        objective = objective or ('memo' if self.is_classifier else 'cosine')
        if objective not in OBJECTIVES:
            raise ValueError(f'objective must be one of {OBJECTIVES}, got {objective!r}')
        if (objective == 'memo') != self.is_classifier:
            raise ValueError(f'objective {objective!r} does not fit {type(model).__name__}: '
                             "'memo' is for classifiers, 'cosine' for MoCo v3 models")
        if params not in PARAM_SETS:
            raise ValueError(f'params must be one of {PARAM_SETS}, got {params!r}')
        if steps < 0 or num_views < 1 or (objective == 'cosine' and num_views < 2):
            raise ValueError(f'need steps >= 0 and num_views >= 1 (2 for cosine), got '
                             f'{steps} and {num_views}')
        self.model = model
        self.objective_name = objective
        self.params = params
        self.steps = steps
        self.num_views = num_views
        self.optim_cfg = copy.deepcopy(optim_wrapper)
        self.online = online
        self.topk = topk
        self.classes = list(classes) if classes is not None else None
        self.view_pipelines = [Compose([TRANSFORMS.build(t) for t in p]) for p in view_pipelines]
        self.test_pipeline = Compose([TRANSFORMS.build(t) for t in test_pipeline])
        self._optim_wrapper = None
        self._initial = self.state() if online else None

    @classmethod
    def from_config(cls, model: nn.Module, cfg: Config, **kwargs) -> 'TestTimeAdapter':
        """An adapter whose views and test view follow ``cfg``'s pipelines
        (:func:`adaptation_pipelines`); ``kwargs`` as the constructor."""
        views, test = adaptation_pipelines(cfg, hasattr(model.backbone, 'forward_hierarchy'))
        return cls(model, views, test, **kwargs)

    # ------------------------------------------------------------------
    # parameters and their snapshot
    def selected_parameters(self) -> Dict[str, nn.Parameter]:
        """The parameters that adapt: ``params``' set, less frozen ones and MoCo's momentum
        encoder."""
        if self.params == 'backbone':
            named = [(f'backbone.{n}', p) for n, p in self.model.backbone.named_parameters()]
        elif self.params == 'norm':
            named = [(f'{m_name}.{n}', p) for m_name, m in self.model.named_modules()
                     if isinstance(m, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm,
                                       nn.GroupNorm))
                     for n, p in m.named_parameters(recurse=False)]
        else:
            named = list(self.model.named_parameters())
        return {n: p for n, p in named
                if p.requires_grad and not n.startswith('momentum_encoder.')}

    def state(self) -> Dict[str, Tensor]:
        """A copy of every parameter and buffer of the model."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self, state: Dict[str, Tensor]) -> None:
        """Copy ``state`` (from :meth:`state`) back into the model, bit for bit."""
        self.model.load_state_dict(state, strict=True)

    def reset(self) -> None:
        """Online mode: back to the weights the adapter started from, and a fresh optimizer."""
        if self._initial is not None:
            self.restore(self._initial)
        self._optim_wrapper = None

    def _build_optim_wrapper(self, selected: Dict[str, nn.Parameter]) -> OptimWrapper:
        cfg = copy.deepcopy(self.optim_cfg)
        cfg.setdefault('type', 'OptimWrapper')
        cfg['optimizer'] = OPTIMIZERS.build(dict(cfg['optimizer'], params=list(selected.values())))
        return OPTIM_WRAPPERS.build(cfg)

    # ------------------------------------------------------------------
    # data
    def _batch(self, results: List[dict]) -> dict:
        """Packed samples -> the model's preprocessed batch: ``inputs`` (V, 3, H, W) on the
        model's device, ``data_samples`` with superpixels."""
        return self.model.data_preprocessor(default_collate(results), False)

    def make_views(self, img: np.ndarray) -> dict:
        """V augmented views of an image (fresh random augmentations).

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.

        Returns:
            dict: The preprocessed batch of views, ``inputs`` (V, 3, h, w).
        """
        results = [self.view_pipelines[v % len(self.view_pipelines)](_results(img))
                   for v in range(self.num_views)]
        return self._batch(results)

    def make_test_view(self, img: np.ndarray) -> dict:
        """The un-augmented test view of an image (test pipeline), as a batch of one."""
        return self._batch([self.test_pipeline(_results(img))])

    # ------------------------------------------------------------------
    # objective and records
    def objective(self, batch: dict) -> Tensor:
        """The objective on a batch of views of one image (with gradient).

        Args:
            batch (dict): From :meth:`make_views`.

        Returns:
            Tensor: () loss.
        """
        inputs, samples = batch['inputs'], batch['data_samples']
        if self.objective_name == 'memo':
            return marginal_entropy(self.model(inputs, samples, mode='tensor'))
        superpixels = stack_superpixels(samples, inputs)
        model = self.model
        queries = model.head.predictor(model.neck(model.backbone(inputs, superpixels)))[0]
        with torch.no_grad():
            backbone, neck = model.momentum_encoder.module
            keys = neck(backbone(inputs, superpixels))[0]
        return cross_view_cosine(queries, keys)

    @torch.no_grad()
    def record(self, test: dict) -> dict:
        """Prediction and hierarchy of the test view.

        Args:
            test (dict): From :meth:`make_test_view`.

        Returns:
            dict: ``hierarchy``, L (h, w) int64 arrays, fine to coarse (none without a CAST
            backbone); for a classifier also ``topk``, a list of (class index, class name,
            score), best first, and ``entropy``, that of the whole softmax (nats).
        """
        inputs, samples = test['inputs'], test['data_samples']
        out = dict(hierarchy=[])
        if self.has_hierarchy:
            superpixels = stack_superpixels(samples, inputs)
            levels = self.model.backbone.forward_hierarchy(inputs, superpixels)
            out['hierarchy'] = [level[0].cpu().numpy() for level in levels]
        if self.is_classifier:
            scores = self.model(inputs, samples, mode='tensor')[0].float().softmax(-1)
            values, indices = scores.topk(min(self.topk, scores.numel()))
            out['topk'] = [(int(i), self._name(int(i)), float(v))
                           for v, i in zip(values.tolist(), indices.tolist())]
            out['entropy'] = float(-(scores * scores.clamp_min(1e-12).log()).sum())
        return out

    def _name(self, index: int) -> str:
        if self.classes is not None and index < len(self.classes):
            return str(self.classes[index])
        return str(index)

    # ------------------------------------------------------------------
    def adapt(self, img: np.ndarray) -> dict:
        """Adapt to one image, recording before and after every step.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image (as mmcv loads it).

        Returns:
            dict: ``records``, N + 1 dicts of :meth:`record` (before, after step 1, ...,
            after step N); ``objective``, N floats (step i's objective on its views, before
            its update); ``test_image``, the (h, w, 3) uint8 BGR test view.
        """
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f'expected an (H, W, 3) uint8 BGR image, got {img.dtype} '
                             f'{img.shape}')
        model = self.model
        was_training = model.training
        selected = self.selected_parameters()
        if not selected:
            raise ValueError(f'params={self.params!r} selects no trainable parameter of '
                             f'{type(model).__name__}')
        grad_flags = {p: p.requires_grad for p in model.parameters()}
        snapshot = None if self.online else self.state()
        test_results = self.test_pipeline(_results(img))
        test = self._batch([copy.deepcopy(test_results)])
        try:
            model.eval()
            chosen = {id(p) for p in selected.values()}
            for param in model.parameters():
                param.requires_grad = id(param) in chosen
            if self._optim_wrapper is None or not self.online:
                self._optim_wrapper = self._build_optim_wrapper(selected)
            optim_wrapper = self._optim_wrapper
            with optim_wrapper.optim_context(model):
                records = [self.record(test)]
            losses = []
            for _ in range(self.steps):
                views = self.make_views(img)
                with optim_wrapper.optim_context(model):
                    loss = self.objective(views)
                losses.append(float(loss.detach()))
                optim_wrapper.update_params(loss)
                with optim_wrapper.optim_context(model):
                    records.append(self.record(test))
        finally:
            for param, flag in grad_flags.items():
                param.requires_grad = flag
            if snapshot is not None:
                self.restore(snapshot)
                self._optim_wrapper = None
            model.train(was_training)
        test_img = test_results['inputs'].permute(1, 2, 0).numpy()
        return dict(records=records, objective=losses, test_image=np.ascontiguousarray(test_img))

    __call__ = adapt


def _results(img: np.ndarray) -> dict:
    """Pipeline input of a loaded image."""
    return dict(img=img.copy(), img_shape=img.shape[:2], ori_shape=img.shape[:2])

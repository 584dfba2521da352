"""Open-vocabulary names for unlabelled regions with CLIP, as the CAST paper
(https://arxiv.org/abs/2210.00314) names its regions on PartImageNet, following OVSeg
(https://arxiv.org/abs/2210.04150).

Each region becomes one masked view of the image; CLIP's image embedding of the view is
compared with the text embeddings of the class names (each name put into prompt templates,
the templates' embeddings averaged), and the region takes the closest name. Two maskings:

- ``'reference'`` (CAST's notebooks, ``notebooks/utils.py``): the whole image at CLIP's input
  size, normalised, every pixel outside the region set to ``fill`` (0.5) *after*
  normalisation; no crop.
- ``'ovseg'`` (OVSeg's ``MaskFormerClipAdapter``): the region's bounding box cropped, the
  pixels outside the region filled with CLIP's mean pixel (0 after normalisation), the crop
  resized (bicubic, aspect not kept) to CLIP's input size. OVSeg also averages ViLD's prompt
  templates (:data:`VILD_TEMPLATES`); templates are an argument either way.

Part labels can be conditioned on the object label (the reference's protocol): a part region
is named only among the parts of the object class found at that region, and a region on a
background object is background. CLIP is ``open_clip``'s model (the reference's library),
built from a config name or dict and filled from a local weights file: OpenAI's release (a
TorchScript archive or its state dict) or open_clip's file of the same model. Nothing is
downloaded; the BPE vocabulary ships with open_clip.

Shape shorthand: H, W an image's size; S CLIP's input size; R regions of one image; N names;
T templates; D CLIP's embedding size.
"""
import os.path as osp
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

from ..utils import relabel_consecutive

#: The reference's one prompt (``notebooks/utils.py``: ``'a photo of a {}'``, no full stop).
REFERENCE_TEMPLATES = ('a photo of a {}', )
#: ViLD's prompt templates, OVSeg's default ensemble at test time.
VILD_TEMPLATES = (
    'a photo of a {}.', 'This is a photo of a {}', 'There is a {} in the scene',
    'There is the {} in the scene', 'a photo of a {} in the scene', 'a photo of a small {}.',
    'a photo of a medium {}.', 'a photo of a large {}.', 'This is a photo of a small {}.',
    'This is a photo of a medium {}.', 'This is a photo of a large {}.',
    'There is a small {} in the scene.', 'There is a medium {} in the scene.',
    'There is a large {} in the scene.')
MASKINGS = ('reference', 'ovseg')
#: Keys of OpenAI's state dict that are not parameters (dropped, as open_clip does).
OPENAI_EXTRA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
#: open_clip's name of OpenAI's ViT-B/16 (QuickGELU, as OpenAI trained it).
DEFAULT_MODEL = 'ViT-B-16-quickgelu'


def read_vocabulary(path: str) -> List[str]:
    """Class names from a text file, one a line (blank lines skipped, names kept as written).

    Raises:
        FileNotFoundError / ValueError: no such file, no name, or a name given twice.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'vocabulary file {path} does not exist (expected one class '
                                'name a line)')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'vocabulary file {path} holds no class name (expected one a line)')
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f'vocabulary file {path} names {twice} more than once')
    return names


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive is a zip holding ``constants.pkl`` and ``code/``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith('/constants.pkl') or n == 'constants.pkl' for n in z.namelist())


def clip_state_dict(path: str) -> Dict[str, Tensor]:
    """CLIP's parameters from a local file, laid out as open_clip's ``CLIP`` names them.

    Reads OpenAI's release (a TorchScript archive, e.g. ``ViT-B-16.pt``, or its state dict),
    open_clip's checkpoint (``torch.save`` of a state dict, optionally under ``state_dict``
    with a ``module.`` prefix) or a ``.safetensors`` file. Plain checkpoints are read with
    ``weights_only=True``: a file cannot run code.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file holds no tensor dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'CLIP weights file {path} does not exist (expected a local file: OpenAI\'s '
            'ViT-B-16.pt, its state dict, or open_clip\'s checkpoint of the model; nothing is '
            'downloaded)')
    try:
        if path.endswith('.safetensors'):
            from safetensors.torch import load_file
            state = load_file(path)
        elif _is_torchscript(path):
            state = torch.jit.load(path, map_location='cpu').state_dict()
        else:
            state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # unreadable, truncated, not a checkpoint
        raise ValueError(f'CLIP weights file {path} could not be read as a TorchScript '
                         f'archive, a torch state dict or safetensors: {e}') from e
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f'CLIP weights file {path} holds no state dict of tensors '
                         f'(got {type(state).__name__})')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return {k: v for k, v in state.items() if k not in OPENAI_EXTRA_KEYS}


def build_clip(model: Union[str, dict] = DEFAULT_MODEL,
               weights: Optional[str] = None) -> nn.Module:
    """open_clip's ``CLIP`` from a config name or dict, filled from ``weights`` (float32).

    Args:
        model (str | dict): an open_clip config name (``ViT-B-16-quickgelu``: OpenAI's
            ViT-B/16) or a dict with ``embed_dim``, ``vision_cfg``, ``text_cfg`` (and optionally
            ``quick_gelu``), as open_clip's ``model_configs/*.json``.
        weights (str, optional): local weights file (:func:`clip_state_dict`); None leaves
            open_clip's random initialisation (tests).

    Raises:
        ValueError: unknown model name, or a weights file whose keys or shapes do not match
            the model (the message names the file, the model and the first differences).
    """
    import open_clip
    from open_clip.model import CLIP
    cfg = open_clip.get_model_config(model) if isinstance(model, str) else dict(model)
    if cfg is None:
        raise ValueError(f'unknown open_clip model {model!r}; give a config dict or one of '
                         f'open_clip.list_models() (OpenAI ViT-B/16: {DEFAULT_MODEL!r})')
    cfg = {k: v for k, v in cfg.items() if k in ('embed_dim', 'vision_cfg', 'text_cfg',
                                                 'quick_gelu')}
    clip = CLIP(**cfg)
    if weights is not None:
        load_clip_weights(clip, weights, model)
    return clip.eval()


def load_clip_weights(clip: nn.Module, weights: str, model: Union[str, dict] = '') -> None:
    """Fill ``clip`` from the file ``weights`` (:func:`clip_state_dict`), every key and shape
    checked first.

    Raises:
        ValueError: missing or unexpected keys, or shape mismatches (the message names the
            file, the model and the first differences).
    """
    state = clip_state_dict(weights)
    own = clip.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f'{k} {tuple(state[k].shape)} (model: {tuple(v.shape)})'
              for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        raise ValueError(
            f'CLIP weights file {weights} does not fit open_clip model {model!r}: '
            f'{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected keys '
            f'{unexpected[:3]}, {len(shapes)} shape mismatches {shapes[:3]} (expected '
            "the weights of that model: OpenAI's release or open_clip's file)")
    clip.load_state_dict({k: v.float() for k, v in state.items()})


def masked_views(image: Tensor, regions: Tensor, masking: str = 'reference',
                 size: int = 224, fill: float = 0.5) -> Tuple[Tensor, Tensor]:
    """One CLIP input per region.

    Args:
        image (Tensor): (3, H, W) float, already normalised with CLIP's mean and std.
        regions (Tensor): (H, W) integer region ids.
        masking (str): 'reference' (whole image resized to S x S, outside the region set to
            ``fill``) or 'ovseg' (the region's box cropped, outside the region 0 = CLIP's mean
            pixel, the crop resized to S x S). Default: 'reference'.
        size (int): S. Default: 224.
        fill (float): the reference's fill value (after normalisation). Default: 0.5.

    Returns:
        tuple: ``ids`` (R,) the region ids in increasing order, ``views`` (R, 3, S, S).
    """
    if masking not in MASKINGS:
        raise ValueError(f'masking must be one of {MASKINGS}, got {masking!r}')
    if image.dim() != 3 or image.shape[1:] != regions.shape:
        raise ValueError(f'image {tuple(image.shape)} must be (3, H, W) with regions '
                         f'{tuple(regions.shape)} (H, W)')
    ids = torch.unique(regions)
    if masking == 'reference':
        if tuple(image.shape[1:]) != (size, size):
            image = F.interpolate(image[None], size=(size, size), mode='bicubic',
                                  align_corners=False)[0]
            regions = F.interpolate(regions[None, None].float(), size=(size, size),
                                    mode='nearest')[0, 0].long()
        inside = regions[None] == ids[:, None, None]  # (R, S, S); a region lost by resizing
        views = torch.where(inside[:, None], image[None], torch.full_like(image[None], fill))
        return ids, views  # ... is all fill, as the reference's empty-region view would be
    views = []
    for i in ids:
        inside = regions == i
        ys, xs = torch.nonzero(inside, as_tuple=True)
        t, b, lf, r = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        crop = image[:, t:b, lf:r] * inside[t:b, lf:r]  # outside: 0, CLIP's mean pixel
        views.append(F.interpolate(crop[None], size=(size, size), mode='bicubic',
                                   align_corners=False)[0])
    return ids, torch.stack(views)


def conditional_choice(scores: Tensor, groups: Sequence[Sequence[int]],
                       parent: Tensor) -> Tensor:
    """Best child class within the children of each region's parent class.

    Args:
        scores (Tensor): (R, N) region-to-name similarities, column j = child class j + 1.
        groups (Sequence[Sequence[int]]): per parent class, its child classes (1..N); an empty
            group (background, or a class without children) gives background.
        parent (Tensor): (R,) parent class of each region.

    Returns:
        Tensor: (R,) int64 child classes, 0 for background.
    """
    out = torch.zeros(len(parent), dtype=torch.long, device=parent.device)
    for r, p in enumerate(parent.tolist()):
        group = list(groups[p]) if 0 <= p < len(groups) else []
        if group:
            cols = torch.tensor(group, device=scores.device) - 1
            out[r] = group[int(scores[r, cols].argmax())]
    return out


def region_parent(regions: Tensor, parent_map: Tensor, rule: str = 'first') -> Tensor:
    """The parent class of each region (ids in increasing order), read from a labelled map.

    Args:
        regions (Tensor): (H, W) region ids.
        parent_map (Tensor): (H, W) parent classes.
        rule (str): 'first' (the reference's: the class at the region's first pixel in raster
            order) or 'majority' (the class covering most of the region; ties: smaller class).

    Returns:
        Tensor: (R,) int64.
    """
    inverse = relabel_consecutive(regions.reshape(-1))
    num = int(inverse.max()) + 1
    labels = parent_map.reshape(-1).long()
    if rule == 'first':
        pos = torch.arange(len(inverse), device=inverse.device)
        first = torch.full((num, ), len(inverse), dtype=torch.long,
                           device=inverse.device).scatter_reduce(
            0, inverse, pos, reduce='amin')
        return labels[first]
    if rule == 'majority':
        n = int(labels.max()) + 1
        hist = torch.bincount(inverse * n + labels, minlength=num * n).view(num, n)
        return hist.argmax(1)
    raise ValueError(f"rule must be 'first' or 'majority', got {rule!r}")


@MODELS.register_module()
class CLIPRegionLabeller(nn.Module):
    """Names regions with CLIP from a local weights file (no download).

    Args:
        weights (str, optional): the weights file (:func:`clip_state_dict`); None: open_clip's
            random initialisation (only for tests).
        model (str | dict): open_clip config name or dict. Default: ``'ViT-B-16-quickgelu'``
            (OpenAI's ViT-B/16, the reference's).
        templates (Sequence[str]): prompt templates with one ``{}``; several are averaged.
            Default: :data:`REFERENCE_TEMPLATES`.
        masking (str): 'reference' or 'ovseg' (:func:`masked_views`). Default: 'reference'.
        fill (float): the reference masking's fill after normalisation. Default: 0.5.
        part_rule (str): how a part region finds its object class, 'first' (the reference)
            or 'majority' (:func:`region_parent`). Default: 'first'.
        batch_size (int): views per CLIP forward pass. Default: 32.
        device (str): torch device. Default: 'cpu'.
        fp16 (bool): autocast to float16 on CUDA, as the reference ran. Default: False.
    """

    def __init__(self, weights: Optional[str] = None,
                 model: Union[str, dict] = DEFAULT_MODEL,
                 templates: Sequence[str] = REFERENCE_TEMPLATES,
                 masking: str = 'reference', fill: float = 0.5, part_rule: str = 'first',
                 batch_size: int = 32, device: str = 'cpu', fp16: bool = False) -> None:
        super().__init__()
        if masking not in MASKINGS:
            raise ValueError(f'masking must be one of {MASKINGS}, got {masking!r}')
        if part_rule not in ('first', 'majority'):
            raise ValueError(f"part_rule must be 'first' or 'majority', got {part_rule!r}")
        templates = tuple(templates)
        bad = [t for t in templates if t.count('{}') != 1]
        if not templates or bad:
            raise ValueError(f'templates must be non-empty strings with one {{}}; got {bad}')
        import open_clip
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
        self.clip = build_clip(model, weights).to(device)
        cfg = open_clip.get_model_config(model) if isinstance(model, str) else model
        self.tokenizer = open_clip.tokenizer.SimpleTokenizer(
            context_length=cfg['text_cfg'].get('context_length', 77))
        size = cfg['vision_cfg'].get('image_size', 224)
        self.size = size if isinstance(size, int) else size[0]
        self.register_buffer('mean', torch.tensor(OPENAI_DATASET_MEAN).view(3, 1, 1) * 255)
        self.register_buffer('std', torch.tensor(OPENAI_DATASET_STD).view(3, 1, 1) * 255)
        self.templates, self.masking, self.fill = templates, masking, fill
        self.part_rule, self.batch_size, self.fp16 = part_rule, batch_size, fp16
        self._text_cache: Dict[Tuple[str, ...], Tensor] = {}
        self.to(device)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def _autocast(self):
        return torch.autocast('cuda', dtype=torch.float16,
                              enabled=self.fp16 and self.device.type == 'cuda')

    @torch.no_grad()
    def text_features(self, names: Sequence[str]) -> Tensor:
        """(N, D) unit text embeddings: per name the mean of its templates' unit embeddings,
        normalised again (one template: that template's embedding)."""
        key = tuple(names)
        if key not in self._text_cache:
            prompts = [t.format(n) for n in names for t in self.templates]
            with self._autocast():
                feats = self.clip.encode_text(self.tokenizer(prompts).to(self.device)).float()
            feats = F.normalize(feats, dim=-1).view(len(names), len(self.templates), -1)
            self._text_cache[key] = F.normalize(feats.mean(1), dim=-1).cpu()
        return self._text_cache[key]

    def normalise(self, image: Tensor) -> Tensor:
        """(3, H, W) RGB in [0, 255] (any dtype) -> CLIP-normalised float."""
        return (image.to(self.device).float() - self.mean) / self.std

    @torch.no_grad()
    def region_scores(self, image: Tensor, regions: Tensor,
                      names: Sequence[str]) -> Tuple[Tensor, Tensor]:
        """Cosine similarity of each region's view to each name.

        Args:
            image (Tensor): (3, H, W) RGB, values in [0, 255].
            regions (Tensor): (H, W) region ids.
            names (Sequence[str]): N class names.

        Returns:
            tuple: ``ids`` (R,) region ids in increasing order, ``scores`` (R, N).
        """
        ids, views = masked_views(self.normalise(image), regions.to(self.device),
                                  self.masking, self.size, self.fill)
        feats = []
        for start in range(0, len(views), self.batch_size):
            with self._autocast():
                feats.append(self.clip.encode_image(views[start:start + self.batch_size]).float())
        feats = F.normalize(torch.cat(feats), dim=-1).cpu()
        return ids.cpu(), feats @ self.text_features(names).T

    def label_regions(self, image: Tensor, regions: Tensor, classes: Sequence[str],
                      background: Optional[str] = 'Background') -> Tensor:
        """Label map of a level: every region takes its closest class name.

        Args:
            image (Tensor): (3, H, W) RGB in [0, 255].
            regions (Tensor): (H, W) region ids.
            classes (Sequence[str]): the level's foreground names, classes 1..N.
            background (str, optional): the prompt name of class 0 (the reference adds
                'Background'); None never predicts background. Default: 'Background'.

        Returns:
            Tensor: (H, W) int64 classes, 0 background.
        """
        names = list(classes) + ([background] if background is not None else [])
        ids, scores = self.region_scores(image, regions, names)
        best = scores.argmax(1) + 1
        best[best == len(classes) + 1] = 0  # the background name
        return self._paint(regions, ids, best)

    def name_regions(self, image: Tensor, regions: Tensor, classes: Sequence[str],
                     background: Optional[str] = 'Background') -> Dict[int, str]:
        """The closest class name of every region of any image (for pictures and the API).

        Args:
            image (Tensor): (3, H, W) RGB in [0, 255].
            regions (Tensor): (H, W) region ids.
            classes (Sequence[str]): the vocabulary.
            background (str, optional): an extra name regions may take. Default: 'Background'.

        Returns:
            dict: region id -> name.
        """
        names = list(classes) + ([background] if background is not None else [])
        ids, scores = self.region_scores(image, regions, names)
        return {int(i): names[int(k)] for i, k in zip(ids, scores.argmax(1))}

    def label_parts(self, image: Tensor, regions: Tensor, classes: Sequence[str],
                    groups: Sequence[Sequence[int]], parent_map: Tensor) -> Tensor:
        """Label map of a child level, each region named among the children of its parent
        class (read from ``parent_map`` by ``part_rule``); background parent -> background.

        Args:
            image (Tensor): (3, H, W) RGB in [0, 255].
            regions (Tensor): (H, W) region ids.
            classes (Sequence[str]): the child level's foreground names, classes 1..N.
            groups (Sequence[Sequence[int]]): per parent class, its child classes.
            parent_map (Tensor): (H, W) parent-level classes (e.g. :meth:`label_regions`).

        Returns:
            Tensor: (H, W) int64 classes, 0 background.
        """
        parent = region_parent(regions.cpu(), parent_map.cpu(), self.part_rule)
        ids, scores = self.region_scores(image, regions, list(classes))
        return self._paint(regions, ids, conditional_choice(scores, groups, parent))

    @staticmethod
    def _paint(regions: Tensor, ids: Tensor, labels: Tensor) -> Tensor:
        index = torch.searchsorted(ids.to(regions.device), regions.reshape(-1))
        return labels.to(regions.device)[index].view(regions.shape)

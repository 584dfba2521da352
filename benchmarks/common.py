"""What the benchmark scripts share: the machine, timing, synthetic scenes, the backbones they
compare and SPIN-sized class hierarchies.

Shape shorthand: B images, H x W pixels, S superpixels, L levels.
"""
import os
import os.path as osp
import platform
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch._C._autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from cast.backbones import CAST
from cast.datasets.transforms import Superpixels
from cast.structures import ClassHierarchy
from mmseg.models.backbones import VisionTransformer

#: The repository root (configs, tools and data paths are relative to it).
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def machine() -> str:
    """The CPU in benchmark headers: '<model> (family F model M), N cores, torch kernels for
    <ISA>'. Matrix kernels gain more than elementwise ones from a wider ISA, so the shares the
    benchmarks print differ between machines, not only their times."""
    name, ids = platform.processor() or 'CPU', {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                ids.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = ids.get('model name', name)
    if 'cpu family' in ids:
        name += f" (family {ids['cpu family']} model {ids.get('model', '?')})"
    return (f'{name}, {os.cpu_count()} cores, torch kernels for '
            f'{torch.backends.cpu.get_cpu_capability()}')


# ----------------------------------------------------------------------
# timing
def timed(fn: Callable[[], object], before: Optional[Callable[[], object]] = None) -> float:
    """Wall seconds of ``fn()``, after an untimed ``before()``."""
    before and before()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_time(fn: Callable[[], object], rounds: int,
              before: Optional[Callable[[], object]] = None) -> float:
    """The least of ``rounds`` :func:`timed` calls (other jobs only ever slow a call down)."""
    return min(timed(fn, before) for _ in range(rounds))


def peak_bytes(fn: Callable[[], object], before: Optional[Callable[[], object]] = None) -> int:
    """Peak of the CPU bytes allocated by ``fn()`` and not yet freed (torch.profiler): the
    memory the call adds on top of what exists before it (not RSS)."""
    before and before()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [(e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
              if e.name() == '[memory]' and e.device_type() == DeviceType.CPU]
    live = peak = 0
    for _, nbytes in sorted(events):
        live += nbytes
        peak = max(peak, live)
    return peak


# ----------------------------------------------------------------------
# synthetic scenes
#: ImageNet mean and std of RGB 0-255 values, as the configs' data preprocessors.
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def scene(rng: np.random.Generator, height: int, width: int,
          num_classes: Sequence[int] = ()) -> Tuple[np.ndarray, list]:
    """A picture of 24 shaded random ellipses on a gradient, with mild noise.

    Args:
        rng (np.random.Generator): draws everything.
        height, width (int): its size.
        num_classes (Sequence[int]): one label map per entry ``n``, whose ellipses carry random
            classes 1..n-1 (0 elsewhere).

    Returns:
        tuple: (H, W, 3) uint8 picture (RGB or BGR alike) and a list of (H, W) uint8 label maps.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[:] = rng.uniform(40, 200, 3) * (0.7 + 0.3 * xx[..., None] / width)
    labels = [np.zeros((height, width), np.uint8) for _ in num_classes]
    for _ in range(24):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(0.05, 0.3) * height, rng.uniform(0.05, 0.3) * width
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        shade = 0.8 + 0.2 * (yy - cy) / (2 * ry)
        img[inside] = (rng.uniform(0, 255, 3) * shade[inside, None])
        for label, n in zip(labels, num_classes):
            label[inside] = rng.integers(1, n)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), labels


def scene_batch(batch: int, size: Tuple[int, int], num_superpixels: int,
                seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scenes seeded ``seed``, ``seed + 1``... normalised as the configs do, and their
    fast-slic superpixels (the ``Superpixels`` transform).

    Returns:
        tuple: images (B, 3, H, W) float and superpixels (B, H, W) long, labels 0..S-1 each.
    """
    transform = Superpixels(num_superpixels=num_superpixels, channel_order='rgb')
    images, maps = [], []
    for b in range(batch):
        rgb, _ = scene(np.random.default_rng(seed + b), *size)
        maps.append(transform.compute(rgb))
        images.append((rgb.astype(np.float32) - MEAN) / STD)
    inputs = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return inputs, torch.from_numpy(np.stack(maps)).long()


# ----------------------------------------------------------------------
# backbones
def cast_s(variant: str, fast: bool = True, fps_backend: str = 'auto') -> CAST:
    """CAST-S with initialised weights: 'cls' is the classification variant (sin-cos
    positions, [CLS] out), 'seg' the segmentation one (four feature maps, ``fast_segment_mean``
    as ``fast``)."""
    if variant == 'cls':
        model = CAST('small', out_type='cls_token', out_indices=(3, ), fps_backend=fps_backend)
    else:
        model = CAST('small', img_size=224, fast_segment_mean=fast, fps_backend=fps_backend)
    model.init_weights()
    return model


def vit_s(size: int) -> VisionTransformer:
    """MMSeg's ViT-S/16 with CAST-S's depth (11 layers of 384 channels, 6 heads)."""
    model = VisionTransformer(img_size=size, patch_size=16, embed_dims=384, num_layers=11,
                              num_heads=6, mlp_ratio=4, final_norm=True)
    model.init_weights()
    return model


def backbone_forward(model: torch.nn.Module, inputs: torch.Tensor, superpixels: torch.Tensor):
    """``model(inputs, superpixels)`` for CAST, ``model(inputs)`` for the ViT."""
    if isinstance(model, CAST):
        return model(inputs, superpixels)
    return model(inputs)


# ----------------------------------------------------------------------
# SPIN-sized class hierarchies
SPIN_LEVELS = ('object', 'part', 'subpart')
#: SPIN's classes per level with the superclass object level, background included.
SPIN_NUM_CLASSES = dict(object=12, part=41, subpart=204)
#: SPIN's object classes (the 'class' object level), background included.
SPIN_OBJECT_CLASSES = 159


def cyclic_parents(num_children: int, num_parents: int,
                   given: Sequence[int] = (0, )) -> Tuple[int, ...]:
    """A parent class per child class: ``given`` for the first children, then the foreground
    parents 1..num_parents-1 in turn."""
    extra = num_children - len(given)
    return tuple(given) + tuple(1 + i % (num_parents - 1) for i in range(extra))


def spin_hierarchy(object_level: str = 'superclass', seed: Optional[int] = 0) -> ClassHierarchy:
    """SPIN's class counts: 11 superclasses (158 object classes), 40 parts, 203 subparts.

    Parts go to the superclasses in turn. With ``object_level='class'`` every part sits under
    each object class of its superclass (a DAG: 159 / 41 / 204 classes), with 'superclass' under
    the superclass (a tree: 12 / 41 / 204).

    Args:
        object_level (str): 'superclass' or 'class'.
        seed (int | None): draws each subpart's part at random; None gives them in turn.

    Returns:
        ClassHierarchy: levels :data:`SPIN_LEVELS`.
    """
    num = dict(SPIN_NUM_CLASSES)
    part_super = cyclic_parents(num['part'], num['object'])
    if seed is None:
        subparts = [(p, ) for p in cyclic_parents(num['subpart'], num['part'])]
    else:
        g = torch.Generator().manual_seed(seed)
        draws = torch.randint(1, num['part'], (num['subpart'] - 1, ), generator=g)
        subparts = [(0, )] + [(int(p), ) for p in draws]
    if object_level == 'superclass':
        parts = [(s, ) for s in part_super]
    else:
        superclass = torch.arange(SPIN_OBJECT_CLASSES - 1) % (num['object'] - 1) + 1
        parts = [(0, )] + [tuple((torch.nonzero(superclass == s).view(-1) + 1).tolist())
                           for s in part_super[1:]]
        num['object'] = SPIN_OBJECT_CLASSES
    return ClassHierarchy(SPIN_LEVELS, dict(part=parts, subpart=subparts), num_classes=num)


def spin_meta(seed: Optional[int] = None) -> Dict[str, object]:
    """``dataset_meta`` of :func:`spin_hierarchy` ('superclass'), classes named '<level><k>'."""
    h = spin_hierarchy('superclass', seed)
    classes = {lv: ('background', ) + tuple(f'{lv}{i}' for i in range(1, n))
               for lv, n in h.num_classes.items()}
    return dict(levels=h.levels, level_classes=classes, classes=classes['object'],
                hierarchy={child: tuple(p[0] for p in parents)
                           for child, parents in h.parents.items()})

# ---- label maps at SPIN's size for the evaluator benchmarks (metrics, spin_prompts) ----------

SIZES = ((375, 500), (500, 375), (333, 500), (375, 500))


def blocks(rng, shape, block, high):
    """Random labels in [0, high) constant on block x block squares, cropped to ``shape``."""
    grid = rng.integers(0, high, (shape[0] // block + 1, shape[1] // block + 1))
    return grid.repeat(block, 0).repeat(block, 1)[:shape[0], :shape[1]]


def make_maps(rng, shape, meta):
    """One image's ground truth and prediction per level, uint8 (H, W)."""
    part_parent = np.asarray(meta['hierarchy']['part'])
    subpart_parent = np.asarray(meta['hierarchy']['subpart'])
    obj_present = blocks(rng, shape, 96, 3) > 0  # about 2/3 of the image is objects
    part = np.where(obj_present, blocks(rng, shape, 48, 40) + 1, 0)
    sub = subpart_parent.size - 1
    subpart = np.where((part > 0) & (blocks(rng, shape, 12, 3) == 0),  # small subparts
                       (blocks(rng, shape, 12, sub // 40) * 40 + part - 1) % sub + 1, 0)
    part = np.where(subpart > 0, subpart_parent[subpart], part)
    gt = dict(object=part_parent[part], part=part, subpart=subpart)
    ignore = blocks(rng, shape, 4, 50) == 0
    pred = {}
    for level in SPIN_LEVELS:
        gt[level] = np.where(ignore, 255, gt[level]).astype(np.uint8)
        shifted = np.roll(gt[level], (rng.integers(-6, 7), rng.integers(-6, 7)), (0, 1))
        wrong = blocks(rng, shape, 16, 8) == 0
        p = np.where(wrong, blocks(rng, shape, 16, SPIN_NUM_CLASSES[level]), shifted)
        pred[level] = np.where(p == 255, 0, p).astype(np.uint8)
    return gt, pred


def make_samples(num_unique, seed=0):
    rng = np.random.default_rng(seed)
    meta = spin_meta()
    samples = []
    for i in range(num_unique):
        gt, pred = make_maps(rng, SIZES[i % len(SIZES)], meta)
        sample = dict(img_path=f'img{i}.JPEG')
        for level in SPIN_LEVELS:
            sample[f'gt_seg_{level}'] = dict(data=torch.from_numpy(gt[level][None]).long())
            sample[f'pred_seg_{level}'] = dict(data=torch.from_numpy(pred[level][None]).long())
        sample['gt_sem_seg'] = sample['gt_seg_object']
        sample['pred_sem_seg'] = sample['pred_seg_object']
        samples.append(sample)
    return meta, samples


def time_metric(metric, samples, num_images, batch_size):
    """Seconds of ``process()`` over the images in batches then ``evaluate()``, and results."""
    results = {}

    def run():
        for first in range(0, num_images, batch_size):
            batch = [samples[i % len(samples)]
                     for i in range(first, min(first + batch_size, num_images))]
            metric.process({}, batch)
        results.update(metric.evaluate(num_images))

    return timed(run), results

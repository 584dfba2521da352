"""Does every shipped config train on a GPU with AMP? A few minutes on one GPU.

    python -m benchmarks.cuda_check                      # every config, CUDA, fp16 AMP
    python -m benchmarks.cuda_check --amp-dtype bfloat16 --iters 5
    python -m benchmarks.cuda_check --device cpu --configs configs/demo/synthetic_spin.py
                                                         # dry run on the CPU (bf16 autocast)

Without CUDA (and without ``--device cpu``) it says so and exits 0.

1. Farthest point sampling: the PyTorch sampler on the device returns the indices of dgl's
   (the reference's sampler) on the CPU, for random points, points with copies (padding) and
   the real pooling inputs of a CAST-S forward at 512 (every stage).
2. Every config in ``configs/cast`` and ``configs/demo`` (or ``--configs``): its model, as
   ``tools/train.py --amp`` builds it (``AmpOptimWrapper``, dynamic loss scale for fp16; on the
   CPU an ``OptimWrapper`` under bf16 autocast), from random weights, trains ``--iters`` timed
   iterations after one warm-up on a batch at the config's crop size. The batch is the config's
   own training pipeline (every transform after the loading ones) run on synthetic pictures
   with synthetic labels, collated as its dataloader does. Printed per config: crop, batch
   (``train_dataloader.batch_size``, at most ``--max-batch``), loss, images/s, peak memory
   (``torch.cuda.max_memory_allocated`` over the timed iterations) and whether every loss and
   gradient is finite.

Exits 1 if any check fails.
"""
import argparse
import copy
import glob
import logging
import math
import os.path as osp
import sys
import time
from contextlib import contextmanager
from functools import partial

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import FUNCTIONS, MODELS, OPTIM_WRAPPERS, init_default_scope

from benchmarks.common import REPO, scene, scene_batch
from benchmarks.train_step import grown_hierarchy
from cast.backbones import CAST
from cast.backbones.fps import farthest_point_sample
from cast.engine import load_config
from cast.utils import find_transform

LOADING = ('LoadImageFromFile', 'LoadAnnotations', 'LoadHierarchicalAnnotations')


@OPTIM_WRAPPERS.register_module(force=True)
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under CPU bf16 autocast (the dry run's AMP:
    MMEngine's ``AmpOptimWrapper`` needs a GPU)."""

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield


# ----------------------------------------------------------------------
# farthest point sampling
def fps_cases(device, seed=0):
    """(name, points (B, N, D), K) on ``device``: random, with copies, CAST-S's own."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for B, N, D, K in ((8, 197, 384, 65), (2, 1025, 384, 321), (2, 1025, 768, 321)):
        points = torch.randn(B, N, D, generator=g, dtype=torch.float64)
        cases.append((f'random {B}x{N}x{D} -> {K}', points, K))
        padded = points.clone()
        padded[0, N // 2:] = padded[0, :1]  # copies of point 0, as padded tokens are
        cases.append((f'copies {B}x{N}x{D} -> {K}', padded, K))
    return [(name, p.to(device), k) for name, p, k in cases]


def check_fps(device, size):
    """Rows of (case, equal) comparing the device's PyTorch FPS with dgl's on the CPU."""
    rows = []
    for name, points, K in fps_cases(device):
        ours = farthest_point_sample(points, K, backend='torch')
        ref = farthest_point_sample(points.cpu(), K, backend='dgl')
        rows.append((name, torch.equal(ours.cpu(), ref)))
    torch.manual_seed(0)
    model = CAST('small', img_size=224).to(device).eval()
    images, superpixels = scene_batch(2, (size, size), num_superpixels=(size // 16) ** 2)
    with torch.no_grad():
        raw = model.forward_raw(images.to(device), superpixels.to(device))
    for i, stage in enumerate(model.stages):
        pool = stage['pool']
        reference = copy.deepcopy(pool).cpu()
        reference.fps_backend = 'dgl'
        x, mask = raw['tokens'][i], raw['padding_masks'][i]
        ours = pool.sample_seeds(x, mask)
        ref = reference.sample_seeds(x.cpu(), mask.cpu())
        rows.append((f'CAST-S {size} stage {i + 1}: {x.shape[1]} tokens -> {pool.num_clusters}',
                     torch.equal(ours.cpu(), ref)))
    return rows


# ----------------------------------------------------------------------
# synthetic data through the config's own pipeline
def crop_size(cfg):
    """(H, W) the config trains at: its ``crop_size``, else its RandomResizedCrop scale."""
    if cfg.get('crop_size') is not None:
        return tuple(cfg.crop_size)
    crop = find_transform(cfg.train_dataloader.dataset.pipeline, 'RandomResizedCrop')
    scale = crop['scale'] if crop else 224
    return (scale, scale) if isinstance(scale, int) else tuple(scale)


def level_classes(model):
    """Classes per label map the model learns: {level: N} (None: the main map only), or
    None for a classifier."""
    head = getattr(model, 'decode_head', None)
    if head is None:
        return None
    if hasattr(head, 'level_num_classes'):
        return dict(head.level_num_classes)
    return {None: head.num_classes}


def synthetic_batch(cfg, model, batch, seed=0):
    """A collated batch: synthetic pictures (and labels) through the training pipeline."""
    steps = [s for s in cfg.train_dataloader.dataset.pipeline if s['type'] not in LOADING]
    pipeline = Compose(copy.deepcopy(steps))
    classes = level_classes(model)
    H, W = crop_size(cfg)
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(batch):
        h, w = int(H * rng.uniform(1.0, 1.3)), int(W * rng.uniform(1.0, 1.3))
        img, labels = scene(rng, h, w, list(classes.values()) if classes else [])
        results = dict(img=img, img_shape=(h, w), ori_shape=(h, w), img_path=f'synthetic_{i}',
                       sample_idx=i, reduce_zero_label=False, seg_fields=[])
        if classes is None:  # a classifier (or self-supervised): an image-level label
            num = model.head.num_classes if hasattr(model.head, 'num_classes') else 1000
            results['gt_label'] = int(rng.integers(0, num))
        else:
            for level, label in zip(classes, labels):
                key = 'gt_seg_map' if level is None else f'gt_seg_{level}'
                results[key] = label
                results['seg_fields'].append(key)
            if None not in classes:
                first = next(iter(classes))
                results['gt_seg_map'] = results[f'gt_seg_{first}'].copy()
                results['seg_fields'].append('gt_seg_map')
                results['levels'] = list(classes)
        samples.append(pipeline(results))
    collate = copy.deepcopy(cfg.train_dataloader.get('collate_fn', dict(type='pseudo_collate')))
    fn = FUNCTIONS.get(collate.pop('type'))
    return partial(fn, **collate)(samples)


# ----------------------------------------------------------------------
# one config
def build(config, device, amp_dtype):
    cfg = load_config(config)  # one process: SyncBN -> BN
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cfg.model
    if cfg.get('data_preprocessor') is not None:  # as MMEngine's Runner merges it
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    if model_cfg.get('backbone') is not None:
        model_cfg.backbone.init_cfg = None  # random weights: no pretrained file
    head = model_cfg.get('decode_head') or {}
    if model_cfg.get('hierarchy') is None and (head.get('hierarchy_loss') or
                                               head.get('embedding_loss')):
        # what DatasetMetaHook gives a run: a hierarchy, here one fitting the heads' classes
        model_cfg.hierarchy = grown_hierarchy(
            None, head['levels'], [head['num_classes'][level] for level in head['levels']])
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.to(device).train()
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    if torch.device(device).type == 'cuda':
        wrapper.type = 'AmpOptimWrapper'  # as tools/train.py --amp
        wrapper.dtype = amp_dtype
        wrapper.loss_scale = 'dynamic'
    else:
        wrapper.type = 'CPUAutocastOptimWrapper'
    return cfg, model, build_optim_wrapper(model, wrapper)


def finite(model, log_vars):
    losses_ok = all(math.isfinite(float(torch.as_tensor(v).detach()))
                    for k, v in log_vars.items() if 'loss' in k)
    grads_ok = all(torch.isfinite(p.grad).all() for p in model.parameters()
                   if p.grad is not None)
    return losses_ok and grads_ok


def check_config(config, args):
    """dict of one config's figures."""
    cuda = torch.device(args.device).type == 'cuda'
    cfg, model, optim_wrapper = build(config, args.device, args.amp_dtype)
    # what the runner tells the model (MoCo's momentum schedule reads the iteration counts)
    hub = MessageHub.get_current_instance()
    for key, value in dict(iter=0, epoch=0, max_iters=1000, max_epochs=100).items():
        hub.update_info(key, value)
    batch = min(cfg.train_dataloader.batch_size, args.max_batch)
    data = synthetic_batch(cfg, model, batch)
    grads = []

    def step():
        log_vars = model.train_step(copy.deepcopy(data), optim_wrapper)
        grads.append(finite(model, log_vars))  # before zero_grad of the next step
        return log_vars

    step()  # warm-up: cuDNN autotuning, allocator
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.iters):
        log_vars = step()
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.iters
    return dict(config=osp.relpath(config, REPO), crop='x'.join(map(str, crop_size(cfg))),
                batch=batch, loss=float(torch.as_tensor(log_vars['loss']).detach()),
                ips=batch / seconds,
                peak=torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
                ok=all(grads))


def shipped_configs():
    return sorted(glob.glob(osp.join(REPO, 'configs', 'cast', '*.py')) +
                  glob.glob(osp.join(REPO, 'configs', 'demo', '*.py')))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='GPU readiness: AMP training of every config, '
                                     'FPS index equality, peak memory, images/s')
    parser.add_argument('--device', default='cuda', help="'cuda' (default) or 'cpu' (dry run)")
    parser.add_argument('--configs', nargs='+', help='configs to train (default: all shipped)')
    parser.add_argument('--iters', type=int, default=3, help='timed iterations (3)')
    parser.add_argument('--max-batch', type=int, default=32,
                        help='cap on the configs\' batch sizes (32)')
    parser.add_argument('--amp-dtype', default='float16', choices=['float16', 'bfloat16'],
                        help='CUDA autocast type (float16); the CPU dry run uses bfloat16')
    parser.add_argument('--fps-size', type=int, default=512,
                        help='input size of the CAST-S forward whose pooling inputs feed the '
                        'FPS check (512)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if torch.device(args.device).type == 'cuda' and not torch.cuda.is_available():
        print('CUDA is not available on this machine: nothing checked '
              '(use --device cpu for a dry run on the CPU).')
        return 0
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # frozen params are no news
    failed = False
    name = torch.cuda.get_device_name() if args.device.startswith('cuda') else 'CPU'
    amp = args.amp_dtype if args.device.startswith('cuda') else 'bfloat16 (CPU autocast)'
    print(f'GPU readiness on {name}: torch {torch.__version__}, AMP {amp}\n')

    rows = check_fps(args.device, args.fps_size)
    print(f'Farthest point sampling, PyTorch on {args.device} vs dgl on the CPU:\n')
    print('| case | same indices |\n|---|---|')
    for case, equal in rows:
        print(f'| {case} | {"yes" if equal else "NO"} |')
        failed |= not equal

    configs = [osp.abspath(c) for c in args.configs] if args.configs else shipped_configs()
    print(f'\nTraining with AMP, {args.iters} timed iteration(s) after one warm-up:\n')
    print('| config | crop | batch | loss | images/s | peak MiB | finite |')
    print('|---|---|---:|---:|---:|---:|---|')
    for config in configs:
        try:
            res = check_config(config, args)
        except Exception as err:  # report every config, then fail
            failed = True
            print(f'| {osp.relpath(config, REPO)} | - | - | - | - | - | FAILED: '
                  f'{type(err).__name__}: {str(err)[:200]} |')
            continue
        failed |= not res['ok']
        peak = '-' if res['peak'] is None else f'{res["peak"]:.0f}'
        print(f'| {res["config"]} | {res["crop"]} | {res["batch"]} | {res["loss"]:.3f} | '
              f'{res["ips"]:.2f} | {peak} | {"yes" if res["ok"] else "NO"} |')
        if torch.device(args.device).type == 'cuda':
            torch.cuda.empty_cache()
    print('\nall checks passed' if not failed else '\nSOME CHECKS FAILED')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

"""Images/s of whole training iterations, and where the time goes.

    python -m benchmarks.train_step                    # 3 models, 512x512, batch 2, 2 iterations
    python -m benchmarks.train_step --iters 10 --batch 4 --workers 4 --rounds 2
    python -m benchmarks.train_step --models upernet_cast-s --size 256 --profile
    python -m benchmarks.train_step --models configs/demo/synthetic_spin.py --iters 10

Models, all in one process, each trained as its config trains it (optimizer and paramwise
settings included; SyncBN -> BN as in a single-process run), from random weights:

- ``upernet_cast-s``: UperNet + CAST-S, ``configs/cast/upernet_cast-s_ade20k.py`` (150 classes).
- ``hier-upernet_cast-s``: the hierarchical CAST-S, ``configs/cast/hier-upernet_cast-s_spin.py``
  (one UperNet and one FCN auxiliary head per level, 12 / 41 / 204 classes).
- ``upernet_vit-s16``: MMSeg's UperNet + ViT-S/16 with CAST-S's depth (11 blocks) and the same
  heads, ``benchmarks/configs/upernet_vit-s16_11l.py``.

Data: a synthetic SPIN dataset generated once under ``--data-root`` (pictures of 512 to 683
pixels) read through SPIN's training pipeline (``configs/_base_/datasets/spin.py``: load, resize,
512 crop, flip, ``Superpixels`` (1024 per crop), photometric distortion, packing) in
``--workers`` DataLoader worker processes; the ViT's pipeline has no ``Superpixels``. The
UperNet models learn the object level, the hierarchical one every level.

One training iteration is run in stages, each timed with a synchronized timer (CUDA is
synchronized before reading the clock) inside a ``torch.profiler.record_function`` range:

    data wait        next(dataloader): the time the main process waits for the workers
    preprocess       the model's data preprocessor (normalise, pad, stack; to the device)
    backbone fwd     extract_feat (the ViT's multi-level neck included)
    heads fwd        every decode / auxiliary head's forward, on detached copies of the features
    loss fwd         every head's loss_by_feat (logits resized to the labels, cross-entropy,
                     accuracy) on detached copies of the logits, summed as the model does
    loss bwd         backward of the summed loss to the logits
    heads bwd        backward from the logits to the features
    backbone bwd     backward from the features to the weights
    optimizer        optim_wrapper.step() and zero_grad()

The detached copies split the backward pass at the boundaries without changing it: the chain
rule gives the same gradients as one ``loss.backward()`` (``tests/benchmarks/test_train_step.py``
checks it against ``model.loss``). Images/s = batch x iterations / the summed wall time of the
timed iterations (the warm-up iterations, which start the workers, are left out). The workers
run beside the main process: on a machine with few cores they slow its compute, and their own
cost is shown by ``pipeline`` lines (each transform timed in the main process on the same
samples).

Timings are noisy on a shared machine: compare rows of one run; the load average is printed.
"""
import argparse
import copy
import logging
import os
import os.path as osp
import time
from collections import defaultdict
from contextlib import contextmanager

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch.profiler import record_function

from benchmarks.common import REPO, cyclic_parents, machine, timed
from cast.datasets.synthetic import generate_synthetic_spin
from cast.engine import load_config
from cast.segmentors import CASTEncoderDecoder, HierarchicalEncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

MODEL_ZOO = {
    'upernet_cast-s': ('UperNet + CAST-S', 'configs/cast/upernet_cast-s_ade20k.py'),
    'hier-upernet_cast-s': ('hierarchical UperNet + CAST-S',
                            'configs/cast/hier-upernet_cast-s_spin.py'),
    'upernet_vit-s16': ('UperNet + ViT-S/16, 11 layers (MMSeg)',
                        'benchmarks/configs/upernet_vit-s16_11l.py'),
}
DATASET_CONFIG = 'configs/_base_/datasets/spin.py'
PARTS = ('data wait', 'preprocess', 'backbone fwd', 'heads fwd', 'loss fwd', 'loss bwd',
         'heads bwd', 'backbone bwd', 'optimizer')
GROUPS = (('data', ('data wait', 'preprocess')), ('backbone', ('backbone fwd', 'backbone bwd')),
          ('heads', ('heads fwd', 'heads bwd')), ('loss', ('loss fwd', 'loss bwd')),
          ('optimizer', ('optimizer', )))


# ----------------------------------------------------------------------
# timing
class StageTimer:
    """Sums wall seconds per stage; synchronizes CUDA around each stage."""

    def __init__(self, device=None):
        self.cuda = device is not None and torch.device(device).type == 'cuda'
        self.times = defaultdict(float)

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    @contextmanager
    def __call__(self, name):
        self.sync()
        start = time.perf_counter()
        with record_function(name):
            yield
        self.sync()
        self.times[name] += time.perf_counter() - start


def _leaves(tree):
    """Detached leaf copies (requires_grad) of a tensor, or of a tuple/list/dict of them."""
    if torch.is_tensor(tree):
        return tree.detach().requires_grad_(tree.requires_grad)
    if isinstance(tree, dict):
        return {k: _leaves(v) for k, v in tree.items()}
    return type(tree)(_leaves(v) for v in tree)


def _flat(tree):
    if torch.is_tensor(tree):
        return [tree]
    values = tree.values() if isinstance(tree, dict) else tree
    return [t for v in values for t in _flat(v)]


def _backward(outputs, leaves):
    """Backpropagate the gradients gathered on ``leaves`` through ``outputs``."""
    pairs = [(o, leaf.grad) for o, leaf in zip(_flat(outputs), _flat(leaves))
             if o.requires_grad and leaf.grad is not None]
    if pairs:
        torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])


def decode_heads(model):
    """(loss-key prefix, head) of every decode and auxiliary head, as EncoderDecoder.loss."""
    heads = [('decode', model.decode_head)]
    if model.with_auxiliary_head:
        aux = model.auxiliary_head
        if isinstance(aux, torch.nn.ModuleList):
            heads += [(f'aux_{i}', head) for i, head in enumerate(aux)]
        else:
            heads.append(('aux', aux))
    return heads


def staged_train_step(model, data, optim_wrapper, timer):
    """One training iteration of an MMSeg encoder-decoder, stage by stage (module docstring).

    Computes the losses of ``model.loss`` and the gradients of their backward, then steps the
    optimizer.

    Args:
        model (EncoderDecoder): the segmentor (CAST's or MMSeg's), in train mode.
        data (dict): a batch from the dataloader.
        optim_wrapper (OptimWrapper): its optimizer wrapper.
        timer (StageTimer): collects the stage times.

    Returns:
        dict: the logged loss values (``model.parse_losses``).
    """
    with timer('preprocess'):
        data = model.data_preprocessor(data, True)
    inputs, samples = data['inputs'], data['data_samples']
    with timer('backbone fwd'):
        if isinstance(model, CASTEncoderDecoder):
            feats = model.extract_feat(inputs, samples)
        else:
            feats = model.extract_feat(inputs)
    feat_leaves = _leaves(feats)
    heads = decode_heads(model)
    if isinstance(model, HierarchicalEncoderDecoder):  # as its loss() does
        model.attach_hierarchy()
    with timer('heads fwd'):
        logits = [head.forward(feat_leaves) for _, head in heads]
    logit_leaves = _leaves(logits)
    with timer('loss fwd'):
        losses = dict()
        for (prefix, head), head_logits in zip(heads, logit_leaves):
            losses.update(add_prefix(head.loss_by_feat(head_logits, samples), prefix))
        loss, log_vars = model.parse_losses(losses)
    with timer('loss bwd'):
        loss.backward()
    with timer('heads bwd'):
        _backward(logits, logit_leaves)
    with timer('backbone bwd'):
        _backward(feats, feat_leaves)
    with timer('optimizer'):
        optim_wrapper.step()
        optim_wrapper.zero_grad()
    return log_vars


# ----------------------------------------------------------------------
# building
def ensure_data(root, num_train):
    """The synthetic SPIN pictures at ADE20K-like sizes (generated once; idempotent)."""
    generate_synthetic_spin(root, num_train=num_train, num_val=2, seed=0, min_size=512,
                            max_size=683)
    return root


def dataloader_cfg(args, with_superpixels):
    cfg = Config.fromfile(osp.join(REPO, DATASET_CONFIG))
    loader = copy.deepcopy(cfg.train_dataloader)
    pipeline = [step for step in loader.dataset.pipeline
                if with_superpixels or step.type != 'Superpixels']
    for step in pipeline:
        if step.type == 'RandomCrop':
            step.crop_size = (args.size, args.size)
        if step.type == 'RandomResize':
            step.scale = (4 * args.size, args.size)
        if step.type == 'Superpixels':
            step.area_per_superpixel = 256
    loader.dataset.update(data_root=args.data_root, pipeline=pipeline)
    loader.update(batch_size=args.batch, num_workers=args.workers,
                  persistent_workers=args.workers > 0)
    return loader


def grown_hierarchy(hierarchy, levels, num_classes):
    """A dataset's hierarchy grown to a model configured for more classes per level.

    The synthetic SPIN has 4 / 12 / 13 classes, the SPIN config's heads 12 / 41 / 204: the
    data's own classes keep their parents and every further class of a level gets the
    foreground classes of the level above in turn, so the chain loss works on as many chains as
    it would on SPIN while the data's labels stay valid chains.

    Args:
        hierarchy (dict, optional): child level -> parent class per child class (the data's);
            None: no data, every child class of a level gets a foreground parent in turn.
        levels (Sequence[str]): the model's levels, top first.
        num_classes (Sequence[int]): the model's class count per level, background included.

    Returns:
        dict: child level -> parent class per child class, for the model's class counts.
    """
    count = dict(zip(levels, num_classes))
    return {child: cyclic_parents(count[child], count[parent],
                                  given=hierarchy[child] if hierarchy else (0, ))
            for parent, child in zip(levels, levels[1:])}


def build(key, args):
    """Model, optimizer wrapper and dataloader of one benchmark model.

    ``key`` is a :data:`MODEL_ZOO` name (read through the synthetic 512 pictures) or a config
    path, whose own training dataloader (data root, batch size, workers) is used unchanged.
    The model gets the data's metainfo as the configs' ``DatasetMetaHook`` gives it; a
    hierarchical zoo model, whose heads are SPIN's size, the synthetic hierarchy grown to them
    (:func:`grown_hierarchy`).
    """
    own_data = key not in MODEL_ZOO
    config = key if own_data else osp.join(REPO, MODEL_ZOO[key][1])
    cfg = load_config(config)  # SyncBN -> BN: a single-process run
    model_cfg = cfg.model
    if cfg.get('data_preprocessor') is not None:  # as MMEngine's Runner merges it
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model_class = MODELS.get(model_cfg.type)
    loader_cfg = cfg.train_dataloader if own_data else dataloader_cfg(
        args, with_superpixels=issubclass(model_class, CASTEncoderDecoder))
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    meta = loader.dataset.metainfo
    if not own_data:
        model_cfg.backbone.init_cfg = None  # random weights: no pretrained file needed
        model_cfg.data_preprocessor.size = (args.size, args.size)
        if model_cfg.backbone.type == 'VisionTransformer':
            model_cfg.backbone.img_size = (args.size, args.size)
        if issubclass(model_class, HierarchicalEncoderDecoder):
            head = model_cfg.decode_head
            model_cfg.hierarchy = grown_hierarchy(meta['hierarchy'], head.levels,
                                                  head.num_classes)
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    model.init_weights()
    model.to(args.device).train()
    model.dataset_meta = meta
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper, loader


def pipeline_costs(dataset, indices):
    """Seconds per image of each pipeline transform, run in this process."""
    costs = defaultdict(float)
    for index in indices:
        results = copy.deepcopy(dataset.get_data_info(index))
        for transform in dataset.pipeline.transforms:
            start = time.perf_counter()
            results = transform(results)
            costs[type(transform).__name__] += time.perf_counter() - start
    return {name: t / len(indices) for name, t in costs.items()}


# ----------------------------------------------------------------------
# running
class Bench:
    """One model: its loader iterator, stage times over the timed iterations."""

    def __init__(self, key, args):
        self.key, self.args = key, args
        self.name = MODEL_ZOO[key][0] if key in MODEL_ZOO else osp.relpath(key, REPO)
        torch.manual_seed(args.seed)
        self.model, self.optim_wrapper, self.loader = build(key, args)
        self.iterator = iter(self.loader)
        self.timer = StageTimer(args.device)
        self.iters = 0
        self.wall = 0.
        self.warm = False

    def step(self, timer):
        with timer('data wait'):
            data = next(self.iterator)
        return staged_train_step(self.model, data, self.optim_wrapper, timer)

    def run(self, iters):
        if not self.warm:  # starts the workers; not timed
            for _ in range(self.args.warmup):
                self.step(StageTimer(self.args.device))
            self.warm = True
        for _ in range(iters):
            self.wall += timed(lambda: self.step(self.timer))
            self.iters += 1

    def pipeline(self):
        n = max(1, self.args.pipeline_images)
        dataset = self.loader.dataset
        return pipeline_costs(dataset, [i % len(dataset) for i in range(n)])

    def result(self):
        per_iter = {k: v / self.iters for k, v in self.timer.times.items()}
        wall = self.wall / self.iters
        return dict(ips=self.loader.batch_size / wall, s_per_iter=wall, parts=per_iter,
                    batch=self.loader.batch_size)


def report(benches, results, pipelines, args):
    print(f'\nTraining iterations (model names: at {args.size}x{args.size}, {args.workers} '
          f'workers; config files: their own data and loader); mean over {benches[0].iters} '
          'timed iterations per model:\n')
    print('| model | batch | images/s | s/iter | ' + ' | '.join(g for g, _ in GROUPS) +
          ' | other |')
    print('|---|---:|---:|---:|' + '---:|' * (len(GROUPS) + 1))
    for bench in benches:
        res = results[bench.key]
        parts, total = res['parts'], res['s_per_iter']
        cells = []
        for _, keys in GROUPS:
            t = sum(parts.get(k, 0.) for k in keys)
            cells.append(f'{t:.2f} s ({100 * t / total:.0f}%)')
        other = total - sum(parts.values())
        cells.append(f'{other:.2f} s ({100 * other / total:.0f}%)')
        print(f'| {bench.name} | {res["batch"]} | {res["ips"]:.3f} | {total:.2f} | ' +
              ' | '.join(cells) + ' |')

    print('\nStages (s per iteration):\n')
    print('| model | ' + ' | '.join(PARTS) + ' |')
    print('|---|' + '---:|' * len(PARTS))
    for bench in benches:
        parts = results[bench.key]['parts']
        print(f'| {bench.name} | ' + ' | '.join(f'{parts.get(k, 0.):.3f}' for k in PARTS) + ' |')

    if pipelines:
        print(f'\nData pipeline in this process (ms per image, mean of {args.pipeline_images} '
              'images; the workers pay this beside the training process):\n')
        names = []
        for costs in pipelines.values():
            names += [n for n in costs if n not in names]
        print('| model | ' + ' | '.join(names) + ' | total |')
        print('|---|' + '---:|' * (len(names) + 1))
        for bench in benches:
            costs = pipelines[bench.key]
            print(f'| {bench.name} | ' + ' | '.join(
                f'{1e3 * costs[n]:.1f}' if n in costs else '-' for n in names) +
                f' | {1e3 * sum(costs.values()):.1f} |')

    cast_key = next((b.key for b in benches if b.key == 'upernet_cast-s'), None)
    vit_key = next((b.key for b in benches if b.key == 'upernet_vit-s16'), None)
    if cast_key and vit_key:
        ratio = results[cast_key]['ips'] / results[vit_key]['ips']
        print(f'\nUperNet + CAST-S runs {ratio:.2f}x the images/s of UperNet + ViT-S/16 '
              '(same process, same heads).')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Whole training iterations: images/s and '
                                     'where the time goes')
    parser.add_argument('--models', nargs='+', default=list(MODEL_ZOO),
                        help=f'models to run: names among {", ".join(MODEL_ZOO)} (all three), '
                        'or config files, trained on their own training data')
    parser.add_argument('--size', type=int, default=512, help='crop size (512)')
    parser.add_argument('--batch', type=int, default=2, help='images per iteration (2)')
    parser.add_argument('--iters', type=int, default=2, help='timed iterations per round (2)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='rounds over the models, so that other jobs on a shared machine '
                        'slow them alike (1)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed iterations first (they start the workers) (1)')
    parser.add_argument('--workers', type=int, default=2, help='DataLoader workers (2)')
    parser.add_argument('--pipeline-images', type=int, default=4,
                        help='images whose pipeline is timed transform by transform in this '
                        'process (4; 0 skips)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help=f'torch threads ({torch.get_num_threads()} here)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda (cpu)')
    parser.add_argument('--profile', action='store_true',
                        help='also print a torch.profiler table of one iteration per model')
    parser.add_argument('--data-root', default=osp.join(REPO, 'data', 'synthetic_spin_512'),
                        help='synthetic SPIN pictures of 512-683 px, generated on first use')
    parser.add_argument('--num-images', type=int, default=16,
                        help='training pictures to generate (16)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    for key in args.models:
        if key not in MODEL_ZOO and not osp.isfile(key):
            parser.error(f'--models: {key!r} is neither one of {list(MODEL_ZOO)} nor a config file')
    args.models = [m if m in MODEL_ZOO else osp.abspath(m) for m in args.models]
    return args


def main(argv=None):
    args = parse_args(argv)
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    init_default_scope('mmseg')
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(f'Training-step benchmark: torch {torch.__version__}, '
          f'{machine()}, {args.threads} threads, '
          f'device {args.device}; load average {load:.2f} at the start. The machine may be '
          'shared: figures are noisy.')
    if any(key in MODEL_ZOO for key in args.models):
        ensure_data(args.data_root, args.num_images)
    benches = [Bench(key, args) for key in args.models]
    for _ in range(args.rounds):
        for bench in benches:
            bench.run(args.iters)
    results = {b.key: b.result() for b in benches}
    pipelines = {b.key: b.pipeline() for b in benches} if args.pipeline_images else {}
    report(benches, results, pipelines, args)
    print(f'\nload average {os.getloadavg()[0]:.2f} at the end')
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        for bench in benches:
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                bench.step(StageTimer(args.device))
            print(f'\ntorch.profiler, one iteration of {bench.name}:')
            print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=25))


if __name__ == '__main__':
    main()

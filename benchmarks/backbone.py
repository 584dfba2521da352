"""Throughput and peak memory of the CAST-S backbone beside an MMSeg ViT-S.

    python -m benchmarks.backbone              # full run (6 to 10 minutes on 2 cores)
    python -m benchmarks.backbone --quick      # smoke run: small inputs, one repeat
    python -m benchmarks.backbone --profile    # also where CAST-S spends its time at 512

Cases, all in one process on the same inputs:

- 224x224, batch 8, 196 superpixels: CAST-S classification variant (``out_type='cls_token'``)
  and ViT-S/16 (``mmseg.models.backbones.VisionTransformer``, 384 channels, 6 heads, 11 layers,
  the depth of CAST-S's 3+3+3+2 blocks).
- 512x512, batch 2, 1024 superpixels: CAST-S segmentation variant (four stride 4-32 maps) with
  ``fast_segment_mean=True`` (default) and ``False`` (the reference's full-resolution path:
  features and position table resized to 512x512, then averaged per superpixel), and ViT-S/16
  at 512 (1024 patches, as many tokens as superpixels).
- The reference implementation (twke18/CAST ``cast_models``, CAST-S of ``cast.py`` and
  ``cast_seg_deit.py``) in a subprocess, when its environment exists (``--reference-python``,
  ``--reference-root``); skipped otherwise.

Superpixels: fast-slic on a synthetic scene (random shaded ellipses), the same maps for every
model; the count it returns (it may differ slightly from the one asked) is printed.

Timing: forward is ``eval()`` under ``no_grad``; forward+backward is ``train()``, the backward
of the mean of the outputs (no optimizer step). After warm-up runs, every case runs ``--repeats``
times per round for ``--rounds`` rounds, the cases interleaved so that load from other jobs on a
shared machine hits them alike, and the best time is kept: images/s = batch / best. The figures
stay noisy on a shared machine; compare rows of one run.

Peak memory: ``torch.profiler`` with ``profile_memory=True`` records every allocation and free
of torch's CPU allocator (tensors and kernel temporaries); the peak is the maximum, over the
call, of the bytes allocated since it started and not yet freed, i.e. the memory the call adds
on top of the weights and inputs (for forward+backward this includes the gradients). It is
measured in a separate, untimed call. Not RSS: that would add the interpreter, the libraries
and what the allocator caches, and tracemalloc does not see torch's allocations.

The fast and full-resolution outputs of CAST-S are compared (the same weights): they must agree
within 1e-4. A last table doubles H and W at a fixed 1024 superpixels to show how the peak grows
with the pixel count; the size of one (B, H, W, C) float map is printed beside it.
"""
import argparse
import json
import logging
import math
import os
import os.path as osp
import subprocess
import sys
import tempfile

import torch
from mmengine.logging import MMLogger
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import (
    backbone_forward,
    cast_s,
    machine,
    peak_bytes,
    scene_batch,
    timed,
    vit_s,
)

REFERENCE_ANCHOR = dict(cls=19.0, seg=0.45)  # images/s of the reference on this 2-core CPU


# ----------------------------------------------------------------------
# cases
def forward_fn(model, inputs, superpixels):
    def fn():
        with torch.no_grad():
            backbone_forward(model, inputs, superpixels)
    return fn


def train_step_fn(model, inputs, superpixels):
    def fn():
        outs = backbone_forward(model, inputs, superpixels)
        sum(o.float().mean() for o in outs).backward()
    return fn


class Case:
    """One model on one batch: forward and forward+backward, timed over rounds."""

    def __init__(self, model, inputs, superpixels, backward=True):
        self.model, self.batch, self.backward = model, inputs.shape[0], backward
        self.fwd = forward_fn(model, inputs, superpixels)
        self.step = train_step_fn(model, inputs, superpixels)
        self.best = dict(fwd=math.inf, bwd=math.inf)
        self.res = {}

    def zero(self):
        self.model.zero_grad(set_to_none=True)

    def run(self, repeats, warmup=0):
        self.model.eval()
        for i in range(warmup + repeats):
            t = timed(self.fwd)
            if i >= warmup:
                self.best['fwd'] = min(self.best['fwd'], t)
        if self.backward:
            self.model.train()
            for i in range(warmup + repeats):
                t = timed(self.step, self.zero)
                if i >= warmup:
                    self.best['bwd'] = min(self.best['bwd'], t)
            self.zero()
            self.model.eval()

    def measure_memory(self):
        self.model.eval()
        self.res['fwd_mib'] = peak_bytes(self.fwd) / 2**20
        if self.backward:
            self.model.train()
            self.res['bwd_mib'] = peak_bytes(self.step, self.zero) / 2**20
            self.zero()
            self.model.eval()

    def result(self):
        self.res['fwd_ips'] = self.batch / self.best['fwd']
        if self.backward:
            self.res['bwd_ips'] = self.batch / self.best['bwd']
        return self.res


# ----------------------------------------------------------------------
# the reference, in its own environment
REFERENCE_SCRIPT = r'''
import json, math, sys, time
import torch
from torch._C._autograd import DeviceType
from torch.profiler import ProfilerActivity, profile
root, variant, path, repeats, warmup, threads, backward, memory = sys.argv[1:9]
sys.path.insert(0, root)
torch.set_num_threads(int(threads))
torch.manual_seed(0)
if variant == 'cls':
    from cast_models.cast import cast_small
else:
    from cast_models.cast_seg_deit import cast_small
model = cast_small(img_size=224, num_classes=1000)
data = torch.load(path)
x, y = data['inputs'], data['superpixels']

def fwd():
    with torch.no_grad():
        model(x, y)

def step():
    model(x, y).float().mean().backward()

def zero():
    model.zero_grad(set_to_none=True)

def best(fn, before):
    t = math.inf
    for i in range(int(warmup) + int(repeats)):
        before(); s = time.perf_counter(); fn(); e = time.perf_counter() - s
        if i >= int(warmup):
            t = min(t, e)
    return t

def peak(fn, before):
    before()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    ev = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                if e.name() == '[memory]' and e.device_type() == DeviceType.CPU)
    live = top = 0
    for _, n in ev:
        live += n; top = max(top, live)
    return top / 2**20

model.eval()
res = dict(fwd_s=best(fwd, lambda: None))
if memory == '1':
    res['fwd_mib'] = peak(fwd, lambda: None)
if backward == '1':
    model.train()
    res['bwd_s'] = best(step, zero)
    if memory == '1':
        res['bwd_mib'] = peak(step, zero)
print('RESULT ' + json.dumps(res))
'''


class ReferenceCase:
    # The reference CAST-S run in its own environment, one subprocess per round.

    def __init__(self, variant, inputs, superpixels, args, backward=True):
        self.variant, self.args, self.backward = variant, args, backward
        self.batch = inputs.shape[0]
        self.tmp = tempfile.TemporaryDirectory()
        self.path = osp.join(self.tmp.name, 'inputs.pth')
        torch.save(dict(inputs=inputs, superpixels=superpixels), self.path)
        self.best = dict(fwd=math.inf, bwd=math.inf)
        self.res = {}
        self.failed = False

    @staticmethod
    def available(args):
        return not args.no_reference and osp.isfile(args.reference_python) and osp.isdir(
            osp.join(args.reference_root, 'cast_models'))

    def run(self, repeats, warmup=0, memory=False):
        if self.failed:
            return
        args = self.args
        cmd = [args.reference_python, '-c', REFERENCE_SCRIPT, args.reference_root, self.variant,
               self.path, str(repeats), str(warmup), str(args.threads), str(int(self.backward)),
               str(int(memory))]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        for line in proc.stdout.splitlines():
            if line.startswith('RESULT '):
                out = json.loads(line[len('RESULT '):])
                for key in ('fwd', 'bwd'):
                    if f'{key}_s' in out:
                        self.best[key] = min(self.best[key], out[f'{key}_s'])
                    if f'{key}_mib' in out:
                        self.res[f'{key}_mib'] = out[f'{key}_mib']
                return
        self.failed = True
        print(f'reference {self.variant} failed, skipped:\n{proc.stderr[-2000:]}',
              file=sys.stderr)

    def result(self):
        if self.failed:
            return None
        self.tmp.cleanup()
        for key in ('fwd', 'bwd'):
            if self.best[key] < math.inf:
                self.res[f'{key}_ips'] = self.batch / self.best[key]
        return self.res


# ----------------------------------------------------------------------
# reports
def row(name, size, batch, tokens, res):
    def cell(key, fmt):
        return fmt.format(res[key]) if res and key in res else '-'
    return (f'| {name} | {size} | {batch} | {tokens} | {cell("fwd_ips", "{:.2f}")} | '
            f'{cell("bwd_ips", "{:.2f}")} | {cell("fwd_mib", "{:.0f}")} | '
            f'{cell("bwd_mib", "{:.0f}")} |')


HEADER = ('| model | input | batch | tokens | forward img/s | fwd+bwd img/s | '
          'peak forward (MiB) | peak fwd+bwd (MiB) |\n|---|---|---:|---|---:|---:|---:|---:|')


def max_abs_diff(a, b):
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def profile_table(model, inputs, superpixels, tries=3, rows=20):
    """Operator table of the least disturbed of ``tries`` profiled forwards."""
    model.eval()
    best = None
    with torch.no_grad():
        backbone_forward(model, inputs, superpixels)
        for _ in range(tries):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                backbone_forward(model, inputs, superpixels)
            table = prof.key_averages()
            total = sum(e.self_cpu_time_total for e in table)
            if best is None or total < best[0]:
                best = (total, table)
    return best[1].table(sort_by='self_cpu_time_total', row_limit=rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='CAST-S backbone throughput and peak memory')
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: 224 batch 2, 256x256 with 256 superpixels batch 1, '
                        'one warm-up and one timed run, no scaling table, no reference')
    parser.add_argument('--rounds', type=int, default=3,
                        help='rounds over all cases, interleaved so that load from other jobs '
                        'hits them alike; the best run is kept (3)')
    parser.add_argument('--repeats', type=int, default=2,
                        help='timed runs of each case per round (2)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs first (2)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='torch CPU threads (default: torch\'s, '
                        f'{torch.get_num_threads()} here)')
    parser.add_argument('--no-backward', action='store_true', help='forward only')
    parser.add_argument('--scaling-sizes', type=int, nargs='+', default=[256, 512, 1024],
                        help='square sizes of the memory-scaling table (batch 2, 1024 '
                        'superpixels); the full-resolution path runs up to --max-full-res')
    parser.add_argument('--max-full-res', type=int, default=512,
                        help='largest size the full-resolution path is run at in the scaling '
                        'table (its (B, H, W, C) maps are 3.2 GB at 1024) (512)')
    parser.add_argument('--profile', action='store_true',
                        help='print a torch.profiler table of CAST-S (fast) forward at 512')
    parser.add_argument('--fps-backend', default='auto', choices=['auto', 'torch', 'dgl'],
                        help="CAST's farthest point sampling backend (default: CAST's 'auto')")
    parser.add_argument('--no-reference', action='store_true', help='skip the reference')
    parser.add_argument('--reference-python', default='/tmp/refenv/bin/python',
                        help='python of an environment with the reference\'s dependencies')
    parser.add_argument('--reference-root', default='/tmp/cast_ref',
                        help='folder holding the reference\'s cast_models/')
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.repeats, args.warmup, args.no_reference = 1, 1, 1, True
    return args


def main(argv=None):
    args = parse_args(argv)
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # init_weights() is chatty
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backward = not args.no_backward
    cls_batch, cls_size, cls_sp = (2, 224, 196) if args.quick else (8, 224, 196)
    seg_batch, seg_size, seg_sp = (1, 256, 256) if args.quick else (2, 512, 1024)
    with_ref = ReferenceCase.available(args)
    print(f'CAST-S backbone benchmark: torch {torch.__version__}, {machine()}'
          f', {args.threads} threads; best of {args.rounds} rounds x {args.repeats} runs after '
          f'{args.warmup} warm-up run(s), the cases interleaved; CAST fps_backend='
          f'{args.fps_backend!r}. The machine may be shared: figures are noisy.\n')

    x_cls, sp_cls = scene_batch(cls_batch, (cls_size, cls_size), cls_sp)
    x_seg, sp_seg = scene_batch(seg_batch, (seg_size, seg_size), seg_sp, seed=100)
    n_cls, n_seg = int(sp_cls.max()) + 1, int(sp_seg.max()) + 1
    fast = cast_s('seg', fast=True, fps_backend=args.fps_backend)
    slow = cast_s('seg', fast=False, fps_backend=args.fps_backend)
    slow.load_state_dict(fast.state_dict())
    fast.eval(), slow.eval()
    with torch.no_grad():
        diff = max_abs_diff(fast(x_seg, sp_seg), slow(x_seg, sp_seg))

    cls_tokens, seg_tokens = f'{n_cls} superpixels', f'{n_seg} superpixels'
    rows = [  # (name, size, batch, tokens, case)
        ('CAST-S classification', cls_size, cls_batch, cls_tokens,
         Case(cast_s('cls', fps_backend=args.fps_backend), x_cls, sp_cls, backward)),
        ('ViT-S/16, 11 layers (mmseg)', cls_size, cls_batch, f'{(cls_size // 16) ** 2} patches',
         Case(vit_s(cls_size), x_cls, sp_cls, backward)),
        ('reference CAST-S cast.py', cls_size, cls_batch, cls_tokens,
         ReferenceCase('cls', x_cls, sp_cls, args, backward) if with_ref else None),
        ('CAST-S segmentation, fast_segment_mean=True', seg_size, seg_batch, seg_tokens,
         Case(fast, x_seg, sp_seg, backward)),
        ('CAST-S segmentation, fast_segment_mean=False (reference path)', seg_size, seg_batch,
         seg_tokens, Case(slow, x_seg, sp_seg, backward)),
        ('ViT-S/16, 11 layers (mmseg)', seg_size, seg_batch, f'{(seg_size // 16) ** 2} patches',
         Case(vit_s(seg_size), x_seg, sp_seg, backward)),
        ('reference CAST-S cast_seg_deit.py', seg_size, seg_batch, seg_tokens,
         ReferenceCase('seg', x_seg, sp_seg, args, backward) if with_ref else None),
    ]
    rows = [r for r in rows if r[-1] is not None]
    for r in rows:
        if isinstance(r[-1], Case):
            r[-1].measure_memory()
    for i in range(args.rounds):
        for r in rows:
            case = r[-1]
            if isinstance(case, Case):
                case.run(args.repeats, args.warmup if i == 0 else 0)
            else:  # a fresh process every round: warm up each time, memory once
                case.run(args.repeats, args.warmup, memory=i == 0)
    results = {(r[0], r[1]): r[-1].result() for r in rows}

    print(f'superpixels: fast-slic asked for {cls_sp} at {cls_size} ({n_cls} labels in the '
          f'batch) and {seg_sp} at {seg_size} ({n_seg})\n')
    print(HEADER)
    for name, size, batch, tokens, _ in rows:
        print(row(name, size, batch, tokens, results[(name, size)]))

    res_fast = results[('CAST-S segmentation, fast_segment_mean=True', seg_size)]
    res_slow = results[('CAST-S segmentation, fast_segment_mean=False (reference path)',
                        seg_size)]
    ref_seg = results.get(('reference CAST-S cast_seg_deit.py', seg_size))
    print(f'\nCAST-S segmentation at {seg_size}, batch {seg_batch}:')
    print(f'- fast vs full-resolution outputs: max |difference| {diff:.2e} '
          f'({"within" if diff <= 1e-4 else "NOT within"} 1e-4)')
    for key, what in (('fwd_ips', 'forward'), ('bwd_ips', 'forward+backward')):
        if key not in res_fast:
            continue
        msg = f'- {what}: fast_segment_mean is {res_fast[key] / res_slow[key]:.2f}x the ' \
              'full-resolution path (same process)'
        if ref_seg and key in ref_seg:
            msg += f', {res_fast[key] / ref_seg[key]:.2f}x the reference (subprocess)'
        print(msg)
    if not args.quick:
        print(f'- forward vs the reference\'s earlier measured {REFERENCE_ANCHOR["seg"]} '
              f'images/s: {res_fast["fwd_ips"] / REFERENCE_ANCHOR["seg"]:.2f}x (goal: >= 3x)')

    if not args.quick and args.scaling_sizes:
        print('\nPeak forward memory (MiB) when H and W double (batch 2, 1024 superpixels):\n')
        sizes = args.scaling_sizes
        print('| | ' + ' | '.join(f'{s}x{s}' for s in sizes) + ' |')
        print('|---|' + '---:|' * len(sizes))
        cells = {'fast': [], 'full': [], 'map': []}
        for size in sizes:
            x, sp = scene_batch(2, (size, size), 1024, seed=200)
            cells['fast'].append(peak_bytes(forward_fn(fast, x, sp)) / 2**20)
            cells['full'].append(peak_bytes(forward_fn(slow, x, sp)) / 2**20
                                 if size <= args.max_full_res else None)
            cells['map'].append(2 * size * size * 384 * 4 / 2**20)
        for key, name in (('fast', 'fast_segment_mean=True'),
                          ('full', 'fast_segment_mean=False'),
                          ('map', 'one (B, H, W, C) float map')):
            print(f'| {name} | ' + ' | '.join('-' if v is None else f'{v:.0f}'
                                             for v in cells[key]) + ' |')
        for key, name in (('fast', 'fast_segment_mean=True / map'),
                          ('full', 'fast_segment_mean=False / map')):
            print(f'| {name} | ' + ' | '.join(
                '-' if v is None else f'{v / m:.2f}'
                for v, m in zip(cells[key], cells['map'])) + ' |')

    if args.profile:
        print(f'\ntorch.profiler, CAST-S fast forward at {seg_size}, batch {seg_batch} (least '
              'disturbed of 3 calls; under load the FPS loop of small ops inflates most):')
        print(profile_table(fast, x_seg, sp_seg))


if __name__ == '__main__':
    main()

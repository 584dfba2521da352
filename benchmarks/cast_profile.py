"""How much of CAST-S's CPU time is outside matrix products and convolutions.

    python -m benchmarks.cast_profile                     # classification, 224, batch 8, 196 sp
    python -m benchmarks.cast_profile --backward          # forward + backward
    python -m benchmarks.cast_profile --variant seg --size 512 --batch 2 --superpixels 1024
    python -m benchmarks.cast_profile --model vit-s       # MMSeg's ViT-S/16, 11 layers, same input

Profiles ``--tries`` (10) forwards of CAST-S (eval, no_grad; with ``--backward``, train mode and
the backward of the mean output) with ``torch.profiler`` (CPU activity) after two warm-up
calls, and splits the operator time (the sum of every operator's self time) in two, taking
each operator's smallest time over the calls (other jobs on a shared machine preempt random
operators; the minimum removes most of that):

- matrix products and convolutions: the inclusive time of the outermost calls of the aten
  kernels in :data:`MATRIX_OPS`, i.e. dense and sparse matrix products (``mm``, ``bmm``,
  ``addmm``, ``baddbmm``, ``_sparse_addmm`` ...), the fused attention kernel
  ``_scaled_dot_product_flash_attention_for_cpu`` (two batched products with the softmax
  between them; its share is also printed apart) and the convolution kernels
  (``mkldnn_convolution``, ``convolution_backward`` ...), backward ones included. Inclusive: what
  runs inside them counts with them (``addmm`` copies the bias into its output before the GEMM;
  ``sparse.mm`` coalesces);
- everything else ("non-matrix"): elementwise ops, norms, activations, softmax, reductions,
  indexing, copies, concatenations, the farthest point sampling loop, and the dispatch cost of
  wrappers such as ``aten::linear`` (their self time).

Printed: the non-matrix share of the operator time; the share of the wall time of an
unprofiled call (the shortest of ``--tries``) not spent in matrix kernels (non-matrix operators,
Python and dispatch between operators); and the top non-matrix operators. Superpixels:
fast-slic on the synthetic scenes of :mod:`benchmarks.common`.
"""
import argparse
import logging
import os
from collections import defaultdict

import torch
from mmengine.logging import MMLogger
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import (
    backbone_forward,
    best_time,
    cast_s,
    machine,
    scene_batch,
    timed,
    vit_s,
)

#: The aten kernels counted as matrix products and convolutions (forward and backward).
MATRIX_OPS = frozenset({
    'aten::mm', 'aten::bmm', 'aten::addmm', 'aten::baddbmm', 'aten::addbmm', 'aten::addmv',
    'aten::mv', 'aten::dot', 'aten::_addmm_activation', 'aten::_sparse_mm',
    'aten::_sparse_addmm', 'aten::_sparse_sparse_matmul', 'aten::_sparse_mm_reduce_impl',
    'aten::_scaled_dot_product_flash_attention_for_cpu',
    'aten::_scaled_dot_product_flash_attention_for_cpu_backward',
    'aten::mkldnn_convolution', 'aten::_slow_conv2d_forward', 'aten::_slow_conv2d_backward',
    'aten::thnn_conv2d', 'aten::convolution_backward', 'aten::mkldnn_convolution_backward',
    'aten::_convolution_depthwise2d', 'aten::conv_depthwise2d', 'aten::slow_conv_dilated2d',
})
ATTENTION_OPS = frozenset(op for op in MATRIX_OPS if 'scaled_dot_product' in op)


def profile_calls(fn, tries):
    """Events of ``tries`` profiled calls, and the shortest wall time."""
    runs, walls = [], []
    for _ in range(tries):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            walls.append(timed(fn))
        runs.append(prof.events())
    return runs, min(walls)


def _inside(event, names):
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in names:
            return True
        parent = parent.cpu_parent
    return False


def split(events):
    """Split one call's operator time into matrix kernels and the rest.

    Matrix time is the inclusive time of the outermost :data:`MATRIX_OPS` calls, so what runs
    inside them (the bias copy that ``addmm`` makes before its GEMM, the layout reorders of
    ``mkldnn_convolution``) counts with them; every other operator counts with its self time.

    Returns:
        tuple[dict, dict]: microseconds per operator name of the non-matrix operators (self)
        and of the matrix ones (inclusive); together they sum to the call's operator time.
    """
    other, matrix = defaultdict(float), defaultdict(float)
    for e in events:
        if e.name in MATRIX_OPS:
            if not _inside(e, MATRIX_OPS):
                matrix[e.name] += e.cpu_time_total
        elif not _inside(e, MATRIX_OPS):
            other[e.name] += e.self_cpu_time_total
    return other, matrix


def least_disturbed(runs):
    """Per operator name, its smallest time over the runs: other jobs on a shared machine
    preempt random operators, so a minimum per operator removes most of their effect."""
    splits = [split(events) for events in runs]
    result = []
    for i in (0, 1):
        names = set().union(*(s[i] for s in splits))
        result.append({k: min(s[i].get(k, 0.) for s in splits) for k in names})
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', choices=['cast-s', 'vit-s'], default='cast-s',
                        help="CAST-S, or the floor of the transformer blocks: MMSeg's ViT-S/16 "
                        'with 11 layers (benchmarks.common.vit_s), same input')
    parser.add_argument('--variant', choices=['cls', 'seg'], default='cls',
                        help="'cls': classification (sin-cos, 64/32/16/8 clusters, [CLS] out); "
                        "'seg': segmentation (four feature maps) (cls)")
    parser.add_argument('--size', type=int, default=224, help='input size (224)')
    parser.add_argument('--batch', type=int, default=8, help='batch (8)')
    parser.add_argument('--superpixels', type=int, default=196, help='asked of fast-slic (196)')
    parser.add_argument('--backward', action='store_true', help='forward + backward')
    parser.add_argument('--tries', type=int, default=10,
                        help='profiled calls; per operator the least time is kept (10)')
    parser.add_argument('--top', type=int, default=15, help='non-matrix ops listed (15)')
    parser.add_argument('--fps-backend', default='auto', choices=['auto', 'torch', 'dgl'])
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = (cast_s(args.variant, fps_backend=args.fps_backend) if args.model == 'cast-s' else
             vit_s(args.size))
    inputs, superpixels = scene_batch(args.batch, (args.size, args.size), args.superpixels)

    def forward():
        with torch.no_grad():
            backbone_forward(model, inputs, superpixels)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        sum(o.float().mean() for o in backbone_forward(model, inputs, superpixels)).backward()

    fn = forward_backward if args.backward else forward
    model.train(args.backward)
    for _ in range(2):
        fn()
    runs, _ = profile_calls(fn, args.tries)
    wall = best_time(fn, args.tries)
    other_us, matrix_us = least_disturbed(runs)
    matrix = sum(matrix_us.values())
    attention = sum(t for k, t in matrix_us.items() if k in ATTENTION_OPS)
    other = sum(other_us.values())
    total = matrix + other
    what = 'forward + backward' if args.backward else 'forward'
    name = f'CAST-S {args.variant}' if args.model == 'cast-s' else 'ViT-S/16, 11 layers'
    print(f'{name} {what}, {args.size}x{args.size}, batch {args.batch}, '
          f'{int(superpixels.max()) + 1} superpixel labels (fast-slic asked for '
          f'{args.superpixels}), fps_backend={args.fps_backend!r}, torch {torch.__version__}, '
          f'{machine()}, {args.threads} threads, load average {os.getloadavg()[0]:.2f}; '
          f'per operator the least of {args.tries} profiled calls.\n')
    print(f'operator time {total / 1e3:.1f} ms; shortest wall time of an unprofiled call '
          f'{wall * 1e3:.1f} ms')
    print(f'matrix products and convolutions: {matrix / 1e3:.1f} ms '
          f'(of which fused attention {attention / 1e3:.1f} ms)')
    print(f'non-matrix share of operator time: {100 * other / total:.1f}% '
          f'(counting fused attention as non-matrix: {100 * (other + attention) / total:.1f}%)')
    outside = wall * 1e6 - matrix
    print(f'share of that wall time outside matrix kernels (non-matrix ops and Python): '
          f'{100 * outside / (wall * 1e6):.1f}%\n')
    print(f'top {args.top} non-matrix operators (self time):\n')
    print('| operator | ms | % of operator time |')
    print('|---|---:|---:|')
    for k, t in sorted(other_us.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f'| `{k}` | {t / 1e3:.2f} | {100 * t / total:.1f} |')
    print('\nmatrix operators (inclusive time):\n')
    print('| operator | ms | % of operator time |')
    print('|---|---:|---:|')
    for k, t in sorted(matrix_us.items(), key=lambda kv: -kv[1]):
        print(f'| `{k}` | {t / 1e3:.2f} | {100 * t / total:.1f} |')


if __name__ == '__main__':
    main()

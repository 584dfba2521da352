"""The cost of test-time adaptation: seconds per image for V views and N steps, as a ratio to
plain inference of the same image in the same run, and peak memory.

    python -m benchmarks.adaptation                                  # CAST-S DeiT, 224 px
    python -m benchmarks.adaptation --views 4 8 16 --steps 1 2 4 --rounds 3
    python -m benchmarks.adaptation --quick                          # tiny config, seconds

Plain inference is the test pipeline (resize, crop, ``Superpixels``) and one forward pass of the
test view; an adaptation is :meth:`~cast.recognition.TestTimeAdapter.adapt`: per step V views
(the training augmentations and their superpixels), a forward and backward pass over them and
an optimizer step, plus N + 1 records of the test view (prediction and hierarchy). Weights are
the config's initialisation (the cost does not depend on them). Peak memory: on the CPU the
bytes torch allocates on top of what exists before the call (:func:`common.peak_bytes`), on
CUDA ``max_memory_allocated`` above the memory allocated before it. Figures:
``docs/benchmarks.md`` (test-time adaptation).
"""
import argparse
import itertools

import numpy as np
import torch
from mmengine.runner import set_random_seed

from benchmarks.common import best_time, machine, peak_bytes, scene
from cast.apis import init_recognition_model
from cast.recognition import TestTimeAdapter

DEFAULT_CONFIG = 'configs/cast/cast-s_deit_in1k.py'
QUICK_CONFIG = 'tests/data/configs/tiny_cast_deit.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='recognition config')
    parser.add_argument('--views', type=int, nargs='+', default=[4, 8, 16], help='V values')
    parser.add_argument('--steps', type=int, nargs='+', default=[1, 2, 4], help='N values')
    parser.add_argument('--rounds', type=int, default=2, help='best of this many runs')
    parser.add_argument('--size', type=int, default=256, help='side of the synthetic image')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--no-memory', action='store_true', help='skip the peak memory runs')
    parser.add_argument('--quick', action='store_true',
                        help=f'{QUICK_CONFIG}, V 2, N 1, one round, a 96 px image')
    args = parser.parse_args(argv)
    if args.quick:
        args.config, args.views, args.steps, args.rounds, args.size = (
            QUICK_CONFIG, [2], [1], 1, 96)
    return args


def measure_memory(fn, device: str) -> int:
    """Peak bytes ``fn()`` adds on ``device``."""
    if not str(device).startswith('cuda'):
        return peak_bytes(fn)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def run(args) -> list:
    """Rows (V, N, seconds, ratio to plain inference, peak MiB), plain inference first with
    V = N = 0."""
    model = init_recognition_model(args.config, None, args.device)
    img = scene(np.random.default_rng(0), args.size, args.size)[0]
    cuda = str(args.device).startswith('cuda')

    def synced(fn):
        def call():
            fn()
            if cuda:
                torch.cuda.synchronize()
        return call

    def plain(adapter):
        batch = adapter.make_test_view(img)
        with torch.no_grad():
            model(batch['inputs'], batch['data_samples'], mode='tensor')

    base = TestTimeAdapter.from_config(model, model.cfg, steps=0, num_views=2)
    plain_call = synced(lambda: plain(base))
    plain_call()  # warm-up
    plain_s = best_time(plain_call, args.rounds)
    rows = [(0, 0, plain_s, 1.0, None if args.no_memory else
             measure_memory(plain_call, args.device) / 2**20)]
    for views, steps in itertools.product(args.views, args.steps):
        adapter = TestTimeAdapter.from_config(model, model.cfg, steps=steps, num_views=views)
        call = synced(lambda: adapter.adapt(img))
        seconds = best_time(call, args.rounds, before=lambda: set_random_seed(0))
        memory = None if args.no_memory else measure_memory(call, args.device) / 2**20
        rows.append((views, steps, seconds, seconds / plain_s, memory))
    return rows


def main(argv=None):
    args = parse_args(argv)
    print(f'# {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'device {args.device}')
    print(f'# {args.config}, a {args.size}x{args.size} synthetic image, best of '
          f'{args.rounds} rounds')
    rows = run(args)
    print('| V views | N steps | s / image | x plain inference | peak MiB |')
    print('|---|---|---|---|---|')
    for views, steps, seconds, ratio, memory in rows:
        label = ('plain inference', '-') if views == 0 else (views, steps)
        mib = '-' if memory is None else f'{memory:.1f}'
        print(f'| {label[0]} | {label[1]} | {seconds:.3f} | {ratio:.1f} | {mib} |')
    return rows


if __name__ == '__main__':
    main()

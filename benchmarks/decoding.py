"""Time and peak memory of the decodings at SPIN's class counts, one 512x512 image.

    python -m benchmarks.decoding [--size 512] [--rounds 3] [--chunk-size 16384]

Decodes random logits of SPIN's levels (object / part / subpart) with each decoding of
:mod:`cast.segmentors.consistent_decoding`: independent (per-level argmax), greedy and joint
(exact, max-product), for the tree (``object_level='superclass'``: 12 / 41 / 204 classes) and
the DAG (``object_level='class'``: 159 / 41 / 204, every part under each of its superclass's
object classes). Prints seconds (best of ``--rounds``), the ratio to independent decoding in the
same process, and the peak of the bytes torch allocates on the CPU during the call and has not
yet freed (torch.profiler), beside the size of the logits themselves. It also counts the chains
and checks that joint decoding's chains score at least as high as greedy's at every pixel.
"""
import argparse

import torch
import torch.nn.functional as F

from benchmarks.common import best_time, peak_bytes, spin_hierarchy
from cast.segmentors.consistent_decoding import decode_levels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--chunk-size', type=int, default=1 << 14)
    args = parser.parse_args(argv)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'{args.size}x{args.size}, chunk {args.chunk_size} pixels')
    rows = ['| hierarchy | classes | chains | decoding | seconds | x independent | '
            'peak MiB | logits MiB |', '|---|---|---:|---|---:|---:|---:|---:|']
    for object_level in ('superclass', 'class'):
        h = spin_hierarchy(object_level)
        sizes = ' / '.join(str(h.num_classes[lv]) for lv in h.levels)
        g = torch.Generator().manual_seed(1)
        logits = [torch.randn(h.num_classes[lv], args.size, args.size, generator=g)
                  for lv in h.levels]
        logits_mib = sum(x.numel() * 4 for x in logits) / 2**20
        base = None
        preds = {}
        for decoding in ('independent', 'greedy', 'joint'):
            def run():
                preds[decoding] = decode_levels(logits, decoding, h, args.chunk_size)
            run()  # warm-up
            seconds = best_time(run, args.rounds)
            base = base or seconds
            peak = peak_bytes(run) / 2**20
            rows.append(f'| {object_level} | {sizes} | {len(h.chains())} | {decoding} | '
                        f'{seconds:.3f} | {seconds / base:.1f} | {peak:.0f} | {logits_mib:.0f} |')
        scores = [F.log_softmax(x, 0) for x in logits]

        def total(p):
            return sum(s.gather(0, q[None])[0] for s, q in zip(scores, p))
        gap = total(preds['joint']) - total(preds['greedy'])
        assert (gap > -1e-4).all(), 'joint decoding scored below greedy'
        print(f'{object_level}: joint chain better than greedy on {(gap > 1e-6).float().mean():.2%}'
              ' of the pixels, never worse')
    print('\n'.join(rows))


if __name__ == '__main__':
    main()

"""Time of the chain likelihood loss and of HSSN's losses at SPIN's class counts, beside
per-level cross-entropy.

    python -m benchmarks.chain_loss [--size 512] [--batch 2] [--rounds 3] [--threads 1]

Forward and backward of :class:`cast.losses.ChainLikelihoodLoss` on random logits of SPIN's
levels at stride 4, bilinearly resized to the labels as ``HierarchicalDecodeHead`` does, for
the tree (12 / 41 / 204 classes) and the DAG (159 / 41 / 204) of
:func:`benchmarks.common.spin_hierarchy`. The labels are valid chains drawn per 32x32 block,
with the subpart ignored on a quarter of the blocks and a padded border (every level ignored)
as a crop smaller than 512 leaves.
Printed: seconds (best of ``--rounds``) and the ratio to the three per-level cross-entropies
on the same logits in the same process (what per-level training pays for its loss), for
:class:`~cast.losses.ChainLikelihoodLoss`, HSSN's :class:`~cast.losses.TreeMinLoss` on the same
logits, and HSSN's :class:`~cast.losses.TreeTripletLoss` on a random normalised 256-d embedding
at stride 8 (HSSN's), at full weight (after its ramp).
"""
import argparse

import torch
import torch.nn.functional as F

from benchmarks.common import best_time, machine, spin_hierarchy
from cast.losses import ChainLikelihoodLoss, TreeMinLoss, TreeTripletLoss

IGNORE = 255


def spin_labels(hierarchy, batch, size, seed=0, block=32, pad=48):
    """L label maps (B, size, size): a valid chain per block, subparts ignored on a quarter of
    the blocks, the last ``pad`` rows and columns ignored at every level."""
    g = torch.Generator().manual_seed(seed)
    chains = hierarchy.chains()
    cells = size // block
    pick = chains[torch.randint(0, len(chains), (batch, cells, cells), generator=g)]
    pick[..., -1][torch.rand(batch, cells, cells, generator=g) < 0.25] = IGNORE
    labels = []
    for i in range(len(hierarchy.levels)):
        y = pick[..., i].repeat_interleave(block, 1).repeat_interleave(block, 2)
        y[:, size - pad:] = IGNORE
        y[:, :, size - pad:] = IGNORE
        labels.append(y)
    return labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {machine()}, {args.threads} threads; batch {args.batch} '
          f'at {args.size}x{args.size}, best of {args.rounds}\n')
    print('| hierarchy | classes | chains | loss | seconds | 3 cross-entropies s | ratio |')
    print('|---|---|---:|---|---:|---:|---:|')
    losses = dict(chain=ChainLikelihoodLoss(), tree_min=TreeMinLoss())
    triplet = TreeTripletLoss(warmup_iters=1)
    for object_level in ('superclass', 'class'):
        h = spin_hierarchy(object_level)
        g = torch.Generator().manual_seed(1)
        small = [torch.randn(args.batch, h.num_classes[lv], args.size // 4, args.size // 4,
                             generator=g).requires_grad_() for lv in h.levels]
        labels = spin_labels(h, args.batch, args.size)

        def resized():
            return [F.interpolate(x, size=(args.size, args.size), mode='bilinear',
                                  align_corners=False) for x in small]

        def timed(name):
            def run():
                value, _ = losses[name](resized(), labels, h)
                value.backward()
            return run

        embedding = torch.randn(args.batch, 256, args.size // 8, args.size // 8,
                                generator=g).requires_grad_()

        def tree_triplet():
            triplet(F.normalize(embedding, dim=1), labels, h, step=1).backward()

        def cross_entropy():
            sum(F.cross_entropy(x, y, ignore_index=IGNORE)
                for x, y in zip(resized(), labels)).backward()

        sizes = ' / '.join(str(h.num_classes[lv]) for lv in h.levels)
        t_ce = best_time(cross_entropy, args.rounds)
        for name, fn in (('chain likelihood', timed('chain')), ('HSSN tree-min', timed('tree_min')),
                         ('HSSN tree-triplet', tree_triplet)):
            fn()
            t = best_time(fn, args.rounds)
            print(f'| {object_level} | {sizes} | {len(h.chains())} | {name} | {t:.3f} | '
                  f'{t_ce:.3f} | {t / t_ce:.2f}x |', flush=True)


if __name__ == '__main__':
    main()

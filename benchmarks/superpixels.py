"""fast-slic against OpenCV SEEDS on the same synthetic crops.

    python -m benchmarks.superpixels [--num-images 24] [--rounds 3] [--quick]

For each crop size (224 with 196 superpixels, as the ImageNet recipes; 512
with 1024, as the segmentation ones) the same images from
:class:`cast.datasets.synthetic.SceneGenerator` (exact part and subpart masks)
go through every method of the ``Superpixels`` transform:

- ``slic``: fast-slic, the default (compactness 10, 10 iterations);
- ``seeds 5/15``: SEEDS with the reference's DeiT and segmentation setting
  (5 histogram bins, 15 iterations);
- ``seeds 15/20``: SEEDS with the reference's MoCo v3 setting.

Columns: milliseconds per image (the best of ``--rounds`` passes over the
images, methods interleaved, single-threaded), its ratio to fast-slic's in the
same run, the superpixel count asked and returned (mean, min-max), and the
boundary recall: the fraction of ground-truth boundary pixels (between any two
regions of the finest level: background, parts, subparts) with a superpixel
boundary within ``--tolerance`` pixels (2 by default, as superpixel
benchmarks do), pooled over the images.
"""
import argparse

import numpy as np
import torch

from benchmarks.common import timed
from cast.datasets.synthetic import SceneGenerator
from cast.datasets.transforms import Superpixels
from cast.evaluation.unsupervised import boundary_counts

METHODS = {
    'slic': dict(method='slic'),
    'seeds 5/15': dict(method='seeds', histogram_bins=5, max_iter=15),
    'seeds 15/20': dict(method='seeds', histogram_bins=15, max_iter=20),
}
SIZES = {224: 196, 512: 1024}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=24)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--tolerance', type=float, default=2.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quick', action='store_true',
                        help='4 images, one round (a smoke run)')
    return parser.parse_args(argv)


def finest_regions(scene: dict) -> np.ndarray:
    """(H, W) ids of the finest ground-truth regions: 0 background, then one
    id per visible part and subpart."""
    regions = np.zeros((scene['height'], scene['width']), np.int64)
    next_id = 1
    for obj in scene['objects']:
        for part in obj['parts']:
            regions[part['mask']] = next_id
            next_id += 1
            for sub in part['subparts']:
                regions[sub['mask']] = next_id
                next_id += 1
    return regions


def scenes(size: int, count: int, seed: int):
    rng = np.random.default_rng(seed)
    generator = SceneGenerator(min_size=size, max_size=size)
    out = []
    for _ in range(count):
        scene = generator(rng)
        out.append((scene['img'], finest_regions(scene)))
    return out


def run(args) -> None:
    if args.quick:
        args.num_images, args.rounds = 4, 1
    torch.set_num_threads(1)
    print(f'{args.num_images} synthetic images per size, best of '
          f'{args.rounds} rounds, boundary tolerance {args.tolerance:g} px, '
          'one thread')
    print()
    print('| crop | method | ms / image | vs fast-slic | asked | returned '
          '(mean, min-max) | boundary recall |')
    print('|---|---|---:|---:|---:|---|---:|')
    for size, asked in SIZES.items():
        images = scenes(size, args.num_images, args.seed + size)
        transforms = {name: Superpixels(num_superpixels=asked, **kwargs)
                      for name, kwargs in METHODS.items()}
        best = {name: float('inf') for name in METHODS}
        labels = {}
        for _ in range(args.rounds):
            for name, transform in transforms.items():
                elapsed = timed(lambda: labels.update(
                    {name: [transform.compute(img) for img, _ in images]}))
                best[name] = min(best[name], elapsed / len(images) * 1e3)
        for name in METHODS:
            counts = np.array([sp.max() + 1 for sp in labels[name]])
            hits = torch.stack([
                boundary_counts(torch.from_numpy(sp), torch.from_numpy(gt),
                                args.tolerance)
                for sp, (_, gt) in zip(labels[name], images)]).sum(0)
            recall = float(hits[2]) / max(int(hits[3]), 1)
            print(f'| {size} | {name} | {best[name]:.1f} | '
                  f"{best[name] / best['slic']:.2f}x | {asked} | "
                  f'{counts.mean():.0f} ({counts.min()}-{counts.max()}) | '
                  f'{recall:.3f} |')


if __name__ == '__main__':
    run(parse_args())

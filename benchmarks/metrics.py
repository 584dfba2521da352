"""Evaluator throughput: HierarchicalMetric (3 levels + SpCS + SeCS) beside MMSeg's IoUMetric.

Maps the size of SPIN's test split (1,040 images of about 500x375; 11 objects, 40 parts, 203
subparts, each + background) with structured ground truth (nested blocks, ignore pixels) and
predictions that are the ground truth shifted, with blocks of wrong (often inconsistent) classes.
Both metrics see the same data samples (int64 maps, as models and PackSegInputs give them), in
batches, through ``process()`` then ``evaluate()``; tables are built but not printed.

Goal: every level with SpCS and SeCS in under 1.5x the time of IoUMetric on one level.

    python -m benchmarks.metrics                    # full size
    python -m benchmarks.metrics --num-images 64    # quick
"""
import argparse
import logging

import numpy as np
import torch
from mmengine.logging import MMLogger

from benchmarks.common import SPIN_LEVELS, SPIN_NUM_CLASSES, spin_meta, timed
from cast.evaluation import HierarchicalMetric
from mmseg.evaluation import IoUMetric

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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=1040)
    parser.add_argument('--unique', type=int, default=16,
                        help='distinct synthetic images, cycled through (memory)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--iou-level', default='object', choices=SPIN_LEVELS,
                        help='the level MMSeg IoUMetric evaluates')
    parser.add_argument('--repeat', type=int, default=3, help='best of this many runs')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    MMLogger.get_instance('benchmark', log_level=logging.WARNING)  # tables built, not printed
    meta, samples = make_samples(min(args.unique, args.num_images))
    for sample in samples:
        sample['gt_sem_seg'] = sample[f'gt_seg_{args.iou_level}']
        sample['pred_sem_seg'] = sample[f'pred_seg_{args.iou_level}']

    def ours():
        metric = HierarchicalMetric(hier_metrics=('mIoU', 'SpCS', 'SeCS'))
        metric.dataset_meta = meta
        return metric

    def theirs():
        metric = IoUMetric(iou_metrics=['mIoU'])
        metric.dataset_meta = dict(classes=meta['level_classes'][args.iou_level])
        return metric

    for build in (ours, theirs):  # warm up
        time_metric(build(), samples, min(8, args.num_images), args.batch_size)
    times = dict(ours=[], theirs=[])
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        for name, build in (('theirs', theirs), ('ours', ours)):
            seconds, results = time_metric(build(), samples, args.num_images, args.batch_size)
            times[name].append(seconds)
            if name == 'ours':
                ours_results = results
            else:
                theirs_results = results
    best = {name: min(t) for name, t in times.items()}
    n = args.num_images
    print(f'{n} images of about 500x375, {args.threads} thread(s), batch {args.batch_size}, '
          f'best of {args.repeat}')
    print(f'MMSeg IoUMetric, 1 level ({args.iou_level}): {best["theirs"]:.2f} s '
          f'({1e3 * best["theirs"] / n:.2f} ms/image)  mIoU {theirs_results["mIoU"]}')
    print(f'HierarchicalMetric, 3 levels + SpCS + SeCS: {best["ours"]:.2f} s '
          f'({1e3 * best["ours"] / n:.2f} ms/image)  '
          f'mIoU.{args.iou_level} {ours_results[f"mIoU.{args.iou_level}"]}  '
          f'SpCS_S2P {ours_results["SpCS_S2P"]}  SpCS_P2O {ours_results["SpCS_P2O"]}  '
          f'SeCS {ours_results["SeCS"]}')
    ratio = best['ours'] / best['theirs']
    print(f'ratio: {ratio:.2f}x (goal < 1.5x): {"met" if ratio < 1.5 else "NOT met"}')


if __name__ == '__main__':
    main()

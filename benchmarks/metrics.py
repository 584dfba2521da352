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

import torch
from mmengine.logging import MMLogger

from benchmarks.common import SPIN_LEVELS, make_samples, time_metric
from cast.evaluation import HierarchicalMetric
from mmseg.evaluation import IoUMetric


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

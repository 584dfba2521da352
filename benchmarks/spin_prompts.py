"""The cost of SPIN's prompt protocol: PromptMetric beside HierarchicalMetric on the same images.

The images and label maps of :mod:`benchmarks.metrics` (``benchmarks.common.make_samples``:
SPIN's picture size, about 500x375, and class counts; ground truth of nested blocks, so an image
holds far more classes than a SPIN picture's dozen: an upper bound on the prompts per image).
PromptMetric answers every prompt from the predicted label map (as ``tools/eval_hierarchy.py
--from-label-maps``) and scores mIoU, SpCS and SeCS with the size and name breakdowns;
HierarchicalMetric scores the same maps.

    python -m benchmarks.spin_prompts                    # 64 images
    python -m benchmarks.spin_prompts --num-images 16    # quick
"""
import argparse
import logging

import torch
from mmengine.logging import MMLogger

from benchmarks.common import make_samples, time_metric
from cast.evaluation import HierarchicalMetric, PromptMetric


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--unique', type=int, default=16,
                        help='distinct synthetic images, cycled through (memory)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--repeat', type=int, default=3, help='best of this many runs')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    MMLogger.get_instance('benchmark', log_level=logging.WARNING)  # tables built, not printed
    meta, samples = make_samples(min(args.unique, args.num_images))

    def build(cls, **kwargs):
        def make():
            metric = cls(**kwargs)
            metric.dataset_meta = meta
            return metric
        return make

    builders = dict(prompts=build(PromptMetric),
                    label_maps=build(HierarchicalMetric, hier_metrics=('mIoU', 'SpCS', 'SeCS')))
    times, results = {name: [] for name in builders}, {}
    for make in builders.values():  # warm up
        time_metric(make(), samples, min(8, args.num_images), args.batch_size)
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        for name, make in builders.items():
            seconds, results[name] = time_metric(make(), samples, args.num_images,
                                                 args.batch_size)
            times[name].append(seconds)
    n = args.num_images
    prompts = sum(results['prompts'][f'prompts.{lv}'] for lv in meta['levels'])
    print(f'{n} images of about 500x375, {prompts / n:.0f} prompts per image, '
          f'{args.threads} thread(s), best of {args.repeat} (all runs, s: '
          + '; '.join(f'{k} ' + ' '.join(f'{t:.2f}' for t in v) for k, v in times.items()) + ')')
    for name, label in (('label_maps', 'HierarchicalMetric, 3 levels + SpCS + SeCS'),
                        ('prompts', 'PromptMetric, answers from the label maps')):
        best = min(times[name])
        print(f'{label}: {best:.2f} s ({1e3 * best / n:.1f} ms/image)  SpCS_S2P '
              f'{results[name]["SpCS_S2P"]}  SpCS_P2O {results[name]["SpCS_P2O"]}')
    print(f'ratio: {min(times["prompts"]) / min(times["label_maps"]):.2f}x')


if __name__ == '__main__':
    main()

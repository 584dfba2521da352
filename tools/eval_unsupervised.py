"""Unsupervised part-whole evaluation of CAST's region hierarchy.

    python tools/eval_unsupervised.py CONFIG CKPT --dataset spin --data-root ROOT
        [--split val] [--size 96] [--num-superpixels N] [--levels object part]
        [--tolerance 0.0075] [--max-images N] [--out results.json]

Every level of CAST's hierarchy (the superpixels the model sees, then the
clusters of each stage) is labelled region by region with the majority
ground-truth class, then scored against each ground-truth level (object,
part, ...) of SPIN / PartImageNet-format data by region mIoU and boundary
F-score (definitions: cast/evaluation/unsupervised.py). No label is learned:
the score measures how well the unsupervised regions follow objects and parts.

CONFIG is any config with a CAST backbone (segmentation or recognition); CKPT
one of our checkpoints, an official or converted CAST checkpoint, or 'random'
(the config's initialisation, the baseline to beat). Images are resized so
that their shorter side is --size (default: kept); the ground truth follows
(nearest neighbour). Superpixels follow the config's Superpixels settings
unless --num-superpixels / --area-per-superpixel say otherwise.
"""
import argparse
import json
import os.path as osp

import mmcv
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar, mkdir_or_exist

import cast  # noqa: F401  registers the datasets and transforms
from cast.evaluation.unsupervised import (DEFAULT_TOLERANCE,
                                          boundary_tolerance, region_stats,
                                          summarize)
from cast.apis import HierarchyPredictor
from mmseg.registry import DATASETS

DATASET_TYPES = dict(spin='SPINDataset', partimagenet='PartImageNetDataset')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Score CAST's unsupervised regions against object and "
        'part ground truth (majority labelling, region mIoU, boundary F)')
    parser.add_argument('config', help='config with a CAST backbone')
    parser.add_argument('checkpoint',
                        help="checkpoint file, or 'random' for the config's "
                        'initialisation')
    parser.add_argument('--dataset', required=True, choices=sorted(DATASET_TYPES))
    parser.add_argument('--data-root', required=True, help='dataset root')
    parser.add_argument('--split', default='val', help='split (val)')
    parser.add_argument('--levels', nargs='+',
                        help='ground-truth levels to score (default: all)')
    parser.add_argument('--size', type=int,
                        help='resize the shorter image side to SIZE')
    parser.add_argument('--num-superpixels', type=int,
                        help='superpixels per image (overrides the config)')
    parser.add_argument('--area-per-superpixel', type=int,
                        help='pixels per superpixel (overrides the config)')
    parser.add_argument('--tolerance', type=float, default=DEFAULT_TOLERANCE,
                        help='boundary matching distance as a fraction of the '
                        'image diagonal, at least 1 pixel (0.0075)')
    parser.add_argument('--max-images', type=int,
                        help='evaluate only the first N images')
    parser.add_argument('--dataset-options', nargs='+', action=DictAction,
                        default={}, metavar='KEY=VALUE',
                        help='more dataset arguments, e.g. object_level=class')
    parser.add_argument('--device', default='cpu', help='torch device (cpu)')
    parser.add_argument('--seed', type=int, default=0,
                        help="seed for CKPT='random' (0)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--out', help='write the scores to this JSON file')
    return parser.parse_args(argv)


def build_dataset(name, data_root, split, **options):
    """The dataset, loading the image and every level's label map."""
    init_default_scope('mmseg')
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadHierarchicalAnnotations')]
    return DATASETS.build(dict(
        type=DATASET_TYPES[name], data_root=data_root, split=split,
        pipeline=pipeline, test_mode=True, **options))


def resize_short(results, size):
    """Resize the image (bilinear) and every ``gt_seg_*`` map (nearest) so
    that the shorter side is ``size``."""
    img = results['img']
    scale = size / min(img.shape[:2])
    results['img'] = mmcv.imrescale(img, scale, interpolation='bilinear')
    shape = results['img'].shape[:2]
    for key in results.get('seg_fields', []):
        results[key] = mmcv.imresize(results[key], (shape[1], shape[0]),
                                     interpolation='nearest')
    return results


def evaluate(predictor, dataset, levels, size=None,
             tolerance=DEFAULT_TOLERANCE, max_images=None):
    """Sum the per-image counts of every (CAST level, ground-truth level).

    Returns:
        dict: ``{cast_level: {gt_level: {'areas', 'boundary'}}}`` summed
        tensors, and ``regions``: mean region count per CAST level.
    """
    num_classes = {lv: len(dataset.metainfo['level_classes'][lv])
                   for lv in levels}
    total = len(dataset) if max_images is None else min(max_images,
                                                       len(dataset))
    sums, region_counts = {}, {}
    progress = ProgressBar(total)
    for index in range(total):
        results = dataset[index]
        if size:
            results = resize_short(results, size)
        hierarchy = predictor(results['img'])
        tol = boundary_tolerance(*hierarchy[0].shape, fraction=tolerance)
        for i, regions in enumerate(hierarchy):
            name = 'superpixels' if i == 0 else f'stage{i}'
            regions = torch.from_numpy(regions)
            per_level = sums.setdefault(name, {})
            for level in levels:
                gt = torch.from_numpy(results[f'gt_seg_{level}'].astype(
                    np.int64))
                stats = region_stats(regions, gt, num_classes[level], tol)
                acc = per_level.setdefault(level, dict(
                    areas=torch.zeros_like(stats['areas']),
                    boundary=torch.zeros_like(stats['boundary'])))
                acc['areas'] += stats['areas']
                acc['boundary'] += stats['boundary']
            region_counts.setdefault(name, []).append(
                int(torch.unique(regions).numel()))
        progress.update()
    print()
    return sums, {k: float(np.mean(v)) for k, v in region_counts.items()}


def format_table(scores, regions, levels):
    """A plain-text table: one row per CAST level."""
    head = f"{'CAST level':<12} {'regions':>7}"
    for level in levels:
        head += f" | {level + ' mIoU':>12} {'mIoU(fg)':>8} {'BF':>6}"
    lines = [head, '-' * len(head)]
    for name, per_level in scores.items():
        row = f'{name:<12} {regions[name]:>7.1f}'
        for level in levels:
            s = per_level[level]
            row += f" | {s['mIoU']:>12.2f} {s['mIoU_fg']:>8.2f} {s['BF']:>6.2f}"
        lines.append(row)
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    dataset = build_dataset(args.dataset, args.data_root, args.split,
                            **args.dataset_options)
    all_levels = list(dataset.metainfo['levels'])
    levels = args.levels or all_levels
    unknown = [lv for lv in levels if lv not in all_levels]
    if unknown:
        raise SystemExit(f'error: levels {unknown} are not in the dataset\'s '
                         f'{all_levels}')
    predictor = HierarchyPredictor(
        args.config, args.checkpoint, device=args.device,
        cfg_options=args.cfg_options,
        superpixel_options=dict(
            num_superpixels=args.num_superpixels,
            area_per_superpixel=args.area_per_superpixel),
        seed=args.seed)
    sums, regions = evaluate(predictor, dataset, levels, args.size,
                             args.tolerance, args.max_images)
    scores = {name: {lv: summarize(acc['areas'], acc['boundary'])
                     for lv, acc in per_level.items()}
              for name, per_level in sums.items()}
    print(f'{args.checkpoint} on {args.dataset} {args.split} '
          f'({min(len(dataset), args.max_images or len(dataset))} images); '
          'regions labelled by their majority class')
    print(format_table(scores, regions, levels))
    if args.out:
        mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           dataset=args.dataset, split=args.split,
                           size=args.size, regions=regions, scores=scores),
                      f, indent=2)
    return scores, regions


if __name__ == '__main__':
    main()

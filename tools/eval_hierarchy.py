"""Score per-level label maps from any model against SPIN or PartImageNet ground truth.

    python tools/eval_hierarchy.py PRED_DIR --dataset spin --data-root data/spin --split val \\
        [--eval mIoU SpCS SeCS] [--levels object part] [--out results.json]
    python tools/eval_hierarchy.py --write-gt-as-pred GT_DIR --dataset spin --data-root ...

Prediction format (one PNG per image and level)::

    PRED_DIR/
      object/{file_name}.png       # SPIN: object, part, subpart; PartImageNet: object, part
      part/{file_name}.png
      subpart/{file_name}.png

- ``{file_name}`` is the image's name without extension, as in the annotation JSON
  (``n02930766_37217`` for ``images/val/n02930766_37217.JPEG``).
- Single-channel 8-bit PNG (mode ``L``, or ``P`` whose indices are the values), the size of the
  image.
- Values: the index of the class in that level's class list of the dataset
  (``dataset.metainfo['level_classes'][level]``, printed by ``--list-classes``); 0 is background,
  255 means no prediction (counts as a miss for mIoU, as no class for SpCS / SeCS).
- ``tools/test.py CONFIG CKPT --out PRED_DIR`` with CAST's ``HierarchicalMetric`` writes exactly
  this layout.

``--pred-format spin`` (SPIN only) reads predictions in spin-api's convention instead, the one of
its ``rasterize_dataset``: ``PRED_DIR/{split}_{whole,part,subpart}/{file_name}.png`` (or
``PRED_DIR/{whole,part,subpart}/``) holding category ids, background 158 / 40 / 0; whole-class
ids are scored as their superclass under the default ``object_level='superclass'``. 255, where it
is no category id, means no prediction.

The ground truth comes from the dataset classes (``SPINDataset``, ``PartImageNetDataset``) with the
``LoadHierarchicalAnnotations`` transform; the scores and the printed tables are those of
``tools/test.py`` (the same ``HierarchicalMetric``). ``--write-gt-as-pred DIR`` writes the ground
truth in the prediction format (a self-check: scored as a prediction it gives 100).
"""
import argparse
import json
import math
import os.path as osp

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar, mkdir_or_exist
from PIL import Image

import cast  # noqa: F401  registers the datasets, transforms and HierarchicalMetric
from cast.datasets.masks import read_label_png
from cast.evaluation import HierarchicalMetric
from mmseg.registry import DATASETS

DATASET_TYPES = dict(spin='SPINDataset', partimagenet='PartImageNetDataset')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Score per-level label-map PNGs against SPIN / PartImageNet ground truth',
        epilog='Prediction format: PRED_DIR/{level}/{file_name}.png, uint8 class indices of the '
        "level's class list (0 background, 255 no prediction), the image's size.")
    parser.add_argument('pred_dir', nargs='?', metavar='PRED_DIR',
                        help='folder with one sub-folder of PNGs per level')
    parser.add_argument('--dataset', required=True, choices=sorted(DATASET_TYPES))
    parser.add_argument('--data-root', required=True, help='root folder of the dataset')
    parser.add_argument('--split', default='val', help='split to score (default: val)')
    parser.add_argument('--eval', nargs='+', default=['mIoU', 'SpCS', 'SeCS'], metavar='METRIC',
                        help="'mIoU', 'mIoU.{level}', 'SpCS', 'SpCS_{pair}' (e.g. SpCS_S2P), "
                        "'SeCS' (default: mIoU SpCS SeCS)")
    parser.add_argument('--levels', nargs='+', help='evaluate only these levels (default: all)')
    parser.add_argument('--pred-format', choices=['ours', 'spin'], default='ours',
                        help="'ours': class indices in PRED_DIR/{level}/ (default); 'spin': "
                        "spin-api's category ids in PRED_DIR/{split}_{whole,part,subpart}/")
    parser.add_argument('--dataset-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE',
                        help='more dataset arguments, e.g. object_level=class ann_dir=anns')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--classwise', action='store_true', help='also print per-class IoU')
    parser.add_argument('--write-gt-as-pred', metavar='DIR',
                        help='write the ground truth in the prediction format into DIR first')
    parser.add_argument('--list-classes', action='store_true',
                        help="print each level's class indices and exit")
    args = parser.parse_args(argv)
    if not (args.pred_dir or args.write_gt_as_pred or args.list_classes):
        parser.error('give PRED_DIR, --write-gt-as-pred DIR or --list-classes')
    return args


def build_dataset(name, data_root, split, **options):
    """The ground-truth-only dataset: annotations per level, no image decoding."""
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(type=DATASET_TYPES[name], data_root=data_root, split=split,
             pipeline=[dict(type='LoadHierarchicalAnnotations')], **options))


def sample_name(results):
    """``file_name`` of an image: its path's basename without extension."""
    return osp.splitext(osp.basename(results['img_path']))[0]


def spin_format(dataset, pred_dir):
    """Per level: (folder of spin-api-convention predictions, value -> class lookup table)."""
    if not hasattr(dataset, 'PNG_FOLDERS'):
        raise ValueError(f'--pred-format spin is the convention of SPIN; '
                         f'{type(dataset).__name__} predictions use --pred-format ours')
    out = {}
    for level, folder in dataset.PNG_FOLDERS.items():
        lut = dataset.specs[level].png_lut()
        if lut[255] > 255:
            lut[255] = 255  # no prediction
        nested = osp.join(pred_dir, f'{dataset.split}_{folder}')
        out[level] = (nested if osp.isdir(nested) else osp.join(pred_dir, folder), lut)
    return out


def read_prediction(path, shape, num_classes, lut=None):
    """Read and check one prediction PNG.

    Args:
        path (str): ``PRED_DIR/{level}/{file_name}.png``.
        shape (tuple): (H, W) of the ground truth.
        num_classes (int): N of the level; values must be in [0, N) or 255.
        lut (np.ndarray, optional): (256,) stored value -> class index (--pred-format spin);
            entries > 255 are values that must not occur. Default: None.

    Returns:
        np.ndarray: (H, W) uint8.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction {path} does not exist (expected one PNG per image '
                                'and level: PRED_DIR/{level}/{file_name}.png)')
    pred = read_label_png(path, lut, shape)
    bad = np.unique(pred[(pred >= num_classes) & (pred != 255)])
    if bad.size:
        raise ValueError(f'prediction {path} holds values {bad.tolist()[:10]} outside the '
                         f'{num_classes} classes of its level (0..{num_classes - 1}, 255 = none)')
    return pred


def write_label_map(path, label_map):
    mkdir_or_exist(osp.dirname(path))
    Image.fromarray(np.asarray(label_map, dtype=np.uint8)).save(path)


def evaluate(args, logger):
    """Run the whole evaluation; returns the metrics dict (empty when only writing GT)."""
    dataset = build_dataset(args.dataset, args.data_root, args.split, **args.dataset_options)
    meta = dataset.metainfo
    levels = tuple(args.levels or meta['levels'])
    unknown = [level for level in levels if level not in meta['levels']]
    if unknown:
        raise ValueError(f'--levels {unknown}: {args.dataset} has levels {tuple(meta["levels"])}')
    if args.list_classes:
        for level in meta['levels']:
            names = meta['level_classes'][level]
            logger.info(f'{level}: ' + ', '.join(f'{i} {n}' for i, n in enumerate(names)))
        return {}
    metric = None
    if args.pred_dir:
        if not osp.isdir(args.pred_dir) and args.pred_dir != args.write_gt_as_pred:
            raise FileNotFoundError(f'prediction folder {args.pred_dir} does not exist')
        metric = HierarchicalMetric(hier_metrics=args.eval, levels=args.levels,
                                    classwise=args.classwise)
        metric.dataset_meta = meta  # raises now if the dataset cannot give a metric
    sources = {level: (osp.join(args.pred_dir or '', level), None) for level in levels}
    if args.pred_format == 'spin' and args.pred_dir:
        sources.update(spin_format(dataset, args.pred_dir))
    logger.info(f'{args.dataset} {args.split}: {len(dataset)} images, levels {levels}')
    progress = ProgressBar(len(dataset))
    for index in range(len(dataset)):
        results = dataset[index]
        name = sample_name(results)
        data_sample = dict(img_path=results['img_path'])
        for level in levels:
            key = f'gt_seg_{level}'
            if key not in results:
                raise KeyError(f'the {args.dataset} pipeline gave no {key} for {name}')
            gt = np.asarray(results[key])
            if args.write_gt_as_pred:
                write_label_map(osp.join(args.write_gt_as_pred, level, f'{name}.png'), gt)
            data_sample[key] = dict(data=torch.from_numpy(gt.astype(np.uint8)[None]))
            if metric is not None:
                folder, lut = sources[level]
                pred = read_prediction(osp.join(folder, f'{name}.png'), gt.shape,
                                       len(meta['level_classes'][level]), lut)
                data_sample[f'pred_seg_{level}'] = dict(data=torch.from_numpy(pred[None]))
        if metric is not None:
            metric.process({}, [data_sample])
        progress.update()
    print()
    if metric is None:
        logger.info(f'ground truth written to {args.write_gt_as_pred}')
        return {}
    return metric.evaluate(len(dataset))


def to_json(metrics):
    """Plain floats / ints; nan (e.g. every pair skipped) becomes null."""
    def plain(value):
        value = value.item() if hasattr(value, 'item') else value
        return None if isinstance(value, float) and math.isnan(value) else value
    return {key: plain(value) for key, value in metrics.items()}


def main(argv=None):
    args = parse_args(argv)
    logger = MMLogger.get_instance('eval_hierarchy', log_level='INFO')
    metrics = evaluate(args, logger)
    if metrics and args.out:
        mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        with open(args.out, 'w') as f:
            json.dump(to_json(metrics), f, indent=2)
        logger.info(f'metrics written to {args.out}')
    return metrics


if __name__ == '__main__':
    main()

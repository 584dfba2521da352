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

``--pred-format coco-results`` (SPIN's prompt protocol, docs/spin_prompts.md) reads the answers
of a prompt-based model instead: ``PRED`` is a folder of COCO results files
``results_{wholes,parts,subparts}.json`` (entries ``{image_id, category_id, segmentation (RLE or
polygons), score}``) or one such file whose entries carry ``level``; the prompts are those
``tools/spin_prompts.py`` writes, one per image, level and ground-truth class. The scores are
``PromptMetric``'s: per level mIoU over prompts, SpCS from each child prompt's answer and its
parent's, SeCS where every level is answered, each by size and by general / specific names.
``--from-label-maps`` scores label maps (``--pred-format ours`` or ``spin``) the same way, each
prompt answered by the predicted map's mask of that class (``--save-results DIR`` keeps them as
results files).

The ground truth comes from the dataset classes (``SPINDataset``, ``PartImageNetDataset``) with the
``LoadHierarchicalAnnotations`` transform; the scores and the printed tables are those of
``tools/test.py`` (the same ``HierarchicalMetric``). ``--write-gt-as-pred DIR`` writes the ground
truth in the prediction format (a self-check: scored as a prediction it gives 100).
"""
import argparse
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
from cast.evaluation import HierarchicalMetric, PromptMetric
from cast.evaluation import prompts as P
from mmseg.registry import DATASETS

DATASET_TYPES = dict(spin='SPINDataset', partimagenet='PartImageNetDataset')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Score per-level label-map PNGs, or the masks a prompt-based model answered '
        '(COCO results files), against SPIN / PartImageNet ground truth',
        epilog='Prediction format: PRED_DIR/{level}/{file_name}.png, uint8 class indices of the '
        "level's class list (0 background, 255 no prediction), the image's size. Prompt answers "
        '(--pred-format coco-results): docs/spin_prompts.md.')
    parser.add_argument('pred_dir', nargs='?', metavar='PRED_DIR',
                        help='folder with one sub-folder of PNGs per level (coco-results: a '
                        'folder of results_{wholes,parts,subparts}.json, or one results file)')
    parser.add_argument('--dataset', required=True, choices=sorted(DATASET_TYPES))
    parser.add_argument('--data-root', required=True, help='root folder of the dataset')
    parser.add_argument('--split', default='val', help='split to score (default: val)')
    parser.add_argument('--eval', nargs='+', default=['mIoU', 'SpCS', 'SeCS'], metavar='METRIC',
                        help="'mIoU', 'mIoU.{level}', 'SpCS', 'SpCS_{pair}' (e.g. SpCS_S2P), "
                        "'SeCS' (default: mIoU SpCS SeCS)")
    parser.add_argument('--levels', nargs='+', help='evaluate only these levels (default: all)')
    parser.add_argument('--pred-format', choices=['ours', 'spin', 'coco-results'],
                        default='ours',
                        help="'ours': class indices in PRED_DIR/{level}/ (default); 'spin': "
                        "spin-api's category ids in PRED_DIR/{split}_{whole,part,subpart}/; "
                        "'coco-results': a prompt-based model's answers, PRED_DIR/results_"
                        "{wholes,parts,subparts}.json or one results file with 'level'")
    parser.add_argument('--from-label-maps', action='store_true',
                        help="score the label maps with SPIN's prompt protocol (each prompt "
                        "answered by the map's mask of its class)")
    prompt = parser.add_argument_group('prompt protocol (coco-results, --from-label-maps)')
    prompt.add_argument('--averaging', choices=P.AVERAGING, default='prompt',
                        help="mIoU over prompts ('prompt', default) or per class then over "
                        "classes ('category')")
    prompt.add_argument('--absent-parent', choices=P.ABSENT_PARENT, default='zero',
                        help="SpCS of a child whose parent answer is empty: 0 ('zero', "
                        "default) or left out ('skip')")
    prompt.add_argument('--duplicates', choices=P.DUPLICATES, default='union',
                        help="several answers for one class of one image: their 'union' "
                        "(default) or the 'max_score' one")
    prompt.add_argument('--save-results', metavar='DIR',
                        help='with --from-label-maps: write the answers as COCO results files')
    parser.add_argument('--dataset-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE',
                        help='more dataset arguments, e.g. object_level=class ann_dir=anns')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file (refused otherwise)')
    parser.add_argument('--classwise', action='store_true', help='also print per-class IoU')
    parser.add_argument('--write-gt-as-pred', metavar='DIR',
                        help='write the ground truth in the prediction format into DIR first')
    parser.add_argument('--list-classes', action='store_true',
                        help="print each level's class indices and exit")
    args = parser.parse_args(argv)
    if not (args.pred_dir or args.write_gt_as_pred or args.list_classes):
        parser.error('give PRED_DIR, --write-gt-as-pred DIR or --list-classes')
    if args.from_label_maps and args.pred_format == 'coco-results':
        parser.error('--from-label-maps reads label maps: --pred-format ours or spin')
    if args.save_results and not args.from_label_maps:
        parser.error('--save-results needs --from-label-maps')
    if args.pred_format == 'coco-results' and args.write_gt_as_pred:
        parser.error('--write-gt-as-pred writes label maps; for results files use '
                     'tools/spin_prompts.py --gt-results')
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
    if args.pred_format == 'coco-results':
        return evaluate_results(args, logger, dataset)
    metric = None
    if args.pred_dir:
        if not osp.isdir(args.pred_dir) and args.pred_dir != args.write_gt_as_pred:
            raise FileNotFoundError(f'prediction folder {args.pred_dir} does not exist')
        if args.from_label_maps:
            metric = prompt_metric(args, meta, levels)
        else:
            metric = HierarchicalMetric(hier_metrics=args.eval, levels=args.levels,
                                        classwise=args.classwise)
        metric.dataset_meta = meta  # raises now if the dataset cannot give a metric
    saved = LabelMapAnswers(dataset, args.save_results) if args.save_results else None
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
                if args.from_label_maps:
                    answers = P.label_map_answers(pred, gt)
                    data_sample.setdefault('pred_prompts', {})[level] = answers
                    if saved is not None:
                        saved.add(results['img_id'], level, answers)
        if metric is not None:
            metric.process({}, [data_sample])
        progress.update()
    print()
    if metric is None:
        logger.info(f'ground truth written to {args.write_gt_as_pred}')
        return {}
    metrics = metric.evaluate(len(dataset))
    if saved is not None:
        saved.write()
        logger.info(f'the answers written as COCO results to {args.save_results}')
    return metrics


def prompt_metric(args, meta, levels):
    """The :class:`PromptMetric` of the command line, its ``dataset_meta`` set (checked)."""
    metric = PromptMetric(levels=levels, averaging=args.averaging,
                          absent_parent=args.absent_parent, duplicates=args.duplicates)
    metric.dataset_meta = meta
    return metric


class LabelMapAnswers:
    """Collects label-map answers and writes them as COCO results files (``--save-results``),
    refusing to replace existing files."""

    def __init__(self, dataset, folder):
        self.folder = folder
        self.levels = dataset.LEVELS
        self.per_image, self.fallback = P.answer_category_ids(dataset)
        self.entries = {level: [] for level in self.levels}
        existing = [P.results_file(folder, lv) for lv in self.levels
                    if osp.exists(P.results_file(folder, lv))]
        if existing:
            raise FileExistsError(f'{existing} exist; --save-results does not overwrite')

    def add(self, img_id, level, answers):
        ids = self.per_image[level].get(img_id, {})
        for answer in answers:
            self.entries[level].append(dict(
                image_id=img_id, category_id=ids.get(answer['label'],
                                                     self.fallback[level][answer['label']]),
                segmentation=P.encode_mask(answer['mask']), score=answer['score']))

    def write(self):
        for level, entries in self.entries.items():
            if entries:
                P.write_json_atomic(entries, P.results_file(self.folder, level))


def evaluate_results(args, logger, dataset):
    """Score COCO results files (``--pred-format coco-results``) with :class:`PromptMetric`."""
    meta = dataset.metainfo
    if not args.pred_dir:
        raise ValueError('--pred-format coco-results needs PRED (a folder of results files '
                         'or one file)')
    results = P.load_results(args.pred_dir, meta['levels'])
    levels = tuple(args.levels or [lv for lv in meta['levels'] if lv in results])
    unanswered = [lv for lv in meta['levels'] if lv not in results]
    if unanswered:
        logger.warning(f'{args.pred_dir} answers no prompt of the levels {unanswered}: '
                       + ('they count as empty masks' if set(unanswered) & set(levels) else
                          'they are not scored (nor SeCS)'))
    metric = prompt_metric(args, meta, levels)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    sizes = {info['img_id']: (int(info['height']), int(info['width'])) for info in infos}
    grouped = P.group_answers(results, sizes,
                              {lv: dataset.specs[lv].cat2label for lv in meta['levels']})
    logger.info(f'{args.dataset} {args.split}: {len(dataset)} images, levels {levels}, '
                + ', '.join(f'{lv} {len(results[lv])} answers' for lv in results))
    progress = ProgressBar(len(dataset))
    for index in range(len(dataset)):
        item = dataset[index]
        height, width = sizes[item['img_id']]
        sample = dict(img_path=item['img_path'], img_id=item['img_id'], pred_prompts={})
        for level in levels:
            sample[f'gt_seg_{level}'] = dict(data=torch.from_numpy(
                np.asarray(item[f'gt_seg_{level}'])[None]))
            sample['pred_prompts'][level] = P.decode_answers(
                grouped.get(item['img_id'], {}).get(level, ()), height, width)
        metric.process({}, [sample])
        progress.update()
    print()
    return metric.evaluate(len(dataset))


def to_json(metrics):
    """Plain floats / ints; nan (e.g. every pair skipped) becomes null."""
    def plain(value):
        value = value.item() if hasattr(value, 'item') else value
        return None if isinstance(value, float) and math.isnan(value) else value
    return {key: plain(value) for key, value in metrics.items()}


def main(argv=None):
    args = parse_args(argv)
    if args.out and osp.exists(args.out) and not args.overwrite:
        raise FileExistsError(f'--out {args.out} exists; not overwriting it (pass --overwrite)')
    logger = MMLogger.get_instance('eval_hierarchy', log_level='INFO')
    metrics = evaluate(args, logger)
    if metrics and args.out:
        P.write_json_atomic(to_json(metrics), args.out, overwrite=True, indent=2)
        logger.info(f'metrics written to {args.out}')
    return metrics


if __name__ == '__main__':
    main()

"""Write SPIN's prompts: one record per image, level and ground-truth class, as JSON lines.

    python tools/spin_prompts.py DATA_ROOT --split val --out prompts.jsonl
    python tools/spin_prompts.py DATA_ROOT --split val --gt-results GT_DIR   # self-check

Each line (see :func:`cast.evaluation.prompts.image_prompts`)::

    {"image_id": 7, "file_name": "n02930766_37217", "img_path": ".../n02930766_37217.JPEG",
     "height": 375, "width": 500, "level": "subpart", "label": 3, "category_id": 10,
     "category_name": "Quadruped-Head-Eyes",
     "names": {"general": "eyes", "specific": "quadruped head eyes"},
     "prompt": "the subpart 'eyes' of the quadruped's head", "kind": "general",
     "area": 212, "size": "small", "bbox": [x, y, w, h], "point": [x, y]}

A model answers each record with a mask; the answers go in COCO results files
(``results_{wholes,parts,subparts}.json``: ``{image_id, category_id, segmentation, score}``)
scored by ``tools/eval_hierarchy.py RESULTS --pred-format coco-results``. ``--gt-results DIR``
writes the ground truth as such answers (scored, it gives 100 everywhere).

The data is read as ``SPINDataset`` reads the release (``--dataset-options`` passes its
arguments, e.g. ``object_level=class``).
"""
import argparse
import json
import os
import os.path as osp
from collections import defaultdict

import numpy as np
from mmengine.config import DictAction
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import cast  # noqa: F401  registers SPINDataset and LoadHierarchicalAnnotations
from cast.evaluation import prompts as P
from cast.utils import atomic_write
from mmseg.registry import DATASETS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Write SPIN's prompts (one per image, level and ground-truth class)")
    parser.add_argument('data_root', help='SPIN root (annotations/, images/)')
    parser.add_argument('--split', default='val', help='split (default: val)')
    parser.add_argument('--out', help='the prompts, one JSON record per line (.jsonl)')
    parser.add_argument('--gt-results', metavar='DIR',
                        help='also write the ground truth as COCO results files '
                        '(DIR/results_{wholes,parts,subparts}.json)')
    parser.add_argument('--levels', nargs='+', help='levels (default: all)')
    parser.add_argument('--dataset-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE', help='more SPINDataset arguments')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output files')
    args = parser.parse_args(argv)
    if not (args.out or args.gt_results):
        parser.error('give --out FILE and/or --gt-results DIR')
    return args


def build_dataset(data_root, split, dataset_type='SPINDataset', **options):
    """The ground-truth-only dataset: per-level label maps, no image decoding."""
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(type=dataset_type, data_root=data_root, split=split,
             pipeline=[dict(type='LoadHierarchicalAnnotations')], **options))


def iter_prompts(dataset, levels=None):
    """Yield ``(image entry, {level: (H, W) ground truth}, [records])`` for every image."""
    meta = dataset.metainfo
    names = P.class_names(meta)
    levels = tuple(levels or meta['levels'])
    unknown = [lv for lv in levels if lv not in meta['levels']]
    if unknown:
        raise ValueError(f'--levels {unknown}: the dataset has levels {tuple(meta["levels"])}')
    per_image, fallback = P.answer_category_ids(dataset)
    for index in range(len(dataset)):
        results = dataset[index]
        image = dict(img_id=results['img_id'], img_path=results['img_path'],
                     height=results['height'], width=results['width'])
        maps = {lv: np.asarray(results[f'gt_seg_{lv}']) for lv in levels}
        ids = {lv: {**fallback[lv], **per_image[lv].get(image['img_id'], {})} for lv in levels}
        yield image, maps, P.image_prompts(image, maps, names, ids)


def main(argv=None):
    args = parse_args(argv)
    logger = MMLogger.get_instance('spin_prompts', log_level='INFO')
    outputs = [args.out] if args.out else []
    if args.gt_results:
        levels = args.levels or ('object', 'part', 'subpart')
        outputs += [P.results_file(args.gt_results, lv) for lv in levels]
    existing = [p for p in outputs if osp.exists(p)]
    if existing and not args.overwrite:
        raise FileExistsError(f'{existing} exist; not overwriting them (pass --overwrite)')
    dataset = build_dataset(args.data_root, args.split, **args.dataset_options)
    counts = defaultdict(int)
    gt_results = defaultdict(list)
    lines = []
    for image, maps, records in iter_prompts(dataset, args.levels):
        for record in records:
            counts[record['level']] += 1
            lines.append(json.dumps(record))
            if args.gt_results:
                gt_results[record['level']].append(dict(
                    image_id=record['image_id'], category_id=record['category_id'],
                    segmentation=P.encode_mask(maps[record['level']] == record['label']),
                    score=1.0))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with atomic_write(args.out) as f:
            f.write(''.join(line + '\n' for line in lines))
        logger.info(f'{len(lines)} prompts of {len(dataset)} images written to {args.out} ('
                    + ', '.join(f'{lv} {n}' for lv, n in counts.items()) + ')')
    if args.gt_results:
        for level in args.levels or dataset.LEVELS:
            P.write_json_atomic(gt_results[level], P.results_file(args.gt_results, level),
                                overwrite=args.overwrite)
        logger.info(f'ground truth written as COCO results to {args.gt_results}')
    return dict(counts)


if __name__ == '__main__':
    main()

"""Check a local copy of SPIN or PartImageNet as the loaders read it.

    python tools/check_dataset.py spin data/spin --split val [--object-level class]
        [--label-source png] [--dataset-options k=v ...] [--out report.json]
    python tools/check_dataset.py partimagenet data/PartImageNet --split train

Prints the number of images, the classes per level (listed / present in the split), how each
whole category got its superclass (SPIN), the derived hierarchy (which rule placed each child
class: supercategory, name, alias, superclass, containment, absent), and every inconsistency
found, naming the annotation file, image id and annotation id: annotations whose polygons are
degenerate or leave the image, and child annotations lying mostly (``--min-fraction``) outside
every parent mask or on a parent class that is not theirs. ``--out`` writes all of it as JSON.
"""
import argparse
import json
import sys
import warnings
from collections import Counter

import numpy as np
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

import cast  # noqa: F401  registers the datasets
from cast.datasets.checks import misplaced_children
from cast.structures import ClassHierarchy
from mmseg.registry import DATASETS

DATASET_TYPES = dict(spin='SPINDataset', partimagenet='PartImageNetDataset')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Check a local SPIN / PartImageNet copy')
    parser.add_argument('dataset', choices=sorted(DATASET_TYPES))
    parser.add_argument('data_root', help='root folder of the dataset')
    parser.add_argument('--split', default='val', help='split to check (default: val)')
    parser.add_argument('--object-level', choices=['superclass', 'class'],
                        help='SPIN object level (default: superclass)')
    parser.add_argument('--label-source', choices=['json', 'png'], default='json')
    parser.add_argument('--dataset-options', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE', help='more dataset arguments, e.g. ann_dir=anns')
    parser.add_argument('--min-fraction', type=float, default=0.5,
                        help='share of a child annotation outside its parents that is '
                        'reported (default: 0.5)')
    parser.add_argument('--show', type=int, default=20, help='problems printed per kind (20)')
    parser.add_argument('--out', help='write the whole report to this JSON file')
    return parser.parse_args(argv)


def build(args):
    init_default_scope('mmseg')
    options = dict(args.dataset_options, label_source=args.label_source)
    if args.object_level:
        options['object_level'] = args.object_level
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        dataset = DATASETS.build(dict(type=DATASET_TYPES[args.dataset],
                                      data_root=args.data_root, split=args.split,
                                      pipeline=[], **options))
    return dataset, [str(w.message) for w in caught]


def check(dataset, min_fraction=0.5):
    """Decode every image and level; return (present pixel counts, misplaced annotations)."""
    meta = dataset.metainfo
    levels = meta['levels']
    classes = meta['level_classes']
    hierarchy = ClassHierarchy.from_meta(meta)
    relations = {child: hierarchy.relation(child).numpy() for child in levels[1:]}
    pixels = {lv: np.zeros(len(classes[lv]), np.int64) for lv in levels}
    misplaced = []
    progress = ProgressBar(len(dataset))
    for info, maps in dataset.iter_label_maps(levels):
        for lv in levels:
            pixels[lv] += np.bincount(maps[lv].reshape(-1), minlength=256)[:len(classes[lv])]
        for parent, child in zip(levels[:-1], levels[1:]):
            for found in misplaced_children(info, child, parent, maps, relations[child],
                                            min_fraction):
                misplaced.append(dict(found, level=child, image_id=info['img_id'],
                                      image=info['img_path'], ann_file=info['ann_files'][child],
                                      label=classes[child][found['label']]))
        progress.update()
    print()
    return pixels, misplaced


def report(dataset, load_warnings, pixels, misplaced, show):
    meta = dataset.metainfo
    out = dict(images=len(dataset), levels={}, hierarchy={}, load_warnings=load_warnings,
               misplaced=misplaced)
    print(f'{type(dataset).__name__} split {dataset.split!r}: {len(dataset)} images')
    for lv in meta['levels']:
        names = meta['level_classes'][lv]
        present = [n for n, p in zip(names[1:], pixels[lv][1:]) if p]
        out['levels'][lv] = dict(classes=list(names[1:]), present=present)
        print(f'  {lv:8s} {len(names) - 1:4d} classes listed, {len(present):4d} present')
    if hasattr(dataset, 'superclass_report'):
        rep = dataset.superclass_report
        out['superclasses'] = dict(rep, superclasses=list(meta['superclasses']),
                                   whole_superclasses=dict(zip(meta['whole_classes'],
                                                               meta['whole_superclasses'])))
        print(f"  superclasses {list(meta['superclasses'])}; whole categories placed by "
              f"{rep['used']} (spin-api table {'used' if rep['spin_api'] else 'not installed'})"
              + (f"; conflicts: {rep['conflicts'][:show]}" if rep['conflicts'] else ''))
    for child, parents in meta['level_parents'].items():
        parent = meta['levels'][meta['levels'].index(child) - 1]
        names, pnames = meta['level_classes'][child], meta['level_classes'][parent]
        sources = dataset.hierarchy_sources[child]
        rows = [dict(child=names[k], parents=[pnames[p] for p in parents[k]], rule=sources[k])
                for k in range(1, len(names))]
        out['hierarchy'][child] = rows
        print(f'  {child} -> {parent}: ' + ', '.join(
            f'{n} by {r}' for r, n in sorted(Counter(r['rule'] for r in rows).items())))
        for row in rows:
            if row['rule'] not in ('supercategory', 'name', 'superclass'):
                print(f"    {row['child']!r} -> {row['parents']} ({row['rule']})")
    print(f'problems while loading: {len(load_warnings)}')
    for text in load_warnings[:show]:
        print(f'  {text[:2000]}')
    print(f'child annotations mostly outside their parents: {len(misplaced)}')
    for m in misplaced[:show]:
        print(f"  {m['ann_file']} image {m['image_id']} annotation {m['id']} ({m['level']} "
              f"{m['label']!r}): {m['outside']} of {m['pixels']} px outside every parent, "
              f"{m['wrong']} on another parent class")
    return out


def main(argv=None):
    args = parse_args(argv)
    try:
        dataset, load_warnings = build(args)
    except (FileNotFoundError, ValueError, KeyError) as err:
        sys.exit(f'error: {err}')
    pixels, misplaced = check(dataset, args.min_fraction)
    out = report(dataset, load_warnings, pixels, misplaced, args.show)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1)
        print(f'report written to {args.out}')


if __name__ == '__main__':
    main()

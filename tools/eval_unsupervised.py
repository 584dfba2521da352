"""Unsupervised part-whole evaluation of CAST's region hierarchy.

    python tools/eval_unsupervised.py CONFIG CKPT --dataset spin --data-root ROOT
        [--split val] [--size 96] [--center-crop 224] [--num-superpixels N]
        [--levels object part]
        [--tolerance 0.0075] [--max-images N] [--out results.json]
        [--labeller clip --clip-weights FILE [--clip-model ViT-B-16-quickgelu | tiny.json]
         [--masking reference|ovseg] [--templates reference|vild|TEMPLATE ...]
         [--vocabulary object=objects.txt part=parts.txt] [--label-regions object=stage4 ...]]

Every level of CAST's hierarchy (the superpixels the model sees, then the
clusters of each stage) is labelled region by region with the majority
ground-truth class, then scored against each ground-truth level (object,
part, ...) of SPIN / PartImageNet-format data by region mIoU and boundary
F-score (definitions: cast/evaluation/unsupervised.py). No label is learned:
the score measures how well the unsupervised regions follow objects and parts.

With ``--labeller clip`` the regions are named as the CAST paper names them: CLIP (open_clip,
weights from the local file ``--clip-weights``, never downloaded) classifies a masked view of
each region among the class names (cast/evaluation/open_vocab.py); objects on the coarsest
region level, parts on the next, each part among the parts of its object label. The tool then
prints the paper's layout: object / part region mIoU as the reference computes it (per image,
averaged over images), the pooled mIoU and the boundary F, and a per-class table.

It runs MMEngine's test loop: ``CASTRegionSegmentor`` (from ``init_region_model``: the config's
backbone and data preprocessor) predicts the regions, ``UnsupervisedRegionMetric`` scores them
(both usable in any config).

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
import sys
import tempfile
import time

from mmengine.config import DictAction
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist

import cast  # noqa: F401  registers the datasets, transforms, metric and model
from cast.apis import init_region_model
from cast.evaluation import UnsupervisedRegionMetric
from cast.evaluation.open_vocab import (
    DEFAULT_MODEL,
    MASKINGS,
    REFERENCE_TEMPLATES,
    VILD_TEMPLATES,
    read_vocabulary,
)
from cast.evaluation.unsupervised import DEFAULT_TOLERANCE
from cast.utils import atomic_write, superpixels_from_config

DATASET_TYPES = dict(spin='SPINDataset', partimagenet='PartImageNetDataset')
TEMPLATE_SETS = dict(reference=REFERENCE_TEMPLATES, vild=VILD_TEMPLATES)


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
    parser.add_argument('--center-crop', type=int, metavar='SIZE',
                        help='then cut the central SIZE x SIZE square (image and ground truth), '
                        "as the reference's Resize(224) + CenterCrop(224)")
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
    parser.add_argument('--workers', type=int, default=0,
                        help='data loader workers (0: in the main process)')
    parser.add_argument('--work-dir', help="MMEngine's log folder (default: a temporary one)")
    parser.add_argument('--out', help='write the scores to this JSON file')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    clip = parser.add_argument_group('open-vocabulary labels (CLIP, as the CAST paper)')
    clip.add_argument('--labeller', choices=('majority', 'clip'), default='majority',
                      help="how regions get classes: their majority ground-truth class, or "
                      "CLIP's closest class name (default: majority)")
    clip.add_argument('--clip-weights', help='local CLIP weights file (OpenAI ViT-B-16.pt, its '
                      "state dict, or open_clip's file of the model)")
    clip.add_argument('--clip-model', default=DEFAULT_MODEL,
                      help='open_clip model name, or a JSON file of its config (default: '
                      f'{DEFAULT_MODEL}, OpenAI ViT-B/16)')
    clip.add_argument('--masking', choices=MASKINGS, default='reference',
                      help="'reference': whole image, outside the region 0.5 after "
                      "normalisation; 'ovseg': box crop, mean fill (default: reference)")
    clip.add_argument('--templates', nargs='+', default=['reference'],
                      help="prompt templates with one {}, or a set: 'reference' ('a photo of "
                      "a {}') or 'vild' (OVSeg's 14); several are averaged")
    clip.add_argument('--vocabulary', nargs='+', action=DictAction, default={},
                      metavar='LEVEL=FILE', help='class names put in the prompts, one a line, '
                      "for classes 1..N of LEVEL (default: the dataset's names)")
    clip.add_argument('--label-regions', nargs='+', action=DictAction, default={},
                      metavar='LEVEL=REGIONS', help='region level that LEVEL is labelled on, '
                      'e.g. object=stage4 part=stage3 (default: coarsest first)')
    clip.add_argument('--background-name', default='Background',
                      help="the background's prompt name (Background)")
    clip.add_argument('--part-rule', choices=('first', 'majority'), default='first',
                      help="a part region's object class: at its first pixel (the "
                      'reference) or its majority (default: first)')
    clip.add_argument('--no-conditional', action='store_true',
                      help='name part regions among all parts, not only their object\'s')
    clip.add_argument('--fp16', action='store_true', help='CLIP in float16 autocast on CUDA')
    args = parser.parse_args(argv)
    if args.labeller == 'clip' and not args.clip_weights:
        parser.error('--labeller clip needs --clip-weights FILE (a local file; nothing is '
                     'downloaded)')
    if args.out and osp.exists(args.out) and not args.overwrite:
        parser.error(f'--out {args.out} exists; pass --overwrite to replace it')
    return args


def labeller_config(args):
    """The CLIPRegionLabeller config the arguments describe (None: majority labelling)."""
    if args.labeller != 'clip':
        return None
    model = args.clip_model
    if model.endswith('.json'):
        if not osp.isfile(model):
            raise SystemExit(f'error: --clip-model {model} does not exist (expected an '
                             'open_clip model config JSON)')
        with open(model) as f:
            model = json.load(f)
    templates = []
    for t in args.templates:
        templates += list(TEMPLATE_SETS.get(t, (t, )))
    return dict(type='CLIPRegionLabeller', weights=args.clip_weights, model=model,
                templates=templates, masking=args.masking, part_rule=args.part_rule,
                device=args.device, fp16=args.fp16)


def build_runner(args, model, levels, work_dir):
    """MMEngine's test loop over the dataset: CAST's regions (``model``, a CASTRegionSegmentor)
    scored by UnsupervisedRegionMetric. Images are resized so that their shorter side is
    ``args.size`` (the ground truth follows, nearest neighbour), then get the config's
    superpixels (``--num-superpixels`` / ``--area-per-superpixel`` override them)."""
    superpixels = superpixels_from_config(model.cfg, num_superpixels=args.num_superpixels,
                                          area_per_superpixel=args.area_per_superpixel)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadHierarchicalAnnotations')]
    if args.size:
        pipeline.append(dict(type='Resize', scale=(args.size, 1 << 20), keep_ratio=True))
    if args.center_crop:
        pipeline.append(dict(type='CenterCropLevels', crop_size=args.center_crop))
    pipeline += [superpixels, dict(type='PackHierSegInputs')]
    dataset = dict(type=DATASET_TYPES[args.dataset], data_root=args.data_root,
                   split=args.split, pipeline=pipeline, test_mode=True,
                   **args.dataset_options)
    if args.max_images:
        dataset['indices'] = args.max_images
    return Runner(
        model=model, work_dir=work_dir, default_scope='mmseg',
        # a name of its own: MMEngine keeps one scope per run name (file name and second)
        experiment_name=f'eval_unsupervised_{time.strftime("%Y%m%d_%H%M%S")}_{time.time_ns()}',
        # batches of one image stacked as a tensor: every data preprocessor takes it (MMSeg's,
        # MMPretrain's; SelfSupDataPreprocessor takes no list)
        test_dataloader=dict(batch_size=1, num_workers=args.workers, dataset=dataset,
                             sampler=dict(type='DefaultSampler', shuffle=False),
                             collate_fn=dict(type='default_collate')),
        test_cfg=dict(type='TestLoop'),
        test_evaluator=dict(type='UnsupervisedRegionMetric', levels=levels,
                            tolerance=args.tolerance, labeller=labeller_config(args),
                            label_regions=args.label_regions,
                            vocabulary={lv: read_vocabulary(path)
                                        for lv, path in args.vocabulary.items()},
                            background_name=args.background_name,
                            conditional=not args.no_conditional),
        env_cfg=dict(dist_cfg=dict(backend='gloo')), randomness=dict(seed=args.seed))


def scores_by_level(metrics):
    """``{region level: {gt level: {score: value}}}`` and ``{region level: mean regions}``
    from the flat ``region/gt/score`` metrics."""
    scores, regions = {}, {}
    for key, value in metrics.items():
        parts = key.split('/')
        if len(parts) == 2:
            regions[parts[0]] = value
        elif len(parts) == 3:
            scores.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = value
    return scores, regions


def main(argv=None):
    args = parse_args(argv)
    model = init_region_model(args.config, None if args.checkpoint == 'random' else
                              args.checkpoint, args.device, args.cfg_options, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        runner = build_runner(args, model, args.levels, args.work_dir or tmp)
        all_levels = list(runner.test_dataloader.dataset.metainfo['levels'])
        unknown = [lv for lv in (args.levels or ()) if lv not in all_levels]
        if unknown:
            raise SystemExit(f"error: levels {unknown} are not in the dataset's {all_levels}")
        metrics = runner.test()
    scores, regions = scores_by_level(metrics)
    how = ('their majority class' if args.labeller == 'majority' else
           f'CLIP ({args.clip_weights}, {args.masking} masking)')
    print(f'{args.checkpoint} on {args.dataset} {args.split} '
          f'({len(runner.test_dataloader.dataset)} images); regions labelled by {how}')
    if args.labeller == 'clip':
        print(UnsupervisedRegionMetric.format_paper_table(metrics))
        print('pooled IoU per class:')
        print(UnsupervisedRegionMetric.format_class_table(metrics))
    else:
        print(UnsupervisedRegionMetric.format_table(metrics))
    sys.stdout.flush()
    if args.out:
        mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        with atomic_write(args.out) as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           dataset=args.dataset, split=args.split, size=args.size,
                           labeller=labeller_config(args), regions=regions, scores=scores),
                      f, indent=2)
    return scores, regions


if __name__ == '__main__':
    main()

"""Does test-time adaptation improve recognition and segmentation together on shifted images?

    python -m benchmarks.adaptation_study WORK_DIR                       # everything below
    python -m benchmarks.adaptation_study WORK_DIR --tune                # the settings search
    python -m benchmarks.adaptation_study WORK_DIR --models cast --seeds 0  # a share
    python -m benchmarks.adaptation_study WORK_DIR --report              # tables of what is done

1. Data: the synthetic ImageNet layout (``cast.datasets.synthetic.imagenet``, 600 training
   images labelled Quadruped / Car / Fish) in ``WORK_DIR/data``.
2. Models, per seed: the demo classifier ``configs/demo/synthetic_cast_deit.py`` (CAST) and
   ``benchmarks/configs/synthetic_vit_deit.py`` (a ViT of the same size and token count, no
   hierarchy), trained by ``tools/train.py`` on clean images with ``randomness.seed`` = seed.
3. Shifted test images: new scenes of the same generator (a random stream no training or
   validation image uses), centre-cropped and resized to the models' 96-pixel test view with
   their object and part masks, under each corruption of :mod:`cast.datasets.transforms.
   corruptions` (ImageNet-C's noise, blur, contrast, JPEG) at severities 1-5, and clean.
4. Each image is adapted on its own (:class:`~cast.recognition.TestTimeAdapter`, weights
   restored after each image) and scored before and after every step: top-1, the softmax's
   entropy, and, for CAST, every level of its hierarchy against the object and the part masks
   by region mIoU and boundary F (majority labelling pooled over the images of a cell,
   :mod:`cast.evaluation.unsupervised`).
5. Controls: lr 0 (the same views and records, no update: every change must be exactly 0) and
   the before-hierarchy shifted by ``--shift`` pixels (the change of the metric when the
   regions move off the objects, the scale against which an adaptation's change reads).

``--tune`` searches lr x parameters x steps (the same grid for both models) on a separate
tuning stream at one severity (``--tune-severity``), seed 0; the chosen setting is then given
to the main run (``--lr``, ``--params``, ``--steps``). Results go to
``WORK_DIR/results/*.json`` (one file per model and seed, so shares can run in parallel and a
stopped run resumes); ``--report`` prints the tables (``--plot`` draws them). Figures:
``docs/adaptation.md``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from mmengine.runner import set_random_seed

from benchmarks.common import REPO, machine
from cast.apis import init_recognition_model
from cast.datasets.synthetic.imagenet import (
    generate_synthetic_imagenet,
    scene_label,
    synthetic_imagenet_classes,
)
from cast.datasets.synthetic.scenes import SceneGenerator
from cast.datasets.synthetic.taxonomy import SYNTHETIC_TAXONOMY
from cast.datasets.transforms.corruptions import CORRUPTIONS, corrupt
from cast.evaluation.unsupervised import region_stats, summarize
from cast.recognition import TestTimeAdapter
from cast.utils import atomic_write

CONFIGS = dict(cast='configs/demo/synthetic_cast_deit.py',
               vit='benchmarks/configs/synthetic_vit_deit.py')
SIZE = 96  # the test view of both configs
DATA_SEED = 1
TUNE_STREAM, TEST_STREAM = 7000, 8000  # the training images use 1000 and 1001
OBJECTS = ['background'] + list(SYNTHETIC_TAXONOMY)
PARTS = ['background'] + [f'{sc} {part}' for sc, spec in SYNTHETIC_TAXONOMY.items()
                          for part in spec['parts']]
GT_LEVELS = dict(object=len(OBJECTS), part=len(PARTS))
DISPLAY = dict(cast='CAST', vit='ViT')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='data, checkpoints and results')
    parser.add_argument('--models', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--images', type=int, default=30, help='test images per cell')
    parser.add_argument('--corruptions', nargs='+', default=list(CORRUPTIONS),
                        choices=CORRUPTIONS)
    parser.add_argument('--severities', type=int, nargs='+', default=[1, 2, 3, 4, 5])
    parser.add_argument('--steps', type=int, default=3, help='adaptation steps N')
    parser.add_argument('--views', type=int, default=8, help='views V per step')
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--params', default='all', choices=['all', 'backbone', 'norm'])
    parser.add_argument('--shift', type=int, default=4, help='pixels of the shift control')
    parser.add_argument('--control-images', type=int, default=10,
                        help='images per corruption of the lr-0 control (severity 3, seed 0)')
    parser.add_argument('--tune', action='store_true', help='run the settings search')
    parser.add_argument('--tune-images', type=int, default=12,
                        help='tuning images per corruption (severity 3)')
    parser.add_argument('--tune-severity', type=int, default=3)
    parser.add_argument('--tune-objective', default='memo', choices=['memo', 'oracle'],
                        help="'oracle': cross-entropy against the true label (a diagnostic)")
    parser.add_argument('--tune-lrs', type=float, nargs='+', default=[1e-5, 1e-4, 1e-3])
    parser.add_argument('--tune-params', nargs='+', default=['all', 'norm'])
    parser.add_argument('--report', action='store_true', help='print the tables only')
    parser.add_argument('--plot', help='also draw the figures by severity to this PNG')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------
# data and models
def ensure_data(work_dir: str) -> str:
    root = osp.join(work_dir, 'data', 'synthetic_imagenet')
    generate_synthetic_imagenet(root, num_train=600, num_val=60, seed=DATA_SEED,
                                label='superclass', min_size=96, max_size=128)
    return root


def data_options(root: str) -> List[str]:
    opts = [f'data_root={root}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}',
                 f'{loader}.dataset.classes={root}/meta/classes.txt']
    return opts


def ensure_model(work_dir: str, model: str, seed: int, root: str) -> str:
    """Train ``model`` with ``seed`` unless its checkpoint exists; its path."""
    run_dir = osp.join(work_dir, 'models', f'{model}_seed{seed}')
    ckpt = osp.join(run_dir, 'iter_400.pth')
    if osp.exists(ckpt):
        return ckpt
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIGS[model],
           '--work-dir', run_dir, '--cfg-options', f'randomness.seed={seed}',
           *data_options(root)]
    if osp.isdir(run_dir):
        cmd.append('--resume')
    print(f'training {model} seed {seed}: {run_dir}', flush=True)
    os.makedirs(osp.dirname(run_dir), exist_ok=True)
    with open(osp.join(work_dir, 'models', f'{model}_seed{seed}.log'), 'a') as log:
        subprocess.run(cmd, cwd=REPO, check=True, stdout=log, stderr=subprocess.STDOUT,
                       env=dict(os.environ, OMP_NUM_THREADS='1'))
    return ckpt


def square(array: np.ndarray, interpolation: int) -> np.ndarray:
    """Centre square of the shorter side, resized to SIZE (the test view's geometry)."""
    h, w = array.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return cv2.resize(array[top:top + s, left:left + s], (SIZE, SIZE),
                      interpolation=interpolation)


def study_scenes(stream: int, num: int) -> List[dict]:
    """``num`` new scenes: ``img`` (SIZE, SIZE, 3) uint8 BGR, ``label`` (superclass index),
    ``object`` and ``part`` (SIZE, SIZE) int64 class maps (0 = background)."""
    generator = SceneGenerator(96, 128)
    index_of = {wnid: i for i, (wnid, _) in
                enumerate(synthetic_imagenet_classes('superclass'))}
    out = []
    for index in range(num):
        scene = generator(np.random.default_rng([DATA_SEED, stream, index]))
        obj = np.zeros(scene['img'].shape[:2], np.uint8)
        part = np.zeros_like(obj)
        for o in scene['objects']:
            obj[o['mask']] = OBJECTS.index(o['superclass'])
            for p in o['parts']:
                part[p['mask']] = PARTS.index(p['name'])
        out.append(dict(img=square(scene['img'], cv2.INTER_AREA),
                        label=index_of[scene_label(scene, 'superclass')],
                        object=torch.from_numpy(square(obj, cv2.INTER_NEAREST)).long(),
                        part=torch.from_numpy(square(part, cv2.INTER_NEAREST)).long()))
    return out


# ---------------------------------------------------------------------------
# scoring
class Cell:
    """Figures of one (setting, corruption, severity) cell, pooled over its images: per
    record r (0 = before, then after each step) top-1 hits, entropies and the region counts of
    every hierarchy level against every ground-truth level."""

    def __init__(self):
        self.hits = defaultdict(int)
        self.entropy = defaultdict(float)
        self.count = 0
        self.areas: Dict[tuple, torch.Tensor] = {}
        self.boundary: Dict[tuple, torch.Tensor] = {}

    def add_hierarchy(self, key: tuple, levels: List[np.ndarray], sample: dict) -> None:
        for lv, regions in enumerate(levels):
            for gt_level, num in GT_LEVELS.items():
                stats = region_stats(torch.from_numpy(regions), sample[gt_level], num)
                k = key + (lv, gt_level)
                self.areas[k] = self.areas.get(k, 0) + stats['areas']
                self.boundary[k] = self.boundary.get(k, 0) + stats['boundary']

    def add(self, out: dict, sample: dict, shift: int = 0) -> None:
        self.count += 1
        for r, record in enumerate(out['records']):
            self.hits[r] += int(record['topk'][0][0] == sample['label'])
            self.entropy[r] += record['entropy']
            self.add_hierarchy((r, ), record['hierarchy'], sample)
        if shift and out['records'][0]['hierarchy']:
            moved = [np.roll(lv, (shift, shift), axis=(0, 1))
                     for lv in out['records'][0]['hierarchy']]
            self.add_hierarchy(('shifted', ), moved, sample)

    def to_json(self) -> dict:
        regions = defaultdict(dict)
        for (*key, lv, gt_level), areas in self.areas.items():
            scores = summarize(areas, self.boundary[tuple(key) + (lv, gt_level)])
            regions['/'.join(map(str, key))][f'{lv}/{gt_level}'] = dict(
                mIoU=scores['mIoU'], BF=scores['BF'])
        n = max(self.count, 1)
        return dict(images=self.count,
                    top1=[100 * self.hits[r] / n for r in sorted(self.hits)],
                    entropy=[self.entropy[r] / n for r in sorted(self.entropy)],
                    regions=dict(regions))


def adapt_cell(adapter: TestTimeAdapter, samples: List[dict], kind: Optional[str],
               severity: int, seed: int, shift: int = 0) -> dict:
    cell = Cell()
    kind_index = CORRUPTIONS.index(kind) if kind else len(CORRUPTIONS)
    for i, sample in enumerate(samples):
        img = sample['img'] if kind is None else corrupt(
            sample['img'], kind, severity,
            np.random.default_rng([seed, i, kind_index, severity]), reference_size=224)
        set_random_seed(seed * 100003 + i)  # the views: the same for every setting
        if isinstance(adapter, OracleAdapter):
            adapter.label = sample['label']
        cell.add(adapter.adapt(img), sample, shift)
    return cell.to_json()


class OracleAdapter(TestTimeAdapter):
    """Diagnostic, not a protocol: the views' cross-entropy against the image's true label
    (``label``, set per image). What a perfect image-level recognition signal does to the
    hierarchy: an upper bound for what MEMO's label-free objective can do through it."""

    label = 0

    def objective(self, batch: dict) -> torch.Tensor:
        logits = self.model(batch['inputs'], batch['data_samples'], mode='tensor')
        target = torch.full((len(logits), ), self.label, dtype=torch.long, device=logits.device)
        return torch.nn.functional.cross_entropy(logits, target)


def make_adapter(model, steps: int, views: int, lr: float, params: str,
                 oracle: bool = False) -> TestTimeAdapter:
    return (OracleAdapter if oracle else TestTimeAdapter).from_config(
        model, model.cfg, steps=steps, num_views=views, params=params,
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=lr, weight_decay=0.01)))


def save_json(obj, path: str) -> None:
    with atomic_write(path) as f:  # a stopped run leaves the last whole file
        json.dump(obj, f, indent=1)


# ---------------------------------------------------------------------------
def run_main(args, root: str) -> None:
    results_dir = osp.join(args.work_dir, 'results')
    os.makedirs(results_dir, exist_ok=True)
    samples = study_scenes(TEST_STREAM, args.images)
    cells = [(None, 0)] + [(k, s) for k in args.corruptions for s in args.severities]
    for seed in args.seeds:
        for name in args.models:
            path = osp.join(results_dir, f'{name}_seed{seed}.json')
            done = json.load(open(path)) if osp.exists(path) else dict(cells={})
            settings = dict(steps=args.steps, views=args.views, lr=args.lr, params=args.params,
                            images=args.images)
            if done.get('settings', settings) != settings:
                raise SystemExit(f'{path} was made with {done["settings"]}, not {settings}: '
                                 'remove it or use another WORK_DIR')
            model = init_recognition_model(CONFIGS[name], ensure_model(
                args.work_dir, name, seed, root), device='cpu', cfg_options=dict(
                    data_root=root))
            adapter = make_adapter(model, args.steps, args.views, args.lr, args.params)
            for kind, severity in cells:
                key = f'{kind or "clean"}/{severity}'
                if key in done['cells']:
                    continue
                start = time.time()
                done['cells'][key] = adapt_cell(adapter, samples, kind, severity, seed,
                                                args.shift)
                done['settings'] = settings
                save_json(done, path)
                c = done['cells'][key]
                print(f'{name} seed {seed} {key}: top-1 {c["top1"][0]:.1f} -> '
                      f'{c["top1"][-1]:.1f} ({time.time() - start:.0f} s)', flush=True)
            if name == 'cast' and seed == args.seeds[0] and 'lr0' not in done:
                zero = make_adapter(model, args.steps, args.views, 0.0, args.params)
                few = samples[:args.control_images]
                done['lr0'] = {k: adapt_cell(zero, few, k, 3, seed) for k in args.corruptions}
                save_json(done, path)


def run_tune(args, root: str) -> None:
    os.makedirs(osp.join(args.work_dir, 'results'), exist_ok=True)
    samples = study_scenes(TUNE_STREAM, args.tune_images)
    for name in args.models:
        path = osp.join(args.work_dir, 'results', f'tune_{name}.json')
        done = json.load(open(path)) if osp.exists(path) else {}
        model = init_recognition_model(CONFIGS[name], ensure_model(
            args.work_dir, name, 0, root), device='cpu', cfg_options=dict(data_root=root))
        for lr in args.tune_lrs:
            for params in args.tune_params:
                key = f'{name}/severity{args.tune_severity}/lr{lr:g}/{params}'
                oracle = args.tune_objective == 'oracle'
                key += '/oracle' if oracle else ''
                if key in done:
                    continue
                adapter = make_adapter(model, args.steps, args.views, lr, params, oracle)
                done[key] = {k: adapt_cell(adapter, samples, k, args.tune_severity, 0)
                             for k in args.corruptions}
                save_json(done, path)
                print(f'tuned {key}', flush=True)


# ---------------------------------------------------------------------------
# tables
def mean_std(values: List[float], digits: int = 1) -> str:
    """'mean ± sample std' (the mean alone for one value)."""
    values = np.asarray(values, float)
    text = f'{values.mean():.{digits}f}'
    return text + (f' ± {values.std(ddof=1):.{digits}f}' if values.size > 1 else '')


def pooled(cells: List[dict], field: str, r: int) -> float:
    """Image-weighted mean of a per-cell figure over cells."""
    n = sum(c['images'] for c in cells)
    return sum(c[field][r] * c['images'] for c in cells) / n


def region(cells: List[dict], record: str, level: int, gt_level: str, metric: str) -> float:
    return float(np.mean([c['regions'][record][f'{level}/{gt_level}'][metric]
                          for c in cells]))


def report(args) -> None:
    results = defaultdict(dict)
    for path in sorted(glob.glob(osp.join(args.work_dir, 'results', '*_seed*.json'))):
        name, seed = osp.basename(path)[:-5].split('_seed')
        run = json.load(open(path))
        if len(run['cells']) < 1 + len(args.corruptions) * len(args.severities):
            print(f'{path}: {len(run["cells"])} cells done, left out until complete')
            continue
        results[name][int(seed)] = run
    if not results:
        print('no complete results yet')
        return
    any_run = next(iter(next(iter(results.values())).values()))
    print(f'# settings {any_run["settings"]}; {machine()}')
    groups = dict(clean=lambda k: k.startswith('clean'))
    for s in args.severities:
        groups[f'severity {s}'] = lambda k, s=s: not k.startswith('clean') and k.endswith(f'/{s}')
    for kind in args.corruptions:
        groups[kind] = lambda k, kind=kind: k.startswith(kind + '/')
    groups['all corrupted'] = lambda k: not k.startswith('clean')

    print('\n| images | model | top-1 before | top-1 after | change | entropy before | '
          'entropy after |\n|---|---|---|---|---|---|---|')
    for group, selects in groups.items():
        for name, seeds in sorted(results.items()):
            rows = [[c for k, c in run['cells'].items() if selects(k)] for run in seeds.values()]
            if not all(rows):
                continue
            t0 = [pooled(cells, 'top1', 0) for cells in rows]
            t1 = [pooled(cells, 'top1', -1) for cells in rows]
            e0 = [pooled(cells, 'entropy', 0) for cells in rows]
            e1 = [pooled(cells, 'entropy', -1) for cells in rows]
            print(f'| {group} | {DISPLAY[name]} | {mean_std(t0)} | {mean_std(t1)} | '
                  f'{mean_std(np.subtract(t1, t0))} | {mean_std(e0, 3)} | {mean_std(e1, 3)} |')
    if 'cast' not in results:
        return
    seeds = results['cast']
    runs = list(seeds.values())
    last = str(len(runs[0]['cells']['clean/0']['top1']) - 1)
    levels = sorted({int(k.split('/')[0]) for k in runs[0]['cells']['clean/0']['regions']['0']})
    names = ['superpixels'] + [f'stage {i}' for i in range(1, len(levels))]
    for group in ('clean', 'all corrupted', 'severity 5'):
        if group not in groups:
            continue
        print(f'\nCAST hierarchy, {group}: region mIoU / boundary F, before -> after '
              f'(mean ± std over {len(runs)} seeds); shifted: the before-hierarchy moved by '
              f'{args.shift} px\n')
        print('| level | object mIoU before | after | change | shifted | part mIoU before | '
              'after | change | shifted | object BF before | after |')
        print('|---|---|---|---|---|---|---|---|---|---|---|')
        for lv, lname in zip(levels, names):
            cols = []
            for gt_level in ('object', 'part'):
                per = [[c for k, c in run['cells'].items() if groups[group](k)] for run in runs]
                b = [region(cells, '0', lv, gt_level, 'mIoU') for cells in per]
                a = [region(cells, last, lv, gt_level, 'mIoU') for cells in per]
                sh = [region(cells, 'shifted', lv, gt_level, 'mIoU') for cells in per]
                cols += [mean_std(b), mean_std(a), mean_std(np.subtract(a, b)),
                         mean_std(np.subtract(sh, b))]
            bf_b = [region([c for k, c in run['cells'].items() if groups[group](k)], '0', lv,
                           'object', 'BF') for run in runs]
            bf_a = [region([c for k, c in run['cells'].items() if groups[group](k)], last, lv,
                           'object', 'BF') for run in runs]
            print(f'| {lname} | ' + ' | '.join(cols) + f' | {mean_std(bf_b)} | '
                  f'{mean_std(bf_a)} |')
    if args.plot:
        plot(results, args.severities, args.plot)
    control = runs[0].get('lr0')
    if control:
        diffs = [abs(c['top1'][-1] - c['top1'][0]) + abs(c['entropy'][-1] - c['entropy'][0])
                 for c in control.values()]
        diffs += [abs(v[m] - c['regions']['0'][k][m]) for c in control.values()
                  for k, v in c['regions'][last].items() for m in ('mIoU', 'BF')]
        print(f'\nlr-0 control ({sum(c["images"] for c in control.values())} images): largest '
              f'change of any figure {max(diffs):.2g}')


def by_severity(runs: List[dict], severities: List[int], figure) -> np.ndarray:
    """(seeds, 1 + len(severities), 2) ``figure(cells, record)`` before (record '0') and
    after (the last record), clean first, each severity's corruptions together."""
    out = []
    for run in runs:
        last = len(run['cells']['clean/0']['top1']) - 1
        rows = []
        for s in [0] + list(severities):
            cells = [c for k, c in run['cells'].items() if int(k.split('/')[1]) == s]
            rows.append([figure(cells, 0), figure(cells, last)])
        out.append(rows)
    return np.asarray(out, float)


def plot(results: Dict[str, Dict[int, dict]], severities: List[int], path: str) -> None:
    """Top-1 of every model and CAST's region mIoU (mean over its stages) by severity,
    before (dashed) and after adaptation (solid), mean and std over seeds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    x = [0] + list(severities)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    panels = [(axes[0], DISPLAY[name], list(results[name].values()), 'top-1 (%)',
               lambda c, r: pooled(c, 'top1', r)) for name in sorted(results)]
    if 'cast' in results:
        runs = list(results['cast'].values())
        stages = sorted({int(k.split('/')[0])
                         for k in runs[0]['cells']['clean/0']['regions']['0']})[1:]
        for gt_level in ('object', 'part'):
            panels.append((axes[1], f'CAST {gt_level}', runs, 'region mIoU (%), mean over stages',
                           lambda c, r, g=gt_level: np.mean(
                               [region(c, str(r), lv, g, 'mIoU') for lv in stages])))
    colours = iter(plt.rcParams['axes.prop_cycle'].by_key()['color'])
    for ax, label, runs, ylabel, figure in panels:
        values = by_severity(runs, severities, figure)
        mean = values.mean(0)
        std = values.std(0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
        colour = next(colours)
        for k, (style, when) in enumerate((('--', 'before'), ('-', 'after'))):
            ax.errorbar(x, mean[:, k], yerr=std[:, k], ls=style,
                        color=colour, marker='o', ms=3, capsize=2, label=f'{label}, {when}')
        ax.set_xlabel('corruption severity (0 = clean)')
        ax.set_ylabel(ylabel)
        ax.set_xticks(x)
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.legend(fontsize=7)
    num_seeds = len(next(iter(results.values())))
    fig.suptitle(f'Test-time adaptation under ImageNet-C-style corruptions (mean over noise, '
                 f'blur, contrast, JPEG; {num_seeds} seeds)', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f'figure: {path}')


def report_tune(args) -> None:
    done = {}
    for path in sorted(glob.glob(osp.join(args.work_dir, 'results', 'tune_*.json'))):
        done.update(json.load(open(path)))
    if not done:
        return
    print('\nTuning stream, seed 0: change of top-1 / entropy / object mIoU / part mIoU (mean '
          'over CAST\'s stages) after steps 1..N\n')
    for key, cells in done.items():
        cells = list(cells.values())
        parts = []
        for r in range(1, len(cells[0]['top1'])):
            dt = pooled(cells, 'top1', r) - pooled(cells, 'top1', 0)
            de = pooled(cells, 'entropy', r) - pooled(cells, 'entropy', 0)
            text = f'step {r}: {dt:+.1f} / {de:+.3f}'
            if cells[0]['regions']:  # stages only: the superpixels do not adapt
                stages = sorted({int(k.split('/')[0]) for k in cells[0]['regions']['0']})[1:]
                for gt_level in ('object', 'part'):
                    change = np.mean([region(cells, str(r), lv, gt_level, 'mIoU')
                                      - region(cells, '0', lv, gt_level, 'mIoU')
                                      for lv in stages])
                    text += f' / {change:+.2f}'
            parts.append(text)
        print(f'- {key} (before: top-1 {pooled(cells, "top1", 0):.1f}, entropy '
              f'{pooled(cells, "entropy", 0):.3f}): ' + '; '.join(parts))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    if not args.report:
        root = ensure_data(args.work_dir)
        (run_tune if args.tune else run_main)(args, root)
    report_tune(args)
    report(args)


if __name__ == '__main__':
    main()

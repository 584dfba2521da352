"""Part-whole discovery scored as the CAST paper scores it, on data the project generates.

    python -m benchmarks.open_vocab WORK_DIR [--cast-config configs/demo/synthetic_cast_deit.py
        --cast-checkpoint CKPT] [--seeds 0 1 2] [--steps 300] [--num-train 96 --num-val 32]

1. Synthetic PartImageNet-format data (``generate_synthetic_partimagenet``) in WORK_DIR.
2. Per seed, a small CLIP of open_clip's code trained briefly on the training split: every
   ground-truth object, part and background region, masked as the reference masks (0.5 outside
   the region after normalisation), against the text embeddings of all class names in the
   reference's template (cross-entropy over the names, CLIP's scaled cosine logits; both towers
   learn). Its weights are saved to a file and read back by :class:`CLIPRegionLabeller`, as a
   user's weights would be.
3. The whole protocol on the validation split (Resize + CenterCrop, objects named on the
   8-region level and parts on the 16-region level, parts conditioned on objects, per-image
   macro Jaccard, pooled mIoU, boundary F) for several region sources of the same counts:
   CAST's clusters (``--cast-checkpoint``; 'random' is the config's seeded initialisation),
   square patches, random (Voronoi) regions, and the ground truth's own regions (the labeller's
   ceiling). Mean and spread over the seeds.

The figures say how the protocol ranks region sources when the labeller is weak but real; they
are not the paper's numbers, which need OpenAI's CLIP, CAST's MoCo checkpoint and
PartImageNet_OOD (docs/part_whole_discovery.md).
"""
import argparse
import json
import os
import os.path as osp
import time

import cast  # noqa: F401  (first: registers everything, makes torchvision importable)

# isort: split
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from cast.apis import HierarchyPredictor
from cast.datasets import PartImageNetDataset
from cast.datasets.synthetic import generate_synthetic_partimagenet
from cast.evaluation import UnsupervisedRegionMetric
from cast.evaluation.open_vocab import (
    REFERENCE_TEMPLATES,
    CLIPRegionLabeller,
    masked_views,
)
from cast.utils import atomic_write

from .common import machine

#: A small CLIP of open_clip's code: 48 px input, patch 8, width 64, two blocks per tower.
BENCH_CLIP = dict(embed_dim=64, quick_gelu=True,
                  vision_cfg=dict(image_size=48, layers=2, width=64, patch_size=8,
                                  head_width=32),
                  text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2,
                                layers=2))
LEVEL_REGIONS = dict(object=8, part=16)  # the paper's cluster counts per named level


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('work_dir')
    p.add_argument('--cast-config', default='configs/demo/synthetic_cast_deit.py')
    p.add_argument('--cast-checkpoint', default='random')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--steps', type=int, default=300)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--num-train', type=int, default=96)
    p.add_argument('--num-val', type=int, default=32)
    p.add_argument('--size', type=int, default=96, help='Resize + CenterCrop size (96)')
    p.add_argument('--out', help='write the figures to this JSON file')
    return p.parse_args(argv)


def load_split(root: str, split: str, size: int) -> tuple:
    """Images (BGR uint8, size x size) and ground-truth maps of a split, and its metainfo."""
    init_default_scope('mmseg')
    ds = PartImageNetDataset(root, split=split, test_mode=True, pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadHierarchicalAnnotations'),
        dict(type='Resize', scale=(size, 1 << 20), keep_ratio=True),
        dict(type='CenterCropLevels', crop_size=size)])
    items = [ds[i] for i in range(len(ds))]
    return [(r['img'], {lv: r[f'gt_seg_{lv}'] for lv in ('object', 'part')})
            for r in items], ds.metainfo


def train_clip(data, meta, seed: int, steps: int, batch: int, path: str) -> float:
    """Train BENCH_CLIP on the ground-truth regions of ``data``; save its state dict to
    ``path``; return the training seconds."""
    torch.manual_seed(seed)
    labeller = CLIPRegionLabeller(None, model=BENCH_CLIP)  # open_clip's random initialisation
    clip = labeller.clip.train()
    objects = list(meta['level_classes']['object'])[1:]
    parts = list(meta['level_classes']['part'])[1:]
    names = objects + ['Background'] + parts  # one vocabulary for the contrastive targets
    views, targets = [], []
    for img, gts in data:
        image = labeller.normalise(torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1))
        for level, offset in (('object', 0), ('part', len(objects) + 1)):
            gt = torch.from_numpy(gts[level].astype(np.int64))
            ids, v = masked_views(image, gt, 'reference', labeller.size)
            for i, view in zip(ids.tolist(), v):
                if i == 255 or (level == 'part' and i == 0):
                    continue  # ignore; background is named once, at the object level
                views.append(view)
                targets.append(len(objects) if i == 0 else offset + i - 1)
    views, targets = torch.stack(views), torch.tensor(targets)
    tokens = labeller.tokenizer([REFERENCE_TEMPLATES[0].format(n) for n in names])
    opt = torch.optim.AdamW(clip.parameters(), lr=5e-4, weight_decay=0.05)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(views), (batch, ), generator=gen)
        img_feat = F.normalize(clip.encode_image(views[idx]), dim=-1)
        txt_feat = F.normalize(clip.encode_text(tokens), dim=-1)
        loss = F.cross_entropy(clip.logit_scale.exp() * img_feat @ txt_feat.T, targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    with atomic_write(path, 'wb') as f:
        torch.save(clip.state_dict(), f)
    return seconds


def squares(h: int, w: int, count: int) -> np.ndarray:
    """About ``count`` square-ish patches: a g x g grid, g = round(sqrt(count))."""
    g = max(1, int(round(count ** 0.5)))
    rows = np.minimum(np.arange(h) * g // h, g - 1)
    cols = np.minimum(np.arange(w) * g // w, g - 1)
    return rows[:, None] * g + cols[None, :]


def voronoi(h: int, w: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random regions: each pixel takes its nearest of ``count`` random seeds."""
    seeds = rng.uniform([0, 0], [h, w], size=(count, 2))
    yy, xx = np.mgrid[:h, :w]
    d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    return d.argmin(-1)


def score(labeller, meta, data, regions_of) -> dict:
    """The metric over the images, each with region maps (fine, coarse) from ``regions_of``."""
    metric = UnsupervisedRegionMetric(levels=['object', 'part'], labeller=labeller,
                                      region_names=('part_regions', 'object_regions'),
                                      label_regions=dict(object='object_regions',
                                                         part='part_regions'))
    metric.dataset_meta = meta
    counts = {'object': [], 'part': []}
    for k, (img, gts) in enumerate(data):
        part_r, object_r = regions_of(k, img, gts)
        counts['object'].append(len(np.unique(object_r)))
        counts['part'].append(len(np.unique(part_r)))
        sample = dict(pred_regions=dict(data=torch.from_numpy(
            np.stack([part_r, object_r]).astype(np.int64))),
            **{f'gt_seg_{lv}': dict(data=torch.from_numpy(gt.astype(np.int64))[None])
               for lv, gt in gts.items()})
        inputs = torch.from_numpy(img.copy()).permute(2, 0, 1)[None]
        metric.process(dict(inputs=inputs), [sample])
    m = metric.compute_metrics(metric.results)
    out = {}
    for level, name in (('object', 'object_regions'), ('part', 'part_regions')):
        out[level] = dict(mIoU_img=m[f'{name}/{level}/mIoU_img'], mIoU=m[f'{name}/{level}/mIoU'],
                          BF=m[f'{name}/{level}/BF'], regions=float(np.mean(counts[level])))
    return out


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.work_dir, exist_ok=True)
    root = osp.join(args.work_dir, 'partimagenet')
    if not osp.isdir(root):
        generate_synthetic_partimagenet(root, num_train=args.num_train, num_val=args.num_val,
                                        seed=0, min_size=args.size, max_size=args.size + 32)
    train, meta = load_split(root, 'train', args.size)
    val, _ = load_split(root, 'val', args.size)
    predictor = HierarchyPredictor(args.cast_config, args.cast_checkpoint)
    init_default_scope('mmseg')
    cast_levels = [predictor(img) for img, _ in val]
    counts = [len(np.unique(lv)) for lv in cast_levels[0]]
    # the CAST levels whose cluster counts are the paper's 16 (parts) and 8 (objects)
    clusters = list(predictor.backbone.num_clusters)
    pick = {lv: 1 + clusters.index(n) for lv, n in LEVEL_REGIONS.items()}
    print(f'{machine()}\nCAST {args.cast_config} {args.cast_checkpoint}: clusters {clusters}, '
          f'regions in image 0 {counts}; objects on stage{pick["object"]}, parts on '
          f'stage{pick["part"]}; {len(train)} train / {len(val)} val images at {args.size} px')

    results = {}
    for seed in args.seeds:
        path = osp.join(args.work_dir, f'bench_clip_seed{seed}.pth')
        seconds = train_clip(train, meta, seed, args.steps, args.batch, path)
        labeller = CLIPRegionLabeller(path, model=BENCH_CLIP)
        rng = np.random.default_rng(seed)
        sources = {
            'CAST': lambda k, img, gts: (cast_levels[k][pick['part']],
                                         cast_levels[k][pick['object']]),
            'squares': lambda k, img, gts: (squares(*img.shape[:2], LEVEL_REGIONS['part']),
                                            squares(*img.shape[:2], LEVEL_REGIONS['object'])),
            'random regions': lambda k, img, gts: (
                voronoi(*img.shape[:2], LEVEL_REGIONS['part'], rng),
                voronoi(*img.shape[:2], LEVEL_REGIONS['object'], rng)),
            'ground truth': lambda k, img, gts: (gts['part'], gts['object']),
        }
        for name, fn in sources.items():
            results.setdefault(name, []).append(score(labeller, meta, val, fn))
        print(f'seed {seed}: CLIP trained {args.steps} steps in {seconds:.0f} s; ' + ', '.join(
            f"{n} {r[-1]['object']['mIoU_img']:.2f}/{r[-1]['part']['mIoU_img']:.2f}"
            for n, r in results.items()))

    print(f'\n{"regions":<16} {"count obj/part":>14} | {"object mIoU (img)":>18} '
          f'{"pooled":>14} {"BF":>14} | {"part mIoU (img)":>16} {"pooled":>14} {"BF":>14}')
    summary = {}
    for name, runs in results.items():
        row = f'{name:<16} {runs[0]["object"]["regions"]:>6.1f}/{runs[0]["part"]["regions"]:<7.1f}'
        for level in ('object', 'part'):
            row += ' |'
            for key in ('mIoU_img', 'mIoU', 'BF'):
                vals = np.array([r[level][key] for r in runs])
                summary.setdefault(name, {}).setdefault(level, {})[key] = [
                    float(vals.mean()), float(vals.std())]
                row += f' {vals.mean():>7.2f} ± {vals.std():<5.2f}'
        print(row)
    if args.out:
        with atomic_write(args.out) as f:
            json.dump(dict(args=vars(args), machine=machine(), summary=summary,
                           runs=results), f, indent=2)
    return results


if __name__ == '__main__':
    main()

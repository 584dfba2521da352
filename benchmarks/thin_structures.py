"""Do superpixels keep thin structures (poles, wires) of street scenes?

    python -m benchmarks.thin_structures [--num-images 8] [--size crop|full|half] [--quick]
                                         [--seed 0] [--blur SIGMA] [--contrast F]
                                         [--noise STD] [--json OUT]

CAST's users report that superpixels lose thin structures on Cityscapes (twke18/CAST
issue 10). This benchmark draws seeded street scenes (:func:`street_scene`, numpy only):
sky, road, textured buildings and vegetation, cars, vertical poles 1-4 px wide and 40-400 px
tall (some carrying traffic signs, rectangles or discs) and sagging wires 1-3 px thick across
the image, with an instance map. Every method of the ``Superpixels`` transform runs on the same
images at ``area_per_superpixel=256`` as configs/_base_/datasets/cityscapes_superpixels.py:

- ``slic``: fast-slic at its defaults (compactness 10), the configs' choice;
- ``slic area 64``: four times as many superpixels (the "more superpixels" remedy);
- ``seeds 5/15``: SEEDS, the reference's segmentation setting;
- ``... + thin split``: the same with ``thin_split=True`` (thin structures cut out as
  superpixels of their own, :func:`cast.datasets.transforms.superpixels.thin_structures`).

Sizes: ``crop`` (default) is the 512x1024 crop that training sees (2,048 superpixels), at the
images' own scale (``RandomResize`` ratio 1); ``full`` the whole 1024x2048 test image (8,192);
``half`` 512x1024 scenes drawn at half scale (poles and wires still 1-4 px wide, everything
else half as large). ``--quick`` draws 2 small 128x256 scenes (a smoke run for the tests).

Columns: milliseconds per image (one thread, one pass after an untimed call), superpixels
returned (mean), boundary recall with a 2 px tolerance
(:func:`cast.evaluation.unsupervised.boundary_counts`, pooled over the images) over all
instance boundaries and over those next to a thin object, then the "kept" rate: the share of
objects that own at least one superpixel (one whose majority label is that object), for thin
objects by width (poles and wires, 1, 2, 3, 4 px) and overall, and as a control for signs and
cars. Objects with fewer than 16 visible pixels are not counted.

Degraded images (:func:`degrade`; all off by default, and then the images are bit-identical to
the undegraded ones): the drawn scenes have sharp edges, while camera optics and demosaicing
blur thin structures over a pixel or two and lower their contrast. ``--blur SIGMA`` smooths the
image with a Gaussian of std ``SIGMA`` px, ``--contrast F`` then scales every channel's
deviation from the image's mean by ``F`` (0.6: 60% of the contrast, for poles and wires as for
everything else), and ``--noise STD`` last adds Gaussian sensor noise of std ``STD`` grey levels
(rounded and clipped to uint8). Only the image changes: instance maps, objects and the scenes
drawn stay those of ``--seed`` (the noise comes from a generator of its own). ``thin_split``'s
thresholds were set on seed 0's sharp scenes; ``--seed 1`` with these options is a held-out check.
"""
import argparse
import json
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch

from benchmarks.common import timed
from cast.datasets.transforms import Superpixels
from cast.evaluation.unsupervised import boundary_counts, boundary_mask, dilate

AREA = 256
METHODS = {
    'slic': dict(method='slic'),
    'slic + thin split': dict(method='slic', thin_split=True),
    'slic area 64': dict(method='slic', area_per_superpixel=64),
    'seeds 5/15': dict(method='seeds', histogram_bins=5, max_iter=15),
    'seeds 5/15 + thin split': dict(method='seeds', histogram_bins=5, max_iter=15,
                                    thin_split=True),
}
SIZES = {'crop': (512, 1024, 1.0), 'full': (1024, 2048, 1.0), 'half': (512, 1024, 0.5),
         'quick': (128, 256, 0.25)}
THIN = ('pole', 'wire')
WIDTHS = (1, 2, 3, 4)
MIN_VISIBLE = 16


# ----------------------------------------------------------------------
# scenes
class Canvas:
    """An RGB float image and its instance map, painted in order (later covers earlier)."""

    def __init__(self, height: int, width: int, rng: np.random.Generator) -> None:
        self.img = np.zeros((height, width, 3), np.float32)
        self.inst = np.zeros((height, width), np.int32)
        self.objects: List[dict] = []
        self.rng = rng

    def paint(self, mask: np.ndarray, colour, category: str, noise: float = 0.,
              top: int = 0, left: int = 0, **info) -> dict:
        """Paint ``mask`` (a window at ``top, left``) in ``colour`` (RGB, or an (h, w, 3) array)
        plus Gaussian texture of std ``noise``, as a new object."""
        h, w = mask.shape
        window = (slice(top, top + h), slice(left, left + w))
        obj = dict(id=len(self.objects) + 1, category=category, **info)
        self.objects.append(obj)
        colour = np.broadcast_to(np.asarray(colour, np.float32), (h, w, 3))
        if noise:
            colour = colour + self.rng.normal(0, noise, (h, w, 1)).astype(np.float32)
        self.img[window][mask] = colour[mask]
        self.inst[window][mask] = obj['id']
        return obj


def _ellipse(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - (h - 1) / 2) / (h / 2))**2 + ((xx - (w - 1) / 2) / (w / 2))**2 <= 1


def street_scene(height: int, width: int, rng: np.random.Generator,
                 scale: float = 1.0) -> dict:
    """A seeded street scene with poles, wires and signs, and its instances.

    Args:
        height, width (int): image size.
        rng (np.random.Generator): the only source of randomness.
        scale (float): size of everything but the thin objects' widths, relative to a
            1024x2048 Cityscapes image (pole heights 40-400 px at 1). Defaults to 1.

    Returns:
        dict: ``img`` (H, W, 3) uint8 RGB, ``instances`` (H, W) int32 ids 1..N (every pixel
        belongs to one), ``objects`` (list of dicts with ``id``, ``category`` among sky, road,
        building, vegetation, car, pole, sign, wire, and ``width`` in pixels for poles and
        wires: columns per row of a pole, rows per column of a wire).
    """
    c = Canvas(height, width, rng)
    yy = np.arange(height, dtype=np.float32)[:, None, None]
    horizon = int(height * rng.uniform(0.4, 0.55))
    sky_top, sky_low = rng.uniform([60, 110, 170], [140, 170, 240]), rng.uniform(170, 230, 3)
    t = np.clip(yy[:horizon] / max(horizon, 1), 0, 1)
    sky = np.broadcast_to(sky_top * (1 - t) + sky_low * t, (horizon, width, 3))
    c.paint(np.ones((horizon, width), bool), sky, 'sky', noise=1.5)
    grey = rng.uniform(70, 120)
    t = (yy[horizon:] - horizon) / max(height - horizon, 1)
    road = np.broadcast_to(grey * (1 - 0.3 * t) * np.ones(3, np.float32),
                           (height - horizon, width, 3))
    c.paint(np.ones((height - horizon, width), bool), road, 'road', noise=5, top=horizon)
    for _ in range(rng.integers(2, 6)):  # buildings with windows (texture, not objects)
        w = int(width * rng.uniform(0.1, 0.35))
        left = int(rng.integers(-w // 2, width - w // 2))
        top = max(0, horizon - int(height * rng.uniform(0.1, 0.45)))
        bottom = min(height, horizon + int(12 * scale) + 1)
        left, right = max(left, 0), min(left + w, width)
        h, w = bottom - top, right - left
        colour = rng.uniform(90, 210, 3)
        facade = np.broadcast_to(colour, (h, w, 3)).copy()
        step_y, step_x = (int(rng.integers(24, 48) * max(scale, 0.4)) for _ in range(2))
        win_h, win_w = int(step_y * rng.uniform(0.4, 0.7)), int(step_x * rng.uniform(0.4, 0.7))
        rows, cols = np.mgrid[0:h, 0:w]
        windows = ((rows % step_y) < win_h) & ((cols % step_x) < win_w)
        facade[windows] = colour * rng.uniform(0.3, 0.6)
        c.paint(np.ones((h, w), bool), facade, 'building', noise=6, top=top, left=left)
    for _ in range(rng.integers(1, 4)):  # vegetation
        h, w = (int(height * rng.uniform(0.1, 0.3)), int(width * rng.uniform(0.05, 0.2)))
        top = int(np.clip(horizon - h * rng.uniform(0.5, 1.0), 0, height - h))
        left = int(rng.integers(0, width - w))
        c.paint(_ellipse(h, w), rng.uniform([30, 80, 20], [80, 140, 60]), 'vegetation',
                noise=18, top=top, left=left)
    for _ in range(rng.integers(1, 5)):  # cars
        h, w = int(rng.uniform(40, 90) * scale), int(rng.uniform(90, 240) * scale)
        bottom = int(rng.uniform(horizon + h, height))
        top, left = max(bottom - h, 0), int(rng.integers(0, width - w))
        body = np.broadcast_to(rng.uniform(20, 230, 3), (bottom - top, w, 3)).copy()
        body[:(bottom - top) // 3, w // 6:w - w // 6] *= 0.4  # windows
        c.paint(np.ones((bottom - top, w), bool), body, 'car', noise=4, top=top, left=left)
    widths = rng.permutation(np.tile(WIDTHS, 3))[:int(rng.integers(8, 13))]
    for pole_w in widths:  # poles, half of them with a sign
        pole_w = int(pole_w)
        base = int(rng.uniform(horizon, horizon + 0.35 * (height - horizon)))
        h = min(int(rng.uniform(40, 400) * scale), base)
        if h < 8:
            continue
        left = int(rng.integers(0, width - pole_w))
        shade = rng.uniform(30, 200)
        pole = c.paint(np.ones((h, pole_w), bool), shade + rng.uniform(-10, 10, 3), 'pole',
                       noise=3, top=base - h, left=left, width=pole_w)
        if rng.random() < 0.5:
            size = max(int(rng.uniform(16, 40) * scale), 4)
            shape = (np.ones((int(size * 0.75), size), bool) if rng.random() < 0.5
                     else _ellipse(size, size))
            top = max(base - h - shape.shape[0] // 2, 0)
            sl = int(np.clip(left + pole_w // 2 - size // 2, 0, width - size))
            shape = shape[:height - top]
            colour = [(200, 30, 30), (30, 60, 180), (230, 200, 30), (235, 235, 235)][
                int(rng.integers(4))]
            c.paint(shape, np.asarray(colour) + rng.uniform(-15, 15, 3), 'sign', noise=3,
                    top=top, left=sl, pole=pole['id'])
    for _ in range(rng.integers(2, 6)):  # sagging wires, at most 0.3 px per column steep
        wire_w = int(rng.integers(1, 4))
        x0 = int(rng.uniform(0, 0.3) * width)
        x1 = int(rng.uniform(0.7, 1.0) * width)
        span = x1 - x0
        y0, y1 = rng.uniform(0.03 * height, horizon * 0.8, 2)
        y1 = y0 + np.clip(y1 - y0, -0.1 * span, 0.1 * span)
        sag = rng.uniform(0.0, 0.05) * span
        x = np.arange(span, dtype=np.float32)
        centre = y0 + (y1 - y0) * x / span + sag * (1 - (2 * x / span - 1)**2)
        top = int(centre.min())
        rows = np.floor(centre).astype(int) - top
        mask = np.zeros((rows.max() + wire_w, span), bool)
        for k in range(wire_w):
            mask[rows + k, np.arange(span)] = True
        mask = mask[:height - top]
        c.paint(mask, rng.uniform(15, 70) + rng.uniform(-5, 5, 3), 'wire', noise=2, top=top,
                left=x0, width=wire_w)
    img = np.clip(c.img + rng.normal(0, 2, c.img.shape), 0, 255).astype(np.uint8)
    return dict(img=img, instances=c.inst, objects=c.objects)


def degrade(img: np.ndarray, blur: float = 0., contrast: float = 1., noise: float = 0.,
            rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """The image as a camera might see it: Gaussian blur of std ``blur`` px, then contrast
    scaled by ``contrast`` toward each channel's mean, then Gaussian noise of std ``noise``.

    Args:
        img (np.ndarray): (H, W, 3) uint8 image.
        blur (float): std of the Gaussian blur in pixels; 0 for none.
        contrast (float): factor on each channel's deviation from its mean; 1 for none.
        noise (float): std of the additive Gaussian noise in grey levels; 0 for none.
        rng (np.random.Generator, optional): source of the noise (needed when ``noise > 0``).

    Returns:
        np.ndarray: (H, W, 3) uint8; ``img`` itself when nothing is asked.
    """
    if not blur and contrast == 1 and not noise:
        return img
    out = img.astype(np.float32)
    if blur:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    if contrast != 1:
        mean = out.mean(axis=(0, 1), keepdims=True)
        out = mean + contrast * (out - mean)
    if noise:
        out = out + rng.normal(0, noise, out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def scenes(size: str, count: int, seed: int, blur: float = 0., contrast: float = 1.,
           noise: float = 0.) -> List[dict]:
    """``count`` scenes of ``size`` drawn from ``seed``, their images degraded as asked
    (:func:`degrade`; the instance maps and objects are the same whatever is asked)."""
    height, width, scale = SIZES[size]
    rng = np.random.default_rng(seed)
    drawn = [street_scene(height, width, rng, scale) for _ in range(count)]
    noise_rng = np.random.default_rng([seed, 1])  # apart, so the scenes do not depend on it
    for scene in drawn:
        scene['img'] = degrade(scene['img'], blur, contrast, noise, noise_rng)
    return drawn


# ----------------------------------------------------------------------
# measures
def owned_objects(superpixels: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """Ids of the objects that are the majority label of at least one superpixel."""
    n = int(instances.max()) + 1
    hist = np.bincount((superpixels.astype(np.int64) * n + instances).ravel(),
                       minlength=(int(superpixels.max()) + 1) * n).reshape(-1, n)
    return np.unique(hist[hist.sum(1) > 0].argmax(1))


def thin_boundary_counts(superpixels: np.ndarray, instances: np.ndarray, thin: np.ndarray,
                         tolerance: float) -> np.ndarray:
    """Matched and total ground-truth boundary pixels within 1 px of a thin object."""
    pred = boundary_mask(torch.from_numpy(superpixels))
    gt = boundary_mask(torch.from_numpy(instances)) & dilate(torch.from_numpy(thin), 1.5)
    hit = gt & dilate(pred, tolerance)
    return np.array([int(hit.sum()), int(gt.sum())])


def evaluate(superpixels: np.ndarray, scene: dict, tolerance: float) -> dict:
    """Per-image counts: boundary hits, and objects kept / counted per group."""
    inst = scene['instances']
    visible = np.bincount(inst.ravel(), minlength=len(scene['objects']) + 1)
    owned = set(owned_objects(superpixels, inst).tolist())
    groups: Dict[str, List[int]] = {}
    thin = np.isin(inst, [o['id'] for o in scene['objects'] if o['category'] in THIN])
    for obj in scene['objects']:
        if visible[obj['id']] < MIN_VISIBLE:
            continue
        if obj['category'] in THIN:
            keys = [f"{obj['width']} px", 'thin']
        elif obj['category'] in ('sign', 'car'):
            keys = [obj['category']]
        else:
            continue
        for key in keys:
            kept, total = groups.get(key, [0, 0])
            groups[key] = [kept + (obj['id'] in owned), total + 1]
    all_hits = boundary_counts(torch.from_numpy(superpixels), torch.from_numpy(inst),
                               tolerance, ignore_index=-1)
    return dict(boundary=np.array([int(all_hits[2]), int(all_hits[3])]),
                thin_boundary=thin_boundary_counts(superpixels, inst, thin, tolerance),
                groups=groups)


GROUPS = [f'{w} px' for w in WIDTHS] + ['thin', 'sign', 'car']


def summarise(per_image: List[dict], seconds: float, counts: List[int]) -> dict:
    groups = {key: [0, 0] for key in GROUPS}
    for result in per_image:
        for key, (kept, total) in result['groups'].items():
            groups[key][0] += kept
            groups[key][1] += total
    boundary = sum(r['boundary'] for r in per_image)
    thin_boundary = sum(r['thin_boundary'] for r in per_image)
    return dict(
        ms_per_image=seconds / len(per_image) * 1e3,
        superpixels=float(np.mean(counts)),
        boundary_recall=boundary[0] / max(boundary[1], 1),
        thin_boundary_recall=thin_boundary[0] / max(thin_boundary[1], 1),
        kept={key: dict(kept=k, total=t, rate=k / t if t else None)
              for key, (k, t) in groups.items()})


def _rate(entry: dict) -> str:
    return '-' if entry['rate'] is None else f"{entry['rate']:.2f} ({entry['total']})"


def table(results: Dict[str, dict]) -> str:
    lines = ['| method | ms / image | superpixels | boundary recall | thin boundary recall | '
             + ' | '.join(f'kept {key}' for key in GROUPS) + ' |',
             '|---|---:|---:|---:|---:|' + '---:|' * len(GROUPS)]
    for name, r in results.items():
        lines.append(f"| {name} | {r['ms_per_image']:.0f} | {r['superpixels']:.0f} | "
                     f"{r['boundary_recall']:.3f} | {r['thin_boundary_recall']:.3f} | "
                     + ' | '.join(_rate(r['kept'][key]) for key in GROUPS) + ' |')
    return '\n'.join(lines)


# ----------------------------------------------------------------------
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--size', choices=['crop', 'full', 'half'], default='crop')
    parser.add_argument('--tolerance', type=float, default=2.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--blur', type=float, default=0., metavar='SIGMA',
                        help='Gaussian blur of the images, std in px (default 0: none)')
    parser.add_argument('--contrast', type=float, default=1., metavar='F',
                        help="scale the images' contrast by F toward their mean (default 1)")
    parser.add_argument('--noise', type=float, default=0., metavar='STD',
                        help='Gaussian noise added to the images, std in grey levels '
                             '(default 0: none)')
    parser.add_argument('--methods', nargs='+', choices=list(METHODS), default=list(METHODS))
    parser.add_argument('--quick', action='store_true',
                        help='2 scenes of 128x256 (a smoke run)')
    parser.add_argument('--json', metavar='OUT', help='also write the figures as JSON')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    size = 'quick' if args.quick else args.size
    count = 2 if args.quick else args.num_images
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    height, width, scale = SIZES[size]
    print(f'{count} street scenes of {height}x{width} (scale {scale:g}, seed {args.seed}), '
          f'{round(height * width / AREA)} superpixels asked (one per {AREA} px), boundary '
          f'tolerance {args.tolerance:g} px, one thread', flush=True)
    if args.blur or args.contrast != 1 or args.noise:
        print(f'images degraded: blur sigma {args.blur:g} px, contrast x{args.contrast:g}, '
              f'noise std {args.noise:g}', flush=True)
    images = scenes(size, count, args.seed, args.blur, args.contrast, args.noise)
    results = {}
    for name in args.methods:
        transform = Superpixels(channel_order='rgb', **{'area_per_superpixel': AREA,
                                                        **METHODS[name]})
        try:
            transform.compute(images[0]['img'])  # untimed: first-call set-up
        except ValueError as err:  # e.g. more superpixels than fast-slic can label
            print(f'  {name}: not run ({err})', flush=True)
            continue
        per_image, counts, seconds = [], [], 0.
        for scene in images:
            out = {}
            seconds += timed(lambda: out.update(sp=transform.compute(scene['img'])))
            counts.append(int(out['sp'].max()) + 1)
            per_image.append(evaluate(out['sp'], scene, args.tolerance))
        results[name] = summarise(per_image, seconds, counts)
        print(f"  {name}: {results[name]['ms_per_image']:.0f} ms / image", flush=True)
    print()
    print(table(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(size=size, height=height, width=width, scale=scale,
                           num_images=count, seed=args.seed, blur=args.blur,
                           contrast=args.contrast, noise=args.noise, results=results), f, indent=1)
    return results


if __name__ == '__main__':
    main()

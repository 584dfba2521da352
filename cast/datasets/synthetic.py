"""A small synthetic SPIN (and PartImageNet) dataset, generated deterministically from a seed.

Each picture holds one or two shaded, textured objects (quadrupeds, cars, fish) on a textured
background with distractor blobs. Objects are built from polygons (ellipses, rectangles,
triangles); parts tile their object and subparts lie inside their part, so the three levels are
consistent by construction. Every part and subpart has its own colour and texture.

Layout written by :func:`generate_synthetic_spin` (that of the SPIN release, ``style='release'``)::

    out_dir/
    ├── annotations/
    │   ├── spin_train_wholes.json     # object classes, ids from 0, no supercategory
    │   ├── spin_train_parts.json      # 'Quadruped Head' (supercategory 'Quadruped'), from 0
    │   ├── spin_train_subparts.json   # 'Quadruped-Torso-Belly' (SPIN's part words), from 1
    │   └── spin_val_*.json ...
    ├── images/
    │   ├── train/n90000001_000001.JPEG  # file_name in the JSON has no extension
    │   └── val/...
    └── synthetic_spin_manifest.json    # the generation parameters

and by :func:`generate_synthetic_partimagenet` (that of PartImageNet_Seg)::

    out_dir/annotations/{split}/{split}.json  # the part annotations; category ids from 0
    out_dir/annotations/{split}/{stem}.png    # the same as label maps, 40 = background
    out_dir/images/{split}/{file_name}        # file_name with its '.JPEG' extension

Masks are COCO segmentations: compressed RLE in the SPIN release style (as spin-api reads them);
in the 'coco' style and for PartImageNet a polygon list where the polygon rasterizes (with
pycocotools) to exactly the visible mask, else RLE. Every level stays pixel-exact.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from mmengine.logging import print_log
from mmengine.utils import ProgressBar, mkdir_or_exist

GENERATOR_VERSION = 3  # 2: larger eyes, noses, ...; 3: the release's names, ids and layout
SPLITS = ('train', 'val', 'test')
LEVEL_FILES = ('wholes', 'parts', 'subparts')  # object, part, subpart

#: The fixed hierarchy: superclass -> (object classes as (synset, name), parts -> subparts).
SYNTHETIC_TAXONOMY: Dict[str, dict] = {
    'Quadruped': dict(
        classes=(('n90000001', 'tabby cat'), ('n90000002', 'dalmatian')),
        parts={'Head': ('Eye', 'Nose'), 'Body': ('Belly', ), 'Foot': ('Paw', ),
               'Tail': ('Tip', )}),
    'Car': dict(
        classes=(('n90000011', 'sports car'), ('n90000012', 'jeep')),
        parts={'Body': ('Window', 'Door', 'Light'), 'Tier': ('Rim', ), 'Side Mirror': ()}),
    'Fish': dict(
        classes=(('n90000021', 'goldfish'), ('n90000022', 'clownfish')),
        parts={'Head': ('Eye', 'Mouth'), 'Body': ('Stripe', ), 'Fin': (), 'Tail': ()}),
}


STYLES = ('release', 'coco')

#: SPIN's part words in subpart names where they differ from PartImageNet's part names.
SPIN_PART_WORDS = {'Body': 'Torso', 'Foot': 'Legs', 'Hand': 'Arm', 'Tier': 'Tire',
                   'Side Mirror': 'Side_Mirror'}


def synthetic_categories(style: str = 'release') -> Dict[str, List[dict]]:
    """COCO ``categories`` of the three levels.

    Args:
        style (str): 'release': as SPIN is published: whole categories with ids from 0 and no
            supercategory, parts ('Quadruped Head', supercategory 'Quadruped') from 0, subparts
            from 1 named 'Superclass-Part-Subpart' with SPIN's part words ('Car-Tire-Rim' under
            the part 'Car Tier'); 'coco': every level from 1 with a supercategory (superclass
            for wholes and parts, the part for subparts) and names 'Car Tier Rim';
            'partimagenet': parts only, ids from 0, supercategory = superclass.

    Returns:
        dict: ``{'wholes': [...], 'parts': [...], 'subparts': [...]}``; each entry has ``id``,
        ``name`` (and ``supercategory`` where the style has one) and ``key``, the generator's
        own name of the class (not written to the files).
    """
    if style not in STYLES + ('partimagenet', ):
        raise ValueError(f"style must be one of {STYLES + ('partimagenet', )}, got {style!r}")
    coco = style == 'coco'
    cats = dict(wholes=[], parts=[], subparts=[])
    for superclass, spec in SYNTHETIC_TAXONOMY.items():
        for _, name in spec['classes']:
            cats['wholes'].append(dict(key=name, name=name, supercategory=superclass))
        for part, subparts in spec['parts'].items():
            part_name = f'{superclass} {part}'
            cats['parts'].append(dict(key=part_name, name=part_name, supercategory=superclass))
            for sub in subparts:
                name = (f'{part_name} {sub}' if coco else
                        f'{superclass}-{SPIN_PART_WORDS.get(part, part)}-{sub}')
                cats['subparts'].append(dict(key=f'{part_name} {sub}', name=name,
                                             supercategory=part_name))
    first = dict(wholes=1, parts=1, subparts=1) if coco else dict(wholes=0, parts=0, subparts=1)
    for level, entries in cats.items():
        for i, entry in enumerate(entries):
            entry['id'] = first[level] + i
            if style == 'release' and level != 'parts':
                del entry['supercategory']
    return cats


# --------------------------------------------------------------------------------------------
# Geometry: object templates in a local frame (x forward, y down, about [-1, 1]).
# A part instance is (part name, [polygons], [(subpart name, [polygons])]); paint order = list
# order, so later parts occlude earlier ones.


def _ellipse(cx, cy, rx, ry, rot=0.0, n=36):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(rot), np.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def _rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def _rot_rect(cx, cy, length, width, angle):
    """A rectangle whose long axis starts at (cx, cy) and points along ``angle``."""
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]]) * width / 2
    p0, p1 = np.array([cx, cy]), np.array([cx, cy]) + d * length
    return np.stack([p0 + n, p1 + n, p1 - n, p0 - n])


def _poly(*points):
    return np.array(points, float)


def _quadruped(rng, variant):
    # variant 0 tabby cat: long, low, short legs; 1 dalmatian: taller, long legs
    brx = rng.uniform(0.55, 0.65) if variant == 0 else rng.uniform(0.48, 0.56)
    bry = rng.uniform(0.2, 0.25) if variant == 0 else rng.uniform(0.24, 0.3)
    leg = rng.uniform(0.28, 0.36) if variant == 0 else rng.uniform(0.45, 0.55)
    lw = 0.09 if variant == 0 else 0.1
    hr = rng.uniform(0.18, 0.23)
    tail_angle = rng.uniform(-2.6, -2.0)
    parts = []
    tx, ty = -brx * 0.9, -bry * 0.3
    tail_len = rng.uniform(0.45, 0.6)
    tip = _ellipse(tx + np.cos(tail_angle) * tail_len, ty + np.sin(tail_angle) * tail_len,
                   0.13, 0.1, tail_angle)
    parts.append(('Tail', [_rot_rect(tx, ty, tail_len, 0.08, tail_angle),
                           _ellipse(tx + np.cos(tail_angle) * tail_len,
                                    ty + np.sin(tail_angle) * tail_len, 0.06, 0.05)],
                  [('Tip', [tip])]))

    def foot(x):
        y0 = bry * 0.4
        return ('Foot', [_rect(x - lw / 2, y0, x + lw / 2, y0 + leg)],
                [('Paw', [_rect(x - lw / 2 - 0.02, y0 + leg - 0.1, x + lw / 2 + 0.06,
                                y0 + leg)])])

    far, near = (-brx * 0.55, brx * 0.6), (-brx * 0.7, brx * 0.45)
    parts += [foot(x) for x in far]
    parts.append(('Body', [_ellipse(0, 0, brx, bry)],
                  [('Belly', [_ellipse(0, bry * 0.75, brx * 0.65, bry * 0.45)])]))
    parts += [foot(x) for x in near]
    hx, hy = brx * 0.95, -bry * 0.95
    head = [_ellipse(hx, hy, hr * 1.1, hr)]
    if variant == 0:  # pointed ears
        head += [_poly((hx - hr * 0.7, hy - hr * 0.5), (hx - hr * 0.4, hy - hr * 1.6),
                       (hx - hr * 0.05, hy - hr * 0.8)),
                 _poly((hx + hr * 0.1, hy - hr * 0.8), (hx + hr * 0.45, hy - hr * 1.6),
                       (hx + hr * 0.75, hy - hr * 0.5))]
    else:  # floppy ears
        head += [_ellipse(hx - hr * 0.5, hy - hr * 0.2, hr * 0.3, hr * 0.7, 0.5)]
    parts.append(('Head', head, [('Eye', [_ellipse(hx + hr * 0.35, hy - hr * 0.2, hr * 0.3,
                                                   hr * 0.24)]),
                                 ('Nose', [_ellipse(hx + hr * 0.95, hy + hr * 0.15, hr * 0.34,
                                                    hr * 0.28)])]))
    return parts


def _car(rng, variant):
    # variant 0 sports car: long, low cabin; 1 jeep: boxy, tall, big tires
    half = rng.uniform(0.9, 1.0) if variant == 0 else rng.uniform(0.75, 0.85)
    top = -0.05 if variant == 0 else -0.2
    cab = -0.35 if variant == 0 else -0.65
    tire_r = 0.19 if variant == 0 else 0.25
    bottom = 0.3
    if variant == 0:
        cabin = _poly((-half * 0.55, top), (-half * 0.25, cab), (half * 0.25, cab),
                      (half * 0.6, top))
        window = _poly((-half * 0.42, top - 0.03), (-half * 0.2, cab + 0.06),
                       (half * 0.2, cab + 0.06), (half * 0.45, top - 0.03))
    else:
        cabin = _rect(-half * 0.8, cab, half * 0.35, top + 0.01)
        window = _rect(-half * 0.7, cab + 0.07, half * 0.28, top - 0.08)
    body = [_rect(-half, top, half, bottom), cabin]
    door = _rect(-half * 0.2, top + 0.05, half * 0.25, bottom - 0.08)
    light = _rect(half - 0.16, top + 0.04, half, top + 0.2)
    parts = [('Body', body, [('Window', [window]), ('Door', [door]), ('Light', [light])])]
    mx = half * 0.55 if variant == 0 else half * 0.4
    parts.append(('Side Mirror', [_poly((mx - 0.02, top - 0.02), (mx + 0.12, top - 0.14),
                                        (mx + 0.14, top - 0.02))], []))
    for x in (-half * 0.6, half * 0.6):
        parts.append(('Tier', [_ellipse(x, bottom, tire_r, tire_r)],
                      [('Rim', [_ellipse(x, bottom, tire_r * 0.5, tire_r * 0.5)])]))
    return parts


def _fish(rng, variant):
    # variant 0 goldfish: round body, big tail; 1 clownfish: long body, two stripes
    brx = rng.uniform(0.5, 0.6) if variant == 0 else rng.uniform(0.62, 0.72)
    bry = rng.uniform(0.32, 0.38) if variant == 0 else rng.uniform(0.24, 0.28)
    tail = rng.uniform(0.4, 0.55) if variant == 0 else rng.uniform(0.28, 0.35)
    parts = [('Tail', [_poly((-brx * 0.85, 0), (-brx - tail, -tail * 0.9),
                             (-brx - tail * 0.7, 0), (-brx - tail, tail * 0.9))], [])]
    parts.append(('Fin', [_poly((-brx * 0.4, -bry * 0.7), (-brx * 0.1, -bry - 0.22),
                                (brx * 0.3, -bry * 0.8))], []))
    parts.append(('Fin', [_poly((-brx * 0.2, bry * 0.7), (-brx * 0.05, bry + 0.16),
                                (brx * 0.2, bry * 0.75))], []))
    stripes = ([_rect(-brx * 0.15, -bry, brx * 0.05, bry)] if variant == 0 else
               [_rect(-brx * 0.45, -bry, -brx * 0.3, bry), _rect(brx * 0.05, -bry, brx * 0.2, bry)])
    parts.append(('Body', [_ellipse(0, 0, brx, bry)], [('Stripe', stripes)]))
    hx = brx * 0.62
    hrx, hry = brx * 0.45, bry * 0.85
    parts.append(('Head', [_ellipse(hx, 0, hrx, hry)],
                  [('Eye', [_ellipse(hx + hrx * 0.3, -hry * 0.3, 0.09, 0.09)]),
                   ('Mouth', [_ellipse(hx + hrx * 0.85, hry * 0.1, 0.1, 0.06)])]))
    return parts


TEMPLATES = dict(Quadruped=_quadruped, Car=_car, Fish=_fish)

# Appearance: base BGR colour and texture per part / subpart; objects tint their parts.
PART_STYLE = {
    'Quadruped Head': ((70, 120, 190), 'fur'), 'Quadruped Body': ((60, 110, 170), 'fur'),
    'Quadruped Foot': ((40, 70, 110), 'noise'), 'Quadruped Tail': ((90, 140, 200), 'fur'),
    'Quadruped Head Eye': ((30, 160, 60), 'smooth'), 'Quadruped Head Nose': ((120, 100, 220),
                                                                           'smooth'),
    'Quadruped Body Belly': ((200, 220, 235), 'fur'), 'Quadruped Foot Paw': ((25, 30, 40),
                                                                          'noise'),
    'Quadruped Tail Tip': ((240, 240, 240), 'fur'),
    'Car Body': ((40, 40, 200), 'gloss'), 'Car Tier': ((30, 30, 30), 'noise'),
    'Car Side Mirror': ((160, 160, 160), 'gloss'), 'Car Body Window': ((220, 190, 140), 'gloss'),
    'Car Body Door': ((30, 30, 140), 'gloss'), 'Car Body Light': ((120, 240, 250), 'smooth'),
    'Car Tier Rim': ((190, 190, 200), 'metal'),
    'Fish Head': ((40, 150, 230), 'scales'), 'Fish Body': ((30, 120, 240), 'scales'),
    'Fish Fin': ((60, 180, 250), 'stripes'), 'Fish Tail': ((80, 100, 220), 'stripes'),
    'Fish Head Eye': ((20, 20, 20), 'smooth'), 'Fish Head Mouth': ((90, 60, 160), 'smooth'),
    'Fish Body Stripe': ((245, 245, 245), 'smooth'),
}
CLASS_TINT = {  # BGR tint mixed into the object's parts, and the body pattern
    'tabby cat': ((40, 120, 220), 'stripes'), 'dalmatian': ((235, 235, 235), 'spots'),
    'sports car': ((30, 30, 220), None), 'jeep': ((60, 120, 80), 'noise'),
    'goldfish': ((20, 140, 250), None), 'clownfish': ((10, 90, 250), 'spots'),
}


class _Rasterizer:
    """Rasterizes pixel-space polygons with pycocotools, the way the dataset decodes them."""

    def __init__(self, height, width):
        self.h, self.w = height, width

    def polygons(self, polys: Sequence[np.ndarray]) -> np.ndarray:
        flat = [np.round(p, 2).reshape(-1).tolist() for p in polys]
        rle = mask_utils.merge(mask_utils.frPyObjects(flat, self.h, self.w))
        return mask_utils.decode(rle).astype(bool)


def _smooth_noise(rng, h, w, cells):
    low = rng.random((max(2, int(h / cells) + 2), max(2, int(w / cells) + 2))).astype(np.float32)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)


def _texture(rng, kind, h, w, scale):
    """A (H, W) multiplicative texture around 1 of the given kind."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = 1 + 0.06 * (rng.random((h, w), dtype=np.float32) - 0.5)
    theta = rng.uniform(0, np.pi)
    if kind in ('fur', 'stripes'):
        period = max(3.0, scale * (0.06 if kind == 'fur' else 0.12))
        wave = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
        amp = 0.12 if kind == 'fur' else 0.25
        return grain * (1 + amp * wave) * (0.9 + 0.2 * _smooth_noise(rng, h, w, 6))
    if kind == 'scales':
        period = max(3.0, scale * 0.07)
        return grain * (0.85 + 0.15 * np.abs(np.sin(np.pi * xx / period) *
                                              np.sin(np.pi * yy / period)) * 2)
    if kind == 'noise':
        return grain * (0.75 + 0.5 * _smooth_noise(rng, h, w, 3))
    if kind == 'gloss':
        return grain * (0.9 + 0.35 * np.clip(_smooth_noise(rng, h, w, 30) - 0.4, 0, 1))
    if kind == 'metal':
        return grain * (0.8 + 0.4 * _smooth_noise(rng, h, w, 2))
    return grain  # smooth


def _pattern(rng, kind, h, w, scale):
    """A (H, W) class pattern factor (stripes, spots, noise) or None."""
    if kind is None:
        return None
    if kind == 'stripes':
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = max(4.0, scale * 0.15)
        theta = rng.uniform(1.2, 1.9)
        wave = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
        return np.where(wave > 0.3, 0.55, 1.0).astype(np.float32)
    if kind == 'spots':
        spots = np.ones((h, w), np.float32)
        for _ in range(int(rng.integers(12, 30))):
            r = max(1, int(scale * rng.uniform(0.02, 0.05)))
            cv2.circle(spots, (int(rng.integers(0, w)), int(rng.integers(0, h))), r, 0.15, -1)
        return spots
    return 0.8 + 0.4 * _smooth_noise(rng, h, w, 4)


def _background(rng, h, w):
    """A textured BGR float background: gradient, multi-scale noise, stripes, distractors."""
    c0, c1 = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    t = (xx * np.cos(theta) + yy * np.sin(theta))
    t = (t - t.min()) / max(1e-6, np.ptp(t))
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    img *= (0.75 + 0.5 * _smooth_noise(rng, h, w, rng.uniform(10, 40)))[..., None]
    img *= (0.9 + 0.2 * _smooth_noise(rng, h, w, 3))[..., None]
    if rng.random() < 0.5:  # planks / grass / waves
        period = rng.uniform(6, 24)
        phi = rng.uniform(0, np.pi)
        wave = np.sin(2 * np.pi * (xx * np.cos(phi) + yy * np.sin(phi)) / period)
        img *= (1 + rng.uniform(0.05, 0.2) * wave)[..., None]
    for _ in range(int(rng.integers(2, 6))):  # unannotated distractor blobs
        colour = rng.uniform(30, 230, 3)
        blob = np.zeros((h, w), np.uint8)
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(4, w // 4)), int(rng.integers(4, h // 4)))
        cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        tex = _texture(rng, 'noise', h, w, min(h, w))
        m = blob.astype(bool)
        img[m] = (colour[None] * tex[m][:, None]) * 0.7 + img[m] * 0.3
    return img


def _edge_shading(mask):
    """Darker towards the border of a mask: a cheap rounded look."""
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    peak = max(1.0, float(dist.max()))
    return 0.7 + 0.3 * np.clip(dist / (0.5 * peak), 0, 1)


class SceneGenerator:
    """Draws one synthetic image and its instance masks at the three levels.

    Args:
        min_size (int): smallest image side. Default: 128.
        max_size (int): largest image side. Default: 192.
    """

    def __init__(self, min_size: int = 128, max_size: int = 192):
        if not 16 <= min_size <= max_size:
            raise ValueError(f'need 16 <= min_size <= max_size, got {min_size}, {max_size}')
        self.min_size, self.max_size = min_size, max_size
        self.classes = [(sc, synset, name, variant)
                        for sc, spec in SYNTHETIC_TAXONOMY.items()
                        for variant, (synset, name) in enumerate(spec['classes'])]

    def __call__(self, rng: np.random.Generator) -> dict:
        """Returns dict(img=(H, W, 3) uint8 BGR, synset, objects=[...]).

        Each object: dict(superclass, name, mask, polys, parts=[dict(name, mask, polys,
        subparts=[dict(name, mask, polys)])]); masks are the visible (H, W) bool pixels,
        ``polys`` the pixel-space polygons that drew them.
        """
        h, w = (int(v) for v in rng.integers(self.min_size, self.max_size + 1, 2))
        raster = _Rasterizer(h, w)
        img = _background(rng, h, w)
        obj_map = np.zeros((h, w), np.int32)  # visible instance ids, 0 = none
        part_map = np.zeros((h, w), np.int32)
        sub_map = np.zeros((h, w), np.int32)
        num_objects = 1 if rng.random() < 0.7 else 2
        objects, parts, subparts = [], [], []
        light = rng.uniform(0, 2 * np.pi)
        for k in range(num_objects):
            superclass, synset, name, variant = self.classes[int(rng.integers(len(self.classes)))]
            template = TEMPLATES[superclass](rng, variant)
            size = min(h, w) * (rng.uniform(0.5, 0.95) if k == 0 else rng.uniform(0.3, 0.6))
            to_pixels = self._placement(rng, template, size, h, w)
            tint, pattern_kind = CLASS_TINT[name]
            pattern = _pattern(rng, pattern_kind, h, w, size)
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            cx, cy = to_pixels(np.zeros((1, 2)))[0]
            shade = 1 + 0.25 * ((xx - cx) * np.cos(light) + (yy - cy) * np.sin(light)) / size
            obj = dict(superclass=superclass, name=name, synset=synset, polys=[], parts=[])
            objects.append(obj)
            for part_name, polys, subs in template:
                full = f'{superclass} {part_name}'
                polys = [np.round(to_pixels(p), 2) for p in polys]
                m = raster.polygons(polys)
                parts.append(dict(name=full, polys=polys, subparts=[]))
                obj['parts'].append(parts[-1])
                obj['polys'] += polys
                pid = len(parts)
                obj_map[m], part_map[m], sub_map[m] = k + 1, pid, 0
                colour, kind = PART_STYLE[full]
                colour = 0.65 * np.array(colour) + 0.35 * np.array(tint)
                colour = np.clip(colour + rng.uniform(-15, 15, 3), 0, 255)
                tex = _texture(rng, kind, h, w, size) * shade * _edge_shading(m)
                if pattern is not None and part_name in ('Body', 'Head', 'Tail'):
                    tex = tex * pattern
                img[m] = colour[None] * tex[m][:, None]
                for sub_name, sub_polys in subs:
                    sub_full = f'{full} {sub_name}'
                    sub_polys = [np.round(to_pixels(p), 2) for p in sub_polys]
                    ms = raster.polygons(sub_polys) & (part_map == pid)
                    subparts.append(dict(name=sub_full, polys=sub_polys))
                    parts[-1]['subparts'].append(subparts[-1])
                    sub_map[ms] = len(subparts)
                    colour, kind = PART_STYLE[sub_full]
                    colour = np.clip(np.array(colour) + rng.uniform(-12, 12, 3), 0, 255)
                    tex = _texture(rng, kind, h, w, size) * (0.85 + 0.15 * shade)
                    img[ms] = colour[None] * tex[ms][:, None]
        for k, obj in enumerate(objects):
            obj['mask'] = obj_map == k + 1
        for i, part in enumerate(parts):
            part['mask'] = part_map == i + 1
        for i, sub in enumerate(subparts):
            sub['mask'] = sub_map == i + 1
        img = cv2.GaussianBlur(img, (3, 3), 0.6)
        img += rng.normal(0, 3, img.shape)
        img = np.clip(img, 0, 255).astype(np.uint8)
        return dict(img=img, height=h, width=w, synset=objects[0]['synset'], objects=objects)

    @staticmethod
    def _placement(rng, template, size, h, w):
        """Random scale / rotation / flip / position mapping local coords to pixels."""
        pts = np.concatenate([p for _, polys, _ in template for p in polys])
        lo, hi = pts.min(0), pts.max(0)
        centre = (lo + hi) / 2
        scale = size / max(hi - lo)
        angle = rng.uniform(-0.35, 0.35)
        flip = -1.0 if rng.random() < 0.5 else 1.0
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]]) @ np.diag([flip, 1.0])
        half = (hi - lo) * scale / 2
        # keep at least ~85% of the extent inside the picture
        tx = rng.uniform(min(half[0] * 0.85, w / 2), max(w - half[0] * 0.85, w / 2))
        ty = rng.uniform(min(half[1] * 0.85, h / 2), max(h - half[1] * 0.85, h / 2))

        def to_pixels(p):
            return ((np.asarray(p) - centre) * scale) @ rot.T + np.array([tx, ty])

        return to_pixels


# --------------------------------------------------------------------------------------------
# COCO encoding and writing


def encode_mask(mask: np.ndarray, polys: Sequence[np.ndarray], use_polygon: bool):
    """COCO segmentation of a visible mask: the polygons when they rasterize to exactly the mask
    (and ``use_polygon``), else compressed RLE with a str ``counts``."""
    h, w = mask.shape
    if use_polygon and polys:
        flat = [np.round(p, 2).reshape(-1).tolist() for p in polys]
        redrawn = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(flat, h, w)))
        if np.array_equal(redrawn.astype(bool), mask):
            return flat
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(h), int(w)], counts=rle['counts'].decode('ascii'))


def _annotation(ann_id, image_id, category_id, mask, polys, rng, polygons):
    ys, xs = np.nonzero(mask)
    bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1)]
    use_polygon = rng.random() < 0.8  # drawn whatever the style: the same scenes either way
    return dict(id=ann_id, image_id=image_id, category_id=category_id,
                segmentation=encode_mask(mask, polys, polygons and use_polygon),
                area=int(mask.sum()), bbox=bbox, iscrowd=0)


def _scene_annotations(scene, image_id, cat_ids, rng, next_ids, polygons):
    """Annotations of one scene per level file ('wholes', 'parts', 'subparts')."""
    out = dict(wholes=[], parts=[], subparts=[])

    def add(level, name, mask, polys):
        if mask.any():
            next_ids[level] += 1
            out[level].append(_annotation(next_ids[level], image_id, cat_ids[level][name], mask,
                                          polys, rng, polygons))

    for obj in scene['objects']:
        add('wholes', obj['name'], obj['mask'], obj['polys'])
        for part in obj['parts']:
            add('parts', part['name'], part['mask'], part['polys'])
            for sub in part['subparts']:
                add('subparts', sub['name'], sub['mask'], sub['polys'])
    return out


def _coco(description, images, annotations, categories):
    return dict(info=dict(description=description, version=str(GENERATOR_VERSION)),
                licenses=[], images=images, annotations=annotations, categories=categories)


def _dump_json(obj, path):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    os.replace(tmp, path)


def _split_files(fmt, split):
    """Annotation files of a split, relative to the output folder."""
    if fmt == 'spin':
        return [osp.join('annotations', f'spin_{split}_{lv}.json') for lv in LEVEL_FILES]
    return [osp.join('annotations', split, f'{split}.json')]


def _paint_in_file_order(anns, height, width, background):
    """PartImageNet_Seg's label-map PNG of one image: category ids, later masks on top."""
    label_map = np.full((height, width), background, np.uint8)
    for ann in anns:
        seg = ann['segmentation']
        rle = (mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
               if isinstance(seg, list) else seg)
        label_map[mask_utils.decode(rle) > 0] = ann['category_id']
    return label_map


def _missing_images(out_dir, fmt, split):
    """Images a split's (first) annotation file lists that are not on disk."""
    with open(osp.join(out_dir, _split_files(fmt, split)[0])) as f:
        images = json.load(f)['images']
    suffix = '.JPEG' if fmt == 'spin' else ''
    paths = [osp.join(out_dir, 'images', split, im['file_name'] + suffix) for im in images]
    return [p for p in paths if not osp.isfile(p)]


def _prepare_out_dir(out_dir, fmt, params, expected_files) -> Optional[str]:
    """Check ``out_dir`` against its manifest.

    Returns:
        str or None: 'complete' (nothing to do), 'resume' (our own unfinished output), or None
        (fresh directory).

    Raises:
        FileExistsError: the directory holds other parameters' or someone else's files.
    """
    manifest = osp.join(out_dir, f'synthetic_{fmt}_manifest.json')
    if osp.isfile(manifest):
        with open(manifest) as f:
            old = json.load(f)
        old_params = {k: old.get(k) for k in params}
        if old_params != params:
            diff = {k: (old_params[k], params[k]) for k in params if old_params[k] != params[k]}
            raise FileExistsError(
                f'{out_dir} already holds a synthetic {fmt} dataset made with other parameters '
                f'(manifest {manifest}; differing (old, new): {diff}). Choose another OUT_DIR; '
                'nothing was overwritten.')
        missing = [p for p in expected_files if not osp.isfile(osp.join(out_dir, p))]
        if old.get('complete') and not missing and not any(
                _missing_images(out_dir, fmt, split) for split in params['splits']):
            return 'complete'
        return 'resume'
    clash = [p for p in expected_files if osp.exists(osp.join(out_dir, p))]
    if clash:
        raise FileExistsError(
            f'{osp.join(out_dir, clash[0])} exists but {out_dir} has no {osp.basename(manifest)}'
            ': refusing to overwrite files this generator did not write. Choose another OUT_DIR.')
    return None


def _generate(out_dir, fmt, num_per_split, seed, min_size, max_size, show_progress,
              style='partimagenet'):
    params = dict(generator='cast.datasets.synthetic', version=GENERATOR_VERSION, format=fmt,
                  style=style, seed=int(seed), min_size=int(min_size), max_size=int(max_size),
                  splits={s: int(n) for s, n in num_per_split.items() if n})
    for split, num in num_per_split.items():
        if num < 0:
            raise ValueError(f'num_{split} must be >= 0, got {num}')
    if not params['splits']:
        raise ValueError('nothing to generate: every split has 0 images')
    scene_gen = SceneGenerator(min_size, max_size)
    ann_files = [p for s in params['splits'] for p in _split_files(fmt, s)]
    manifest = osp.join(out_dir, f'synthetic_{fmt}_manifest.json')
    state = _prepare_out_dir(out_dir, fmt, params, ann_files) if osp.isdir(out_dir) else None
    if state == 'complete':
        print_log(f'synthetic {fmt} data in {out_dir} is complete; nothing to do',
                  logger='current')
        return out_dir
    mkdir_or_exist(osp.join(out_dir, 'annotations'))
    _dump_json(dict(params, complete=False), manifest)

    cats = synthetic_categories(style)
    cat_ids = {lv: {c.pop('key'): c['id'] for c in entries} for lv, entries in cats.items()}
    polygons = style != 'release'  # the release's masks are compressed RLE
    total = sum(params['splits'].values())
    progress = ProgressBar(total) if show_progress else None
    for split_index, split in enumerate(SPLITS):
        num = params['splits'].get(split, 0)
        if not num:
            continue
        img_dir = osp.join(out_dir, 'images', split)
        mkdir_or_exist(img_dir)
        images, anns = [], dict(wholes=[], parts=[], subparts=[])
        next_ids = dict(wholes=0, parts=0, subparts=0)
        for index in range(num):
            rng = np.random.default_rng([int(seed), split_index, index])
            scene = scene_gen(rng)
            image_id = index + 1
            stem = f"{scene['synset']}_{split_index * 100000 + index + 1:06d}"
            file_name = stem if fmt == 'spin' else stem + '.JPEG'
            cv2.imwrite(osp.join(img_dir, stem + '.JPEG'), scene['img'],
                        [cv2.IMWRITE_JPEG_QUALITY, 92])
            images.append(dict(id=image_id, file_name=file_name, height=scene['height'],
                               width=scene['width']))
            scene_anns = _scene_annotations(scene, image_id, cat_ids, rng, next_ids, polygons)
            for level, entries in scene_anns.items():
                anns[level] += entries
            if fmt == 'partimagenet':  # PartImageNet_Seg's PNGs: part ids, 40 = background
                png_dir = osp.join(out_dir, 'annotations', split)
                mkdir_or_exist(png_dir)
                cv2.imwrite(osp.join(png_dir, stem + '.png'), _paint_in_file_order(
                    scene_anns['parts'], scene['height'], scene['width'], 40))
            if progress is not None:
                progress.update()
        if fmt == 'spin':
            for level in LEVEL_FILES:
                _dump_json(_coco(f'synthetic SPIN {split} {level}', images, anns[level],
                                 cats[level]),
                           osp.join(out_dir, 'annotations', f'spin_{split}_{level}.json'))
        else:
            mkdir_or_exist(osp.join(out_dir, 'annotations', split))
            _dump_json(_coco(f'synthetic PartImageNet {split}', images, anns['parts'],
                             cats['parts']),
                       osp.join(out_dir, 'annotations', split, f'{split}.json'))
    _dump_json(dict(params, complete=True), manifest)
    if progress is not None:
        print()
    print_log(f'synthetic {fmt} data written to {out_dir} ({params["splits"]})', logger='current')
    return out_dir


def generate_synthetic_spin(out_dir: str, num_train: int = 96, num_val: int = 32,
                            num_test: int = 0, seed: int = 0, min_size: int = 128,
                            max_size: int = 192, show_progress: bool = False,
                            style: str = 'release') -> str:
    """Write a synthetic dataset in SPIN's layout (see the module docstring).

    The same arguments give byte-identical files. If ``out_dir`` already holds a complete
    dataset made with the same arguments, nothing is written; an unfinished one is completed.
    Files that this generator did not write (no manifest), or a dataset made with other
    arguments, raise ``FileExistsError``: nothing is overwritten or deleted.

    Args:
        out_dir (str): output folder (created if needed).
        num_train (int): training images. Default: 96.
        num_val (int): validation images. Default: 32.
        num_test (int): test images (0: no test split). Default: 0.
        seed (int): random seed. Default: 0.
        min_size (int): smallest image side in pixels. Default: 128.
        max_size (int): largest image side in pixels. Default: 192.
        show_progress (bool): show a progress bar. Default: False.
        style (str): 'release' (SPIN as published: no supercategory on wholes, SPIN's subpart
            names, compressed RLE) or 'coco' (supercategories everywhere, polygons where exact);
            the images and label maps are the same. See :func:`synthetic_categories`.
            Default: 'release'.

    Returns:
        str: ``out_dir``.
    """
    if style not in STYLES:
        raise ValueError(f'style must be one of {STYLES}, got {style!r}')
    return _generate(out_dir, 'spin', dict(train=num_train, val=num_val, test=num_test), seed,
                     min_size, max_size, show_progress, style)


def generate_synthetic_partimagenet(out_dir: str, num_train: int = 96, num_val: int = 32,
                                    num_test: int = 0, seed: int = 0, min_size: int = 128,
                                    max_size: int = 192, show_progress: bool = False) -> str:
    """Write the same kind of scenes in PartImageNet_Seg's layout:
    ``annotations/{split}/{split}.json`` holding the part masks (category ids from 0,
    supercategory = superclass, polygons where exact), ``annotations/{split}/{stem}.png`` the
    same masks painted in file order (part ids, 40 = background) and
    ``images/{split}/{file_name}`` (``file_name`` with its '.JPEG'). Arguments and overwrite
    rules as :func:`generate_synthetic_spin`."""
    return _generate(out_dir, 'partimagenet', dict(train=num_train, val=num_val, test=num_test),
                     seed, min_size, max_size, show_progress)

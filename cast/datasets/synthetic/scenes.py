"""One synthetic picture and its visible instance masks at the three levels."""
from typing import Sequence

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from .shapes import TEMPLATES
from .taxonomy import SYNTHETIC_TAXONOMY
from .textures import CLASS_TINT, PART_STYLE, background, edge_shading, pattern_map, texture


class _Rasterizer:
    """Rasterizes pixel-space polygons with pycocotools, the way the dataset decodes them."""

    def __init__(self, height, width):
        self.h, self.w = height, width

    def polygons(self, polys: Sequence[np.ndarray]) -> np.ndarray:
        flat = [np.round(p, 2).reshape(-1).tolist() for p in polys]
        rle = mask_utils.merge(mask_utils.frPyObjects(flat, self.h, self.w))
        return mask_utils.decode(rle).astype(bool)


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
        img = background(rng, h, w)
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
            pattern = pattern_map(rng, pattern_kind, h, w, size)
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
                tex = texture(rng, kind, h, w, size) * shade * edge_shading(m)
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
                    tex = texture(rng, kind, h, w, size) * (0.85 + 0.15 * shade)
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

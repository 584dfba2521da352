"""Pictures of CAST's nested regions: a child region shares its parent's hue.

Colours are given coarse to fine. The coarsest level with several regions
spreads them over the hue circle (largest region first); below it, the
children of a region take hues from a narrow interval around their parent's
hue (children ordered by size), so a region's hue stays close to its
ancestors'. Lightness and saturation alternate between siblings, so
neighbouring children of one parent stay distinguishable.

Every level is drawn as one captioned tile (:func:`hierarchy_tiles`); :func:`tile_grid` lays
tiles out, in one row at their size (:func:`hierarchy_panel`, ``tools/visualize_hierarchy.py``)
or fitted into a box (the regions beside the image in
:class:`~cast.visualization.HierarchicalSegVisualizer`).

Shape shorthand: H, W the image size; L the number of levels.
"""
import colorsys
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np

from .drawing import draw_boundaries, font_scale_for, header_bar, paste, stack_with_header

Band = Tuple[float, float]


def _regions_by_size(labels: np.ndarray) -> List[int]:
    ids, counts = np.unique(labels, return_counts=True)
    return [int(i) for i in ids[np.argsort(-counts, kind='stable')]]


def parent_of(child: np.ndarray, parent: np.ndarray) -> dict:
    """Map each child region to the parent region holding most of it.

    Args:
        child (np.ndarray): (H, W) finer region ids.
        parent (np.ndarray): (H, W) coarser region ids.

    Returns:
        dict[int, int]: child id -> parent id (for nested maps, the unique
        parent).
    """
    pairs, counts = np.unique(
        np.stack([child.reshape(-1), parent.reshape(-1)]), axis=1,
        return_counts=True)
    best = {}
    for (c, p), n in zip(pairs.T.tolist(), counts.tolist()):
        if c not in best or n > best[c][1]:
            best[c] = (p, n)
    return {c: p for c, (p, _) in best.items()}


def _hsv(hue: float, saturation: float, value: float) -> List[int]:
    return [int(round(255 * c)) for c in colorsys.hsv_to_rgb(
        hue % 1.0, saturation, value)]


def nested_colors(levels: Sequence[np.ndarray],
                  max_spread: float = 0.12,
                  margin: float = 0.1) -> List[np.ndarray]:
    """Colour maps of nested region maps, hues inherited coarse to fine.

    The root level is the coarsest one with more than one region; its K
    regions get hues k / K (largest region first). Levels coarser than the
    root (a single region) are grey. Below the root, the children of a
    region share out a hue interval centred on their parent's hue, at most
    ``max_spread`` wide (and never wider than the parent's own interval), so
    every region's hue stays close to its ancestors'.

    Args:
        levels (Sequence[np.ndarray]): L (H, W) integer maps, fine to coarse
            (as :meth:`CAST.forward_hierarchy` returns them).
        max_spread (float): widest hue interval (in turns) shared by the
            children of one region. Defaults to 0.12.
        margin (float): fraction of an interval left out on each side, so
            siblings' intervals stay apart. Defaults to 0.1.

    Returns:
        list[np.ndarray]: L (H, W, 3) uint8 RGB pictures, in the order of
        ``levels``.
    """
    if not levels:
        return []
    shape = levels[0].shape
    if any(level.shape != shape for level in levels):
        raise ValueError('all levels must have the same (H, W)')
    coarse_first = list(reversed(levels))
    pictures = []
    bands = None  # region id -> (lo, hi) hue interval of the level above
    for depth, labels in enumerate(coarse_first):
        ids = _regions_by_size(labels)
        palette, new_bands = {}, {}
        if bands is None and len(ids) == 1 and depth < len(levels) - 1:
            palette[ids[0]] = [200, 200, 200]  # above the root: grey
        elif bands is None:  # the root level
            width = 1.0 / len(ids)
            for k, r in enumerate(ids):
                new_bands[r] = (k * width, (k + 1) * width)
                palette[r] = _hsv((k + 0.5) * width, 0.85, 0.95)
        else:
            parents = parent_of(labels, coarse_first[depth - 1])
            siblings = {}
            for r in ids:  # by decreasing size
                siblings.setdefault(parents[r], []).append(r)
            for p, children in siblings.items():
                lo, hi = bands[p]
                centre = (lo + hi) / 2
                spread = min(hi - lo, max_spread) * (1 - 2 * margin)
                step = spread / len(children)
                for k, r in enumerate(children):
                    start = centre - spread / 2 + k * step
                    new_bands[r] = (start, start + step)
                    palette[r] = _hsv(start + step / 2,
                                      0.85 if k % 3 != 2 else 0.55,
                                      0.95 if k % 2 == 0 else 0.7)
        if palette and new_bands:
            bands = new_bands
        lut_ids = np.array(sorted(palette))
        lut = np.array([palette[r] for r in lut_ids], np.uint8)
        pictures.append(lut[np.searchsorted(lut_ids, labels)])
    return list(reversed(pictures))


def overlay(image_rgb: np.ndarray, picture: np.ndarray, labels: np.ndarray,
            alpha: float = 0.5) -> np.ndarray:
    """The image blended with a colour map, region boundaries in white.

    Args:
        image_rgb (np.ndarray): (H, W, 3) uint8 RGB image.
        picture (np.ndarray): (H, W, 3) uint8 colours.
        labels (np.ndarray): (H, W) region ids.
        alpha (float): weight of the colours. Defaults to 0.5.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    blend = cv2.addWeighted(image_rgb, 1 - alpha, picture, alpha, 0)
    return draw_boundaries(blend, labels, (255, 255, 255))


def level_captions(levels: Sequence[np.ndarray]) -> List[Tuple[str, int]]:
    """``('superpixels', S)`` then ``('stage{i}', K_i)``: each level's name and region count."""
    return [('superpixels' if i == 0 else f'stage{i}', len(np.unique(level)))
            for i, level in enumerate(levels)]


def hierarchy_tiles(levels: Sequence[np.ndarray]) -> List[Tuple[str, np.ndarray]]:
    """Captions and pictures of every level of CAST's hierarchy, fine to coarse.

    Args:
        levels (Sequence[np.ndarray]): L (H, W) nested region maps, fine to coarse
            (:meth:`CAST.forward_hierarchy`).

    Returns:
        list[tuple[str, np.ndarray]]: ``('superpixels (S)', picture)``, ``('stage1 (K_1)',
        picture)``, ...: (H, W, 3) uint8 RGB nested colours with region boundaries.
    """
    pictures = nested_colors(levels)
    return [(f'{name} ({count})', draw_boundaries(picture, level))
            for (name, count), picture, level in zip(level_captions(levels), pictures, levels)]


def tile_grid(tiles: Sequence[Tuple[str, np.ndarray]], font_scale: float, gap: int = 4,
              box: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Captioned tiles on white, each picture under a header bar holding its caption.

    Args:
        tiles (Sequence[tuple[str, np.ndarray]]): Captions and (H, W, 3) uint8 pictures, all
            of one size.
        font_scale (float): Caption font size.
        gap (int): White pixels between tiles. Defaults to 4.
        box (tuple[int, int], optional): (height, width) to fill: the tiles go in one or two
            rows, whichever gives larger tiles, resized (nearest) to fit. None: one row at the
            pictures' size. Defaults to None.

    Returns:
        np.ndarray: (H', W', 3) uint8 RGB, of size ``box`` when given.
    """
    ph, pw = tiles[0][1].shape[:2]
    cap_h = header_bar('x', 10, font_scale).shape[0]
    if box is None:
        rows, cols, th, tw = 1, len(tiles), ph, pw
        box = (th + cap_h, cols * tw + (cols - 1) * gap)
    else:
        height, width = box
        best = None
        for rows in (1, 2):
            cols = -(-len(tiles) // rows)
            scale = min((width - (cols - 1) * gap) / (cols * pw),
                        (height - rows * cap_h - (rows - 1) * gap) / (rows * ph))
            if best is None or scale > best[0]:
                best = (scale, rows, cols)
        scale, rows, cols = best
        th, tw = max(1, int(ph * scale)), max(1, int(pw * scale))
    canvas = np.full(box + (3, ), 255, np.uint8)
    for k, (caption, picture) in enumerate(tiles):
        r, c = divmod(k, cols)
        if picture.shape[:2] != (th, tw):
            picture = mmcv.imresize(picture, (tw, th), interpolation='nearest')
        paste(canvas, stack_with_header(caption, picture, font_scale), r * (th + cap_h + gap),
              c * (tw + gap))
    return canvas


def hierarchy_panel(image_rgb: np.ndarray, tiles: Sequence[Tuple[str, np.ndarray]],
                    gap: int = 4) -> np.ndarray:
    """One row: the image, then every level's tile, captioned.

    Args:
        image_rgb (np.ndarray): (H, W, 3) uint8.
        tiles (Sequence[tuple[str, np.ndarray]]): From :func:`hierarchy_tiles`.
        gap (int): White pixels between tiles. Defaults to 4.

    Returns:
        np.ndarray: (H + caption, W', 3) uint8 RGB.
    """
    font_scale = font_scale_for(*image_rgb.shape[:2]) * 0.9
    return tile_grid([('image', image_rgb)] + list(tiles), font_scale, gap)

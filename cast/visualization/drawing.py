"""Pieces of a segmentation picture: header bars, numbered class tags placed without overlap,
and legends.

A segmentation panel names its classes with small tags holding the class index (the same number
in the ground truth and the prediction, and in the level's legend). Tags are placed greedily,
smallest region first: inside the region where it is wide enough, else beside it with a leader
line, never over another tag.

Shape shorthand: H, W the panel size.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
Box = Tuple[int, int, int, int]  # x0, y0, x1, y1 (inclusive)


def text_colour(rgb: Sequence[int]) -> Tuple[int, int, int]:
    """Black on light colours, white on dark ones."""
    r, g, b = (int(c) for c in rgb)
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def font_scale_for(height: int, width: int) -> float:
    """The tag and legend font size for a panel of (height, width)."""
    return max(0.4, min(0.8, 0.42 * min(height, width) / 320))


def header_bar(text: str, width: int, font_scale: float = 0.55, bold: bool = False) -> np.ndarray:
    """A light bar of ``width`` pixels with ``text`` centred in black; its height depends only
    on ``font_scale`` (a long text is written smaller, not taller)."""
    thickness = 2 if bold else 1
    (_, th), baseline = cv2.getTextSize('Ag', FONT, font_scale, thickness)
    pad = max(4, th // 2)
    bar = np.full((th + baseline + 2 * pad, width, 3), 235, np.uint8)
    scale = font_scale
    tw = cv2.getTextSize(text, FONT, scale, thickness)[0][0]
    while tw > width - 8 and scale > 0.3:
        scale *= 0.9
        tw = cv2.getTextSize(text, FONT, scale, thickness)[0][0]
    cv2.putText(bar, text, (max(4, (width - tw) // 2), pad + th), FONT, scale, (0, 0, 0),
                thickness, cv2.LINE_AA)
    return bar


def draw_boundaries(picture: np.ndarray, labels: np.ndarray, colour=(0, 0, 0)) -> np.ndarray:
    """Copy of ``picture`` (H, W, 3) with the boundaries between regions of ``labels`` (H, W)
    painted in ``colour``."""
    edge = np.zeros(labels.shape, bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1] |= labels[:-1] != labels[1:]
    out = picture.copy()
    out[edge] = colour
    return out


def _overlaps(box: Box, boxes: List[Box], margin: int = 2) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 <= b[2] + margin and b[0] <= x1 + margin and y0 <= b[3] + margin
               and b[1] <= y1 + margin for b in boxes)


def _box_at(cx: float, cy: float, w: int, h: int) -> Box:
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    return x0, y0, x0 + w - 1, y0 + h - 1


def _inside_candidates(mask: np.ndarray, dist: np.ndarray, w: int, h: int, step: int,
                       limit: int = 40):
    """Tag centres whose (w, h) box lies wholly inside the region ``mask`` (H, W), farthest
    from the region's border first (grid points ``step`` apart)."""
    ys, xs = np.nonzero(dist >= min(w, h) / 2)
    keep = (ys % step == 0) & (xs % step == 0)
    ys, xs = ys[keep], xs[keep]
    if not len(ys):
        return []
    integral = cv2.integral(mask.astype(np.uint8))  # (H + 1, W + 1) inclusive sums
    y0, x0 = ys - h // 2, xs - w // 2
    y1, x1 = y0 + h, x0 + w
    inside = (y0 >= 0) & (x0 >= 0) & (y1 <= mask.shape[0]) & (x1 <= mask.shape[1])
    y0, x0, y1, x1, ys, xs = (a[inside] for a in (y0, x0, y1, x1, ys, xs))
    sums = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    full = sums == w * h
    ys, xs = ys[full], xs[full]
    order = np.argsort(-dist[ys, xs], kind='stable')[:limit]
    return [(float(xs[i]), float(ys[i])) for i in order]


def place_tags(label_map: np.ndarray, labels: Sequence[int], texts: Sequence[str],
               font_scale: float, min_area: int = 40, max_per_class: int = 4) -> List[dict]:
    """Where to write each class's tag in a panel, with no two tags overlapping.

    Every class gets a tag on its largest connected region; other regions of at least
    ``min_area`` pixels get one too (at most ``max_per_class``). Regions are served smallest
    first: the tag goes inside the region when it fits and is free, else on rings around the
    region's innermost point (joined to it by a leader line), else it is left out (only when the
    whole panel is full).

    Args:
        label_map (np.ndarray): (H, W) integer labels.
        labels (Sequence[int]): the labels to tag.
        texts (Sequence[str]): one tag text per label.
        font_scale (float): OpenCV font scale of the tags.
        min_area (int): smallest extra region that gets its own tag. Defaults to 40.
        max_per_class (int): most tags per class. Defaults to 4.

    Returns:
        list[dict]: ``dict(label, text, box=(x0, y0, x1, y1), anchor=(x, y) | None)`` per tag;
        ``anchor`` is the region point a leader line joins when the tag lies outside it.
    """
    height, width = label_map.shape
    regions = []
    for label, text in zip(labels, texts):
        mask = (label_map == label).astype(np.uint8)
        n, comp, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        order = np.argsort(-stats[1:, cv2.CC_STAT_AREA], kind='stable') + 1
        for rank, c in enumerate(order[:max_per_class]):
            area = int(stats[c, cv2.CC_STAT_AREA])
            if rank > 0 and area < min_area:
                break
            regions.append((area, int(label), text, comp == c))
    regions.sort(key=lambda r: r[0])
    placed: List[dict] = []
    boxes: List[Box] = []
    for _, label, text, mask in regions:
        (tw, th), baseline = cv2.getTextSize(text, FONT, font_scale, 1)
        w, h = tw + 6, th + baseline + 4
        # the panel's edge is a border too: a region filling the panel is tagged at its centre
        dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
        ay, ax = np.unravel_index(int(dist.argmax()), dist.shape)
        step = max(2, h // 2)
        found = None
        for cx, cy in _inside_candidates(mask, dist, w + 2, h + 2, step):
            box = _box_at(cx, cy, w, h)
            if box[0] >= 0 and box[1] >= 0 and box[2] < width and box[3] < height and \
                    not _overlaps(box, boxes):
                found = (box, None)
                break
        radius = float(dist.max()) + max(w, h) / 2 + 3
        while found is None and radius < max(height, width):
            for angle in np.linspace(-np.pi / 2, 1.5 * np.pi, 16, endpoint=False):
                box = _box_at(ax + radius * np.cos(angle), ay + radius * np.sin(angle), w, h)
                if box[0] >= 0 and box[1] >= 0 and box[2] < width and box[3] < height and \
                        not _overlaps(box, boxes):
                    found = (box, (int(ax), int(ay)))
                    break
            radius += h
        if found is not None:
            boxes.append(found[0])
            placed.append(dict(label=label, text=text, box=found[0], anchor=found[1]))
    return placed


def draw_tags(panel: np.ndarray, tags: List[dict], palette: Sequence[Sequence[int]],
              font_scale: float) -> np.ndarray:
    """Draw tags from :func:`place_tags` on a copy of ``panel`` (H, W, 3) RGB: a box of the
    class colour with a dark border, its number in black or white, and a leader line with a dot
    for tags outside their region."""
    out = panel.copy()
    for tag in tags:
        x0, y0, x1, y1 = tag['box']
        if tag['anchor'] is not None:
            ax, ay = tag['anchor']
            tx = min(max(ax, x0), x1)
            ty = min(max(ay, y0), y1)
            cv2.line(out, (ax, ay), (tx, ty), (20, 20, 20), 1, cv2.LINE_AA)
            cv2.circle(out, (ax, ay), 2, (20, 20, 20), -1, cv2.LINE_AA)
    for tag in tags:
        x0, y0, x1, y1 = tag['box']
        colour = tuple(int(c) for c in palette[tag['label']])
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, -1)
        cv2.rectangle(out, (x0, y0), (x1, y1), (20, 20, 20), 1)
        (_, th), _ = cv2.getTextSize(tag['text'], FONT, font_scale, 1)
        cv2.putText(out, tag['text'], (x0 + 3, y0 + 2 + th), FONT, font_scale,
                    text_colour(colour), 1, cv2.LINE_AA)
    return out


def legend_size(entries: Sequence[Tuple[int, str, Sequence[int], str]], height: int,
                font_scale: float, max_columns: int = 3) -> Tuple[int, int, float]:
    """(width, lines per column, font scale) of a legend of ``entries`` in ``height`` pixels;
    the font shrinks (to 0.35) before a fourth column would be needed."""
    scale = font_scale
    while True:
        (_, th), baseline = cv2.getTextSize('Ag', FONT, scale, 1)
        line = th + baseline + 6
        per_column = max(1, (height - 8) // line)
        columns = max(1, -(-len(entries) // per_column))
        if columns <= max_columns or scale <= 0.35:
            break
        scale = max(0.35, scale * 0.9)
    texts = [_legend_text(e) for e in entries] or ['']
    swatch = cv2.getTextSize('000', FONT, scale, 1)[0][0] + 8
    column_w = swatch + 18 + max(cv2.getTextSize(t, FONT, scale, 1)[0][0] for t in texts)
    return min(columns, max_columns) * column_w + 8, per_column, scale


def _legend_text(entry) -> str:
    _, name, _, note = entry
    return f'{name} ({note})' if note else name


def _fit_text(text: str, scale: float, width: int) -> str:
    """``text``, or its end after '..' when it is wider than ``width`` pixels (class names end
    with what tells siblings apart: 'Quadruped Head Eye')."""
    if cv2.getTextSize(text, FONT, scale, 1)[0][0] <= width:
        return text
    for start in range(1, len(text)):
        short = '..' + text[start:]
        if cv2.getTextSize(short, FONT, scale, 1)[0][0] <= width:
            return short
    return text[-1:]


def draw_legend(entries: Sequence[Tuple[int, str, Sequence[int], str]], height: int, width: int,
                font_scale: float, max_columns: int = 3) -> np.ndarray:
    """A white (height, width) box listing ``(index, name, colour, note)`` entries: a swatch of
    the class colour holding its index, then the name and, when not empty, the note in
    parentheses (e.g. 'GT only'); flowed into columns, the font made smaller (down to 0.35)
    before a name is shortened, '+N more' for entries that do not fit."""
    box = np.full((height, width, 3), 255, np.uint8)
    _, per_column, scale = legend_size(entries, height, font_scale, max_columns)
    columns = max(1, min(max_columns, -(-len(entries) // per_column)))
    column_w = (width - 8) // columns
    texts = [_legend_text(e) for e in entries]

    def text_room(scale):
        swatch = cv2.getTextSize('000', FONT, scale, 1)[0][0] + 8
        return swatch, column_w - swatch - 16

    while scale > 0.35 and texts and max(cv2.getTextSize(t, FONT, scale, 1)[0][0]
                                         for t in texts) > text_room(scale)[1]:
        scale = max(0.35, scale * 0.92)
    swatch, room = text_room(scale)
    (_, th), baseline = cv2.getTextSize('Ag', FONT, scale, 1)
    line = th + baseline + 6
    per_column = max(1, (height - 8) // line)
    capacity = per_column * columns
    shown = list(entries) if len(entries) <= capacity else list(entries)[:capacity - 1]
    for k, entry in enumerate(shown):
        index, _, colour, _ = entry
        x, y = 6 + (k // per_column) * column_w, 6 + (k % per_column) * line
        colour = tuple(int(c) for c in colour)
        cv2.rectangle(box, (x, y), (x + swatch, y + line - 5), colour, -1)
        cv2.rectangle(box, (x, y), (x + swatch, y + line - 5), (20, 20, 20), 1)
        number = str(index)
        nw = cv2.getTextSize(number, FONT, scale, 1)[0][0]
        cv2.putText(box, number, (x + (swatch - nw) // 2 + 1, y + th + 2), FONT, scale,
                    text_colour(colour), 1, cv2.LINE_AA)
        cv2.putText(box, _fit_text(texts[k], scale, room), (x + swatch + 8, y + th + 2), FONT,
                    scale, (0, 0, 0), 1, cv2.LINE_AA)
    if not entries:
        cv2.putText(box, 'background only', (6, 6 + th + 2), FONT, scale, (90, 90, 90), 1,
                    cv2.LINE_AA)
    if len(shown) < len(entries):
        k = len(shown)
        cv2.putText(box, f'+{len(entries) - k} more', (6 + (k // per_column) * column_w,
                                                        6 + (k % per_column) * line + th + 2),
                    FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return box


def paste(canvas: np.ndarray, tile: np.ndarray, y: int, x: int) -> None:
    """Copy ``tile`` into ``canvas`` at (y, x), clipped to the canvas."""
    h = min(tile.shape[0], canvas.shape[0] - y)
    w = min(tile.shape[1], canvas.shape[1] - x)
    canvas[y:y + h, x:x + w] = tile[:h, :w]


def stack_with_header(text: Optional[str], picture: np.ndarray, font_scale: float) -> np.ndarray:
    """``picture`` under a header bar of its width (no bar for ``text=None``)."""
    if text is None:
        return picture
    return np.concatenate([header_bar(text, picture.shape[1], font_scale), picture], axis=0)

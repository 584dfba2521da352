"""The picture of a test-time adaptation: one row per record (before, after each step), each
the test view and every level of CAST's hierarchy (:func:`~.hierarchy.hierarchy_tiles`: a
child keeps its parent's hue) beside the top classes with their scores, so the segments and
the recognition are seen changing together.

Shape shorthand: H, W the test view; L the number of levels.
"""
from typing import Optional, Sequence

import cv2
import mmcv
import numpy as np

from .drawing import FONT, font_scale_for, header_bar
from .hierarchy import hierarchy_tiles, tile_grid


def score_box(title: str, lines: Sequence[tuple], height: int, width: int,
              font_scale: float) -> np.ndarray:
    """A white (height, width) box: ``title`` in a header bar, then one line per
    ``(name, score)`` with a bar as long as the score (a score of None: the text alone).

    Args:
        title (str): Header text.
        lines (Sequence[tuple]): ``(text, score in [0, 1] or None)``.
        height (int): Box height.
        width (int): Box width.
        font_scale (float): Text size.

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB.
    """
    bar = header_bar(title, width, font_scale, bold=True)
    box = np.full((max(height, bar.shape[0]), width, 3), 255, np.uint8)
    box[:bar.shape[0]] = bar
    (_, th), baseline = cv2.getTextSize('Ag', FONT, font_scale, 1)
    step = th + baseline + 8
    y = bar.shape[0] + 6
    for text, score in lines:
        if y + step > box.shape[0]:
            break
        if score is not None:
            length = int(round((width - 12) * max(0.0, min(1.0, score))))
            cv2.rectangle(box, (6, y), (6 + length, y + step - 4), (190, 215, 245), -1)
            text = f'{score:.3f}  {text}'
        cv2.putText(box, text, (10, y + th + 2), FONT, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        y += step
    return box


def adaptation_picture(image_rgb: np.ndarray, records: Sequence[dict], titles: Sequence[str],
                       min_size: int = 160, text_width: Optional[int] = None) -> np.ndarray:
    """Rows of (test view, superpixels, stage clusters..., top classes), one per record.

    Args:
        image_rgb (np.ndarray): (H, W, 3) uint8 RGB test view.
        records (Sequence[dict]): :meth:`~cast.recognition.TestTimeAdapter.record` outputs:
            ``hierarchy`` (L (H, W) maps) and, for a classifier, ``topk`` ((index, name,
            score), ...).
        titles (Sequence[str]): One per record, e.g. 'before', 'step 1 (objective 0.81)'.
        min_size (int): Tiles are enlarged (nearest) until their shorter side has this many
            pixels. Defaults to 160.
        text_width (int, optional): Width of the class box. Defaults to 1.6 tiles.

    Returns:
        np.ndarray: (H', W', 3) uint8 RGB.
    """
    h, w = image_rgb.shape[:2]
    scale = max(1, int(np.ceil(min_size / min(h, w))))
    size = (w * scale, h * scale)
    font_scale = font_scale_for(*size[::-1]) * 0.9
    rows = []
    for record, title in zip(records, titles):
        levels = [mmcv.imresize(lv.astype(np.int32), size, interpolation='nearest')
                  for lv in record['hierarchy']]
        image = mmcv.imresize(image_rgb, size, interpolation='nearest')
        tiles = tile_grid([('test view', image)] + hierarchy_tiles(levels), font_scale)
        lines = [(name, score) for _, name, score in record.get('topk', [])]
        box = score_box(title, lines or [('(no classes)', None)], tiles.shape[0],
                        text_width or int(1.6 * size[0]), font_scale)
        gap = np.full((tiles.shape[0], 6, 3), 255, np.uint8)
        rows.append(np.concatenate([box, gap, tiles], axis=1))
        rows.append(np.full((6, rows[-1].shape[1], 3), 160, np.uint8))  # a rule between rows
    return np.concatenate(rows[:-1], axis=0)

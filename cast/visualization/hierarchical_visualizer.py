"""Draw every level of a hierarchical segmentation (object, part, subpart) in one picture."""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmengine.dist import master_only

from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

LAYOUTS = ('columns', 'rows')
FONT = cv2.FONT_HERSHEY_SIMPLEX


def level_palette(num_classes: int, seed: int) -> List[List[int]]:
    """A fixed palette for a level whose ``dataset_meta`` gives none: black background, then
    random bright colours (seeded by the level's position)."""
    colours = np.random.default_rng(seed).integers(40, 256, (num_classes, 3))
    colours[0] = 0
    return colours.tolist()


def resize_label_map(label_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a (H, W) label map to (height, width), exact for labels."""
    h, w = label_map.shape
    if (h, w) == (height, width):
        return label_map
    rows = np.minimum((np.arange(height) + 0.5) * h / height, h - 1).astype(np.int64)
    cols = np.minimum((np.arange(width) + 0.5) * w / width, w - 1).astype(np.int64)
    return label_map[rows[:, None], cols[None, :]]


@VISUALIZERS.register_module()
class HierarchicalSegVisualizer(SegLocalVisualizer):
    """Visualizer drawing the image and, per hierarchy level, ground truth beside prediction.

    For a :class:`SegDataSample` that holds ``gt_seg_{level}`` and/or ``pred_seg_{level}``
    (PixelData (1, H, W)) for every level of ``dataset_meta['levels']`` (coarse to fine), it
    draws one picture of labelled panels (``image``, ``{level} GT``, ``{level} Pred``); each
    segmentation panel is the image overlaid with the level's palette
    (``dataset_meta['level_palettes'][level]``) and, with ``with_labels``, the class names of
    ``dataset_meta['level_classes'][level]`` written on the regions (kept inside the panel),
    plus a legend of the classes shown in the free cell (255 / out-of-range labels stay
    unpainted):

    .. code-block:: none

        layout='columns' (default)                 layout='rows'
        +--------+-------------+-----------+       +-----------+-------------+
        | image  | object GT   | part GT   | ...   | image     | legend      |
        +--------+-------------+-----------+       +-----------+-------------+
        | legend | object Pred | part Pred | ...   | object GT | object Pred |
        +--------+-------------+-----------+       +-----------+-------------+
                                                   | part GT   | part Pred   |
                                                   +-----------+-------------+
                                                     ...

    Pictures are saved like :meth:`SegLocalVisualizer.add_datasample` saves them (to
    ``out_file``, else to every vis backend with ``add_image``, e.g.
    ``{save_dir}/vis_data/vis_image/{name}_{step}.png`` with ``LocalVisBackend``), so MMSeg's
    ``SegVisualizationHook`` and ``tools/test.py --show-dir DIR`` produce them unchanged. Samples
    without per-level maps (single-level models and datasets) are drawn by the parent class.

    ``dataset_meta`` is set by MMEngine's loops to the dataset's metainfo (SPINDataset and
    PartImageNetDataset provide ``levels``, ``level_classes``, ``level_palettes``).

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): RGB image to draw on. Defaults to None.
        vis_backends (list[dict], optional): Vis backend configs. Defaults to None.
        save_dir (str, optional): Where backends save. Defaults to None.
        classes, palette, dataset_name: Main-level (single-level) class names, palette and
            dataset alias, as in :class:`SegLocalVisualizer`. Default to None.
        alpha (float): Opacity of the label overlay. Defaults to 0.8.
        layout (str): 'columns' (one column per level, GT above Pred) or 'rows' (one row per
            level, GT beside Pred). Defaults to 'columns'.
        min_panel_size (int): Panels of images whose shorter side is below this are upscaled
            (image bilinear, labels nearest) so that labels stay legible. Defaults to 320.
        **kwargs: Other :class:`mmengine.visualization.Visualizer` arguments.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[List] = None,
                 palette: Optional[List] = None,
                 dataset_name: Optional[str] = None,
                 alpha: float = 0.8,
                 layout: str = 'columns',
                 min_panel_size: int = 320,
                 **kwargs):
        if layout not in LAYOUTS:
            raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
        if not isinstance(min_panel_size, int) or min_panel_size < 1:
            raise ValueError(f'min_panel_size must be a positive int, got {min_panel_size!r}')
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir,
                         classes=classes, palette=palette, dataset_name=dataset_name,
                         alpha=alpha, **kwargs)
        self.layout = layout
        self.min_panel_size = min_panel_size

    # ---- which maps to draw ------------------------------------------------------------------

    def levels_to_draw(self, data_sample: Optional[SegDataSample], draw_gt: bool = True,
                       draw_pred: bool = True) -> Optional[List[Tuple[str, dict]]]:
        """The per-level maps of a sample, or None when it is not hierarchical.

        A sample is hierarchical when ``dataset_meta`` names ``levels`` and the sample holds,
        for every level, ``gt_seg_{level}`` (if ``draw_gt``) or ``pred_seg_{level}`` (if
        ``draw_pred``).

        Returns:
            list[tuple[str, dict]] | None: ``(level, {'GT': PixelData, 'Pred': PixelData})``
            per level, coarse to fine (kinds the sample lacks are left out).
        """
        levels = (self.dataset_meta or {}).get('levels')
        if data_sample is None or not levels:
            return None
        drawn = []
        for level in levels:
            maps = {}
            if draw_gt and f'gt_seg_{level}' in data_sample:
                maps['GT'] = data_sample.get(f'gt_seg_{level}')
            if draw_pred and f'pred_seg_{level}' in data_sample:
                maps['Pred'] = data_sample.get(f'pred_seg_{level}')
            if not maps:
                return None
            drawn.append((level, maps))
        return drawn

    def level_meta(self, level: str, index: int) -> Tuple[Sequence[str], List[List[int]]]:
        """Class names and palette of a level from ``dataset_meta``."""
        level_classes = self.dataset_meta.get('level_classes') or {}
        if level not in level_classes:
            raise KeyError(f"dataset_meta['level_classes'] has no entry for level {level!r} "
                           f"(dataset_meta['levels'] = {tuple(self.dataset_meta['levels'])}); "
                           'the dataset metainfo must list the class names of every level')
        classes = level_classes[level]
        palette = (self.dataset_meta.get('level_palettes') or {}).get(level)
        if palette is None:
            palette = level_palette(len(classes), index)
        if len(palette) != len(classes):
            raise ValueError(f"dataset_meta['level_palettes'][{level!r}] has {len(palette)} "
                             f'colours for {len(classes)} classes')
        return classes, palette

    # ---- drawing -----------------------------------------------------------------------------

    def _get_center_loc(self, mask: np.ndarray) -> np.ndarray:
        """Where a class name is written: the middle pixel of the mask's fullest row (the first
        such row), as :meth:`SegLocalVisualizer._get_center_loc` finds it, without sorting
        every pixel in Python (seconds per panel at 512 px).

        Args:
            mask (np.ndarray): (H, W) uint8, 1 on the class.

        Returns:
            np.ndarray: (x, y).
        """
        ys, xs = np.nonzero(mask == 1)  # row-major order
        rows, counts = np.unique(ys, return_counts=True)
        y = rows[counts.argmax()]
        row_xs = xs[ys == y]
        return np.array([row_xs[len(row_xs) // 2], y])

    def panel_shape(self, height: int, width: int) -> Tuple[int, int]:
        """(height, width) of one panel: the image, upscaled to ``min_panel_size``."""
        scale = max(1.0, self.min_panel_size / min(height, width))
        return int(round(height * scale)), int(round(width * scale))

    @staticmethod
    def _header(text: str, width: int) -> np.ndarray:
        """A light bar of ``width`` pixels with ``text`` in black; its height depends only on
        ``width`` (long texts are written smaller, not taller)."""
        font_scale = max(0.5, min(1.2, width / 500))
        thickness = 1 if font_scale < 0.8 else 2
        (_, th), baseline = cv2.getTextSize('Ag', FONT, font_scale, thickness)
        pad = max(4, th // 2)
        bar = np.full((th + baseline + 2 * pad, width, 3), 235, np.uint8)
        scale = font_scale
        tw = cv2.getTextSize(text, FONT, scale, thickness)[0][0]
        while tw > width - 8 and scale > 0.3:  # long names on narrow panels
            scale *= 0.9
            tw = cv2.getTextSize(text, FONT, scale, thickness)[0][0]
        cv2.putText(bar, text, (max(4, (width - tw) // 2), pad + th), FONT, scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)
        return bar

    def _draw_level(self, base: np.ndarray, label_map: np.ndarray, classes: Sequence[str],
                    palette: Sequence[Sequence[int]], with_labels: bool) -> np.ndarray:
        """One segmentation panel: ``base`` blended with the level's colours (as
        :meth:`SegLocalVisualizer._draw_sem_seg` does) and, with ``with_labels``, each class's
        name in a box of its colour, kept inside the panel.

        Args:
            base (np.ndarray): (H, W, 3) uint8 RGB panel image.
            label_map (np.ndarray): (H, W) integer labels; labels >= len(classes) (255 ignore)
                are not painted.
            classes (Sequence[str]): the level's class names.
            palette (Sequence[Sequence[int]]): one RGB colour per class.
            with_labels (bool): write the class names.

        Returns:
            np.ndarray: (H, W, 3) uint8 RGB.
        """
        height, width = label_map.shape
        colours = np.asarray(palette, np.uint8).reshape(-1, 3)
        valid = (label_map >= 0) & (label_map < len(classes))
        mask = np.zeros_like(base)
        mask[valid] = colours[label_map[valid]]
        if with_labels:
            font_scale = min(height, width) / 500
            thickness = 1 if min(height, width) < 300 else 2
            for label in np.unique(label_map[valid])[::-1]:
                x, y = self._get_center_loc((label_map == label).astype(np.uint8))
                (tw, th), baseline = cv2.getTextSize(classes[label], FONT, font_scale,
                                                     thickness)
                bw, bh = tw + baseline, th + baseline
                x, y = int(min(x, max(0, width - 1 - bw))), int(min(y, max(0, height - 1 - bh)))
                colour = tuple(int(c) for c in colours[label])
                cv2.rectangle(mask, (x, y), (x + bw, y + bh), colour, -1)
                cv2.rectangle(mask, (x, y), (x + bw, y + bh), (0, 0, 0), thickness)
                cv2.putText(mask, classes[label], (x, y + th), FONT, font_scale,
                            (255, 255, 255), thickness, 2)
        return (base * (1 - self.alpha) + mask * self.alpha).astype(np.uint8)

    @staticmethod
    def _legend(entries: List[Tuple[str, List[Tuple[str, Sequence[int]]]]], height: int,
                width: int) -> np.ndarray:
        """A white (height, width) box listing, per level, the classes shown (colour swatch and
        name), flowed into up to three columns; what does not fit is counted as '+N more'."""
        box = np.full((height, width, 3), 255, np.uint8)
        font_scale = max(0.5, min(0.8, width / 600))
        (_, th), baseline = cv2.getTextSize('Ag', FONT, font_scale, 1)
        line = th + baseline + 4
        lines = []
        for level, classes in entries:
            lines.append((level, None))
            lines.extend(classes)
        per_column = max(1, (height - 8) // line)
        num_columns = min(3, -(-len(lines) // per_column))
        shown = lines if len(lines) <= per_column * num_columns else \
            lines[:per_column * num_columns - 1]
        column_w = width // max(1, num_columns)
        for k, (text, colour) in enumerate(shown):
            x = 6 + (k // per_column) * column_w
            y = 6 + (k % per_column) * line
            if colour is not None:
                cv2.rectangle(box, (x + 4, y + 2), (x + 4 + th, y + 2 + th),
                              tuple(int(c) for c in colour), -1)
                cv2.rectangle(box, (x + 4, y + 2), (x + 4 + th, y + 2 + th), (0, 0, 0), 1)
                x += th + 10
            avail = column_w - (x - (k // per_column) * column_w) - 4
            while text and cv2.getTextSize(text, FONT, font_scale, 1)[0][0] > avail:
                text = text[:-1]
            cv2.putText(box, text, (x, y + th + 2), FONT, font_scale, (0, 0, 0),
                        2 if colour is None else 1, cv2.LINE_AA)
        if len(shown) < len(lines):
            rest = sum(colour is not None for _, colour in lines[len(shown):])
            k = len(shown)
            cv2.putText(box, f'+{rest} more', (6 + (k // per_column) * column_w,
                                                 6 + (k % per_column) * line + th + 2),
                        FONT, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        return box

    def draw_hierarchy(self, image: np.ndarray, levels: List[Tuple[str, dict]],
                       with_labels: bool = True) -> np.ndarray:
        """Compose the picture of a hierarchical sample.

        Args:
            image (np.ndarray): (H, W, 3) RGB image.
            levels (list[tuple[str, dict]]): from :meth:`levels_to_draw`.
            with_labels (bool): Write class names on the regions and, when the layout leaves
                the cell beside the image free, a legend of the classes shown. Defaults to True.

        Returns:
            np.ndarray: (H', W', 3) uint8 RGB picture.
        """
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        height, width = self.panel_shape(*image.shape[:2])
        base = mmcv.imresize(image, (width, height), interpolation='bilinear') \
            if (height, width) != image.shape[:2] else image
        base = np.ascontiguousarray(base[..., :3]).astype(np.uint8)
        kinds = [k for k in ('GT', 'Pred') if any(k in maps for _, maps in levels)]

        def panel(text, picture):
            return np.concatenate([self._header(text, width), picture], axis=0)

        cells: Dict[Tuple[int, int], np.ndarray] = {}
        legend = []
        for i, (level, maps) in enumerate(levels):
            classes, palette = self.level_meta(level, i)
            shown = set()
            for j, kind in enumerate(kinds):
                if kind not in maps:
                    continue
                label_map = maps[kind].cpu().data
                if isinstance(label_map, torch.Tensor):
                    label_map = label_map.numpy()
                label_map = np.asarray(label_map).reshape(label_map.shape[-2:])
                label_map = resize_label_map(label_map.astype(np.int64), height, width)
                shown.update(int(k) for k in np.unique(label_map) if 0 < k < len(classes))
                pos = (j, 1 + i) if self.layout == 'columns' else (1 + i, j)
                cells[pos] = panel(
                    f'{level} {kind}',
                    self._draw_level(base, label_map, classes, palette, with_labels))
            legend.append((level, [(classes[k], palette[k]) for k in sorted(shown)]))
        cells[(0, 0)] = panel('image', base)
        cell_h, cell_w = cells[(0, 0)].shape[:2]
        free = (1, 0) if self.layout == 'columns' else (0, 1)
        if with_labels and len(kinds) == 2:
            cells[free] = panel('classes shown', self._legend(legend, height, width))

        rows = 1 + max(r for r, _ in cells)
        cols = 1 + max(c for _, c in cells)
        gap = max(4, width // 64)
        canvas = np.full((rows * cell_h + (rows - 1) * gap, cols * cell_w + (cols - 1) * gap, 3),
                         255, np.uint8)
        for (r, c), cell in cells.items():
            y, x = r * (cell_h + gap), c * (cell_w + gap)
            canvas[y:y + cell_h, x:x + cell_w] = cell
        self.set_image(canvas)
        return canvas

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw a sample (every level when it is hierarchical) and save it to all backends.

        Arguments as in :meth:`SegLocalVisualizer.add_datasample`: ``show`` displays the
        picture, ``out_file`` writes it there instead of to the backends.

        Args:
            name (str): Image identifier (the saved file's stem with LocalVisBackend).
            image (np.ndarray): (H, W, 3) RGB image.
            data_sample (:obj:`SegDataSample`, optional): Ground truth / prediction.
            draw_gt (bool): Draw ground truth. Defaults to True.
            draw_pred (bool): Draw predictions. Defaults to True.
            show (bool): Display the picture. Defaults to False.
            wait_time (float): Display time (s). Defaults to 0.
            out_file (str, optional): Output file. Defaults to None.
            step (int): Global step. Defaults to 0.
            with_labels (bool): Write class names. Defaults to True.
        """
        levels = self.levels_to_draw(data_sample, draw_gt, draw_pred)
        if levels is None:
            return super().add_datasample(name, image, data_sample, draw_gt, draw_pred, show,
                                          wait_time, out_file, step, with_labels)
        drawn_img = self.draw_hierarchy(image, levels, with_labels)
        if show:
            self.show(drawn_img, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn_img), out_file)
        else:
            self.add_image(name, drawn_img, step)

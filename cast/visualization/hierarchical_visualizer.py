"""Draw every level of a hierarchical segmentation (object, part, subpart) in one picture."""
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.dist import master_only

from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from ..structures.palette import level_palette
from .drawing import (
    draw_boundaries,
    draw_legend,
    draw_tags,
    font_scale_for,
    header_bar,
    legend_size,
    paste,
    place_tags,
    stack_with_header,
)
from .hierarchy import hierarchy_tiles, tile_grid

#: The sample field holding CAST's region hierarchy, (L, H, W) region ids fine to coarse
#: (:class:`~cast.apis.HierarchicalInferencer` fills it with ``with_hierarchy=True``).
HIERARCHY_FIELD = 'region_hierarchy'


def resize_label_map(label_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a (H, W) label map to (height, width), exact for labels."""
    h, w = label_map.shape
    if (h, w) == (height, width):
        return label_map
    rows = np.minimum((np.arange(height) + 0.5) * h / height, h - 1).astype(np.int64)
    cols = np.minimum((np.arange(width) + 0.5) * w / width, w - 1).astype(np.int64)
    return label_map[rows[:, None], cols[None, :]]


def as_label_map(data) -> np.ndarray:
    """(H, W) int64 array from a PixelData / tensor / array of shape (1, H, W) or (H, W)."""
    data = getattr(data, 'data', data)
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    data = np.asarray(data)
    return data.reshape(data.shape[-2:]).astype(np.int64)


@VISUALIZERS.register_module()
class HierarchicalSegVisualizer(SegLocalVisualizer):
    """One picture per image: the image, then ground truth beside prediction for every level,
    each level's legend in its own column, and CAST's region hierarchy beside the image when
    the sample holds it.

    .. code-block:: none

        +--------------------------------------------------------------+
        | name                                                          |
        +------------+-------------+-----------------------------------+
        | image      | CAST regions (when given): superpixels, stage1, ...
        +------------+-------------+-----------------------------------+
        | object GT  | object Pred | object classes: [1] name, ...     |
        | part GT    | part Pred   | part classes                      |
        | subpart GT | subpart Pred| subpart classes                   |
        +------------+-------------+-----------------------------------+

    A panel is the image blended with the level's palette (``dataset_meta['level_palettes']``,
    background left unpainted), with white region boundaries and, with ``with_labels``, a small
    tag holding the class index on each region (placed without overlap, beside small regions
    with a leader line; see :func:`~cast.visualization.drawing.place_tags`). The legend lists
    the classes shown with their index, colour and name (``dataset_meta['level_classes']``),
    marking those only in the ground truth or only in the prediction. Labels 255 and out of
    range stay unpainted. Samples without per-level maps are drawn the same way as one level
    (``gt_sem_seg`` / ``pred_sem_seg`` with ``classes`` / ``palette``).

    Pictures are saved like :meth:`SegLocalVisualizer.add_datasample` saves them (to
    ``out_file``, else to every vis backend, e.g. ``{save_dir}/vis_data/vis_image/
    {name}_{step}.png`` with ``LocalVisBackend``), so MMSeg's ``SegVisualizationHook`` and
    ``tools/test.py --show-dir DIR`` produce them unchanged.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): RGB image to draw on. Defaults to None.
        vis_backends (list[dict], optional): Vis backend configs. Defaults to None.
        save_dir (str, optional): Where backends save. Defaults to None.
        classes, palette, dataset_name: Single-level class names, palette and dataset alias,
            as in :class:`SegLocalVisualizer`. Default to None.
        alpha (float): Opacity of the colours. Defaults to 0.6.
        min_panel_size (int): Panels of images whose shorter side is below this are upscaled
            (image bilinear, labels nearest) so that small regions stay visible. Defaults to
            320.
        max_panel_size (int): Panels of images whose longer side is above this are
            downscaled. Defaults to 720.
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
                 alpha: float = 0.6,
                 min_panel_size: int = 320,
                 max_panel_size: int = 720,
                 **kwargs):
        for key, value in (('min_panel_size', min_panel_size),
                           ('max_panel_size', max_panel_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{key} must be a positive int, got {value!r}')
        if max_panel_size < min_panel_size:
            raise ValueError(f'max_panel_size {max_panel_size} < min_panel_size '
                             f'{min_panel_size}')
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir,
                         classes=classes, palette=palette, dataset_name=dataset_name,
                         alpha=alpha, **kwargs)
        self.min_panel_size = min_panel_size
        self.max_panel_size = max_panel_size
        self.cells = {}

    # ---- which maps to draw ------------------------------------------------------------------

    def levels_to_draw(self, data_sample: Optional[SegDataSample], draw_gt: bool = True,
                       draw_pred: bool = True) -> Optional[List[Tuple[Optional[str], dict]]]:
        """The maps of a sample to draw, per level.

        Every level of ``dataset_meta['levels']`` when the sample holds ``gt_seg_{level}`` (if
        ``draw_gt``) or ``pred_seg_{level}`` (if ``draw_pred``) for each; else the single level
        ``gt_sem_seg`` / ``pred_sem_seg`` (level None); else None.

        Returns:
            list[tuple[str | None, dict]] | None: ``(level, {'GT': map, 'Pred': map})``, coarse
            to fine (kinds the sample lacks are left out).
        """
        if data_sample is None:
            return None
        drawn = []
        for level in (self.dataset_meta or {}).get('levels') or ():
            maps = {kind: data_sample.get(f'{prefix}_seg_{level}')
                    for kind, prefix, wanted in (('GT', 'gt', draw_gt), ('Pred', 'pred', draw_pred))
                    if wanted and f'{prefix}_seg_{level}' in data_sample}
            if not maps:
                drawn = []
                break
            drawn.append((level, maps))
        if drawn:
            return drawn
        maps = {kind: data_sample.get(key)
                for kind, key, wanted in (('GT', 'gt_sem_seg', draw_gt),
                                          ('Pred', 'pred_sem_seg', draw_pred))
                if wanted and key in data_sample}
        return [(None, maps)] if maps else None

    def level_meta(self, level: Optional[str], index: int) -> Tuple[Sequence[str], List]:
        """Class names and palette of a level (``level=None``: ``classes`` / ``palette``)."""
        meta = self.dataset_meta or {}
        if level is None:
            classes = meta.get('classes')
            if classes is None:
                raise KeyError("dataset_meta has no 'classes' to name the labels with")
            palette = meta.get('palette')
            source = "dataset_meta['palette']"
        else:
            level_classes = meta.get('level_classes') or {}
            if level not in level_classes:
                raise KeyError(f"dataset_meta['level_classes'] has no entry for level {level!r} "
                               f"(dataset_meta['levels'] = {tuple(meta['levels'])}); the "
                               'dataset metainfo must list the class names of every level')
            classes = level_classes[level]
            palette = (meta.get('level_palettes') or {}).get(level)
            source = f"dataset_meta['level_palettes'][{level!r}]"
        if palette is None:
            palette = level_palette(len(classes), index)
        if len(palette) != len(classes):
            raise ValueError(f'{source} has {len(palette)} colours for {len(classes)} classes')
        return classes, palette

    # ---- drawing -----------------------------------------------------------------------------

    def panel_shape(self, height: int, width: int) -> Tuple[int, int]:
        """(height, width) of one panel: the image, its shorter side brought up to
        ``min_panel_size`` or its longer side down to ``max_panel_size``."""
        scale = max(1.0, self.min_panel_size / min(height, width))
        scale = min(scale, self.max_panel_size / max(height, width)) if \
            max(height, width) * scale > self.max_panel_size else scale
        return max(1, int(round(height * scale))), max(1, int(round(width * scale)))

    def draw_level(self, base: np.ndarray, label_map: np.ndarray, classes: Sequence[str],
                   palette: Sequence[Sequence[int]], with_labels: bool) -> np.ndarray:
        """One panel: ``base`` (H, W, 3) RGB blended with the colours of ``label_map`` (H, W),
        region boundaries in white and, with ``with_labels``, numbered class tags."""
        colours = np.asarray(palette, np.uint8).reshape(-1, 3)
        painted = (label_map >= self._first_class(classes)) & (label_map < len(classes))
        out = base.copy()
        blend = (base * (1 - self.alpha) + colours[np.where(painted, label_map, 0)] *
                 self.alpha).astype(np.uint8)
        out[painted] = blend[painted]
        out = draw_boundaries(out, np.where(label_map < len(classes), label_map, -1),
                              (255, 255, 255))
        if with_labels:
            labels = [int(k) for k in np.unique(label_map[painted])]
            scale = font_scale_for(*label_map.shape)
            tags = place_tags(label_map, labels, [str(k) for k in labels], scale)
            out = draw_tags(out, tags, colours, scale)
        return out

    @staticmethod
    def _first_class(classes: Sequence[str]) -> int:
        """1 when label 0 is the background (left unpainted and unlisted), else 0."""
        return 1 if len(classes) and str(classes[0]).lower() == 'background' else 0

    def draw_hierarchy(self, image: np.ndarray, levels: List[Tuple[Optional[str], dict]],
                       with_labels: bool = True, regions: Optional[np.ndarray] = None,
                       title: Optional[str] = None) -> np.ndarray:
        """Compose the picture of a sample.

        Args:
            image (np.ndarray): (H, W, 3) RGB (or (H, W) grey) image.
            levels (list[tuple[str | None, dict]]): from :meth:`levels_to_draw`.
            with_labels (bool): Tag the regions and draw the legends. Defaults to True.
            regions (np.ndarray, optional): (L, H, W) CAST region ids, fine to coarse, drawn
                beside the image. Defaults to None.
            title (str, optional): A bar across the top. Defaults to None.

        Returns:
            np.ndarray: (H', W', 3) uint8 RGB picture; ``self.cells`` then maps each panel's
            name ('image', '{level} GT', '{level} Pred', '{level} classes', 'regions') to its
            (y, x, height, width) in it.
        """
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        ph, pw = self.panel_shape(*image.shape[:2])
        base = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
        if (ph, pw) != base.shape[:2]:
            base = mmcv.imresize(base, (pw, ph), interpolation='bilinear')
        font_scale = font_scale_for(ph, pw)
        head_scale = font_scale * 1.2
        kinds = [k for k in ('GT', 'Pred') if any(k in maps for _, maps in levels)]
        gap = max(6, pw // 48)

        rows, legends = [], []
        for i, (level, maps) in enumerate(levels):
            classes, palette = self.level_meta(level, i)
            first = self._first_class(classes)
            panels, present = [], {}
            for kind in kinds:
                if kind not in maps:
                    panels.append(None)
                    continue
                label_map = resize_label_map(as_label_map(maps[kind]), ph, pw)
                for k in np.unique(label_map):
                    if first <= k < len(classes):
                        present.setdefault(int(k), set()).add(kind)
                name = kind if level is None else f'{level} {kind}'
                panels.append(stack_with_header(
                    name, self.draw_level(base, label_map, classes, palette, with_labels),
                    head_scale))
            notes = {frozenset(['GT']): 'GT only', frozenset(['Pred']): 'Pred only'}
            entries = [(k, str(classes[k]), palette[k],
                        notes.get(frozenset(present[k]), '') if len(kinds) == 2 else '')
                       for k in sorted(present)]
            rows.append(panels)
            legends.append((level, entries))

        legend_w = 0
        if with_labels:
            legend_w = max(legend_size(e, ph, font_scale)[0] for _, e in legends)
            legend_w = int(min(max(legend_w, 0.6 * pw), 2.5 * pw))
        width = len(kinds) * pw + (len(kinds) - 1) * gap + (gap + legend_w if legend_w else 0)
        if regions is not None:
            width = max(width, pw + gap + int(1.6 * pw))
        cell_h = header_bar('x', 10, head_scale).shape[0] + ph
        top = header_bar(title, width, head_scale, bold=True) if title else None
        top_h = 0 if top is None else top.shape[0] + gap
        canvas = np.full((top_h + (1 + len(levels)) * (cell_h + gap) - gap, width, 3), 255,
                         np.uint8)
        head_h = cell_h - ph
        self.cells = {}  # name -> (y, x, h, w) of each panel below its header

        def put(name, picture, y, x):
            paste(canvas, picture, y, x)
            self.cells[name] = (y + head_h, x, picture.shape[0] - head_h, picture.shape[1])

        if top is not None:
            paste(canvas, top, 0, 0)
        put('image', stack_with_header('image', base, head_scale), top_h, 0)
        if regions is not None:
            maps = [resize_label_map(as_label_map(level), ph, pw) for level in regions]
            strip = tile_grid(hierarchy_tiles(maps), font_scale * 0.9, max(4, pw // 64),
                              box=(cell_h, width - pw - gap))
            paste(canvas, strip, top_h, pw + gap)
            self.cells['regions'] = (top_h, pw + gap, cell_h, width - pw - gap)
        for r, (panels, (level, entries)) in enumerate(zip(rows, legends)):
            y = top_h + (1 + r) * (cell_h + gap)
            prefix = '' if level is None else f'{level} '
            for c, (kind, panel) in enumerate(zip(kinds, panels)):
                if panel is not None:
                    put(f'{prefix}{kind}', panel, y, c * (pw + gap))
            if legend_w:
                legend = stack_with_header(f'{prefix}classes',
                                           draw_legend(entries, ph, legend_w, font_scale),
                                           head_scale)
                put(f'{prefix}classes', legend, y, len(kinds) * (pw + gap))
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
        picture, ``out_file`` writes it there instead of to the backends; ``name`` is the
        picture's title. A sample holding ``region_hierarchy`` (L, H, W) also shows CAST's
        regions.
        """
        levels = self.levels_to_draw(data_sample, draw_gt, draw_pred)
        if levels is None:
            return super().add_datasample(name, image, data_sample, draw_gt, draw_pred, show,
                                          wait_time, out_file, step, with_labels)
        regions = data_sample.get(HIERARCHY_FIELD)
        regions = None if regions is None else regions.cpu().data
        drawn_img = self.draw_hierarchy(image, levels, bool(with_labels), regions,
                                        title=name or None)
        if show:
            self.show(drawn_img, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn_img), out_file)
        else:
            self.add_image(name, drawn_img, step)

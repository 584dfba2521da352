"""Base class of datasets with one label map per level (object -> part -> ...)."""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools.coco import COCO

from mmseg.datasets import BaseSegDataset

from ..structures import ClassHierarchy, level_palette
from .coco_files import load_coco_file
from .hierarchy_derivation import derive_hierarchy, parents_from_names
from .masks import check_rules, make_lut, segmentation_problems
from .transforms.loading import level_label_map

LABEL_SOURCES = ('json', 'png')


class LevelSpec:
    """Where one level's label map comes from.

    Args:
        ann_file (str): the COCO JSON holding the level's categories (and masks).
        classes (Sequence[str]): class names without background (label 1..N).
        cat2label (dict[int, int]): COCO ``category_id`` -> label in 1..N.
        supercats (Sequence[str | None]): per class, its ``supercategory`` field.
        png_background (int, optional): the background value of the level's label-map PNGs,
            whose other values are category ids. Default: None (no PNG form).
    """

    def __init__(self, ann_file: str, classes: Sequence[str], cat2label: Dict[int, int],
                 supercats: Sequence[Optional[str]], png_background: Optional[int] = None):
        self.ann_file = ann_file
        self.classes = ('background', ) + tuple(classes)
        self.cat2label = dict(cat2label)
        self.supercats = (None, ) + tuple(supercats)
        self.png_background = png_background

    def png_lut(self) -> np.ndarray:
        """(256,) lookup table: PNG value (category id, background value) -> label."""
        if self.png_background is None:
            raise ValueError(f'the level of {self.ann_file} has no label-map PNG form')
        clash = [c for c in self.cat2label if c == self.png_background]
        if clash:
            raise ValueError(f'{self.ann_file}: category id {clash[0]} equals the background '
                             'value of its label-map PNGs')
        return make_lut({**self.cat2label, self.png_background: 0})


class HierarchicalSegDataset(BaseSegDataset):
    """Images with one label map per level, coarse to fine, from COCO masks or label-map PNGs.

    Subclasses define ``LEVELS``, :meth:`level_specs` (which COCO file and which category ->
    label mapping makes each level) and, for ``label_source='png'``, :meth:`label_png`. This
    class loads and checks the files, builds the data list, the per-level class lists and
    palettes, and the hierarchy. ``dataset_meta`` holds ``levels`` (coarse -> fine),
    ``level_classes`` (level -> names, 0 = 'background'), ``level_palettes``, ``hierarchy``
    (child level -> parent index per child class, where each class has one parent),
    ``level_parents`` (child level -> every allowed parent per class), ``main_level``, and
    ``classes`` / ``palette`` of the main level (for MMSeg's own metric and visualizer).

    A child class's parent is, in this order: given in ``hierarchy``; read off the category
    names (:meth:`parents_by_name`); derived by containment from the ground truth, cached in
    :meth:`hierarchy_cache_file` (:func:`~cast.datasets.hierarchy_derivation.derive_hierarchy`).
    ``self.hierarchy_sources`` says, per child level and class, which rule placed it.

    Masks (``label_source='json'``) are painted as :func:`~cast.datasets.masks.
    rasterize_annotations` says: by default as spin-api does (file order, the later mask wins,
    ``iscrowd`` not looked at); ``overlap='smaller_on_top'`` / ``crowd='ignore'`` are the
    alternatives. Polygons with fewer than 3 points or zero area, points outside the image and
    RLEs of the wrong size are reported in one warning per file naming image and annotation ids.

    Args:
        data_root (str): dataset root folder.
        split (str): 'train', 'val' or 'test'. Default: 'train'.
        ann_dir (str): annotation folder, relative to ``data_root``. Default: 'annotations'.
        img_dir (str): image folder (images in ``{img_dir}/{split}/``). Default: 'images'.
        main_level (str): level of ``gt_seg_map`` / ``classes``. Default: 'object'.
        label_source (str): 'json' (COCO masks) or 'png' (label-map PNGs, see
            :meth:`label_png`; the JSONs still give classes and images). Default: 'json'.
        png_dir (str, optional): root of the PNGs, relative to ``data_root``; None: the
            subclass's default. Default: None.
        overlap (str): 'file_order' or 'smaller_on_top'. Default: 'file_order'.
        crowd (str): 'as_category' or 'ignore'. Default: 'as_category'.
        hierarchy (dict, optional): child level -> N_c parent indices, or
            ``{child class: parent class}``; levels left out are derived. Default: None.
        hierarchy_tolerance (float): largest fraction of a child class's pixels allowed outside
            its parent when deriving by containment. Default: 0.05.
        img_suffix (str): appended to a ``file_name`` that has no extension. Default: '.JPEG'.
        metainfo (dict, optional): may override ``palette`` / ``level_palettes``; the classes
            and hierarchy come from the files. Default: None.
        **kwargs: the rest of :class:`mmseg.datasets.BaseSegDataset`'s arguments (pipeline,
            test_mode, indices, serialize_data, lazy_init, backend_args, ...).
    """
    LEVELS: Tuple[str, ...] = ()
    METAINFO: dict = dict()

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_dir: str = 'annotations',
                 img_dir: str = 'images',
                 main_level: str = 'object',
                 label_source: str = 'json',
                 png_dir: Optional[str] = None,
                 overlap: str = 'file_order',
                 crowd: str = 'as_category',
                 hierarchy: Optional[dict] = None,
                 hierarchy_tolerance: float = 0.05,
                 img_suffix: str = '.JPEG',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if not self.LEVELS:
            raise TypeError(f'{type(self).__name__} defines no LEVELS')
        if data_root is None or not osp.isdir(data_root):
            raise FileNotFoundError(f'data_root {data_root!r} of {type(self).__name__} is not a '
                                    'directory')
        if main_level not in self.LEVELS:
            raise ValueError(f'main_level {main_level!r} is not one of {self.LEVELS}')
        if label_source not in LABEL_SOURCES:
            raise ValueError(f'label_source must be one of {LABEL_SOURCES}, got '
                             f'{label_source!r}')
        check_rules(overlap, crowd)
        for key in ('ann_file', 'data_prefix', 'seg_map_suffix', 'reduce_zero_label'):
            if key in kwargs:
                raise TypeError(f'{type(self).__name__} does not take {key!r}: files come from '
                                'data_root / ann_dir / img_dir / split')
        self.split = split
        self.main_level = main_level
        self.ann_root = osp.join(data_root, ann_dir)
        self.img_root = osp.join(data_root, img_dir, split)
        self.label_source = label_source
        self.png_root = osp.join(data_root, png_dir) if png_dir is not None else None
        self.seg_paint = dict(overlap=overlap, crowd=crowd)
        self.hierarchy_tolerance = hierarchy_tolerance
        self._img_suffix = img_suffix
        self._check_files = kwargs.get('backend_args') is None  # local files: check they exist
        self._cocos: Dict[str, COCO] = {}
        self._data_list_cache: Optional[List[dict]] = None
        self.specs: Dict[str, LevelSpec] = self.level_specs()
        for level in self.LEVELS:
            n = len(self.specs[level].classes)
            if n > 255:
                raise ValueError(f'level {level!r} has {n} classes; uint8 label maps (255 = '
                                 'ignore) hold at most 255')
        self._luts = {lv: self.specs[lv].png_lut() for lv in self.LEVELS} \
            if label_source == 'png' else None
        level_parents, self.hierarchy_sources = derive_hierarchy(
            self.LEVELS, {lv: self.specs[lv].classes for lv in self.LEVELS},
            self.parents_by_name, self._label_map_pairs,
            {lv: spec.ann_file for lv, spec in self.specs.items()}, self.hierarchy_cache_file(),
            given=hierarchy, tolerance=hierarchy_tolerance, split=split)
        meta = self._build_metainfo(level_parents)
        for key in (metainfo or {}):
            if key in meta and key not in ('palette', 'level_palettes'):
                raise ValueError(f'metainfo[{key!r}] cannot be set: {type(self).__name__} reads '
                                 'it from the annotation files')
        meta.update(metainfo or {})
        super().__init__(data_root=data_root, img_suffix=img_suffix, seg_map_suffix='',
                         metainfo=meta, **kwargs)
        self._metainfo['main_level'] = main_level  # strings set after _load_metainfo, which
        # would read a str value naming an existing file as a list of lines

    # ---- to be defined by subclasses ---------------------------------------------------------

    def level_specs(self) -> Dict[str, LevelSpec]:
        """Per level, a :class:`LevelSpec` (load files with :meth:`load_coco`)."""
        raise NotImplementedError

    def label_png(self, level: str, file_name: str) -> str:
        """The label-map PNG of one image and level (``label_source='png'``)."""
        raise NotImplementedError(f'{type(self).__name__} has no label-map PNG layout')

    def hierarchy_cache_file(self) -> str:
        """Where a hierarchy derived by containment is cached."""
        return osp.join(self.ann_root, f'{self.split}_hierarchy.json')

    def parents_by_name(self, child_level: str, parent_level: str
                        ) -> Tuple[List[Optional[Tuple[int, ...]]], List[Optional[str]]]:
        """Per child class, its parents as the category names give them, and the rule used.

        The default reads the ``supercategory`` field and name prefixes
        (:func:`~cast.datasets.hierarchy_derivation.parents_from_names`).

        Returns:
            tuple: (N_c entries: a tuple of parent indices or None where the names say
            nothing; N_c rule names or None), entry 0 (background) ``(0,)``.
        """
        child, parent = self.specs[child_level], self.specs[parent_level]
        return parents_from_names(child.classes, child.supercats, parent.classes)

    # ---- loading -----------------------------------------------------------------------------

    def load_coco(self, path: str, expected: str = '') -> COCO:
        """Load and check one COCO JSON (:func:`~cast.datasets.coco_files.load_coco_file`),
        kept for building the data list.

        Args:
            path (str): the JSON file.
            expected (str): the layout to name when the file is missing.
        """
        if path not in self._cocos:
            self._cocos[path] = load_coco_file(
                path, f'{type(self).__name__} expects {expected}' if expected else '')
        return self._cocos[path]

    @staticmethod
    def sorted_categories(coco: COCO) -> List[dict]:
        """The categories in category-id order."""
        return [coco.cats[i] for i in sorted(coco.cats)]

    @staticmethod
    def image_stem(file_name: str) -> str:
        """'n02930766_37217' from 'n02930766_37217', '.../n02930766_37217.JPEG' or a Windows
        path (PartImageNet's JSONs hold some)."""
        return osp.splitext(str(file_name).replace('\\', '/').split('/')[-1])[0]

    def load_data_list(self) -> List[dict]:
        """One entry per image of the union of the level files, in image-id order."""
        if self._data_list_cache is not None:
            data_list, self._data_list_cache = self._data_list_cache, None
            return data_list
        images: Dict[int, Tuple[dict, str]] = {}
        for level in self.LEVELS:
            path = self.specs[level].ann_file
            for im in self.load_coco(path).dataset['images']:
                seen = images.setdefault(im['id'], (im, path))
                if (self.image_stem(seen[0]['file_name']), seen[0]['height'],
                        seen[0]['width']) != (self.image_stem(im['file_name']), im['height'],
                                              im['width']):
                    raise ValueError(f'image id {im["id"]} is {seen[0]["file_name"]} '
                                     f'{seen[0]["height"]}x{seen[0]["width"]} in {seen[1]} but '
                                     f'{im["file_name"]} {im["height"]}x{im["width"]} in {path}')
        problems: Dict[str, List[str]] = {}
        data_list = []
        for img_id in sorted(images):
            im, path = images[img_id]
            name = str(im['file_name']).replace('\\', '/').split('/')[-1]
            img_path = osp.join(self.img_root, name if osp.splitext(name)[1] else
                                name + self._img_suffix)
            if self._check_files and not osp.isfile(img_path):
                raise FileNotFoundError(f'image {img_path} (id {img_id} in {path}) does not '
                                        'exist')
            info = dict(img_path=img_path, img_id=img_id, height=int(im['height']),
                        width=int(im['width']), seg_map_path=None, label_map=None,
                        reduce_zero_label=False, seg_fields=[], levels=self.LEVELS,
                        main_level=self.main_level)
            if self.label_source == 'png':
                stem = self.image_stem(im['file_name'])
                info['seg_pngs'] = {lv: self.label_png(lv, stem) for lv in self.LEVELS}
            else:
                info['seg_anns'] = {lv: self._level_anns(lv, img_id, im, problems)
                                    for lv in self.LEVELS}
            data_list.append(info)
        for ann_file, lines in problems.items():
            warnings.warn(f'{ann_file}: {len(lines)} annotation(s) have problems (the loader '
                          'paints what pycocotools decodes): ' + '; '.join(lines[:10]) +
                          ('; ...' if len(lines) > 10 else ''))
        return data_list

    def _level_anns(self, level: str, img_id: int, im: dict,
                    problems: Dict[str, List[str]]) -> List[dict]:
        spec = self.specs[level]
        anns = []
        for ann in self.load_coco(spec.ann_file).imgToAnns.get(img_id, []):
            if ann['category_id'] not in spec.cat2label:
                raise ValueError(f'{spec.ann_file}: annotation {ann.get("id")} of image '
                                 f'{img_id} has category {ann["category_id"]}, which has no '
                                 f'{level} class')
            for text in segmentation_problems(ann['segmentation'], int(im['height']),
                                              int(im['width'])):
                problems.setdefault(spec.ann_file, []).append(
                    f'image {img_id} ({im["file_name"]}) annotation {ann.get("id")} {text}')
            anns.append(dict(id=ann.get('id'), label=spec.cat2label[ann['category_id']],
                             segmentation=ann['segmentation'],
                             iscrowd=int(ann.get('iscrowd', 0))))
        return anns

    def get_data_info(self, idx: int) -> dict:
        """The entry, with the painting rules and PNG lookup tables (shared, not serialized)."""
        return self._with_shared(super().get_data_info(idx))

    def _with_shared(self, info: dict) -> dict:
        info.update(seg_paint=self.seg_paint,
                    ann_files={lv: self.specs[lv].ann_file for lv in self.LEVELS})
        if self._luts is not None:
            info['seg_luts'] = self._luts
        return info

    def full_init(self) -> None:
        super().full_init()
        self._cocos = {}  # the serialized data list holds all that is needed

    def prepare_data(self, idx):
        """Run the pipeline; errors name the image they happened on."""
        try:
            return super().prepare_data(idx)
        except Exception as err:
            img_path = self.get_data_info(idx).get('img_path', '')
            if img_path and img_path not in str(err):
                msg = f'{img_path} (index {idx}): {type(err).__name__}: {err}'
                try:
                    new = type(err)(msg)
                except Exception:
                    new = RuntimeError(msg)
                raise new from err
            raise

    def iter_label_maps(self, levels: Sequence[str]):
        """Yield ``(entry, {level: (H, W) label map})`` for every image, as the pipeline loads
        them (used to derive the hierarchy and by tools/check_dataset.py)."""
        entries = self._data_list_cache if self._data_list_cache is not None else [
            self.get_data_info(i) for i in range(len(self))]
        for info in entries:
            info = self._with_shared(dict(info))
            yield info, {lv: level_label_map(info, lv) for lv in levels}

    # ---- hierarchy and metainfo --------------------------------------------------------------

    def _label_map_pairs(self, child_level: str, parent_level: str):
        """(child, parent) (H, W) label maps of every image, for deriving by containment."""
        if self._data_list_cache is None:
            self._data_list_cache = self.load_data_list()
        return ((maps[child_level], maps[parent_level])
                for _, maps in self.iter_label_maps((child_level, parent_level)))

    def _build_metainfo(self, level_parents: Dict[str, object]) -> dict:
        """``dataset_meta``: the :class:`ClassHierarchy` (validated here, stored as plain
        data), the palettes and the main level's classes."""
        level_classes = {lv: self.specs[lv].classes for lv in self.LEVELS}
        hierarchy = ClassHierarchy(
            self.LEVELS, level_parents, classes=level_classes,
            source={lv: 'hierarchy' if self.hierarchy_sources[lv][1:2] == ('given', ) else
                    f'the {lv} hierarchy derived from {self.specs[lv].ann_file}'
                    for lv in self.LEVELS[1:]})
        level_palettes = {lv: level_palette(len(level_classes[lv]), i)
                          for i, lv in enumerate(self.LEVELS)}
        return dict(hierarchy.to_meta(), level_palettes=level_palettes,
                    classes=level_classes[self.main_level],
                    palette=level_palettes[self.main_level])

"""Base class of datasets with COCO-format masks at several levels (object -> part -> ...)."""
import contextlib
import io
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from pycocotools.coco import COCO

from mmseg.datasets import BaseSegDataset
from . import hierarchy as hier
from .transforms.loading import rasterize_annotations


class LevelSpec:
    """Where one level's label map comes from.

    Args:
        ann_file (str): the COCO JSON holding the masks.
        classes (Sequence[str]): class names without background (label 1..N).
        cat2label (dict[int, int]): COCO ``category_id`` -> label in 1..N.
        supercats (Sequence[str | None]): per class, the ``supercategory`` naming its parent.
        groups (Sequence[str | None], optional): per class, a group that children may name
            instead of a class (the superclass of an object class). Default: None.
    """

    def __init__(self, ann_file: str, classes: Sequence[str], cat2label: Dict[int, int],
                 supercats: Sequence[Optional[str]], groups: Optional[Sequence] = None):
        self.ann_file = ann_file
        self.classes = ('background', ) + tuple(classes)
        self.cat2label = dict(cat2label)
        self.supercats = (None, ) + tuple(supercats)
        self.groups = (None, ) + tuple(groups) if groups is not None else None


class HierarchicalSegDataset(BaseSegDataset):
    """Images with one COCO-annotated label map per level, coarse to fine.

    Subclasses define ``LEVELS`` and :meth:`level_specs` (which COCO file and which category ->
    label mapping makes each level); this class loads the files, checks them, builds the data
    list, the per-level class lists and palettes, and the hierarchy. ``dataset_meta`` holds
    ``levels`` (coarse -> fine), ``level_classes`` (level -> names, 0 = 'background'),
    ``level_palettes``, ``hierarchy`` (child level -> parent index per child class),
    ``level_parents``, ``main_level``, and ``classes`` / ``palette`` of the main level (for
    MMSeg's own metric and visualizer).

    The hierarchy of each child level is, in order of precedence: given in ``hierarchy``;
    spelled by the category names / supercategories; derived by containment from the ground
    truth (each child class's pixels must lie in one parent class, up to
    ``hierarchy_tolerance``) and cached in :meth:`hierarchy_cache_file` (reused while it is
    newer than the annotation files). ``dataset_meta['level_parents']`` holds, per child level,
    every allowed parent per class; ``dataset_meta['hierarchy']`` only the levels where each
    class has exactly one parent (e.g. not SPIN parts under ``object_level='class'``).

    Each data-list entry holds ``img_path``, ``height``, ``width``, ``img_id``, ``levels``,
    ``main_level`` and ``seg_anns`` (level -> list of ``dict(id, label, segmentation,
    iscrowd, ann_file)``), which ``LoadHierarchicalAnnotations`` rasterizes.

    Args:
        data_root (str): dataset root folder.
        split (str): 'train', 'val' or 'test'. Default: 'train'.
        ann_dir (str): annotation folder, relative to ``data_root``. Default: 'annotations'.
        img_dir (str): image folder (images in ``{img_dir}/{split}/``). Default: 'images'.
        main_level (str): level of ``gt_seg_map`` / ``classes``. Default: 'object'.
        hierarchy (dict, optional): child level -> Nc parent indices, or
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
        for key in ('ann_file', 'data_prefix', 'seg_map_suffix', 'reduce_zero_label'):
            if key in kwargs:
                raise TypeError(f'{type(self).__name__} does not take {key!r}: files come from '
                                'data_root / ann_dir / img_dir / split')
        self.split = split
        self.main_level = main_level
        self.ann_root = osp.join(data_root, ann_dir)
        self.img_root = osp.join(data_root, img_dir, split)
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
        level_parents = self._build_hierarchy(hierarchy or {})
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

    def hierarchy_cache_file(self) -> str:
        """Where a hierarchy derived by containment is cached."""
        return osp.join(self.ann_root, f'{self.split}_hierarchy.json')

    # ---- loading -----------------------------------------------------------------------------

    def load_coco(self, path: str, expected: str = '') -> COCO:
        """Load and check one COCO JSON (kept for building the data list).

        Args:
            path (str): the JSON file.
            expected (str): the layout to name when the file is missing.
        """
        if path in self._cocos:
            return self._cocos[path]
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'annotation file {path} does not exist'
                f'{"; " + type(self).__name__ + " expects " + expected if expected else ""}')
        try:
            with open(path) as f:
                dataset = json.load(f)
        except ValueError as err:
            raise ValueError(f'annotation file {path} is not valid JSON: {err}') from err
        missing = [k for k in ('images', 'annotations', 'categories') if k not in dataset]
        if missing:
            raise ValueError(f'annotation file {path} has no {missing} (COCO format expected)')
        for im in dataset['images']:
            lacking = [k for k in ('id', 'file_name', 'height', 'width') if k not in im]
            if lacking:
                raise ValueError(f'{path}: image entry {im.get("id", im)} has no {lacking}')
        image_ids = {im['id'] for im in dataset['images']}
        cat_ids = {c['id'] for c in dataset['categories']}
        for ann in dataset['annotations']:
            for key in ('image_id', 'category_id', 'segmentation'):
                if key not in ann:
                    raise ValueError(f'{path}: annotation {ann.get("id")} has no {key!r}')
            if ann['image_id'] not in image_ids:
                raise ValueError(f'{path}: annotation {ann.get("id")} has image_id '
                                 f'{ann["image_id"]}, which is not in its "images"')
            if ann['category_id'] not in cat_ids:
                raise ValueError(f'{path}: annotation {ann.get("id")} has category_id '
                                 f'{ann["category_id"]}, which is not in its "categories"')
        coco = COCO()
        coco.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
        self._cocos[path] = coco
        return coco

    @staticmethod
    def sorted_categories(coco: COCO) -> List[dict]:
        """The categories in category-id order."""
        return [coco.cats[i] for i in sorted(coco.cats)]

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
                if (seen[0]['file_name'], seen[0]['height'], seen[0]['width']) != (
                        im['file_name'], im['height'], im['width']):
                    raise ValueError(f'image id {im["id"]} is {seen[0]["file_name"]} '
                                     f'{seen[0]["height"]}x{seen[0]["width"]} in {seen[1]} but '
                                     f'{im["file_name"]} {im["height"]}x{im["width"]} in {path}')
        data_list = []
        for img_id in sorted(images):
            im, path = images[img_id]
            name = im['file_name']
            img_path = osp.join(self.img_root, name if osp.splitext(name)[1] else
                                name + self._img_suffix)
            if self._check_files and not osp.isfile(img_path):
                raise FileNotFoundError(f'image {img_path} (id {img_id} in {path}) does not '
                                        'exist')
            seg_anns = {}
            for level in self.LEVELS:
                spec = self.specs[level]
                coco = self.load_coco(spec.ann_file)
                seg_anns[level] = [
                    dict(id=ann.get('id'), label=spec.cat2label[ann['category_id']],
                         segmentation=ann['segmentation'], iscrowd=int(ann.get('iscrowd', 0)),
                         ann_file=spec.ann_file)
                    for ann in coco.imgToAnns.get(img_id, [])
                    if ann['category_id'] in spec.cat2label]
            data_list.append(
                dict(img_path=img_path, img_id=img_id, height=int(im['height']),
                     width=int(im['width']), seg_map_path=None, label_map=None,
                     reduce_zero_label=False, seg_fields=[], levels=self.LEVELS,
                     main_level=self.main_level, seg_anns=seg_anns))
        return data_list

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

    # ---- hierarchy and metainfo --------------------------------------------------------------

    def _build_hierarchy(self, given: dict) -> Dict[str, hier.Parents]:
        unknown = [k for k in given if k not in self.LEVELS[1:]]
        if unknown:
            raise ValueError(f'hierarchy has keys {unknown}; child levels are {self.LEVELS[1:]}')
        level_parents = {}
        for parent_level, child_level in zip(self.LEVELS[:-1], self.LEVELS[1:]):
            child, parent = self.specs[child_level], self.specs[parent_level]
            if child_level in given:
                level_parents[child_level] = hier.normalize_given(
                    given[child_level], child_level, child.classes, parent.classes)
                continue
            parents = hier.parents_from_names(child.classes, child.supercats, parent.classes,
                                           parent.groups)
            if parents is None:
                parents = self._parents_by_containment(parent_level, child_level)
            level_parents[child_level] = parents
        return level_parents

    def _parents_by_containment(self, parent_level: str, child_level: str) -> hier.Parents:
        child, parent = self.specs[child_level], self.specs[parent_level]
        cache = self.hierarchy_cache_file()
        sources = sorted({s.ann_file for s in self.specs.values()})
        parents = hier.load_cached(cache, sources, child_level, child.classes, parent.classes)
        if parents is not None:
            print_log(f'{child_level} -> {parent_level} hierarchy read from {cache}',
                      logger='current')
            return parents
        print_log(f'the {child_level} category names do not spell their {parent_level} '
                  f'classes: deriving the hierarchy by containment over the {self.split} '
                  'ground truth', logger='current')
        if self._data_list_cache is None:
            self._data_list_cache = self.load_data_list()

        def pairs():
            for info in self._data_list_cache:
                h, w, where = info['height'], info['width'], info['img_path']
                yield (rasterize_annotations(info['seg_anns'][child_level], h, w, where=where),
                       rasterize_annotations(info['seg_anns'][parent_level], h, w, where=where))

        counts = hier.containment_counts(pairs(), len(child.classes), len(parent.classes))
        parents, absent = hier.parents_by_containment(
            counts, child.classes, parent.classes, child_level, parent_level,
            self.hierarchy_tolerance, f'{child.ann_file} / {parent.ann_file}')
        if absent:
            print_log(f'{len(absent)} {child_level} classes have no pixels in {self.split} and '
                      f'get parent 0 (background): {absent[:10]}', logger='current',
                      level=30)
        try:
            hier.save_cached(cache, sources, child_level, parent_level, child.classes,
                          parent.classes, parents)
        except OSError as err:
            print_log(f'cannot cache the hierarchy in {cache}: {err}', logger='current',
                      level=30)
        return parents

    def _build_metainfo(self, level_parents: Dict[str, hier.Parents]) -> dict:
        level_classes = {lv: self.specs[lv].classes for lv in self.LEVELS}
        level_palettes = {lv: self.make_palette(len(level_classes[lv]), i)
                          for i, lv in enumerate(self.LEVELS)}
        hierarchy = {lv: tuple(p[0] for p in parents)
                     for lv, parents in level_parents.items()
                     if all(len(p) == 1 for p in parents)}
        return dict(levels=self.LEVELS, level_classes=level_classes,
                    level_palettes=level_palettes, hierarchy=hierarchy,
                    level_parents=level_parents, classes=level_classes[self.main_level],
                    palette=level_palettes[self.main_level])

    @staticmethod
    def make_palette(num_classes: int, seed: int = 0) -> List[List[int]]:
        """A fixed palette: black background, then random bright colours."""
        rng = np.random.default_rng(seed)
        colours = rng.integers(40, 256, (num_classes, 3))
        colours[0] = 0
        return colours.tolist()

"""SPIN (SubPartImageNet): objects, parts and subparts of PartImageNet pictures."""
import os.path as osp
import warnings
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from mmseg.registry import DATASETS

from .hierarchical import HierarchicalSegDataset, LevelSpec
from .masks import decode_annotation
from .part_names import PARTIMAGENET_PARTS, parent_part_by_name, superclass_of_part
from .superclasses import SuperclassResolver, read_superclass_file, spin_api_table, whole_class_name


def unique_in_order(values) -> List:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def check_unique_names(categories, path):
    names = [str(c['name']) for c in categories]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'{path}: category names {dup} appear more than once')


@DATASETS.register_module()
class SPINDataset(HierarchicalSegDataset):
    """SPIN, hierarchical segmentation with subpart granularity (ECCV 2024).

    Paper: https://arxiv.org/abs/2407.09686 . Read as released (spin-api 1.0.0's layout):
    three COCO files per split, one per level, and PartImageNet_Seg's pictures:

    .. code-block:: none

        data/spin
        ├── annotations
        │   ├── spin_train_wholes.json    # 158 ImageNet classes, ids 0..157
        │   ├── spin_train_parts.json     # PartImageNet's 40 parts ('Quadruped Head'), 0..39
        │   ├── spin_train_subparts.json  # 'Quadruped-Head-Eyes', ids 1..
        │   ├── spin_{val,test}_*.json
        │   └── {split}_{whole,part,subpart}/{file_name}.png  # label_source='png': spin-api's
        │                                 # rasterize_dataset (background 158 / 40 / 0)
        └── images
            ├── train/n02930766_37217.JPEG  # ``file_name`` in the JSON has no extension
            ├── val
            └── test

    Levels ('object', 'part', 'subpart'); each label map has 0 = background, 1..N = the
    level's classes in category-id order, 255 = ignore. Default painting reproduces spin-api's
    rasterizer pixel for pixel (:class:`HierarchicalSegDataset`).

    Object classes: ``object_level='superclass'`` (default) paints each whole category with its
    superclass, resolved per category by :mod:`cast.datasets.superclasses` (its
    ``supercategory``; else its pictures, through spin-api's file-name table when
    ``spin-dataset-api`` is installed, then the superclass their part categories name, then
    ``superclass_file``). The superclasses are listed in the order the part categories name
    them, so every split has the same labels. ``object_level='class'`` keeps the whole
    categories (integer names become the pictures' wnid); parts then have several possible
    parents (``dataset_meta['level_parents']``). Either way ``dataset_meta`` holds
    ``superclasses``, ``whole_classes`` and ``whole_superclasses`` (per whole class, its
    superclass or None).

    Parents of subparts: the ``supercategory`` field if it names a part; else the name
    'Superclass-Part-Subpart' with SPIN's part words (Torso, Legs, Arm, Tire, Side_Mirror, ...:
    :data:`~cast.datasets.part_names.PART_WORD_ALIASES`), else a name prefix; else
    containment in the ground truth. A subpart class absent from the split still gets its
    parent from its name.

    Args:
        data_root (str): dataset root.
        split (str): 'train', 'val' or 'test'. Default: 'train'.
        object_level (str): 'superclass' or 'class'. Default: 'superclass'.
        superclass_file (str, optional): JSON mapping file names, or whole class names/ids, to
            superclasses (e.g. spin-api's object_mapping.json), relative to ``data_root`` unless
            it exists as given. Default: None.
        **kwargs: ``ann_dir``, ``img_dir``, ``main_level``, ``label_source``, ``png_dir``,
            ``overlap``, ``crowd``, ``hierarchy``, ... of :class:`HierarchicalSegDataset`, and
            MMSeg's ``pipeline``, ``test_mode``, ...
    """
    LEVELS = ('object', 'part', 'subpart')
    LEVEL_FILES = dict(object='wholes', part='parts', subpart='subparts')
    PNG_FOLDERS = dict(object='whole', part='part', subpart='subpart')
    PNG_BACKGROUND = dict(object=158, part=40, subpart=0)  # spin-api's rasterize_dataset
    OBJECT_LEVELS = ('superclass', 'class')

    def __init__(self, data_root: str, split: str = 'train',
                 object_level: str = 'superclass', superclass_file: Optional[str] = None,
                 **kwargs) -> None:
        if object_level not in self.OBJECT_LEVELS:
            raise ValueError(f'object_level must be one of {self.OBJECT_LEVELS}, got '
                             f'{object_level!r}')
        self.object_level = object_level
        self.superclass_file = superclass_file
        if superclass_file is not None and not osp.isfile(superclass_file):
            self.superclass_file = osp.join(data_root or '', superclass_file)
            if not osp.isfile(self.superclass_file):
                raise FileNotFoundError(f'superclass_file {superclass_file!r} exists neither as '
                                        f'given nor under data_root {data_root!r}')
        super().__init__(data_root=data_root, split=split, **kwargs)
        self._metainfo['object_level'] = object_level

    def level_ann_file(self, level: str) -> str:
        """The COCO file of a level: ``{ann_dir}/spin_{split}_{wholes|parts|subparts}.json``."""
        return osp.join(self.ann_root, f'spin_{self.split}_{self.LEVEL_FILES[level]}.json')

    def label_png(self, level: str, file_name: str) -> str:
        """``{png_dir or ann_dir}/{split}_{whole|part|subpart}/{file_name}.png``."""
        root = self.png_root or self.ann_root
        return osp.join(root, f'{self.split}_{self.PNG_FOLDERS[level]}', f'{file_name}.png')

    def hierarchy_cache_file(self) -> str:
        return osp.join(self.ann_root, f'spin_{self.split}_hierarchy.json')

    def _load_level(self, level: str):
        path = self.level_ann_file(level)
        coco = self.load_coco(
            path, expected=f'spin_{self.split}_{self.LEVEL_FILES[level]}.json for the '
            f'{level} level (one file per level: '
            f'spin_{self.split}_{{wholes,parts,subparts}}.json) in {self.ann_root}')
        cats = self.sorted_categories(coco)
        check_unique_names(cats, path)
        return path, coco, cats

    def level_specs(self) -> Dict[str, LevelSpec]:
        loaded = {level: self._load_level(level) for level in self.LEVELS}
        specs = {}
        for level in ('part', 'subpart'):
            path, _, cats = loaded[level]
            specs[level] = LevelSpec(path, [str(c['name']) for c in cats],
                                     {c['id']: i + 1 for i, c in enumerate(cats)},
                                     [c.get('supercategory') or None for c in cats],
                                     self.PNG_BACKGROUND[level])
        specs['object'] = self._object_spec(loaded)
        return specs

    def _object_spec(self, loaded) -> LevelSpec:
        """Resolve every whole category's superclass, then the object level's classes."""
        path, wholes, cats = loaded['object']
        _, parts, part_cats = loaded['part']
        vocabulary = list(PARTIMAGENET_PARTS) + unique_in_order(
            c['supercategory'] for c in part_cats if c.get('supercategory'))
        part_super = {c['id']: superclass_of_part(str(c['name']), c.get('supercategory'),
                                                  vocabulary) for c in part_cats}
        resolver = SuperclassResolver(
            unique_in_order(s for s in (part_super[c['id']] for c in part_cats) if s),
            spin_api_table(),
            read_superclass_file(self.superclass_file) if self.superclass_file else None)
        stems = {i: self.image_stem(im['file_name']) for i, im in wholes.imgs.items()}
        pictures = defaultdict(dict)  # whole category id -> stem -> part superclasses
        for ann in wholes.dataset['annotations']:
            pictures[ann['category_id']][stems[ann['image_id']]] = self._part_superclasses(
                ann, wholes.imgs[ann['image_id']], parts, part_super)
        names = [whole_class_name(c, list(pictures[c['id']])) for c in cats]
        names = [n if names.count(n) == 1 else str(c['name']) for n, c in zip(names, cats)]
        supers = [resolver.resolve(c, n, pictures[c['id']])[0] for c, n in zip(cats, names)]
        self.superclass_report = dict(used=dict(resolver.used), conflicts=resolver.conflicts,
                                      spin_api=resolver.table != {})
        self._wholes = (tuple(names), tuple(supers), tuple(resolver.superclasses))
        if resolver.conflicts:
            warnings.warn(f'{path}: whole classes whose pictures name several superclasses: '
                          + '; '.join(resolver.conflicts[:10]))
        if self.object_level == 'class':
            return LevelSpec(path, names, {c['id']: i + 1 for i, c in enumerate(cats)},
                             supers, self.PNG_BACKGROUND['object'])
        missing = [(n, c['id'], len(pictures[c['id']])) for n, c, s in zip(names, cats, supers)
                   if s is None and pictures[c['id']]]
        if missing:
            raise ValueError(
                f'{path}: whole classes {missing[:5]} ((name, id, pictures)) have no '
                'superclass: no supercategory, '
                + ('spin-api\'s table does not list their pictures'
                   if resolver.table else 'spin-dataset-api is not installed')
                + ', their pictures have no part annotations naming one, and '
                + ('superclass_file does not name them' if self.superclass_file else
                   'no superclass_file was given')
                + '. Pass superclass_file=... or use object_level="class".')
        superclasses = resolver.superclasses
        return LevelSpec(path, superclasses,
                         {c['id']: superclasses.index(s) + 1
                          for c, s in zip(cats, supers) if s is not None},
                         [None] * len(superclasses), self.PNG_BACKGROUND['object'])

    @staticmethod
    def _part_superclasses(whole_ann: dict, image: dict, parts, part_super: dict) -> List:
        """The superclasses the part annotations of a whole annotation's picture name; where
        they name several (pictures of two objects), those of the parts it overlaps most."""
        anns = parts.imgToAnns.get(whole_ann['image_id'], [])
        named = [part_super.get(a['category_id']) for a in anns]
        if len(set(named) - {None}) <= 1:
            return named
        h, w = int(image['height']), int(image['width'])
        whole = decode_annotation(whole_ann, h, w)
        overlap = defaultdict(int)
        for ann, superclass in zip(anns, named):
            overlap[superclass] += int((decode_annotation(ann, h, w) & whole).sum())
        best = max(overlap, key=overlap.get)
        return [best] if overlap[best] else []

    def parents_by_name(self, child_level: str, parent_level: str
                        ) -> Tuple[List[Optional[Tuple[int, ...]]], List[Optional[str]]]:
        """Subparts: ``supercategory``, then 'Superclass-Part-Subpart' with SPIN's part words,
        then name prefixes. Parts: their superclass (``supercategory`` or name prefix), as one
        object class, or as every whole class of that superclass (``object_level='class'``)."""
        parents, sources = super().parents_by_name(child_level, parent_level)
        child = self.specs[child_level]
        for k, name in enumerate(child.classes[1:], 1):
            if child_level == 'subpart':
                found = parent_part_by_name(name, self.specs['part'].classes)
                if found is not None and sources[k] != 'supercategory':
                    parents[k], sources[k] = (found[0], ), found[1]
                continue
            _, whole_supers, superclasses = self._wholes
            superclass = superclass_of_part(name, child.supercats[k], superclasses)
            if superclass is None:
                continue
            if self.object_level == 'class':
                members = tuple(i + 1 for i, s in enumerate(whole_supers) if s == superclass)
            else:
                members = (self.specs['object'].classes.index(superclass), )
            if members:
                parents[k], sources[k] = members, 'superclass'
        return parents, sources

    def _build_metainfo(self, level_parents) -> dict:
        meta = super()._build_metainfo(level_parents)
        names, supers, superclasses = self._wholes
        meta.update(superclasses=superclasses, whole_classes=names, whole_superclasses=supers)
        return meta

"""SPIN (SubPartImageNet): objects, parts and subparts of PartImageNet pictures."""
import os.path as osp
from typing import Dict, List

from mmengine.logging import print_log

from mmseg.registry import DATASETS
from .hierarchical import HierarchicalSegDataset, LevelSpec


def unique_in_order(values) -> List:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def check_unique_names(categories, path):
    names = [c['name'] for c in categories]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'{path}: category names {dup} appear more than once')


@DATASETS.register_module()
class SPINDataset(HierarchicalSegDataset):
    """SPIN, hierarchical segmentation with subpart granularity (ECCV 2024).

    Paper: https://arxiv.org/abs/2407.09686 . Three COCO files per split, one per level, and
    PartImageNet's pictures:

    .. code-block:: none

        data/spin
        ├── annotations
        │   ├── spin_train_wholes.json    # objects: 158 classes (supercategory: 11 superclasses)
        │   ├── spin_train_parts.json     # 40 parts ('Quadruped Head', supercategory 'Quadruped')
        │   ├── spin_train_subparts.json  # subparts (supercategory: their part)
        │   ├── spin_train_hierarchy.json # written here if the hierarchy had to be derived
        │   └── spin_{val,test}_*.json
        └── images
            ├── train/n02930766_37217.JPEG  # ``file_name`` in the JSON has no extension
            ├── val
            └── test

    Levels ('object', 'part', 'subpart'); each label map has 0 = background, 1..N = the level's
    categories in category-id order, 255 = ignore (crowd). ``tools/`` and
    ``cast.datasets.synthetic.generate_synthetic_spin`` make a small synthetic copy.

    Args:
        data_root (str): dataset root.
        split (str): 'train', 'val' or 'test'. Default: 'train'.
        object_level (str): 'superclass' (whole categories grouped by their
            ``supercategory``: SPIN's 11 superclasses) or 'class' (the whole categories
            themselves: 158 classes; parts then have several possible parent classes, see
            ``dataset_meta['level_parents']``, and ``hierarchy`` has no 'part' entry).
            Default: 'superclass'.
        **kwargs: ``ann_dir``, ``img_dir``, ``main_level``, ``hierarchy``, ... of
            :class:`HierarchicalSegDataset`, and MMSeg's ``pipeline``, ``test_mode``, ...
    """
    LEVELS = ('object', 'part', 'subpart')
    LEVEL_FILES = dict(object='wholes', part='parts', subpart='subparts')
    OBJECT_LEVELS = ('superclass', 'class')

    def __init__(self, data_root: str, split: str = 'train',
                 object_level: str = 'superclass', **kwargs) -> None:
        if object_level not in self.OBJECT_LEVELS:
            raise ValueError(f'object_level must be one of {self.OBJECT_LEVELS}, got '
                             f'{object_level!r}')
        self.object_level = object_level
        super().__init__(data_root=data_root, split=split, **kwargs)
        self._metainfo['object_level'] = object_level

    def ann_file(self, level: str) -> str:
        """The COCO file of a level: ``{ann_dir}/spin_{split}_{wholes|parts|subparts}.json``."""
        return osp.join(self.ann_root, f'spin_{self.split}_{self.LEVEL_FILES[level]}.json')

    def hierarchy_cache_file(self) -> str:
        return osp.join(self.ann_root, f'spin_{self.split}_hierarchy.json')

    def level_specs(self) -> Dict[str, LevelSpec]:
        specs = {}
        for level in self.LEVELS:
            path = self.ann_file(level)
            coco = self.load_coco(
                path, expected=f'spin_{self.split}_{self.LEVEL_FILES[level]}.json for the '
                f'{level} level (one file per level: '
                f'spin_{self.split}_{{wholes,parts,subparts}}.json) in {self.ann_root}')
            cats = self.sorted_categories(coco)
            check_unique_names(cats, path)
            names = [c['name'] for c in cats]
            supers = [c.get('supercategory') or None for c in cats]
            if level != 'object':
                specs[level] = LevelSpec(path, names, {c['id']: i + 1 for i, c in enumerate(cats)},
                                         supers)
            elif self.object_level == 'class' or not all(supers):
                if self.object_level == 'superclass':
                    print_log(f'{path}: not every category has a supercategory; its categories '
                              'are used as the object classes', logger='current', level=30)
                specs[level] = LevelSpec(path, names, {c['id']: i + 1 for i, c in enumerate(cats)},
                                         [None] * len(cats), groups=supers)
            else:
                superclasses = unique_in_order(supers)
                if len(superclasses) == 1 < len(cats):
                    print_log(f'{path}: all {len(cats)} categories share the supercategory '
                              f'{superclasses[0]!r}, so object_level="superclass" gives one '
                              'object class; object_level="class" keeps the categories',
                              logger='current', level=30)
                specs[level] = LevelSpec(
                    path, superclasses,
                    {c['id']: superclasses.index(s) + 1 for c, s in zip(cats, supers)},
                    [None] * len(superclasses))
        return specs

"""PartImageNet: part segmentation of 158 ImageNet classes in 11 superclasses."""
import os.path as osp
from typing import Dict

from mmseg.registry import DATASETS
from .hierarchical import HierarchicalSegDataset, LevelSpec
from .spin import check_unique_names, unique_in_order


@DATASETS.register_module()
class PartImageNetDataset(HierarchicalSegDataset):
    """PartImageNet (ECCV 2022), as two levels: object (superclass) and part.

    Paper: https://arxiv.org/abs/2112.00933 . One COCO file of part masks per split:

    .. code-block:: none

        data/PartImageNet
        ├── annotations
        │   ├── train.json   # 40 part categories, supercategory = one of 11 superclasses
        │   ├── val.json
        │   └── test.json
        └── images
            ├── train/n01440764_10043.JPEG
            ├── val
            └── test

    The object label map is the union of the parts, each painted with its superclass; the
    hierarchy part -> object comes from the ``supercategory`` field. Labels: 0 background,
    classes 1..N in category-id order (superclasses in order of first appearance), 255 ignore.

    Args:
        data_root (str): dataset root.
        split (str): 'train', 'val' or 'test'. Default: 'train'.
        **kwargs: ``ann_dir``, ``img_dir``, ``main_level``, ``hierarchy``, ... of
            :class:`HierarchicalSegDataset`, and MMSeg's ``pipeline``, ``test_mode``, ...
    """
    LEVELS = ('object', 'part')

    def level_specs(self) -> Dict[str, LevelSpec]:
        path = osp.join(self.ann_root, f'{self.split}.json')
        coco = self.load_coco(path, expected=f'{self.split}.json (the PartImageNet layout: '
                              f'annotations/{{train,val,test}}.json) in {self.ann_root}')
        cats = self.sorted_categories(coco)
        check_unique_names(cats, path)
        lacking = [c['name'] for c in cats if not c.get('supercategory')]
        if lacking:
            raise ValueError(f'{path}: categories {lacking[:5]} have no supercategory; '
                             'PartImageNet objects are the superclasses of their parts')
        supers = [c['supercategory'] for c in cats]
        objects = unique_in_order(supers)
        return dict(
            object=LevelSpec(path, objects,
                             {c['id']: objects.index(s) + 1 for c, s in zip(cats, supers)},
                             [None] * len(objects)),
            part=LevelSpec(path, [c['name'] for c in cats],
                           {c['id']: i + 1 for i, c in enumerate(cats)}, supers))

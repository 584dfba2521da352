"""PartImageNet: part segmentation of 158 ImageNet classes in 11 superclasses."""
import os.path as osp
from typing import Dict

from mmseg.registry import DATASETS

from .hierarchical import HierarchicalSegDataset, LevelSpec
from .part_names import PARTIMAGENET_PARTS, superclass_of_part
from .spin import check_unique_names, unique_in_order


@DATASETS.register_module()
class PartImageNetDataset(HierarchicalSegDataset):
    """PartImageNet (ECCV 2022), as two levels: object (superclass) and part.

    Paper: https://arxiv.org/abs/2112.00933 . Read as PartImageNet_Seg is released
    (https://github.com/TACJu/PartImageNet): one COCO file of part masks per split, the same
    masks as label-map PNGs, and the pictures:

    .. code-block:: none

        data/PartImageNet
        ├── annotations
        │   ├── train/train.json         # 40 part categories (ids 0..39), supercategory =
        │   │                            # one of 11 superclasses; also read: annotations/train.json
        │   ├── train/n01440764_10043.png  # label_source='png': part ids, 40 = background
        │   ├── val/ ...
        │   └── test/ ...
        └── images
            ├── train/n01440764_10043.JPEG
            ├── val
            └── test

    The object label map is the union of the parts, each painted with its superclass (its
    ``supercategory``, else the superclass its name starts with); the hierarchy part -> object
    is that superclass. Labels: 0 background, classes 1..N in category-id order (superclasses
    in order of first appearance), 255 ignore.

    Args:
        data_root (str): dataset root.
        split (str): 'train', 'val' or 'test'. Default: 'train'.
        **kwargs: ``ann_dir``, ``img_dir``, ``main_level``, ``label_source``, ``png_dir``,
            ``overlap``, ``crowd``, ``hierarchy``, ... of :class:`HierarchicalSegDataset`, and
            MMSeg's ``pipeline``, ``test_mode``, ...
    """
    LEVELS = ('object', 'part')
    PNG_BACKGROUND = 40

    def level_ann_file(self, level: str = "part") -> str:
        """``{ann_dir}/{split}/{split}.json`` (the release), else ``{ann_dir}/{split}.json``."""
        nested = osp.join(self.ann_root, self.split, f'{self.split}.json')
        return nested if osp.isfile(nested) else osp.join(self.ann_root, f'{self.split}.json')

    def label_png(self, level: str, file_name: str) -> str:
        """``{png_dir or ann_dir}/{split}/{file_name}.png`` (both levels: the part map)."""
        return osp.join(self.png_root or self.ann_root, self.split, f'{file_name}.png')

    def level_specs(self) -> Dict[str, LevelSpec]:
        path = self.level_ann_file()
        coco = self.load_coco(path, expected=f'{self.split}/{self.split}.json or '
                              f'{self.split}.json (PartImageNet_Seg: annotations/{{train,val,'
                              f'test}}/{{split}}.json) in {self.ann_root}')
        cats = self.sorted_categories(coco)
        check_unique_names(cats, path)
        vocabulary = list(PARTIMAGENET_PARTS) + unique_in_order(
            c['supercategory'] for c in cats if c.get('supercategory'))
        supers = [superclass_of_part(str(c['name']), c.get('supercategory'), vocabulary)
                  for c in cats]
        lacking = [c['name'] for c, s in zip(cats, supers) if s is None]
        if lacking:
            raise ValueError(f'{path}: categories {lacking[:5]} have no supercategory and no '
                             'name starting with a superclass; PartImageNet objects are the '
                             'superclasses of their parts')
        objects = unique_in_order(supers)
        return dict(
            object=LevelSpec(path, objects,
                             {c['id']: objects.index(s) + 1 for c, s in zip(cats, supers)},
                             [None] * len(objects), self.PNG_BACKGROUND),
            part=LevelSpec(path, [str(c['name']) for c in cats],
                           {c['id']: i + 1 for i, c in enumerate(cats)}, supers,
                           self.PNG_BACKGROUND))

"""Cityscapes as a two-level hierarchy: HSSN's 7 categories over the 19 train ids."""
from PIL import Image

from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from ..structures import level_palette
from .masks import make_lut

CATEGORIES = ('flat', 'construction', 'object', 'nature', 'sky', 'human', 'vehicle')
# the category of each train id 0..18 (cityscapesscripts' labels.py; HSSN's hiera_map)
TRAIN_ID_CATEGORY = (0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6)
LEVELS = ('category', 'class')


@DATASETS.register_module()
class CityscapesHierarchyDataset(CityscapesDataset):
    """Cityscapes' released labels as two levels: 'category' (7) and 'class' (the 19 train ids).

    Reads only what Cityscapes ships (MMSeg's layout and suffixes)::

        data_root/leftImg8bit/{train,val}/{city}/{name}_leftImg8bit.png
        data_root/gtFine/{train,val}/{city}/{name}_gtFine_labelTrainIds.png

    and derives both levels from the train-id map: ``class`` label = train id + 1, ``category``
    label = the train id's category + 1 (:data:`TRAIN_ID_CATEGORY`), 255 stays ignored. Index 0
    of each level is the project's background class (:class:`~cast.structures.ClassHierarchy`),
    which no Cityscapes pixel carries. ``dataset_meta`` holds ``levels``, ``level_classes``,
    ``hierarchy`` (class -> category), ``level_palettes`` and ``main_level`` ('class'), as
    :class:`HierarchicalSegDataset` gives them, so :class:`LoadHierarchicalAnnotations`, the
    hierarchical segmentor and :class:`HierarchicalMetric` read it unchanged.
    """
    METAINFO = dict(
        classes=('background', ) + CityscapesDataset.METAINFO['classes'],
        palette=[[0, 0, 0]] + CityscapesDataset.METAINFO['palette'],
        levels=LEVELS,
        level_classes={'category': ('background', ) + CATEGORIES,
                       'class': ('background', ) + CityscapesDataset.METAINFO['classes']},
        hierarchy={'class': (0, ) + tuple(c + 1 for c in TRAIN_ID_CATEGORY)},
        level_palettes={'category': level_palette(len(CATEGORIES) + 1, 0),
                        'class': [[0, 0, 0]] + CityscapesDataset.METAINFO['palette']},
        main_level='class')
    LUTS = {'category': make_lut({**{t: c + 1 for t, c in enumerate(TRAIN_ID_CATEGORY)},
                                  255: 255}),
            'class': make_lut({**{t: t + 1 for t in range(19)}, 255: 255})}

    def load_data_list(self) -> list:
        """MMSeg's Cityscapes list, each entry with both levels read from its train-id PNG."""
        data_list = super().load_data_list()
        for info in data_list:
            with Image.open(info['seg_map_path']) as png:  # the header only
                width, height = png.size
            info.update(height=height, width=width, levels=LEVELS, main_level='class',
                        seg_pngs={lv: info['seg_map_path'] for lv in LEVELS},
                        seg_luts=self.LUTS)
        return data_list

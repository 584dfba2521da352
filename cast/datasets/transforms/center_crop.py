"""Centre crop of the image and every label map, as torchvision's ``CenterCrop``."""
from typing import Sequence, Union

from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CenterCropLevels(BaseTransform):
    """Cut the central ``crop_size`` window out of the image and out of every map listed in
    ``seg_fields`` (MMCV's ``CenterCrop`` moves only ``gt_seg_map``; the hierarchy's level maps
    and superpixels are in ``seg_fields``). The offsets are torchvision's
    (``round((H - h) / 2)``), so ``Resize`` to the shorter side + this crop is the reference's
    ``Resize(224)`` + ``CenterCrop(224)``. A side shorter than the crop is kept whole (no
    padding).

    Required Keys:

    - img
    - seg_fields (list[str], optional)

    Modified Keys:

    - img, img_shape, every map in seg_fields

    Args:
        crop_size (int | Sequence[int]): (h, w), or one int for a square.
    """

    def __init__(self, crop_size: Union[int, Sequence[int]]) -> None:
        size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(f'crop_size must be a positive int or (h, w), got {crop_size!r}')
        self.crop_size = size

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        ch, cw = min(self.crop_size[0], height), min(self.crop_size[1], width)
        top, left = int(round((height - ch) / 2.0)), int(round((width - cw) / 2.0))
        results['img'] = results['img'][top:top + ch, left:left + cw]
        results['img_shape'] = results['img'].shape[:2]
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = results[key][top:top + ch, left:left + cw]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'

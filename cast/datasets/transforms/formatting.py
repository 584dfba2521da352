"""Pack an image, its per-level label maps and its superpixels into a SegDataSample."""
import numpy as np
from mmcv.transforms import to_tensor
from mmengine.structures import PixelData

from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackHierSegInputs(PackSegInputs):
    """:class:`mmseg.datasets.transforms.PackSegInputs` plus the hierarchy levels and the
    superpixels, each as its own ``PixelData``.

    Required Keys:

    - img (np.ndarray): (H, W, C).
    - gt_seg_map (np.uint8, optional): (H, W), the main level.
    - gt_seg_{level} (np.uint8, optional): (H, W), one per level (``results['levels']`` when
      given, else every ``gt_seg_*`` key but ``gt_seg_map``).
    - superpixels (np.ndarray, optional): (H, W) integer labels 0..S-1.

    Added Keys:

    - inputs (torch.Tensor): (C, H, W).
    - data_samples (SegDataSample): ``gt_sem_seg`` (1, H, W) int64 (main level),
      ``gt_seg_{level}`` (1, H, W) int64 per level, ``superpixels`` (1, H, W) int64 when
      present, and the meta keys.

    Args:
        meta_keys (Sequence[str]): meta keys to pack; see ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        data_sample = packed['data_samples']
        levels = results.get('levels')
        if levels is None:
            keys = [k for k in results if k.startswith('gt_seg_') and k != 'gt_seg_map']
        else:
            keys = [f'gt_seg_{level}' for level in levels if f'gt_seg_{level}' in results]
        for key in keys:
            data_sample.set_data({key: PixelData(data=self._to_map_tensor(results[key], key))})
        if 'superpixels' in results:
            data_sample.set_data(
                dict(superpixels=PixelData(
                    data=self._to_map_tensor(results['superpixels'], 'superpixels'))))
        return packed

    @staticmethod
    def _to_map_tensor(label_map, key):
        """(H, W) array -> (1, H, W) int64 tensor."""
        label_map = np.asarray(label_map)
        if label_map.ndim != 2:
            raise ValueError(f'{key} must be a (H, W) map, got shape {label_map.shape}')
        return to_tensor(np.ascontiguousarray(label_map[None]).astype(np.int64))

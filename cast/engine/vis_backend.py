"""Pictures written whole, or the run stops: MMEngine's ``LocalVisBackend`` writes each picture
with ``cv2.imwrite``, which returns False on a full disk (libpng prints "Write Error") and the
run goes on with pictures missing. ``tools/test.py --show-dir`` uses this backend instead."""
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.visualization import LocalVisBackend
from mmengine.visualization.vis_backend import force_init_env

from cast.utils.io import atomic_write
from mmseg.registry import VISBACKENDS


@VISBACKENDS.register_module()
class WholeFileLocalVisBackend(LocalVisBackend):
    """``LocalVisBackend`` whose pictures are encoded in memory and written with
    :func:`~cast.utils.io.atomic_write`: a failed write raises
    (:class:`~cast.utils.io.DiskFullError` on a full disk) and leaves no partial picture."""

    @force_init_env
    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        """Save ``image`` (H, W, 3 uint8 RGB) as ``{save_dir}/vis_image/{name}_{step}.png``."""
        assert image.dtype == np.uint8
        ok, png = cv2.imencode('.png', cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError(f'could not encode the picture {name} ({image.shape}) as PNG')
        os.makedirs(self._img_save_dir, exist_ok=True)
        with atomic_write(osp.join(self._img_save_dir, f'{name}_{step}.png'), 'wb') as f:
            f.write(png.tobytes())

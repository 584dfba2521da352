"""The colours of a level's classes, as ``dataset_meta['level_palettes']`` carries them."""
from typing import List

import numpy as np


def level_palette(num_classes: int, seed: int = 0) -> List[List[int]]:
    """The fixed palette of a level: black background, then random bright colours seeded by
    the level's position (the datasets' ``level_palettes``, and the fallback of the pictures).

    Returns:
        list[list[int]]: ``num_classes`` RGB triples in [0, 255], entry 0 ``[0, 0, 0]``.
    """
    colours = np.random.default_rng(seed).integers(40, 256, (num_classes, 3))
    colours[0] = 0
    return colours.tolist()

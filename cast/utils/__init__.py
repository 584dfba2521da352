from .superpixel_batch import pad_superpixels, relabel_consecutive, stack_superpixels
from .torchvision_compat import ensure_torchvision_importable

__all__ = [
    'ensure_torchvision_importable', 'pad_superpixels', 'relabel_consecutive', 'stack_superpixels'
]

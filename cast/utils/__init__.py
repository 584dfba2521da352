from .config import find_transform, superpixels_from_config
from .io import DiskFullError, atomic_write
from .restore import restore_to_original
from .superpixel_batch import pad_superpixels, relabel_consecutive, stack_superpixels
from .torchvision_compat import ensure_torchvision_importable
from .weights import init_weights_quietly

__all__ = [
    'DiskFullError', 'atomic_write', 'ensure_torchvision_importable', 'find_transform',
    'init_weights_quietly', 'pad_superpixels', 'relabel_consecutive', 'restore_to_original',
    'stack_superpixels', 'superpixels_from_config'
]

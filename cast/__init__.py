"""CAST and hierarchical segmentation on MMSegmentation.

Importing the package registers every model, dataset, transform and metric in MMSeg's registries
(configs do it with ``custom_imports = dict(imports=['cast'], allow_failed_imports=False)``) and
installs the safe checkpoint loader (see :mod:`cast.engine.checkpoint`).
"""
import os

from .utils import ensure_torchvision_importable

os.environ.setdefault('DGLBACKEND', 'pytorch')
ensure_torchvision_importable()  # before anything imports mmpretrain (and so torchvision)

from . import (  # noqa: E402,F401
               backbones,
               datasets,
               engine,
               evaluation,
               heads,
               losses,
               necks,
               recognition,
               segmentors,
               structures,
               visualization,
)
from .version import __version__  # noqa: E402

__all__ = ['__version__']

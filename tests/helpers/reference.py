"""The reference implementation's outputs on a tiny CAST (twke18/CAST): the fixture described in
tests/backbones/fixtures/README.md."""
import os.path as osp

import torch

REFERENCE_TINY = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'backbones',
                          'fixtures', 'cast_reference_tiny.pth')


def load_reference():
    """The fixture's dict: ``inputs``, ``superpixels``, ``arch``, ``num_clusters``, and per
    variant (``'cls'``, ``'seg'``) the reference's ``state_dict``, ``outputs`` and ``img_size``;
    a fresh copy on every call."""
    return torch.load(REFERENCE_TINY, map_location='cpu', weights_only=True)

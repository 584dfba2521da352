"""stack_superpixels: stacking, padding, views and clear errors."""
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from cast.utils import stack_superpixels


def sample(value):
    s = DataSample()
    s.set_field(value, 'superpixels')
    return s


def test_stack_and_pad():
    a = np.arange(6).reshape(2, 3)
    b = torch.zeros(1, 2, 2, dtype=torch.int32)
    out = stack_superpixels([sample(a), sample(b)], torch.zeros(2, 3, 3, 4))
    assert out.dtype == torch.int64 and out.shape == (2, 3, 4)
    assert out[0, :2, :3].tolist() == a.tolist()
    assert (out[0, 2] == 6).all() and (out[0, :, 3] == 6).all()  # one fresh label
    assert (out[1, :2, :2] == 0).all() and (out[1, 2:] == 1).all()


def test_views():
    views = [np.zeros((2, 2), np.int64), np.ones((2, 2), np.int64)]
    samples = [sample(views)]
    x = torch.zeros(1, 3, 2, 2)
    assert stack_superpixels(samples, x, view=1).sum() == 4
    with pytest.raises(ValueError, match='one per view'):
        stack_superpixels(samples, x)
    with pytest.raises(ValueError, match='view 2 does not exist'):
        stack_superpixels(samples, x, view=2)
    with pytest.raises(ValueError, match='SuperpixelMultiView'):
        stack_superpixels([sample(views[0])], x, view=1)


def test_errors():
    x = torch.zeros(1, 3, 2, 2)
    with pytest.raises(KeyError, match='SuperpixelMultiView'):
        stack_superpixels([DataSample()], x)
    with pytest.raises(ValueError, match='no samples'):
        stack_superpixels(None, x)
    with pytest.raises(ValueError, match='larger than the padded image'):
        stack_superpixels([sample(np.zeros((3, 2), np.int64))], x)
    with pytest.raises(TypeError, match='integer'):
        stack_superpixels([sample(np.zeros((2, 2), np.float32))], x)

"""Checkpoints load with weights_only=True: what MMEngine writes passes, anything else is
refused."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

import cast  # noqa: F401  installs the safe loader
from cast.engine import UnsafeCheckpointError, load_checkpoint_safely


class RunsCode:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return (os.system, ('echo unsafe',))


class AsksForAttribute:
    """Unpickles to getattr(np.ndarray, 'tofile'): a file-writing function."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def mmengine_like_checkpoint():
    hub = MessageHub.get_instance('test_checkpoint')
    hub.update_scalar('train/loss', np.float64(1.5))
    hub.update_scalar('train/lr', 0.1)
    hub.update_info('iter', 3)
    hub.update_info('counts', np.arange(3))
    return dict(
        meta=dict(seed=np.int64(3), dataset_meta=dict(classes=('a', 'b'), palette=[[1, 2, 3]])),
        message_hub=hub.state_dict(),
        state_dict={'w': torch.ones(2)})


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save(mmengine_like_checkpoint(), path)
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 1.5
    assert loaded['meta']['seed'] == 3
    np.testing.assert_array_equal(loaded['message_hub']['runtime_info']['counts'], np.arange(3))


@pytest.mark.parametrize('payload, named', [(RunsCode(), 'posix.system'),
                                            (AsksForAttribute(), "getattr(ndarray, 'tofile')")])
def test_other_pickled_objects_are_refused(tmp_path, payload, named):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'extra': payload}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        _load_checkpoint(str(path), map_location='cpu')
    assert str(path) in str(info.value) and named in str(info.value)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_checkpoint_safely(str(tmp_path / 'nowhere.pth'))

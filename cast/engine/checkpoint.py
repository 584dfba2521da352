"""Safe loading of MMEngine checkpoints under ``torch.load(weights_only=True)``.

torch >= 2.6 unpickles checkpoints with ``weights_only=True``: only tensors, containers and an
allow-list of classes may appear. MMEngine 0.10.7 writes a few more objects into its checkpoints
(the message hub's :class:`~mmengine.logging.HistoryBuffer` and the numpy arrays, dtypes and scalars
it holds), so resuming fails with ``UnpicklingError``. Instead of turning ``weights_only`` off (a
checkpoint from a stranger could then run code), we allow-list exactly those objects and replace
MMEngine's loader for local files with one that keeps ``weights_only=True`` and turns a refusal
into an error that names the file and the offending object.
"""
import os.path as osp
import re

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def _numpy_globals():
    """The numpy objects that pickled arrays, dtypes and scalars refer to."""
    multiarray = getattr(np, '_core', None) or np.core
    objects = [np.ndarray, np.dtype, multiarray.multiarray._reconstruct,
               multiarray.multiarray.scalar]
    # numpy >= 1.25 pickles a dtype through its class, e.g. numpy.dtypes.Float64DType.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        objects += [getattr(dtypes, name) for name in dir(dtypes)
                    if name.endswith('DType')]
    return objects


#: Every non-tensor object an MMEngine 0.10.7 checkpoint may contain.
MMENGINE_SAFE_GLOBALS = [HistoryBuffer, *_numpy_globals()]


def register_safe_globals():
    """Allow-list :data:`MMENGINE_SAFE_GLOBALS` for ``torch.load(weights_only=True)``."""
    torch.serialization.add_safe_globals(MMENGINE_SAFE_GLOBALS)


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint holds a pickled object outside the allow-list."""


def load_checkpoint_safely(filename, map_location=None):
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint file.
        map_location (str | torch.device | None): As for :func:`torch.load`.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: The file pickles an object outside the allow-list; the message names
            the file and the object. Nothing from the file has been executed.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file "{filename}" does not exist')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError (or RuntimeError wrapping it)
        text = str(err)
        if 'Weights only load failed' not in text and 'weights_only' not in text:
            raise
        found = re.search(r'GLOBAL ([\w.]+)', text) or re.search(
            r'Unsupported global: GLOBAL ([\w.]+)', text)
        culprit = found.group(1) if found else 'an object that is not a tensor'
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint "{filename}": it contains the pickled object '
            f'{culprit}, which is not on the allow-list of what MMEngine writes '
            f'(tensors, containers, numpy arrays, HistoryBuffer). Loading it would let the file '
            f'run code. If you trust the file, re-save its state_dict with plain tensors.') from None


def _load_from_local(filename, map_location):
    return load_checkpoint_safely(filename, map_location)


def install_safe_checkpoint_loader():
    """Register the safe loader for local paths (and ``file://``) in MMEngine's CheckpointLoader."""
    register_safe_globals()
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)

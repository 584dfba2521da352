"""Safe loading of MMEngine checkpoints under ``torch.load(weights_only=True)``.

torch >= 2.6 unpickles checkpoints with ``weights_only=True``: only tensors, containers and an
allow-list of classes may appear. MMEngine 0.10.7 writes a few more objects into its checkpoints
(the message hub's :class:`~mmengine.logging.HistoryBuffer` and the numpy arrays, dtypes and scalars
it holds), so resuming fails with ``UnpicklingError``. Instead of turning ``weights_only`` off (a
checkpoint from a stranger could then run code), we allow-list exactly those objects and replace
MMEngine's loader for local files with one that keeps ``weights_only=True`` and turns a refusal
into an error that names the file and the offending object.
"""
import argparse
import os
import os.path as osp
import pickle
import re
import zipfile

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


def history_buffer_statistic(owner, name):
    """Stand-in for the builtin ``getattr`` while unpickling a checkpoint.

    A pickled HistoryBuffer refers to its statistics methods as ``getattr(HistoryBuffer, 'mean')``.
    Allowing the builtin ``getattr`` would hand any attribute of any allowed object to the file;
    this function hands out only HistoryBuffer's registered statistics methods.
    """
    methods = {name: getattr(HistoryBuffer, name) for name in ('min', 'max', 'current', 'mean')}
    methods.update(HistoryBuffer._statistics_methods)  # those added by register_statistics
    if owner is HistoryBuffer and name in methods:
        return methods[name]
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({getattr(owner, "__name__", type(owner).__name__)}, '
        f'{name!r}); only HistoryBuffer statistics methods ({", ".join(methods)}) are allowed')


#: Every non-tensor object an MMEngine 0.10.7 checkpoint may contain.
MMENGINE_SAFE_GLOBALS = [
    HistoryBuffer, *_numpy_globals(),
    (history_buffer_statistic, 'builtins.getattr'),
]


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
        found = re.search(r'GLOBAL ([\w.]+)', text)
        if found:
            culprit = f'the pickled object {found.group(1)}'
        else:
            reason = re.search(r'Unpickler error:\s*(.+)', text)
            culprit = reason.group(1).strip() if reason else text.splitlines()[0]
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint "{filename}": {culprit}. Only tensors, containers, '
            f'numpy arrays and what MMEngine writes (HistoryBuffer) may be unpickled; anything '
            f'else could run code. If you trust the file, re-save its state_dict with plain '
            f'tensors.') from None


class UnreadableCheckpointError(RuntimeError):
    """A checkpoint file is empty, cut short, damaged or not a training checkpoint.

    Args:
        filename (str): The file.
        reason (str): What is wrong with it, for the message.
    """

    def __init__(self, filename: str, reason: str):
        self.filename, self.reason = filename, reason
        super().__init__(f'checkpoint "{filename}" cannot be read: {reason}')


def inspect_checkpoint(filename: str) -> dict:
    """Check that ``filename`` is a whole MMEngine training checkpoint, without loading it.

    The file must be a torch zip archive whose members all pass their CRC check (a file cut
    short has no central directory; bytes changed later fail the CRC), and its pickle must hold
    ``state_dict`` and ``meta`` under :func:`load_checkpoint_safely`'s allow-list. Tensors are
    memory-mapped, not read into memory: a few milliseconds for a 20 MB file.

    Args:
        filename (str): Path of the checkpoint.

    Returns:
        dict: The checkpoint's ``meta`` (``iter``, ``epoch``, ...).

    Raises:
        UnreadableCheckpointError: naming the file and what is wrong.
    """
    if not osp.isfile(filename):
        raise UnreadableCheckpointError(filename, 'the file does not exist')
    size = osp.getsize(filename)
    if size == 0:
        raise UnreadableCheckpointError(filename, 'the file is empty (0 bytes)')
    try:
        with zipfile.ZipFile(filename) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise UnreadableCheckpointError(
            filename, f'it is not a whole torch checkpoint ({size} bytes, {err}): cut short, '
            'or not a file torch.save wrote') from None
    if damaged is not None:
        raise UnreadableCheckpointError(filename, f'it is damaged: {damaged} fails its CRC check')
    try:
        checkpoint = torch.load(filename, map_location='cpu', weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001  any unpickling failure makes the file unusable
        text = ' '.join(str(err).split())
        found = re.search(r'GLOBAL ([\w.]+)', text)
        reason = f'it pickles {found.group(1)}, outside the allow-list' if found else text[:300]
        raise UnreadableCheckpointError(filename, reason) from None
    if not isinstance(checkpoint, dict) or not {'state_dict', 'meta'} <= set(checkpoint):
        keys = list(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise UnreadableCheckpointError(
            filename, f'it is not an MMEngine training checkpoint (no "state_dict" and "meta"; '
            f'it holds {keys})')
    return checkpoint['meta']


def checkpoint_step(filename: str) -> int:
    """The step in an ``iter_N.pth`` / ``epoch_N.pth`` name (N), -1 for other names."""
    found = re.match(r'^(?:iter|epoch)_(\d+)\.pth$', osp.basename(filename))
    return int(found.group(1)) if found else -1


def step_checkpoints(folder: str):
    """The ``iter_N.pth`` / ``epoch_N.pth`` files in ``folder``, newest (largest N) first."""
    if not osp.isdir(folder):
        return []
    names = [name for name in os.listdir(folder) if checkpoint_step(name) >= 0]
    return [osp.join(folder, name) for name in sorted(names, key=checkpoint_step, reverse=True)]


def load_cast_checkpoint(filename, map_location='cpu', allow_pickle=False):
    """Load any CAST checkpoint: ours, or an official one (MoCo v3, DeiT, Segmenter form).

    The official DeiT-form files pickle their training arguments (``argparse.Namespace``), which
    is allowed here beside :func:`load_checkpoint_safely`'s allow-list; ``allow_pickle`` turns
    ``weights_only`` off for a file the user trusts.

    Args:
        filename (str): the checkpoint.
        map_location (str | torch.device): as for :func:`torch.load`. Default: 'cpu'.
        allow_pickle (bool): load with ``weights_only=False``. Default: False.

    Returns:
        dict: the checkpoint.
    """
    if allow_pickle:
        if not osp.isfile(osp.expanduser(filename)):
            raise FileNotFoundError(f'checkpoint file "{filename}" does not exist')
        return torch.load(osp.expanduser(filename), map_location=map_location,
                          weights_only=False)
    with torch.serialization.safe_globals([argparse.Namespace]):
        try:
            return load_checkpoint_safely(filename, map_location)
        except UnsafeCheckpointError as err:
            raise UnsafeCheckpointError(f'{err} Official checkpoints you trust: --allow-pickle '
                                        '(allow_pickle=True).') from None


def _load_from_local(filename, map_location):
    return load_checkpoint_safely(filename, map_location)


def install_safe_checkpoint_loader():
    """Register the safe loader for local paths (and ``file://``) in MMEngine's CheckpointLoader."""
    register_safe_globals()
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)

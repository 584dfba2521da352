"""Result files written whole or not at all.

A tool interrupted while writing (Ctrl-C, SIGKILL, a full disk) must not leave a half-written
file under the name of a finished one. :func:`atomic_write` writes into a temporary file beside
the target (``.{name}.XXXX.partial``, same file system), flushes and fsyncs it, then renames it
over the target with ``os.replace``, which is atomic on POSIX: a reader sees the old file or the
new one, never a mix. On any error the temporary file is removed; a full disk becomes a
:class:`DiskFullError` that names the folder, what is free and what the file needed.
"""
import contextlib
import errno
import os
import os.path as osp
import shutil
import tempfile
from typing import Optional

PARTIAL_SUFFIX = '.partial'


class DiskFullError(OSError):
    """No space left on the device (errno ENOSPC) while writing into ``folder``.

    Args:
        folder (str): The folder being written.
        needed (int, optional): Bytes the write needed (an estimate), if known.
        what (str): What was being written, for the message. Default: 'a file'.
    """

    def __init__(self, folder: str, needed: Optional[int] = None, what: str = 'a file'):
        self.folder, self.needed = folder, needed
        free = free_bytes(folder)
        need = f', about {format_bytes(needed)} needed' if needed else ''
        super().__init__(errno.ENOSPC, f'no space left on device writing {what} in {folder} '
                         f'({format_bytes(free)} free{need})')

    def __str__(self) -> str:
        return self.strerror


def free_bytes(folder: str) -> int:
    """Bytes free to this user on the file system holding ``folder`` (its nearest existing
    parent); 0 if it cannot be read."""
    while folder and not osp.isdir(folder):
        parent = osp.dirname(folder)
        if parent == folder:
            break
        folder = parent
    try:
        return shutil.disk_usage(folder or '.').free
    except OSError:
        return 0


def format_bytes(size: Optional[int]) -> str:
    """``1536`` -> ``'1.5 KiB'``; sizes up to TiB."""
    size = float(size or 0)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if size < 1024:
            return f'{size:.0f} {unit}' if unit == 'B' else f'{size:.1f} {unit}'
        size /= 1024
    return f'{size:.1f} TiB'


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` is an out-of-space error (ENOSPC, or EDQUOT: a quota is full)."""
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'w', encoding: Optional[str] = None):
    """Open ``path`` for writing so that it appears whole, or not at all.

    Usage::

        with atomic_write('results.json') as f:
            json.dump(results, f)

    Args:
        path (str): The file to write; replaced only when the block ends without an error.
        mode (str): 'w' (text) or 'wb' (bytes). Default: 'w'.
        encoding (str, optional): For text mode. Default: 'utf-8'.

    Yields:
        file: The temporary file, opened with ``mode``.

    Raises:
        DiskFullError: The disk filled up; neither ``path`` nor the temporary file is left
            changed or behind.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    folder = osp.dirname(osp.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.',
                               suffix=PARTIAL_SUFFIX)
    try:
        with os.fdopen(fd, mode, encoding=None if 'b' in mode else (encoding or 'utf-8')) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file is as open()'s
        os.replace(tmp, path)
    except BaseException as err:
        written = osp.getsize(tmp) if osp.exists(tmp) else 0
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if is_disk_full(err):
            raise DiskFullError(folder, written or None, osp.basename(path)) from err
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

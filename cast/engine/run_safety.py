"""What keeps a run from losing work: no checkpoint overwritten by a new run, one run per work
dir, an exit within seconds on SIGINT/SIGTERM that leaves every checkpoint whole, a full disk
that costs no earlier checkpoint, and errors as one line (docs/reliability.md).

A second run on a work dir in use (a re-queued job, a second ``--resume``) is refused at
start-up by :class:`WorkDirLock`: an exclusive ``flock`` on ``{work_dir}/.run.lock``, which
holds the first run's pid and host. The kernel drops the lock when the process ends, however it
ends (SIGKILL included), so a killed run never leaves it stuck.

A new (non-resume) run into a work dir that already holds checkpoints is refused at start-up:
it would overwrite the same-named ``iter_N.pth`` and repoint ``last_checkpoint``, and moving the
old files aside would hide them from ``--resume``. The message names the file and the flags.

On SIGINT or SIGTERM the tools end the process at once (``os._exit``) after killing the data
loader workers: unwinding a ``KeyboardInterrupt`` through a data loader that is starting its
workers can hang for good in multiprocessing's locks. A checkpoint being written when the signal
comes is finished first (its file is written under a temporary name and renamed, so no
half-written ``iter_N.pth`` ever exists), then the process exits.

A worker forked at the moment the signal came is not yet among the children to kill; torch's own
guard (the worker ends when its parent changes) then watches the adoptive parent and the orphan
lives on. So every process forked after :meth:`SignalExit.install` asks the kernel to kill it
when its parent dies, and ends at once if its parent is already gone.
"""
import contextlib
import ctypes
import errno
import fcntl
import logging
import multiprocessing
import os
import os.path as osp
import re
import signal
import socket
import sys
import time
import traceback
from typing import List, Optional

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import MMLogger

from cast.utils.io import DiskFullError, atomic_write, format_bytes, free_bytes, is_disk_full

#: Files MMEngine's CheckpointHook writes (its default templates and ``save_best``).
CHECKPOINT_FILE = re.compile(r'^(iter|epoch)_\d+\.pth$|^best_.*\.pth$')


def checkpoint_dir(cfg) -> str:
    """Where the config's CheckpointHook writes: ``out_dir/<work dir name>`` or the work dir."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    out_dir = hook.get('out_dir')
    if out_dir:
        return osp.join(out_dir, osp.basename(osp.normpath(cfg.work_dir)))
    return cfg.work_dir


def existing_checkpoints(folder: str) -> List[str]:
    """Checkpoint files (and ``last_checkpoint``) in ``folder``, sorted; [] if it is absent."""
    if not osp.isdir(folder):
        return []
    return sorted(name for name in os.listdir(folder)
                  if CHECKPOINT_FILE.match(name) or name == 'last_checkpoint')


def check_work_dir(cfg) -> None:
    """Refuse a new run (``cfg.resume`` False) whose checkpoint folder holds checkpoints.

    Raises:
        FileExistsError: naming the folder, a file that would be overwritten, and the flags to
            use instead (``--resume``, or a new ``--work-dir``).
    """
    if cfg.get('resume'):
        return
    folder = checkpoint_dir(cfg)
    found = existing_checkpoints(folder)
    if not found:
        return
    pth = [name for name in found if name.endswith('.pth')] or found
    example = osp.join(folder, max(pth, key=lambda n: osp.getmtime(osp.join(folder, n))))
    raise FileExistsError(
        f'{folder} already holds checkpoints of a run ({", ".join(found[:6])}'
        f'{", ..." if len(found) > 6 else ""}); a new run there would overwrite {example}. '
        f'Continue that run with --resume, or start a new one with --work-dir NEW_DIR '
        f'(to start from its weights: --cfg-options load_from={example}).')


class SignalExit:
    """SIGINT/SIGTERM handling for the tools: exit at once, but never in a checkpoint write.

    Args:
        work_dir (str, optional): Named in the exit message with its ``last_checkpoint``.
        signals (tuple): The signals handled. Defaults to (SIGINT, SIGTERM).
    """

    def __init__(self, work_dir: Optional[str] = None,
                 signals=(signal.SIGINT, signal.SIGTERM)) -> None:
        self.work_dir = work_dir
        self.signals = tuple(signals)
        self.pid = os.getpid()
        self._depth = 0
        self._pending: Optional[int] = None

    def install(self) -> 'SignalExit':
        for signum in self.signals:
            signal.signal(signum, self._handle)
        _die_with_parent_after_fork()
        return self

    def _handle(self, signum, frame) -> None:
        if os.getpid() != self.pid:  # a forked data loader worker inherited the handler
            if signum == signal.SIGINT:
                raise KeyboardInterrupt  # torch's worker loop ends quietly on it
            os._exit(128 + signum)
        if self._depth and self._pending is None:
            self._pending = signum
            self._say(f'{signal.Signals(signum).name}: finishing the checkpoint being written, '
                      'then stopping')
            return
        self.exit(signum)

    def _say(self, text: str) -> None:
        os.write(2, f'\n{text}\n'.encode())  # no locks: the logger may be mid-write

    def last_checkpoint(self) -> Optional[str]:
        path = osp.join(self.work_dir, 'last_checkpoint') if self.work_dir else None
        if path and osp.isfile(path):
            with open(path) as f:
                return f.read().strip() or None
        return None

    def exit(self, signum: int) -> None:
        """Kill the child processes (data loader workers) and end the process now."""
        last = self.last_checkpoint()
        self._say(f'{signal.Signals(signum).name}: stopped'
                  + (f'; the last checkpoint is {last} (continue with --resume)' if last else ''))
        for child in multiprocessing.active_children():
            with contextlib.suppress(Exception):
                child.kill()
        os._exit(128 + signum)

    @contextlib.contextmanager
    def deferred(self):
        """Hold the signals back while the block runs (a signal that came exits after it)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending is not None:
                self.exit(self._pending)

    def guard_checkpoints(self, runner) -> None:
        """Make ``runner.save_checkpoint`` whole-or-nothing and signal-proof: a local file is
        written as ``{name}.partial``, fsynced and renamed, and ``last_checkpoint`` updated
        (atomically), all inside :meth:`deferred`. A save that fails (a full disk) removes its
        partial file and raises :class:`CheckpointSaveError`."""
        save = runner.save_checkpoint
        pending: List[str] = []  # old checkpoints CheckpointHook removes, once a save succeeded
        runner.register_hook(_RemoveAfterSave(pending))

        def save_whole(out_dir, filename, *args, **kwargs):
            with self.deferred():
                # other ranks write nothing (save_checkpoint is master_only); a remote backend
                # saves as MMEngine saves
                if not is_main_process() or not osp.isdir(out_dir):
                    return save(out_dir, filename, *args, **kwargs)
                partial = osp.join(out_dir, f'{filename}.partial')
                try:
                    save(out_dir, osp.basename(partial), *args, **kwargs)
                    _fsync(partial)  # on disk before its name says it is whole (a crash)
                    os.replace(partial, osp.join(out_dir, filename))
                    if re.match(r'^(iter|epoch)_\d+\.pth$', filename):
                        # what CheckpointHook writes next, but atomically and before a
                        # deferred signal ends the process
                        with atomic_write(osp.join(runner.work_dir, 'last_checkpoint')) as f:
                            f.write(osp.join(out_dir, filename))
                    while pending:
                        old = pending.pop(0)
                        if osp.isfile(old):
                            os.remove(old)
                except Exception as err:
                    written = osp.getsize(partial) if osp.exists(partial) else 0
                    with contextlib.suppress(OSError):
                        os.remove(partial)
                    if isinstance(err, OSError):
                        raise CheckpointSaveError(out_dir, filename, err, written) from err
                    raise

        runner.save_checkpoint = save_whole


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _DeferRemoval:
    """A CheckpointHook's file backend whose ``remove`` waits for the next successful save."""

    def __init__(self, backend, pending: List[str]):
        self._backend, self._pending = backend, pending

    def remove(self, path) -> None:
        self._pending.append(str(path))

    def __getattr__(self, name):
        return getattr(self._backend, name)


class _RemoveAfterSave(Hook):
    """MMEngine's CheckpointHook removes the oldest checkpoint beyond ``max_keep_ckpts`` before
    it saves the next one: a failed save would leave one checkpoint fewer than kept. After the
    hook's ``before_train`` (it sets its file backend there), its removals of local files wait
    until :meth:`SignalExit.guard_checkpoints`'s next save has succeeded."""

    priority = 'LOWEST'

    def __init__(self, pending: List[str]):
        self.pending = pending

    def before_train(self, runner) -> None:
        for hook in runner.hooks:
            backend = getattr(hook, 'file_backend', None)
            if isinstance(hook, CheckpointHook) and isinstance(backend, LocalBackend):
                hook.file_backend = _DeferRemoval(backend, self.pending)


class CheckpointSaveError(OSError):
    """A checkpoint could not be written (a full disk, a quota, a lost mount); its partial file
    is removed and the earlier checkpoints are as they were.

    Args:
        folder (str): Where it was written.
        filename (str): Its name.
        cause (OSError): The error of the write.
        written (int): Bytes written before it failed.
    """

    def __init__(self, folder: str, filename: str, cause: OSError, written: int = 0):
        kept = [name for name in existing_checkpoints(folder) if name.endswith('.pth')]
        newest = max((osp.join(folder, n) for n in kept), key=osp.getmtime, default=None)
        if is_disk_full(cause):
            needed = max(written, osp.getsize(newest) if newest else 0)
            what = (f'no space left on device saving {filename} in {folder}: '
                    f'{format_bytes(free_bytes(folder))} free, '
                    f'about {format_bytes(needed)} needed')
        else:
            what = f'saving {filename} in {folder} failed: {cause.strerror or cause}'
        keep = (f'the earlier checkpoints are whole (newest: {osp.basename(newest)}); '
                'free space, then continue with --resume' if newest else
                'no earlier checkpoint; free space, then start again')
        super().__init__(cause.errno, f'{what}; {keep}')

    def __str__(self) -> str:
        return self.strerror


class WorkDirInUseError(RuntimeError):
    """Another live run holds the work dir's lock."""


class WorkDirLock:
    """One run per work dir: an exclusive ``flock`` on ``{work_dir}/.run.lock``.

    The file holds ``pid``, ``host`` and the start time of the run holding the lock. The kernel
    releases the lock when the holder's last file descriptor closes: when the process ends,
    however it ends. (Data loader workers inherit the descriptor; they die with their parent,
    see :class:`SignalExit`.) On NFS, Linux implements ``flock`` with byte-range locks, which
    the server holds across machines.

    Args:
        work_dir (str): The folder to lock; created if absent.
    """

    FILENAME = '.run.lock'

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, self.FILENAME)
        self.fd: Optional[int] = None

    def acquire(self) -> 'WorkDirLock':
        """Take the lock, or raise :class:`WorkDirInUseError` naming the holder."""
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.read(fd, 512).decode(errors='replace').strip() or 'a run'
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise WorkDirInUseError(
                f'{self.work_dir} is in use by another run ({holder}); two runs there would '
                'write the same checkpoints. Wait for it to end (or stop it), or use another '
                '--work-dir') from None
        os.ftruncate(fd, 0)
        os.write(fd, (f'pid {os.getpid()} on host {socket.gethostname()}, started '
                      f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n').encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def is_launch_rank_zero() -> bool:
    """Whether this process is rank 0 of its launch (before the process group exists):
    torchrun's ``RANK``, slurm's ``SLURM_PROCID``, or no launcher."""
    return int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))) == 0


def fail_on_log_errors(logger: logging.Logger) -> None:
    """Make a failed write of ``logger``'s log files (a full disk) raise, as a failed write of
    MMEngine's ``scalars.json`` does, instead of printing logging's ``--- Logging error ---``
    traceback for every record and going on without a log."""

    def raiser(handler):
        def handle_error(record):
            err = sys.exc_info()[1]  # logging calls this inside its ``except`` block
            if is_disk_full(err):
                raise DiskFullError(osp.dirname(handler.baseFilename),
                                    what=f'the log {osp.basename(handler.baseFilename)}') from err
            raise err
        return handle_error

    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handleError = raiser(handler)


def one_line(err: BaseException) -> str:
    """An exception as one line: the last line of a traceback quoted in the message (a data
    loader worker's), else the message with its whitespace collapsed; the type's name first
    unless the message is one of ours."""
    text = str(err)
    if 'Traceback (most recent call last)' in text:
        text = [line for line in text.splitlines() if line.strip()][-1]
        return ' '.join(text.split())
    if is_disk_full(err) and not isinstance(err, (CheckpointSaveError, DiskFullError)):
        if not err.filename:
            return 'no space left on device'
        return (f'no space left on device writing {err.filename} '
                f'({format_bytes(free_bytes(osp.dirname(err.filename)))} free)')
    text = ' '.join(text.split()) or repr(err)
    ours = (CheckpointSaveError, DiskFullError, WorkDirInUseError, FileExistsError,
            FileNotFoundError)
    if isinstance(err, ours) or type(err).__module__.startswith('cast.'):
        return text
    return f'{type(err).__name__}: {text}'


def report_error(tool: str, err: BaseException) -> int:
    """Print ``{tool}: error: <one line>`` on stderr and write the traceback into the run's log
    file (MMEngine's current logger, if it has one). Returns the exit code, 1."""
    trace = ''.join(traceback.format_exception(type(err), err, err.__traceback__))
    log_file = None
    if MMLogger.check_instance_created(MMLogger.get_current_instance().instance_name):
        for handler in MMLogger.get_current_instance().handlers:
            if isinstance(handler, logging.FileHandler):
                with contextlib.suppress(Exception):  # the disk may be full
                    handler.stream.write(trace)
                    handler.flush()
                    log_file = handler.baseFilename
    where = f'the traceback is in {log_file}; ' if log_file else ''
    sys.stderr.write(f'{tool}: error: {one_line(err)} ({where}--debug prints it)\n')
    return 1


_FORK_HOOKS = {'installed': False, 'parent': None, 'prctl': None}
_PR_SET_PDEATHSIG = 1


def _before_fork() -> None:
    _FORK_HOOKS['parent'] = os.getpid()  # the child's copy tells it who forked it


def _after_fork_in_child() -> None:
    prctl = _FORK_HOOKS['prctl']  # resolved in the parent: no dlopen in a forked child
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != _FORK_HOOKS['parent']:  # the parent died before the request above
        os._exit(128 + signal.SIGKILL)


def _die_with_parent_after_fork() -> None:
    """Every process forked from now on (data loader workers) dies with its parent (Linux)."""
    if _FORK_HOOKS['installed'] or not sys.platform.startswith('linux'):
        return
    with contextlib.suppress(OSError, AttributeError):
        _FORK_HOOKS['prctl'] = ctypes.CDLL(None, use_errno=True).prctl
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
    _FORK_HOOKS['installed'] = True

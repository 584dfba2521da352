"""What keeps a run from losing work: no checkpoint overwritten by a new run, and an exit within
seconds on SIGINT/SIGTERM that leaves every checkpoint whole.

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
import multiprocessing
import os
import os.path as osp
import re
import signal
import sys
from typing import List, Optional

from mmengine.dist import is_main_process

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
        written as ``{name}.partial`` and renamed, inside :meth:`deferred`."""
        save = runner.save_checkpoint

        def save_whole(out_dir, filename, *args, **kwargs):
            with self.deferred():
                # other ranks write nothing (save_checkpoint is master_only); a remote backend
                # saves as MMEngine saves
                if not is_main_process() or not osp.isdir(out_dir):
                    return save(out_dir, filename, *args, **kwargs)
                partial = f'{filename}.partial'
                save(out_dir, partial, *args, **kwargs)
                os.replace(osp.join(out_dir, partial), osp.join(out_dir, filename))

        runner.save_checkpoint = save_whole


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

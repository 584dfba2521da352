"""Faults injected into a real training run, from inside it: ``FaultHook``, imported by
tests/faults/configs/*.py through ``custom_imports`` and set with ``--cfg-options
custom_hooks.1.action=... custom_hooks.1.at=... custom_hooks.1.iter=N``.

The injection is at the boundary where the fault would come from: a SIGKILL sent to the process
at a hook point, the bytes of a checkpoint file written half and then the process killed or the
write refused with ENOSPC (MMEngine's LocalBackend.put, the one ``open``/``write`` that writes a
checkpoint), image files overwritten on disk, a data loader worker killed. Everything above that
boundary (MMEngine's runner and CheckpointHook, the tools' own code) runs as it does for users.
"""
import errno
import glob
import os
import signal
import time

from mmengine.dist import get_rank
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook

from mmseg.registry import HOOKS

ACTIONS = ('none', 'kill', 'kill_in_write', 'enospc_in_write', 'corrupt', 'pause',
           'kill_worker', 'fill')


def _fail_next_checkpoint_write(action):
    """Make the next ``LocalBackend.put`` of a ``.pth`` file write half its bytes, then
    SIGKILL the process (``kill_in_write``) or fail as a full disk does (``enospc_in_write``)."""
    put = LocalBackend.put

    def put_then_fail(self, obj, filepath):
        if '.pth' not in os.path.basename(str(filepath)):
            return put(self, obj, filepath)
        LocalBackend.put = put  # once
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            if action == 'kill_in_write':
                os.kill(os.getpid(), signal.SIGKILL)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))

    LocalBackend.put = put_then_fail


@HOOKS.register_module()
class FaultHook(Hook):
    """Inject ``action`` at hook point ``at`` of training iteration ``iter`` (1-based).

    Args:
        action (str): One of :data:`ACTIONS`. Default: 'none'.
        at (str): 'before_train_iter', 'after_train_iter', 'before_save_checkpoint' or
            'after_val_iter' (the first validation iteration after training iteration
            ``iter``). Default: 'before_train_iter'.
        iter (int): The training iteration. Default: 3.
        paths (str): Glob of the files ``corrupt`` overwrites; for ``fill``, the file written
            until the disk is full (as another program fills it). Default: ''.
        mark (str): File written (holding the pid) when the fault fires. Default: ''.
        seconds (float): How long ``pause`` sleeps; 0 with ``fill``: log a record of 8 KiB
            once the disk is full. Default: 60.
        rank (int): The rank that injects. Default: 0.
    """

    priority = 'LOWEST'

    def __init__(self, action='none', at='before_train_iter', iter=3, paths='', mark='',
                 seconds=60.0, rank=0):
        assert action in ACTIONS, f'FaultHook: action must be one of {ACTIONS}, not {action!r}'
        self.action, self.at, self.iter = action, at, iter
        self.paths, self.mark, self.seconds, self.rank = paths, mark, seconds, rank
        self.fired = False

    def _maybe_fire(self, runner, point):
        if (self.fired or self.action == 'none' or point != self.at
                or runner.iter + (0 if point == 'after_val_iter' else 1) != self.iter
                or get_rank() != self.rank):
            return
        self.fired = True
        if self.mark:
            with open(self.mark, 'w') as f:
                f.write(str(os.getpid()))
        if self.action == 'kill':
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.action in ('kill_in_write', 'enospc_in_write'):
            _fail_next_checkpoint_write(self.action)
        elif self.action == 'corrupt':
            files = sorted(glob.glob(self.paths))
            assert files, f'FaultHook: no file matches {self.paths}'
            for path in files:
                with open(path, 'wb') as f:
                    f.write(b'\0 not an image')
        elif self.action == 'fill':
            with open(self.paths, 'wb') as f:
                try:
                    while True:
                        f.write(b'\0' * (1 << 16))
                        f.flush()
                except OSError as err:
                    assert err.errno == errno.ENOSPC, err
            if self.seconds == 0:  # then a log record longer than a page, as a hook may write
                runner.logger.info('a long record: ' + '.' * 8192)
        elif self.action == 'pause':
            time.sleep(self.seconds)
        elif self.action == 'kill_worker':
            workers = [p for p in __import__('multiprocessing').active_children()]
            assert workers, 'FaultHook: no data loader worker to kill'
            os.kill(workers[0].pid, signal.SIGKILL)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._maybe_fire(runner, 'before_train_iter')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._maybe_fire(runner, 'after_train_iter')

    def before_save_checkpoint(self, runner, checkpoint):
        self._maybe_fire(runner, 'before_save_checkpoint')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._maybe_fire(runner, 'after_val_iter')

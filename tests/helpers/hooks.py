"""Hooks that interrupt or mark a tiny training run, imported by the configs of tests/data/configs
through ``custom_imports`` (``tests.helpers.hooks``, the repository root on ``PYTHONPATH``)."""
import time

from mmengine.hooks import Hook

from mmseg.registry import HOOKS


@HOOKS.register_module()
class InterruptTrainingHook(Hook):
    """Exit the process (as a kill would) right after iteration ``after_iter`` was checkpointed."""

    priority = 'LOWEST'  # after CheckpointHook has written the checkpoint of this iteration

    def __init__(self, after_iter):
        self.after_iter = after_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.after_iter:
            raise SystemExit(17)


@HOOKS.register_module()
class MarkHook(Hook):
    """Write ``path`` (holding the iteration) when the runner reaches ``at``: a hook point such
    as 'before_val_epoch' (validation is starting, its data loader not yet iterated) or
    'after_train_iter' (with ``after_iter``: once that iteration is done). The signal tests wait
    for the file, then send the signal."""

    priority = 'LOWEST'

    def __init__(self, path, at='before_val_epoch', after_iter=None, val_iter_seconds=0.0):
        self.path, self.at, self.after_iter = path, at, after_iter
        self.val_iter_seconds = val_iter_seconds  # slows validation: a signal lands inside it

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        time.sleep(self.val_iter_seconds)

    def _mark(self, runner):
        with open(self.path, 'w') as f:
            f.write(str(runner.iter))

    def before_val_epoch(self, runner):
        if self.at == 'before_val_epoch':
            self._mark(runner)

    def before_test_epoch(self, runner):
        if self.at == 'before_test_epoch':
            self._mark(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.at == 'after_train_iter' and runner.iter + 1 == self.after_iter:
            self._mark(runner)

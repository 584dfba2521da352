"""A hook that interrupts training, imported by the resume test through ``custom_imports``."""
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

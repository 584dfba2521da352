"""Hooks that hand dataset facts to the model."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS


@HOOKS.register_module()
class DatasetMetaHook(Hook):
    """Set ``model.dataset_meta`` to the metainfo of the dataset a loop is about to run on.

    MMEngine's loops give the metainfo to the evaluator and the visualizer but not to the model.
    Models that need dataset facts at inference (the class hierarchy for hierarchy-consistent
    decoding in :class:`~cast.segmentors.HierarchicalEncoderDecoder`) read it from there.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _set(runner, dataloader):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        metainfo = getattr(dataloader.dataset, 'metainfo', None)
        if metainfo is not None:
            model.dataset_meta = metainfo

    def before_train(self, runner):
        self._set(runner, runner.train_dataloader)

    def before_val(self, runner):
        self._set(runner, runner.val_dataloader)

    def before_test(self, runner):
        self._set(runner, runner.test_dataloader)

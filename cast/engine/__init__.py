from .checkpoint import (
                         MMENGINE_SAFE_GLOBALS,
                         UnsafeCheckpointError,
                         install_safe_checkpoint_loader,
                         load_cast_checkpoint,
                         load_checkpoint_safely,
                         register_safe_globals,
)
from .decodings import decodings_table, test_decoding
from .eval_selection import evaluator_cfgs, select_eval_metrics
from .hooks import DatasetMetaHook
from .launch import (
                         finish_distributed,
                         load_config,
                         parse_launch_args,
                         prepare_distributed,
                         select_dist_backend,
                         select_sync_bn,
)
from .resume import ResumeCheckHook, ResumeError, choose_resume_checkpoint
from .vis_backend import WholeFileLocalVisBackend

# Importing `cast` makes MMEngine's checkpoint loading work under torch's weights_only=True.
install_safe_checkpoint_loader()

__all__ = [
    'DatasetMetaHook', 'decodings_table', 'evaluator_cfgs', 'test_decoding',
    'MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError', 'finish_distributed',
    'install_safe_checkpoint_loader', 'load_cast_checkpoint', 'load_checkpoint_safely',
    'load_config', 'parse_launch_args', 'prepare_distributed', 'register_safe_globals',
    'ResumeCheckHook', 'ResumeError', 'choose_resume_checkpoint', 'WholeFileLocalVisBackend',
    'select_dist_backend', 'select_eval_metrics', 'select_sync_bn'
]

"""Choices the tools make before building a runner."""
import argparse
import os
import os.path as osp

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, DictAction


def parse_launch_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Add the arguments every tool shares (``--cfg-options``, ``--launcher``,
    ``--local-rank``), parse ``argv`` and export ``LOCAL_RANK``, as MMSeg's tools do (torchrun
    passes it in the environment, torch.distributed.launch as an argument)."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path, launcher='none', cfg_options=None, work_dir=None):
    """Load a config as MMSeg's tools do: command-line overrides, then the work dir, then
    the norm layers for where it runs (:func:`select_sync_bn`).

    Args:
        path (str): Config file.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        cfg_options (dict, optional): ``--cfg-options`` to merge.
        work_dir (str, optional): ``--work-dir``; else the config's, else
            ``./work_dirs/<config name>``.

    Returns:
        mmengine.Config: The config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file "{path}" does not exist')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    select_sync_bn(cfg, sync=launcher != 'none' and torch.cuda.is_available())
    return cfg


def select_sync_bn(cfg, sync):
    """SyncBN where it can synchronise (distributed runs on CUDA), BN everywhere else.

    The UperNet/SegFormer configs ask for ``SyncBN`` as MMSeg's do. MMEngine's runner reverts
    SyncBN to BN only for non-distributed runs; a distributed run without CUDA (gloo) would keep
    it, and torch's SyncBatchNorm refuses CPU tensors. Models built from the config outside the
    runner (benchmarks, tools) get the same choice from here.

    Args:
        cfg (mmengine.Config): The config; every ``type='SyncBN'`` in ``cfg.model`` becomes
            ``'BN'`` in place unless ``sync``.
        sync (bool): Keep SyncBN.

    Returns:
        int: The number of norm configs switched to BN.
    """
    if sync or cfg.get('model') is None:
        return 0
    return _sync_bn_to_bn(cfg.model)


def _sync_bn_to_bn(node):
    count = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _sync_bn_to_bn(value)
    return count


def select_dist_backend(cfg):
    """Use NCCL with CUDA and gloo without, unless the config names a backend itself.

    Args:
        cfg (mmengine.Config): The config; ``cfg.env_cfg.dist_cfg.backend`` is filled in place.

    Returns:
        str: The backend in use.
    """
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if not torch.cuda.is_available() and dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    dist_cfg.setdefault('backend', 'nccl')
    return dist_cfg['backend']


def prepare_distributed(cfg):
    """Make an MMEngine distributed run work on CPU.

    MMEngine 0.10.7 assumes CUDA for distributed runs: its launcher calls
    ``torch.cuda.set_device`` (absent from a CPU build of torch) and it wraps the model in DDP with
    ``device_ids=[LOCAL_RANK]`` (refused for a CPU module). Without CUDA, and for torchrun's
    ``pytorch`` launcher, this starts the process group itself (MMEngine then skips its own) and
    asks for a DDP wrapper without device ids. With CUDA it does nothing.

    Args:
        cfg (mmengine.Config): The config, after :func:`select_dist_backend`; edited in place.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'distributed runs without CUDA are supported with torchrun '
                           f'(tools/dist_train.sh, --launcher pytorch), not "{cfg.launcher}"')
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend=cfg.env_cfg.dist_cfg.backend,
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))


def finish_distributed():
    """End a distributed run's process group before the interpreter exits.

    torch asks for ``destroy_process_group`` at the end of a run. 2-process CPU (gloo) runs
    aborted after finishing ("terminate called without an active exception", exit code -6) in
    3 of 10 runs without it and 3 of 25 with it: fewer, not none; the rest's cause is not known.
    No-op outside distributed runs.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()

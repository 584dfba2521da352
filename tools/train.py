"""Train a segmentor (or a CAST classifier) with MMEngine's runner, as MMSeg's tools/train.py.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options k=v ...]
    tools/dist_train.sh CONFIG GPUS [...]         # the same, one process per GPU (torchrun)
"""
import argparse
import logging
import os

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

import cast  # noqa: F401  registers CAST's modules and the safe checkpoint loader
from cast.engine import load_config, prepare_distributed, select_dist_backend


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume', action='store_true', default=False,
        help='resume from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    # torchrun passes LOCAL_RANK in the environment; torch.distributed.launch as an argument.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args):
    """Load the config and apply the command line to it."""
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg.resume = args.resume
    select_dist_backend(cfg)
    prepare_distributed(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()

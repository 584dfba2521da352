"""Test (and evaluate) a checkpoint with MMEngine's runner, as MMSeg's tools/test.py.

    python tools/test.py CONFIG CHECKPOINT [--eval mIoU SpCS SeCS] [--show-dir DIR] [--out DIR]
    tools/dist_test.sh CONFIG CHECKPOINT GPUS [...]

``--eval`` selects which of the configured evaluator's metrics are reported (``iou_metrics`` of
MMSeg's IoUMetric, ``hier_metrics`` of CAST's HierarchicalMetric).
"""
import argparse
import os.path as osp

from mmengine.runner import Runner

import cast  # noqa: F401  registers CAST's modules and the safe checkpoint loader
from cast.engine import (
    finish_distributed,
    load_config,
    parse_launch_args,
    prepare_distributed,
    select_dist_backend,
    select_eval_metrics,
)
from cast.engine.run_safety import SignalExit


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the logs and metrics')
    parser.add_argument(
        '--eval', nargs='+', metavar='METRIC',
        help='metrics to report, e.g. "mIoU" or "mIoU SpCS SeCS"')
    parser.add_argument(
        '--out', help='directory where painted predictions are written as label-map PNGs')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='directory where pictures of predictions beside ground truth are saved')
    parser.add_argument(
        '--show-interval', type=int, default=1,
        help='draw every N-th test image with --show/--show-dir (MMSeg\'s hook default is 50)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test time augmentation')
    return parse_launch_args(parser, argv)


def trigger_visualization_hook(cfg, args):
    """Switch on the configured visualization hook for ``--show``/``--show-dir``."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError(
            '--show/--show-dir need a "visualization" hook in cfg.default_hooks, '
            f'which {args.config} does not define.')
    hook['draw'] = True
    hook['interval'] = args.show_interval
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def build_config(args):
    """Load the config and apply the command line to it."""
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint file "{args.checkpoint}" does not exist')
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.eval:
        select_eval_metrics(cfg, args.eval)
    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        for evaluator in _as_list(cfg.test_evaluator):
            evaluator['output_dir'] = args.out
    select_dist_backend(cfg)
    prepare_distributed(cfg)
    return cfg


def _as_list(evaluator):
    return evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    SignalExit().install()  # SIGINT/SIGTERM end the test within seconds, workers included
    runner = Runner.from_cfg(cfg)
    try:
        runner.test()
    finally:
        finish_distributed()


if __name__ == '__main__':
    main()

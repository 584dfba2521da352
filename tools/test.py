"""Test (and evaluate) a checkpoint with MMEngine's runner, as MMSeg's tools/test.py.

    python tools/test.py CONFIG CHECKPOINT [--eval mIoU SpCS SeCS] [--show-dir DIR] [--out DIR]
    tools/dist_test.sh CONFIG CHECKPOINT GPUS [...]

``--eval`` selects which of the configured evaluator's metrics are reported (``iou_metrics`` of
MMSeg's IoUMetric, ``hier_metrics`` of CAST's HierarchicalMetric). ``--compare-decodings
independent greedy`` tests a hierarchical model again with those decodings and prints one table
of every level's mIoU and SpCS / SeCS, the config's decoding first.

``--out DIR`` is written as ``DIR.partial`` and renamed to ``DIR`` when the test has ended: an
interrupted run leaves no ``DIR`` that looks whole. A ``DIR`` that holds files is replaced only
with ``--overwrite`` (after the new one is whole). ``--show-dir`` pictures are written whole or
the run stops with the reason (a full disk), not skipped.
"""
import argparse
import os
import os.path as osp
import shutil
import sys

from mmengine.dist import barrier, is_main_process
from mmengine.runner import Runner

import cast  # noqa: F401  registers CAST's modules and the safe checkpoint loader
from cast.engine import (
    decodings_table,
    evaluator_cfgs,
    finish_distributed,
    load_config,
    parse_launch_args,
    prepare_distributed,
    select_dist_backend,
    select_eval_metrics,
    test_decoding,
)
from cast.engine.run_safety import SignalExit, is_launch_rank_zero, report_error


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
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an --out directory that already holds files')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='directory where pictures of predictions beside ground truth are saved')
    parser.add_argument(
        '--show-interval', type=int, default=1,
        help='draw every N-th test image with --show/--show-dir (MMSeg\'s hook default is 50)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test time augmentation')
    parser.add_argument(
        '--compare-decodings', nargs='+', metavar='DECODING', default=[],
        help="test again with each of these decodings (independent, greedy, joint, hssn) and "
        "print one table of every level's mIoU and the consistency metrics, the config's "
        'decoding first')
    parser.add_argument('--debug', action='store_true',
                        help='print the traceback of an error (by default: one line on stderr)')
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
        backends = cfg.visualizer.get('vis_backends') or [dict(type='LocalVisBackend')]
        for backend in backends:  # pictures whole, or an error (cv2.imwrite only returns False)
            if backend.get('type') in ('LocalVisBackend', 'mmengine.LocalVisBackend'):
                backend['type'] = 'mmseg.WholeFileLocalVisBackend'
        cfg.visualizer['vis_backends'] = backends
    return cfg


def partial_out_dir(out):
    """Where ``--out`` is written until the test ends."""
    return osp.normpath(out) + '.partial'


def check_out_dir(out, overwrite):
    """Refuse an ``--out`` that holds files unless ``overwrite``; remove what an interrupted
    run left in its ``.partial`` folder (rank 0 of the launch)."""
    if osp.isdir(out) and os.listdir(out) and not overwrite:
        raise FileExistsError(f'{out} already holds files ({", ".join(sorted(os.listdir(out))[:3])}'
                              ', ...): choose another --out, or pass --overwrite to replace it '
                              'once the new predictions are whole')
    if osp.exists(out) and not osp.isdir(out):
        raise FileExistsError(f'--out {out} is a file; --out names a directory')
    if is_launch_rank_zero() and osp.isdir(partial_out_dir(out)):
        shutil.rmtree(partial_out_dir(out))


def publish_out_dir(out):
    """Rename ``--out``'s ``.partial`` folder to ``out`` (an old ``out`` is removed after)."""
    partial = partial_out_dir(out)
    if not osp.isdir(partial):
        os.makedirs(partial)  # no predictions (an empty split): an empty, finished folder
    old = None
    if osp.isdir(out):
        old = f'{osp.normpath(out)}.old-{os.getpid()}'
        os.replace(out, old)
    os.replace(partial, out)
    if old:
        shutil.rmtree(old)


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
    if args.tta and args.compare_decodings:
        raise ValueError('--compare-decodings compares the model\'s decodings; not with --tta')
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        check_out_dir(args.out, args.overwrite)
        for evaluator in evaluator_cfgs(cfg.test_evaluator):
            evaluator['output_dir'] = partial_out_dir(args.out)
    select_dist_backend(cfg)
    prepare_distributed(cfg)
    return cfg


def compare_decodings(cfg, metrics, decodings):
    """Test ``cfg`` again per decoding and print the table, ``cfg``'s decoding first."""
    first = cfg.model.get('decoding', 'independent')
    results = {first: metrics}
    for decoding in decodings:
        if decoding not in results:
            results[decoding] = test_decoding(cfg, decoding)
    if is_main_process():
        ways = f'{len(results)} ways' if len(results) > 1 else 'one way'
        print(f'\nThe same checkpoint, decoded {ways} ({cfg.load_from}):\n\n'
              f'{decodings_table(results)}\n', flush=True)


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except Exception as err:  # noqa: BLE001  every error ends as one line unless --debug
        if args.debug:
            raise
        sys.exit(report_error('tools/test.py', err))


def run(args):
    cfg = build_config(args)
    SignalExit().install()  # SIGINT/SIGTERM end the test within seconds, workers included
    runner = Runner.from_cfg(cfg)
    try:
        metrics = runner.test()
        if args.out is not None:
            barrier()  # every rank has written its predictions
            if is_main_process():
                publish_out_dir(args.out)
        if args.compare_decodings:
            compare_decodings(cfg, metrics, args.compare_decodings)
    finally:
        finish_distributed()


if __name__ == '__main__':
    main()

"""Train a segmentor (or a CAST classifier) with MMEngine's runner, as MMSeg's tools/train.py.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--tensorboard] [--debug] [--cfg-options k=v ...]
    tools/dist_train.sh CONFIG GPUS [...]         # the same, one process per GPU (torchrun)

A new run into a work dir that holds checkpoints is refused (use --resume, or another
--work-dir), and so is a second run on a work dir in use; --resume continues from the newest
whole checkpoint (a damaged one is named and skipped); SIGINT/SIGTERM end the run within
seconds with every checkpoint whole; a full disk ends it with the earlier checkpoints whole.
Errors are one line on stderr (the traceback goes to the log file; --debug prints it).
See docs/reliability.md.
"""
import argparse
import importlib.util
import logging
import sys

import torch
from mmengine.logging import print_log
from mmengine.runner import Runner

import cast  # noqa: F401  registers CAST's modules and the safe checkpoint loader
from cast.engine import (
    finish_distributed,
    load_config,
    parse_launch_args,
    prepare_distributed,
    select_dist_backend,
)
from cast.engine.resume import (
    ResumeError,
    choose_resume_checkpoint,
    remove_partial_checkpoints,
    set_aside_unreadable,
)
from cast.engine.run_safety import (
    SignalExit,
    WorkDirInUseError,
    WorkDirLock,
    check_work_dir,
    checkpoint_dir,
    fail_on_log_errors,
    is_launch_rank_zero,
    report_error,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', const='auto', metavar='CHECKPOINT',
        help='resume from the newest whole checkpoint in the work dir, or from CHECKPOINT')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic mixed precision training (CUDA float16 autocast)')
    parser.add_argument(
        '--tensorboard', action='store_true', default=False,
        help='also log to TensorBoard (MMEngine\'s TensorboardVisBackend, under the work dir; '
        'needs `pip install .[tensorboard]`)')
    parser.add_argument(
        '--debug', action='store_true', default=False,
        help='print the traceback of an error (by default: one line on stderr)')
    return parse_launch_args(parser, argv)


def refuse(message):
    """End the tool at once with ``message`` (before anything is built)."""
    raise SystemExit(f'tools/train.py: error: {message}')


def add_tensorboard(cfg):
    """Add MMEngine's TensorboardVisBackend to the visualizer (events under
    ``{work_dir}/{timestamp}/vis_data``)."""
    if importlib.util.find_spec('tensorboard') is None:
        refuse('--tensorboard needs the tensorboard package: pip install ".[tensorboard]" '
               '(or pip install -r requirements/tensorboard.txt)')
    visualizer = cfg.setdefault('visualizer', dict(type='Visualizer'))
    backends = list(visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer['vis_backends'] = backends


def build_config(args):
    """Load the config and apply the command line to it."""
    if args.amp and not torch.cuda.is_available():
        refuse('--amp trains with CUDA float16 autocast (MMEngine\'s AmpOptimWrapper) and this '
               'machine has no CUDA device (torch.cuda.is_available() is False); train without '
               '--amp (float32) on the CPU')
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
    if (cfg.get('optim_wrapper') or {}).get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        refuse(f"{args.config} sets optim_wrapper.type='AmpOptimWrapper' (CUDA float16 "
               'autocast) and this machine has no CUDA device; train on the CPU with '
               "--cfg-options optim_wrapper.type=OptimWrapper")
    if args.tensorboard:
        add_tensorboard(cfg)
    cfg.resume = bool(args.resume)
    select_dist_backend(cfg)
    prepare_distributed(cfg)
    return cfg


def claim_work_dir(cfg, args):
    """Lock the work dir for this run, refuse a new run over checkpoints, and choose the
    checkpoint to resume. Returns the lock (None on ranks other than 0), to hold until the
    process ends."""
    lock = lock_work_dir(cfg)
    try:
        check_work_dir(cfg)
    except FileExistsError as err:
        refuse(str(err))
    if args.resume:
        choose_checkpoint(cfg, None if args.resume == 'auto' else args.resume)
    else:
        add_hook(cfg, dict(type='mmseg.ResumeCheckHook'))
    return lock


def choose_checkpoint(cfg, named):
    """Point the runner at the checkpoint to resume (MMEngine's ``resume`` + ``load_from``):
    ``named`` (``--resume FILE``), or the newest whole checkpoint of the work dir
    (:func:`~cast.engine.resume.choose_resume_checkpoint`). With nothing to resume, a config's
    ``load_from`` starts a new run from those weights (a re-queued job's first start), where
    MMEngine would try to resume from it. Every rank chooses alike."""
    folder = checkpoint_dir(cfg)
    try:
        path, note = choose_resume_checkpoint(cfg.work_dir, folder, named)
    except ResumeError as err:
        refuse(str(err))
    if is_launch_rank_zero():  # the lock is held: a .partial file is a save a kill cut short
        for partial in remove_partial_checkpoints(folder):
            note = (note + ' ' if note else '') + f'Removed {partial} (a save cut short).'
        for moved in set_aside_unreadable(folder, path):
            note = (note + ' ' if note else '') + f'Kept the unreadable file as {moved}.'
    if path is None and cfg.get('load_from'):
        cfg.resume = False
        note = (note + ' ' if note else '') + (
            f'Nothing to resume in {folder}: a new run from the weights of '
            f'load_from={cfg.load_from}.')
    else:
        cfg.load_from = path
    add_hook(cfg, dict(type='mmseg.ResumeCheckHook', checkpoint=path, note=note))


def add_hook(cfg, hook):
    """Append ``hook`` to ``cfg.custom_hooks`` (a ConfigDict's ``setdefault`` returns a copy)."""
    cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), hook]


def lock_work_dir(cfg):
    """Take the work dir's lock (rank 0 of a launch; the other ranks are its own run)."""
    if not is_launch_rank_zero():
        return None
    try:
        return WorkDirLock(cfg.work_dir).acquire()
    except WorkDirInUseError as err:
        refuse(str(err))


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except Exception as err:  # noqa: BLE001  every error ends as one line unless --debug
        if args.debug:
            raise
        sys.exit(report_error('tools/train.py', err))


def run(args):
    cfg = build_config(args)
    lock = claim_work_dir(cfg, args)  # noqa: F841  held while the run lives
    stop = SignalExit(cfg.work_dir).install()
    runner = Runner.from_cfg(cfg)
    stop.guard_checkpoints(runner)
    fail_on_log_errors(runner.logger)
    try:
        runner.train()
    finally:
        finish_distributed()


if __name__ == '__main__':
    main()

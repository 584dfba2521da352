"""Nothing lost, nothing hung: tools/train.py and tools/test.py run as users run them (real
runners, data loader workers) on tiny data, then interrupted, refused or logged.

cast.engine.run_safety's own tests (which work dirs are refused, a signal during a checkpoint
write) are in tests/engine/test_run_safety.py."""
import glob
import hashlib
import importlib.util
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers.tools import data_options, process_gone, train

WORKERS_CONFIG = 'tests/data/configs/tiny_demo_workers.py'
EXIT_WITHIN = 30  # seconds from the signal to the end of the process (it takes about one)


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def start(args, repo_root, env, log):
    """Start a tool in its own process group, as a shell runs a foreground job."""
    return subprocess.Popen(args, cwd=repo_root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(path, proc, log_path, timeout=600):
    deadline = time.time() + timeout
    while not osp.exists(path):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError(f'{path} never appeared:\n' + open(log_path).read()[-4000:])
        time.sleep(0.05)


def interrupt(args, mark, signum, to_group, repo_root, env, tmp_path, delay=0.0):
    """Run a tool until it writes ``mark``, send ``signum`` (to its whole process group, as
    Ctrl-C does, or to the main process, as ``kill`` does) and time its end."""
    log_path = tmp_path / 'log.txt'
    with open(log_path, 'w') as log:
        proc = start(args, repo_root, env, log)
        wait_for(mark, proc, log_path)
        time.sleep(delay)
        sent = time.time()
        (os.killpg if to_group else os.kill)(proc.pid, signum)
        try:
            code = proc.wait(timeout=EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f'still running {EXIT_WITHIN} s after the signal:\n' +
                                 open(log_path).read()[-4000:])
    output = open(log_path).read()
    assert process_gone(proc.pid, group=True, timeout=15, poll=0.1), \
        'data loader workers outlived the process'
    return code, time.time() - sent, output


def assert_checkpoint_whole(work_dir, name):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith(name)
    checkpoint = torch.load(osp.join(work_dir, name), map_location='cpu', weights_only=True)
    assert checkpoint['state_dict'] and 'optimizer' in checkpoint
    assert not glob.glob(osp.join(work_dir, '*.partial'))


@pytest.mark.parametrize('delay', [0.0, 0.3])
def test_sigint_as_validation_starts_its_workers(delay, tmp_path, synthetic_spin_root,
                                                  repo_root, tool_env):
    """Ctrl-C when end-of-training validation starts its data loader: the run ends within
    seconds (it used to hang in a futex wait with defunct workers) and iter_4.pth loads."""
    work_dir, mark = tmp_path / 'work', tmp_path / 'validation_started'
    args = [sys.executable, 'tools/train.py', WORKERS_CONFIG, '--work-dir', str(work_dir),
            '--cfg-options', *data_options(synthetic_spin_root), f'custom_hooks.1.path={mark}',
            'custom_hooks.1.val_iter_seconds=1.0']  # validation outlasts the delay
    code, elapsed, out = interrupt(args, mark, signal.SIGINT, True, repo_root, tool_env,
                                   tmp_path, delay)
    assert code == 128 + signal.SIGINT, out[-3000:]
    assert 'SIGINT: stopped; the last checkpoint is' in out and 'iter_4.pth' in out, out[-3000:]
    assert_checkpoint_whole(work_dir, 'iter_4.pth')


def test_sigterm_during_training(tmp_path, synthetic_spin_root, repo_root, tool_env):
    """``kill PID`` mid-training (persistent workers running): the process and its workers end
    within seconds; the checkpoint of iteration 2 is whole and the run resumes from it."""
    work_dir, mark = tmp_path / 'work', tmp_path / 'iteration_3_done'
    args = [sys.executable, 'tools/train.py', WORKERS_CONFIG, '--work-dir', str(work_dir),
            '--cfg-options', *data_options(synthetic_spin_root), f'custom_hooks.1.path={mark}',
            'custom_hooks.1.at=after_train_iter', 'custom_hooks.1.after_iter=3']
    code, elapsed, out = interrupt(args, mark, signal.SIGTERM, False, repo_root, tool_env,
                                   tmp_path)
    assert code == 128 + signal.SIGTERM, out[-3000:]
    assert not osp.exists(work_dir / 'iter_4.pth')
    assert_checkpoint_whole(work_dir, 'iter_2.pth')
    _, out = train(repo_root, tool_env, work_dir, synthetic_spin_root, '--resume')
    assert 'iter_2.pth' in out and osp.isfile(work_dir / 'iter_4.pth')


def test_sigint_as_testing_starts(tiny_demo_run, tmp_path, synthetic_spin_root, repo_root,
                                  tool_env):
    mark = tmp_path / 'test_started'
    args = [sys.executable, 'tools/test.py', WORKERS_CONFIG, str(tiny_demo_run / 'iter_4.pth'),
            '--work-dir', str(tmp_path / 'test'), '--cfg-options',
            *data_options(synthetic_spin_root), f'custom_hooks.1.path={mark}',
            'custom_hooks.1.at=before_test_epoch']
    code, _, out = interrupt(args, mark, signal.SIGINT, True, repo_root, tool_env, tmp_path)
    assert code == 128 + signal.SIGINT and 'SIGINT: stopped' in out, out[-3000:]


def test_new_run_refuses_a_work_dir_with_checkpoints(tiny_demo_run, tmp_path,
                                                     synthetic_spin_root, repo_root, tool_env):
    work_dir = tmp_path / 'work'
    shutil.copytree(tiny_demo_run, work_dir)
    before = {name: digest(work_dir / name) for name in ('iter_2.pth', 'iter_4.pth',
                                                         'last_checkpoint')}
    start_time = time.time()
    code, out = train(repo_root, tool_env, work_dir, synthetic_spin_root, expect_ok=False)
    assert code != 0
    assert f'would overwrite {work_dir / "iter_4.pth"}' in out, out[-3000:]
    assert '--resume' in out and '--work-dir NEW_DIR' in out
    assert time.time() - start_time < 120  # refused at start-up, before any training
    assert {name: digest(work_dir / name) for name in before} == before
    # a new work dir, or --resume, is fine
    _, out = train(repo_root, tool_env, work_dir, synthetic_spin_root, '--resume')
    assert {name: digest(work_dir / name) for name in before} == before  # nothing left to do


@pytest.mark.skipif(torch.cuda.is_available(), reason='the refusal is for machines without CUDA')
def test_amp_without_cuda_is_refused_at_once(tmp_path, synthetic_spin_root, repo_root, tool_env):
    work_dir = tmp_path / 'work'
    code, out = train(repo_root, tool_env, work_dir, synthetic_spin_root, '--amp',
                      expect_ok=False)
    assert code != 0 and '--amp' in out and 'no CUDA device' in out, out[-3000:]
    assert 'Traceback' not in out and not osp.exists(work_dir)  # nothing was built


def test_tensorboard_flag(tmp_path, synthetic_spin_root, repo_root, tool_env):
    work_dir = tmp_path / 'work'
    if importlib.util.find_spec('tensorboard') is None:
        code, out = train(repo_root, tool_env, work_dir, synthetic_spin_root, '--tensorboard',
                          expect_ok=False)
        assert code != 0 and 'pip install ".[tensorboard]"' in out
        return
    train(repo_root, tool_env, work_dir, synthetic_spin_root, '--tensorboard', '--cfg-options',
          'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'param_scheduler.0.end=2')
    events = glob.glob(str(work_dir / '*' / 'vis_data' / 'events.out.tfevents.*'))
    assert events and os.path.getsize(events[0]) > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    scalars = EventAccumulator(osp.dirname(events[0])).Reload().Tags()['scalars']
    assert 'loss' in scalars and 'mIoU.object' in scalars, scalars
    assert glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))  # the local log stays

"""Faults that involve several processes: a second run on a work dir in use, data loader workers
under SIGKILL (the main process, or one worker), a dead rank of a two-process run. Marked
``multiprocess`` (``make test-isa`` leaves them out)."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.faults.runs import (
    FAULTS,
    FAULTS_WORKERS,
    assert_same_weights,
    assert_whole,
    checkpoint_files,
    error_line,
    fault,
    pointer,
    run,
    train_args,
)
from tests.helpers.tools import data_options, process_gone

pytestmark = pytest.mark.multiprocess


def start(args, repo_root, env, log_path):
    """Start a tool in its own process group (as a shell starts a job), logging to a file."""
    with open(log_path, 'w') as log:
        return subprocess.Popen(args, cwd=repo_root, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(path, proc, log_path, timeout=600):
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError(f'{path} never appeared:\n' + log_path.read_text()[-4000:])
        time.sleep(0.05)


def test_a_second_run_on_a_work_dir_in_use_is_refused(tiny_demo_run, synthetic_spin_root,
                                                      tmp_path, repo_root, tool_env):
    """A second --resume while the first run lives is refused at start-up with the first's pid
    and host; once the first is killed (SIGKILL: no clean-up), the lock is free."""
    work, mark, log = tmp_path / 'work', tmp_path / 'paused', tmp_path / 'first.log'
    first = start(train_args(work, synthetic_spin_root,
                             *fault('pause', 'after_train_iter', 2, mark=mark, seconds=600)),
                  repo_root, tool_env, log)
    try:
        wait_for(mark, first, log)  # iter_2.pth is saved, the run is paused in iteration 2
        code, out, err = run(train_args(work, synthetic_spin_root, resume=True), repo_root,
                             tool_env)
        line = error_line(err)
        assert code == 1 and f'{work} is in use by another run' in line, line
        assert f'pid {first.pid} on host {socket.gethostname()}' in line, line
        assert checkpoint_files(work) == ['iter_2.pth']
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    code, out, err = run(train_args(work, synthetic_spin_root, resume=True), repo_root, tool_env)
    assert code == 0, err[-3000:]
    assert_same_weights(work / 'iter_4.pth', tiny_demo_run / 'iter_4.pth')


def test_sigkill_with_data_loader_workers(synthetic_spin_root, tmp_path, repo_root, tool_env):
    """Two workers per loader (persistent, as the real configs): the main process killed while
    its workers load, then one worker killed (as the OOM killer does), then --resume: the
    uninterrupted run's weights bit for bit, and no process left behind."""
    straight, work = tmp_path / 'straight', tmp_path / 'work'
    code, out, err = run(train_args(straight, synthetic_spin_root, config=FAULTS_WORKERS),
                         repo_root, tool_env)
    assert code == 0, err[-3000:]

    log = tmp_path / 'killed.log'
    proc = start(train_args(work, synthetic_spin_root, *fault('kill'), config=FAULTS_WORKERS),
                 repo_root, tool_env, log)
    assert proc.wait(timeout=600) == -signal.SIGKILL, log.read_text()[-3000:]
    assert process_gone(proc.pid, group=True, timeout=15), 'data loader workers outlived it'
    assert checkpoint_files(work) == ['iter_2.pth'] and pointer(work) == 'iter_2.pth'

    code, out, err = run(train_args(work, synthetic_spin_root, *fault('kill_worker'),
                                    resume=True, config=FAULTS_WORKERS), repo_root, tool_env)
    line = error_line(err)
    assert code == 1 and 'DataLoader worker' in line, line
    assert checkpoint_files(work) == ['iter_2.pth']

    code, out, err = run(train_args(work, synthetic_spin_root, resume=True,
                                    config=FAULTS_WORKERS), repo_root, tool_env)
    assert code == 0, err[-3000:]
    assert_same_weights(work / 'iter_4.pth', straight / 'iter_4.pth')


def test_a_dead_rank_ends_the_two_process_job(synthetic_spin_root, tmp_path, repo_root,
                                              tool_env):
    """Rank 1 of tools/dist_train.sh SIGKILLed in iteration 3: the job ends within seconds
    with no process left, and iter_2.pth is whole."""
    work, mark, log = tmp_path / 'work', tmp_path / 'rank1_killed', tmp_path / 'dist.log'
    env = dict(tool_env, PYTHON=sys.executable, PORT='29541')
    args = ['bash', 'tools/dist_train.sh', FAULTS, '2', '--work-dir', str(work),
            '--cfg-options', *data_options(synthetic_spin_root),
            *fault('kill', mark=mark, rank=1)]
    proc = start(args, repo_root, env, log)
    code = proc.wait(timeout=600)
    ended = time.time()
    assert mark.exists(), log.read_text()[-4000:]
    assert code != 0 and ended - mark.stat().st_mtime < 30, (code, log.read_text()[-4000:])
    assert process_gone(proc.pid, group=True, timeout=15), 'a rank outlived the job'
    assert checkpoint_files(work) == ['iter_2.pth'] and pointer(work) == 'iter_2.pth'
    assert_whole(work, 'iter_2.pth')

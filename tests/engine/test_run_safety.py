"""cast.engine.run_safety on its own: which work dirs a new run refuses, and a signal that comes
during a checkpoint write ends the process only once the file is whole. The tools interrupted
as users interrupt them: tests/tools/test_train_test_safety.py."""
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config

from cast.engine.run_safety import check_work_dir, existing_checkpoints
from tests.helpers.tools import process_gone


def config(work_dir, **kwargs):
    return Config(dict(work_dir=str(work_dir), **kwargs))


def test_which_files_make_a_work_dir_taken(tmp_path):
    for name in ('20261202_101010.log', 'model.py', 'pretrained.pth', 'iter_3.pth.partial'):
        (tmp_path / name).write_text('')
    check_work_dir(config(tmp_path))  # logs, configs and other .pth files are not checkpoints
    check_work_dir(config(tmp_path / 'absent'))
    for name in ('iter_8.pth', 'epoch_2.pth', 'best_mIoU_iter_4.pth', 'last_checkpoint'):
        folder = tmp_path / name.replace('.', '_')
        folder.mkdir()
        (folder / name).write_text('')
        assert existing_checkpoints(str(folder)) == [name]
        with pytest.raises(FileExistsError, match='--resume'):
            check_work_dir(config(folder))
        check_work_dir(config(folder, resume=True))


def test_checkpoint_out_dir_is_checked(tmp_path):
    (tmp_path / 'ckpts' / 'run').mkdir(parents=True)
    (tmp_path / 'ckpts' / 'run' / 'iter_2.pth').write_text('')
    cfg = config(tmp_path / 'run', default_hooks=dict(checkpoint=dict(out_dir=str(
        tmp_path / 'ckpts'))))
    with pytest.raises(FileExistsError, match=str(tmp_path / 'ckpts' / 'run' / 'iter_2.pth')):
        check_work_dir(cfg)


SCRIPT = textwrap.dedent('''
    import os, signal, sys, time
    from cast.engine.run_safety import SignalExit
    stop = SignalExit().install()
    with stop.deferred():
        os.kill(os.getpid(), signal.{name})
        time.sleep(0.5)
        with open(sys.argv[1], 'w') as f:
            f.write('whole')
    time.sleep(30)  # never reached: the deferred signal ends the process
''')


@pytest.mark.parametrize('name', ['SIGINT', 'SIGTERM'])
def test_a_signal_in_a_checkpoint_write_waits_for_the_file(name, tmp_path, repo_root,
                                                           tool_env):
    out = tmp_path / 'file'
    proc = subprocess.run([sys.executable, '-c', SCRIPT.format(name=name), str(out)],
                          cwd=repo_root, env=tool_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 128 + getattr(signal, name), proc.stderr[-2000:]
    assert 'finishing the checkpoint being written' in proc.stderr
    assert osp.isfile(out) and out.read_text() == 'whole'


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='prctl is Linux only')
@pytest.mark.parametrize('install', [True, False])
def test_a_worker_forked_as_its_parent_dies_does_not_outlive_it(install, tmp_path, repo_root):
    """The race behind a SIGINT at validation start-up: a data loader worker forked just as the
    main process exits is not among the children it kills, and torch's watchdog then watches
    the adoptive parent. After SignalExit.install() it dies with its parent; without (the
    control), the orphan lives on."""
    script = textwrap.dedent(f'''
        import multiprocessing, os, sys, time
        from cast.engine.run_safety import SignalExit
        if {install}:
            SignalExit().install()
        multiprocessing.set_start_method('fork')
        child = multiprocessing.Process(target=time.sleep, args=(60, ))
        child.start()
        print(child.pid, flush=True)
        os._exit(0)  # no clean-up: as the signal handler's exit, before the child is known
    ''')
    out = tmp_path / 'out.txt'
    with open(out, 'w') as f:  # a file, as the tools log (behind a pipe the orphan ended)
        proc = subprocess.run([sys.executable, '-c', script], stdout=f, stderr=subprocess.STDOUT,
                              timeout=120, cwd=repo_root)
    assert proc.returncode == 0, out.read_text()[-3000:]
    pid = int(out.read_text().split()[-1])
    try:
        assert process_gone(pid) == install
    finally:
        if not install:
            with __import__('contextlib').suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

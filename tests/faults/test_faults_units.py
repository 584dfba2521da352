"""The pieces of run safety on their own (fast, in-process): the work-dir lock, the one-line
error, the failed-save message, tools/test.py's --out folder. The tools under real faults:
the other tests of tests/faults/."""
import errno
import os
import shutil

import pytest

from cast.engine.run_safety import CheckpointSaveError, WorkDirInUseError, WorkDirLock, one_line
from tests.helpers.tools import load_tool


def test_the_lock_refuses_a_second_holder_and_is_free_once_released(tmp_path):
    work = tmp_path / 'work'
    first = WorkDirLock(str(work)).acquire()
    assert f'pid {os.getpid()} on host ' in (work / '.run.lock').read_text()
    with pytest.raises(WorkDirInUseError, match=f'in use by another run \\(pid {os.getpid()}'):
        WorkDirLock(str(work)).acquire()  # flock is per open file: a second open conflicts
    first.release()
    WorkDirLock(str(work)).acquire().release()


def test_one_line():
    assert one_line(ValueError('a\n  b')) == 'ValueError: a b'
    quoted = RuntimeError('Caught ValueError in DataLoader worker process 0.\nOriginal '
                          'Traceback (most recent call last):\n  File "x.py", line 1\n'
                          'ValueError: failed to load image: a.jpg\n')
    assert one_line(quoted) == 'ValueError: failed to load image: a.jpg'
    full = OSError(errno.ENOSPC, 'No space left on device', '/nowhere/x/scalars.json')
    assert one_line(full).startswith('no space left on device writing /nowhere/x/scalars.json')
    assert one_line(FileNotFoundError('config file "a.py" does not exist')) == \
        'config file "a.py" does not exist'


def test_a_failed_save_says_what_is_kept(tmp_path):
    full = OSError(errno.ENOSPC, 'No space left on device')
    err = CheckpointSaveError(str(tmp_path), 'iter_4.pth', full, written=1536)
    assert f'no space left on device saving iter_4.pth in {tmp_path}' in str(err)
    assert 'about 1.5 KiB needed' in str(err) and 'no earlier checkpoint' in str(err)
    (tmp_path / 'iter_2.pth').write_bytes(b'x' * 4096)
    err = CheckpointSaveError(str(tmp_path), 'iter_4.pth', full, written=1536)
    assert 'about 4.0 KiB needed' in str(err) and '(newest: iter_2.pth)' in str(err)
    err = CheckpointSaveError(str(tmp_path), 'iter_4.pth', OSError(errno.EIO, 'I/O error'))
    assert 'saving iter_4.pth' in str(err) and 'failed: I/O error' in str(err)


def test_test_out_dir_is_published_whole(tmp_path):
    tool = load_tool('test.py')
    out = tmp_path / 'pred'
    (tmp_path / 'pred.partial').mkdir()  # left by an interrupted run
    (tmp_path / 'pred.partial' / 'half.png').write_bytes(b'')
    tool.check_out_dir(str(out), overwrite=False)
    assert not (tmp_path / 'pred.partial').exists()
    (tmp_path / 'pred.partial' / 'object').mkdir(parents=True)
    (tmp_path / 'pred.partial' / 'object' / 'a.png').write_bytes(b'new')
    tool.publish_out_dir(str(out))
    assert (out / 'object' / 'a.png').read_bytes() == b'new'
    with pytest.raises(FileExistsError, match='--overwrite'):
        tool.check_out_dir(str(out), overwrite=False)
    tool.check_out_dir(str(out), overwrite=True)  # replaced only once the new one is whole
    (tmp_path / 'pred.partial').mkdir()
    assert (out / 'object' / 'a.png').exists()
    tool.publish_out_dir(str(out))
    assert os.listdir(out) == [] and os.listdir(tmp_path) == ['pred']


def test_what_resume_continues_from(tiny_demo_run, tmp_path):
    """tools/train.py --resume: the work dir's newest whole checkpoint over a config's
    load_from; with none, a new run from load_from's weights; --resume FILE: that file."""
    from mmengine.config import Config
    tool = load_tool('train.py')
    work = tmp_path / 'work'
    work.mkdir()

    def choose(named=None, load_from='pretrained.pth'):
        cfg = Config(dict(work_dir=str(work), load_from=load_from, resume=True))
        tool.choose_checkpoint(cfg, named)
        return cfg.resume, cfg.load_from, cfg.custom_hooks[-1]

    resume, load_from, hook = choose()
    assert (resume, load_from, hook['checkpoint']) == (False, 'pretrained.pth', None)
    assert 'a new run from the weights of load_from=pretrained.pth' in hook['note']
    assert choose(load_from=None)[:2] == (True, None)  # MMEngine starts afresh
    shutil.copy(tiny_demo_run / 'iter_2.pth', work / 'iter_2.pth')
    resume, load_from, hook = choose()
    assert (resume, load_from) == (True, str(work / 'iter_2.pth')) and hook['checkpoint']
    shutil.copy(tiny_demo_run / 'iter_4.pth', tmp_path / 'elsewhere.pth')
    assert choose(named=str(tmp_path / 'elsewhere.pth'))[1] == str(tmp_path / 'elsewhere.pth')

"""A disk that fills up, for real: the tools run with their output on a small tmpfs, mounted in
a private user and mount namespace (``unshare -Urm``: no root needed where the kernel allows
unprivileged user namespaces; skipped elsewhere, where test_faults_train.py's injected ENOSPC
still covers the checkpoint save)."""
import functools
import os
import shutil
import subprocess
import sys
import tempfile

import cv2
import pytest

from tests.faults.runs import assert_whole, checkpoint_files, error_line, fault, pointer, train_args
from tests.helpers.tools import data_options


@functools.lru_cache(maxsize=None)
def small_tmpfs_mountable():
    if not shutil.which('unshare'):
        return False
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.run(['unshare', '-Urm', 'sh', '-c',
                               f'mount -t tmpfs -o size=1m tmpfs {folder}'],
                              capture_output=True, timeout=60)
    return proc.returncode == 0


pytestmark = pytest.mark.skipif(
    not small_tmpfs_mountable(),
    reason='cannot mount a tmpfs without root here (unshare -Urm refused)')


def on_small_disk(size, mount, saved, args, repo_root, env):
    """Run ``args`` with a ``size`` tmpfs at ``mount``; copy it to ``saved`` before the mount
    namespace (and the tmpfs) ends. Returns (exit code, stdout, stderr)."""
    mount.mkdir()
    script = ('mount -t tmpfs -o size="$1" tmpfs "$2" || exit 99; m="$2"; d="$3"; shift 3; '
              '"$@"; code=$?; rm -f "$m/filler"; cp -a "$m/." "$d"; exit $code')
    proc = subprocess.run(['unshare', '-Urm', 'sh', '-c', script, 'sh', size, str(mount),
                           str(saved), *args], cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode != 99, proc.stderr[-3000:]
    return proc.returncode, proc.stdout, proc.stderr


def test_a_full_disk_in_a_checkpoint_save(synthetic_spin_root, tmp_path, repo_root, tool_env):
    """28 MiB: iter_2.pth (18.5 MiB) fits, iter_4.pth does not."""
    mount, saved = tmp_path / 'disk', tmp_path / 'saved'
    work = mount / 'work'
    code, out, err = on_small_disk('28m', mount, saved, train_args(work, synthetic_spin_root),
                                   repo_root, tool_env)
    line = error_line(err)
    assert code == 1 and f'no space left on device saving iter_4.pth in {work}' in line, line
    assert 'MiB free, about 18.5 MiB needed' in line and 'newest: iter_2.pth' in line, line
    assert checkpoint_files(saved / 'work') == ['iter_2.pth']
    assert pointer(saved / 'work') == 'iter_2.pth'
    assert_whole(saved / 'work', 'iter_2.pth')


def test_a_full_disk_in_a_log_write(synthetic_spin_root, tmp_path, repo_root, tool_env):
    """Another program fills the disk right after iter_2.pth is saved; the next log record
    that needs a new page fails."""
    mount, saved = tmp_path / 'disk', tmp_path / 'saved'
    work = mount / 'work'
    options = fault('fill', 'after_train_iter', 2, paths=f'{mount}/filler', seconds=0)
    code, out, err = on_small_disk('40m', mount, saved,
                                   train_args(work, synthetic_spin_root, *options),
                                   repo_root, tool_env)
    line = error_line(err)
    assert code == 1 and 'no space left on device writing the log' in line, line
    assert f'in {work}' in line and '(0 B free)' in line, line
    assert checkpoint_files(saved / 'work') == ['iter_2.pth']
    assert_whole(saved / 'work', 'iter_2.pth')


def test_a_full_disk_in_a_show_dir_picture(tiny_demo_run, synthetic_spin_root, tmp_path,
                                           repo_root, tool_env):
    """tools/test.py --show-dir on a 64 KiB disk: the run stops at the first picture that does
    not fit, naming it (cv2.imwrite would return False and go on), every picture written is
    whole, and --out (elsewhere) is left as OUT.partial, not as a finished OUT."""
    mount, saved, pred = tmp_path / 'disk', tmp_path / 'saved', tmp_path / 'pred'
    args = [sys.executable, 'tools/test.py', 'tests/data/configs/tiny_demo.py',
            str(tiny_demo_run / 'iter_4.pth'), '--work-dir', str(tmp_path / 'test'),
            '--show-dir', str(mount / 'vis'), '--out', str(pred), '--cfg-options',
            *data_options(synthetic_spin_root)]
    code, out, err = on_small_disk('64k', mount, saved, args, repo_root, tool_env)
    line = error_line(err, 'tools/test.py')
    assert code == 1 and 'no space left on device writing test_' in line, line
    assert '.png in' in line and str(mount / 'vis') in line, line
    pictures = [os.path.join(d, n) for d, _, names in os.walk(saved) for n in names
                if '.png' in n]
    assert all(p.endswith('.png') and cv2.imread(p) is not None for p in pictures), pictures
    assert not pred.exists() and (tmp_path / 'pred.partial').is_dir()

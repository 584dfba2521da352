"""cast.utils.atomic_write: a result file appears whole or not at all (a killed writer, an error
in the block, a full disk)."""
import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from cast.utils import DiskFullError, atomic_write


def test_replaces_only_when_the_block_ends(tmp_path):
    path = tmp_path / 'results.json'
    path.write_text('old')
    with atomic_write(str(path)) as f:
        f.write('new')
        assert path.read_text() == 'old'  # nothing visible under the name yet
    assert path.read_text() == 'new' and os.listdir(tmp_path) == ['results.json']
    with pytest.raises(ValueError, match='boom'):
        with atomic_write(str(path), 'wb') as f:
            f.write(b'half')
            raise ValueError('boom')
    assert path.read_text() == 'new' and os.listdir(tmp_path) == ['results.json']
    with pytest.raises(ValueError, match="'a'"):
        with atomic_write(str(path), 'a'):
            pass


def test_disk_full_names_the_folder_and_leaves_nothing(tmp_path):
    path = tmp_path / 'out.bin'
    with pytest.raises(DiskFullError) as info:
        with atomic_write(str(path), 'wb') as f:
            f.write(b'x' * 4096)
            f.flush()
            raise OSError(errno.ENOSPC, 'No space left on device')
    assert info.value.errno == errno.ENOSPC
    assert str(tmp_path) in str(info.value) and 'free' in str(info.value)
    assert 'about 4.0 KiB needed' in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_killed_writer_leaves_no_file_under_the_name(tmp_path, repo_root, tool_env):
    script = textwrap.dedent('''
        import importlib.util, os, signal, sys
        spec = importlib.util.spec_from_file_location('io_module', 'cast/utils/io.py')
        module = importlib.util.module_from_spec(spec)  # not the whole of cast: quick
        spec.loader.exec_module(module)
        with module.atomic_write(sys.argv[1]) as f:
            f.write('{"images": [')
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    ''')
    path = tmp_path / 'results.json'
    proc = subprocess.run([sys.executable, '-c', script, str(path)], cwd=repo_root,
                          env=tool_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not path.exists()
    leftovers = os.listdir(tmp_path)  # only the temporary, which says what it is
    assert len(leftovers) == 1 and leftovers[0].startswith('.results.json.') and \
        leftovers[0].endswith('.partial')

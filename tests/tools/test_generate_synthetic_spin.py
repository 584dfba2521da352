"""tools/generate_synthetic_spin.py as a user runs it. The generator itself
(cast.datasets.synthetic): tests/datasets/test_synthetic.py."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from tests.helpers.tools import load_tool


def test_cli(tmp_path, repo_root, tool_env):
    """As a user runs it (a subprocess), then its refusal (in process: no second start-up)."""
    script = osp.join(repo_root, 'tools', 'generate_synthetic_spin.py')
    out = str(tmp_path / 'cli')
    args = [out, '--num-train', '2', '--num-val', '1', '--seed', '2']
    proc = subprocess.run([sys.executable, script] + args, capture_output=True, text=True,
                          env=tool_env)
    assert proc.returncode == 0, proc.stderr
    assert len(os.listdir(osp.join(out, 'images', 'train'))) == 2
    tool = load_tool('generate_synthetic_spin.py')
    tool.main(args)  # complete: nothing to do
    with pytest.raises(SystemExit, match='other parameters'):
        tool.main(args[:-1] + ['3'])

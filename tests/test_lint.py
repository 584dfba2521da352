"""The tree is clean under the project's lint (ruff.toml: pycodestyle, pyflakes, isort order),
as OpenMMLab's flake8 + isort hooks keep theirs."""
import os.path as osp
import shutil
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def ruff():
    here = osp.join(osp.dirname(sys.executable), 'ruff')  # the environment's own ruff
    return here if osp.isfile(here) else shutil.which('ruff')


def test_the_tree_passes_the_lint():
    exe = ruff()
    assert exe, 'ruff is not installed (requirements/tests.txt pins it)'
    proc = subprocess.run([exe, 'check', '--no-cache', '.'], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


def test_the_lint_catches_what_it_should(tmp_path):
    """An unused import, a long line and unsorted imports fail under the project's rules."""
    bad = tmp_path / 'bad.py'
    bad.write_text('import sys\nimport os\n\nx = 1  # ' + 'y' * 100 + '\n')
    proc = subprocess.run([ruff(), 'check', '--no-cache', '--config',
                           osp.join(REPO, 'ruff.toml'), str(bad)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    for code in ('F401', 'E501', 'I001'):
        assert code in proc.stdout, code

"""The tools as a user runs them: a subprocess in the repository root, and the tiny training run
(tools/train.py on tests/data/configs/tiny_demo.py: 4 iterations on a tiny synthetic SPIN)."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_DEMO = 'tests/data/configs/tiny_demo.py'


def tool_environment():
    """os.environ with the repository root first on ``PYTHONPATH`` (``cast`` and
    ``tests.helpers`` importable) and one OpenMP thread unless set."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def data_options(root, splits=('train', 'val', 'test')):
    """``--cfg-options`` values pointing the given splits' datasets at ``root``."""
    return [f'{split}_dataloader.dataset.data_root={root}' for split in splits]


def run_tool(args, repo_root, env, expect_ok=True, timeout=600):
    """Run ``args`` in ``repo_root``; returns (exit code, stdout + stderr)."""
    proc = subprocess.run(args, cwd=repo_root, env=env, capture_output=True, text=True,
                          timeout=timeout)
    output = proc.stdout + proc.stderr
    if expect_ok:
        assert proc.returncode == 0, output[-6000:]
    return proc.returncode, output


def train(repo_root, env, work_dir, root, *extra, config=TINY_DEMO, expect_ok=True,
          timeout=600):
    """tools/train.py CONFIG --work-dir WORK_DIR on the data at ``root``; ``extra`` follow the
    data root options (more ``--cfg-options`` values, or flags)."""
    args = [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
            '--cfg-options', *data_options(root), *extra]
    return run_tool(args, repo_root, env, expect_ok, timeout)


def process_gone(pid, group=False, timeout=10.0, poll=0.05):
    """True once process ``pid`` (or every process of the group ``pid`` leads: data loader
    workers included) has ended, False if one is left after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            (os.killpg if group else os.kill)(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(poll)
    return False


def load_tool(path):
    """tools/``path`` (e.g. 'eval_hierarchy.py', 'model_converters/cast2mmseg.py') loaded as a
    module, to call its ``main(argv)`` in this process."""
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO_ROOT, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""Running tools/train.py (and tools/test.py) with faults, and what a test asserts afterwards:
the exit, the one error line on stderr, the checkpoints left whole, the final weights."""
import hashlib
import os
import os.path as osp
import subprocess
import sys

import torch

from cast.engine.checkpoint import inspect_checkpoint
from tests.helpers.tools import data_options

FAULTS = 'tests/faults/configs/tiny_faults.py'
FAULTS_WORKERS = 'tests/faults/configs/tiny_faults_workers.py'


def fault(action, at='before_train_iter', iteration=3, **more):
    """``--cfg-options`` values that arm the config's FaultHook (tests/faults/hooks.py)."""
    options = [f'custom_hooks.1.action={action}', f'custom_hooks.1.at={at}',
               f'custom_hooks.1.iter={iteration}']
    return options + [f'custom_hooks.1.{key}={value}' for key, value in more.items()]


def train_args(work_dir, root, *options, resume=None, config=FAULTS):
    """tools/train.py CONFIG --work-dir WORK_DIR --cfg-options <data at root> OPTIONS
    [--resume [FILE]] (``resume``: True or a file)."""
    args = [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
            '--cfg-options', *data_options(root), *options]
    if resume:
        args += ['--resume'] + ([] if resume is True else [str(resume)])
    return args


def run(args, repo_root, env, timeout=600):
    """Run a tool; returns (exit code, stdout, stderr). A signal's death is -signum."""
    proc = subprocess.run(args, cwd=repo_root, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def error_line(stderr, tool='tools/train.py'):
    """The tool's one error line; asserts there is exactly one and no traceback."""
    lines = [line for line in stderr.splitlines() if line.startswith(f'{tool}: error:')]
    assert len(lines) == 1 and 'Traceback' not in stderr, stderr[-4000:]
    return lines[0]


def pointer(work_dir):
    """The file name ``last_checkpoint`` points at."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return osp.basename(f.read().strip())


def checkpoint_files(work_dir):
    return sorted(name for name in os.listdir(work_dir) if '.pth' in name)


def assert_whole(work_dir, *names):
    """Each named checkpoint is whole, and no ``.partial`` file is left."""
    for name in names:
        inspect_checkpoint(osp.join(work_dir, name))
    assert not [n for n in os.listdir(work_dir) if n.endswith('.partial')], os.listdir(work_dir)


def assert_same_weights(path, reference):
    """Bit for bit: every tensor of ``path``'s state_dict equals ``reference``'s exactly."""
    ours, theirs = (torch.load(p, map_location='cpu', weights_only=True)['state_dict']
                    for p in (path, reference))
    assert ours.keys() == theirs.keys()
    differ = [k for k in ours if not torch.equal(ours[k], theirs[k])]
    assert not differ, f'{len(differ)} of {len(ours)} tensors differ, e.g. {differ[:3]}'


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()

"""Shared fixtures: small generated datasets, made once per test session."""
import os
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def pytest_report_header(config):
    """Which kernels ran: results must not depend on them (``make test-isa``)."""
    import torch
    isa = torch.backends.cpu.get_cpu_capability()
    forced = os.environ.get('ATEN_CPU_CAPABILITY')
    return (f'torch {torch.__version__}: {isa} kernels'
            f'{f" (ATEN_CPU_CAPABILITY={forced})" if forced else ""}, '
            f'{torch.get_num_threads()} threads')


@pytest.fixture(scope='session')
def synthetic_spin_root(tmp_path_factory):
    """A tiny synthetic SPIN dataset (8 train / 4 val images) in the real SPIN layout."""
    from cast.datasets.synthetic import generate_synthetic_spin
    root = str(tmp_path_factory.mktemp('synthetic_spin'))
    generate_synthetic_spin(root, num_train=8, num_val=4, seed=0)
    return root


@pytest.fixture(scope='session')
def synthetic_imagenet_root(tmp_path_factory):
    """A tiny synthetic ImageNet-layout folder: 8 train / 4 val images of 64-80 px in 6 class
    folders."""
    from cast.datasets.synthetic import generate_synthetic_imagenet
    root = str(tmp_path_factory.mktemp('synthetic_imagenet'))
    generate_synthetic_imagenet(root, num_train=8, num_val=4, seed=0, min_size=64, max_size=80)
    return root


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


@pytest.fixture
def tool_env(repo_root):
    """Environment for running tools/*.py in a subprocess, as a user would."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [repo_root, osp.join(repo_root, 'tests', 'tools'), env.get('PYTHONPATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Build from MMSeg's registries by default, as configs with ``default_scope='mmseg'`` do.

    A test that switches MMEngine's global default scope (an MMPretrain runner sets 'mmpretrain')
    would otherwise leak it into the tests after it.
    """
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    yield


@pytest.fixture(scope='session')
def tiny_demo_run(tmp_path_factory, synthetic_spin_root):
    """A work dir trained by tools/train.py with tests/data/configs/tiny_demo.py (4 iterations,
    checkpoints iter_2.pth and iter_4.pth) on the tiny synthetic SPIN data, as a user runs it."""
    import subprocess
    work_dir = tmp_path_factory.mktemp('tiny_demo_run')
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.setdefault('OMP_NUM_THREADS', '1')
    args = [sys.executable, 'tools/train.py', 'tests/data/configs/tiny_demo.py', '--work-dir',
            str(work_dir), '--cfg-options',
            *[f'{split}_dataloader.dataset.data_root={synthetic_spin_root}'
              for split in ('train', 'val', 'test')]]
    proc = subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return work_dir


@pytest.fixture(scope='session')
def tiny_config_dir():
    """The tiny recognition and segmentation configs of tests/recognition/configs."""
    return osp.join(REPO_ROOT, 'tests', 'recognition', 'configs')

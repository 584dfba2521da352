"""Shared fixtures: small generated datasets, made once per test session."""
import os
import os.path as osp

import pytest

from tests.helpers.tools import REPO_ROOT, tool_environment, train

KERNELS = pytest.StashKey[str]()


def pytest_configure(config):
    """Note which kernels and how many threads the run starts with (MMEngine's runners later
    set the thread count to 1 in-process)."""
    import torch
    forced = os.environ.get('ATEN_CPU_CAPABILITY')
    config.stash[KERNELS] = (
        f'torch {torch.__version__}: {torch.backends.cpu.get_cpu_capability()} kernels'
        f'{f" (ATEN_CPU_CAPABILITY={forced})" if forced else ""}, '
        f'threads: {torch.get_num_threads()}')


def pytest_terminal_summary(terminalreporter, config):
    """Which kernels ran (also under -q): results must not depend on them (``make test-isa``)."""
    terminalreporter.write_line(config.stash[KERNELS])


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
def tool_env():
    """Environment for running tools/*.py in a subprocess, as a user would."""
    return tool_environment()


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
    work_dir = tmp_path_factory.mktemp('tiny_demo_run')
    train(REPO_ROOT, tool_environment(), work_dir, synthetic_spin_root, timeout=900)
    return work_dir


@pytest.fixture(scope='session')
def tiny_config_dir():
    """The tiny configs of tests/data/configs (recognition, segmentation, the tiny demo)."""
    return osp.join(REPO_ROOT, 'tests', 'data', 'configs')

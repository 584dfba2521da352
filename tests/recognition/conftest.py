"""Fixtures of the recognition tests: a tiny synthetic ImageNet-layout folder (the tiny
training configs of tests/recognition/configs: ``tiny_config_dir`` in tests/conftest.py)."""
import pytest

import cast.recognition  # noqa: F401  (MMPretrain registrations, until cast/__init__ imports it)


@pytest.fixture(scope='session')
def synthetic_imagenet_root(tmp_path_factory):
    """8 train / 4 val images of 64-80 px in 6 class folders."""
    from cast.recognition import generate_synthetic_imagenet
    root = str(tmp_path_factory.mktemp('synthetic_imagenet'))
    generate_synthetic_imagenet(root, num_train=8, num_val=4, seed=0, min_size=64, max_size=80)
    return root

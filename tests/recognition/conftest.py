"""Fixtures of the recognition tests: the tiny training configs (tests/recognition/configs);
the synthetic ImageNet-layout folder is tests/conftest.py's."""
import os.path as osp

import pytest

import cast.recognition  # noqa: F401  (MMPretrain registrations, until cast/__init__ imports it)

CONFIG_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'configs')


@pytest.fixture(scope='session')
def tiny_config_dir():
    return CONFIG_DIR

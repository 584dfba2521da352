"""The scripts of benchmarks/ loaded as modules, as ``python benchmarks/NAME.py`` runs them."""
import importlib.util
import os.path as osp

import pytest


@pytest.fixture
def benchmark_script(repo_root):
    """``benchmark_script(name)``: benchmarks/{name}.py as a fresh module."""
    def load(name):
        path = osp.join(repo_root, 'benchmarks', f'{name}.py')
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load

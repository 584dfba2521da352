"""benchmarks/cuda_check.py: exits 0 without CUDA; its CPU dry run trains a config under
autocast and compares the PyTorch FPS with dgl's."""
import importlib.util
import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_script():
    path = osp.join(REPO, 'benchmarks', 'cuda_check.py')
    spec = importlib.util.spec_from_file_location('cuda_check', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason='the message is for machines without CUDA')
def test_without_cuda_it_says_so_and_exits_0(capsys):
    assert load_script().main([]) == 0
    assert 'CUDA is not available' in capsys.readouterr().out


def test_cpu_dry_run_on_a_tiny_config(capsys):
    config = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_demo.py')
    rc = load_script().main(['--device', 'cpu', '--configs', config, '--iters', '1',
                             '--max-batch', '2', '--fps-size', '64'])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert '| CAST-S 64 stage 4' in out and '| NO |' not in out
    row = next(line for line in out.splitlines() if 'tiny_demo.py' in line)
    assert row.endswith('| yes |') and '| 128x128 | 2 |' in row, row

"""benchmarks/cuda_check.py: exits 0 without CUDA; its CPU dry run trains a config under
autocast and compares the PyTorch FPS with dgl's."""
import os.path as osp

import pytest
import torch

from benchmarks import cuda_check
from benchmarks.common import REPO


@pytest.mark.skipif(torch.cuda.is_available(), reason='the message is for machines without CUDA')
def test_without_cuda_it_says_so_and_exits_0(capsys):
    assert cuda_check.main([]) == 0
    assert 'CUDA is not available' in capsys.readouterr().out


def test_cpu_dry_run_on_a_tiny_config(capsys):
    config = osp.join(REPO, 'tests', 'data', 'configs', 'tiny_demo.py')
    args = ['--device', 'cpu', '--configs', config, '--iters', '1', '--max-batch', '2',
            '--fps-size', '64']
    rc = cuda_check.main(args)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert '| CAST-S 64 stage 4' in out and '| NO |' not in out
    row = next(line for line in out.splitlines() if 'tiny_demo.py' in line)
    assert row.endswith('| yes |') and '| 128x128 | 2 |' in row, row

"""benchmarks/cast_profile.py: the split of operator time into matrix kernels and the rest
accounts for every operator once, and the script runs end to end on a small input."""
import re

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks import cast_profile


def test_split_counts_every_operator_once():
    linear = torch.nn.Linear(64, 64)
    x = torch.randn(32, 64)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        y = torch.nn.functional.gelu(linear(x))  # addmm (matrix) with its bias copy inside
        (y @ y.t()).softmax(-1).sum()
    events = prof.events()
    other, matrix = cast_profile.split(events)
    assert {'aten::addmm', 'aten::mm'} <= set(matrix)
    assert {'aten::gelu', 'aten::_softmax'} <= set(other)
    assert 'aten::copy_' not in other  # addmm's bias copy counts with addmm
    total = sum(e.self_cpu_time_total for e in events)
    assert abs(sum(other.values()) + sum(matrix.values()) - total) <= 1e-6 * total + 1


def test_runs_end_to_end(capsys):
    cast_profile.main(['--batch', '1', '--size', '64', '--superpixels', '16', '--tries', '1',
                       '--threads', '1'])
    out = capsys.readouterr().out
    share = float(re.search(r'non-matrix share of operator time: ([\d.]+)%', out).group(1))
    assert 0 < share < 100, out
    assert 'torch kernels for' in out and '| `aten::addmm` |' in out

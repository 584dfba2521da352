"""CAST's discrete outputs do not depend on which CPU kernels ran.

torch picks vectorised kernels by the CPU (``ATEN_CPU_CAPABILITY``: default, avx2, avx512);
their sums differ in the last bits. Farthest point sampling and the argmax chain turn values into
choices, so a tie broken by floating-point luck would give another hierarchy on another machine.
The same tiny CAST runs here under every instruction set this CPU has, in subprocesses, on images
with padding and with fewer superpixels than clusters: seeds and region maps must be equal.
"""
import os
import subprocess
import sys

import pytest
import torch

SCRIPT = r'''
import sys, torch
from cast.backbones import CAST
torch.manual_seed(0)
model = CAST(arch=dict(embed_dims=24, num_layers=[1, 1, 1, 1], num_heads=2),
             num_clusters=[20, 10, 5, 2], img_size=32).eval()
model.init_weights()
cell = torch.arange(32) // 8
sp = (cell.view(32, 1) * 4 + cell.view(1, 32)).expand(4, 32, 32).clone()  # 16 superpixels
sp[1] = (sp[1] >= 8).long()            # 2 superpixels
sp[2] = 0                              # 1 superpixel
sp[3] = torch.arange(32).view(1, 32).expand(32, 32) // 2  # 16 stripes
x = torch.randn(4, 3, 32, 32)
x[2] = 0.5                             # a flat image
with torch.no_grad():
    raw = model.forward_raw(x, sp)
    levels = model.hierarchy_from_raw(raw)
torch.save(dict(isa=torch.backends.cpu.get_cpu_capability(), seeds=raw['seed_inds'],
                levels=levels, tokens=raw['pooled_tokens']), sys.argv[1])
'''


def run(isa, path, repo_root):
    env = dict(os.environ, ATEN_CPU_CAPABILITY=isa, OMP_NUM_THREADS='1',
               PYTHONPATH=repo_root)
    subprocess.run([sys.executable, '-c', SCRIPT, path], env=env, check=True, cwd=repo_root,
                   timeout=300)
    return torch.load(path)


def test_seeds_and_regions_equal_under_every_instruction_set(tmp_path, repo_root):
    runs = {}
    for isa in ('default', 'avx2', 'avx512'):
        out = run(isa, str(tmp_path / f'{isa}.pt'), repo_root)
        runs.setdefault(out['isa'], out)  # a set the CPU lacks falls back to a lower one
    if len(runs) < 2:
        pytest.skip(f'only one instruction set on this CPU: {list(runs)}')
    (first, ref), *others = runs.items()
    for isa, out in others:
        for i, (a, b) in enumerate(zip(out['seeds'], ref['seeds'])):
            assert torch.equal(a, b), f'stage {i} seeds differ: {isa} vs {first}'
        for i, (a, b) in enumerate(zip(out['levels'], ref['levels'])):
            assert torch.equal(a, b), f'level {i} differs: {isa} vs {first}'
        for a, b in zip(out['tokens'], ref['tokens']):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)

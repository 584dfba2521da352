"""benchmarks/chain_loss.py runs on a small input and its labels are what it says."""
import re

import torch

from benchmarks import chain_loss
from benchmarks.common import spin_hierarchy

IGNORE = 255


def test_labels_are_valid_chains_with_ignored_parts():
    h = spin_hierarchy('superclass')
    labels = chain_loss.spin_labels(h, batch=2, size=128, block=32, pad=16)
    y = torch.stack([t.reshape(-1) for t in labels])  # (L, P)
    chains = h.chains()
    fits = ((chains[:, :, None] == y[None]) | (y[None] == IGNORE)).all(1).any(0)
    assert fits.all()
    assert (y[-1] == IGNORE).float().mean() > (y[0] == IGNORE).float().mean() > 0


def test_runs_end_to_end(capsys):
    chain_loss.main(['--size', '64', '--rounds', '1', '--threads', '1'])
    out = capsys.readouterr().out
    rows = re.findall(r'^\| (superclass|class) \|.*\| ([A-Za-z -]+) \| ([\d.]+) \| [\d.]+ \| '
                      r'([\d.]+)x \|$', out, re.M)
    losses = ['chain likelihood', 'HSSN tree-min', 'HSSN tree-triplet']
    assert [r[:2] for r in rows] == [(h, loss) for h in ('superclass', 'class')
                                     for loss in losses], out
    # the triplet loss on a 64-pixel input's 8x8 embedding may round to 0
    assert all(float(seconds) > 0 and float(ratio) > 0 for _, loss, seconds, ratio in rows
               if loss != 'HSSN tree-triplet')

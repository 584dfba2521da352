"""tools/eval_hierarchy.py on the synthetic SPIN and PartImageNet data."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cast.datasets import generate_synthetic_partimagenet, generate_synthetic_spin
from tests.helpers.tools import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'eval_hierarchy.py')
SCORES = ('mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SpCS_S2P', 'SpCS_P2O', 'SeCS')


@pytest.fixture(scope='module')
def tool():
    return load_tool('eval_hierarchy.py')


@pytest.fixture(scope='module')
def spin(tmp_path_factory, tool):
    """Synthetic SPIN val split and its ground truth written in the prediction format."""
    root = str(tmp_path_factory.mktemp('spin'))
    data_root = generate_synthetic_spin(osp.join(root, 'data'), num_train=0, num_val=3, seed=0,
                                        min_size=64, max_size=96)
    gt_dir = osp.join(root, 'gt')
    assert tool.main(['--write-gt-as-pred', gt_dir, '--dataset', 'spin', '--data-root',
                      data_root, '--split', 'val']) == {}
    return data_root, gt_dir


def spin_args(data_root, *extra):
    return ['--dataset', 'spin', '--data-root', data_root, '--split', 'val', *extra]


def test_ground_truth_as_prediction_scores_100(tool, spin, tmp_path):
    data_root, gt_dir = spin
    out = str(tmp_path / 'results.json')
    metrics = tool.main([gt_dir, *spin_args(data_root, '--out', out)])
    for key in SCORES:
        assert metrics[key] == 100, key
    assert metrics['SpCS_S2P_skipped'] == 0 and metrics['SpCS_P2O_skipped'] == 0
    with open(out) as f:
        assert json.load(f) == pytest.approx(dict(metrics))


def test_wrong_subparts_lower_only_their_scores(tool, spin, tmp_path):
    data_root, gt_dir = spin
    pred_dir = str(tmp_path / 'pred')
    shutil.copytree(gt_dir, pred_dir)
    num_subparts = len(tool.build_dataset('spin', data_root, 'val').metainfo['level_classes']
                       ['subpart'])
    path = osp.join(pred_dir, 'subpart', sorted(os.listdir(osp.join(pred_dir, 'subpart')))[0])
    subpart = np.array(Image.open(path))
    # Shift every subpart to the next subpart class: wrong class, mostly another part's child.
    subpart = np.where((subpart > 0) & (subpart < 255), subpart % (num_subparts - 1) + 1, subpart)
    Image.fromarray(subpart.astype(np.uint8)).save(path)
    metrics = tool.main([pred_dir, *spin_args(data_root, '--eval', 'mIoU', 'SpCS', 'SeCS')])
    assert metrics['mIoU.object'] == 100 and metrics['mIoU.part'] == 100
    assert metrics['SpCS_P2O'] == 100
    assert metrics['mIoU.subpart'] < 100
    assert metrics['SpCS_S2P'] < 100 and metrics['SeCS'] < 100


def test_bad_prediction_files_name_the_file(tool, spin, tmp_path):
    data_root, gt_dir = spin
    pred_dir = tmp_path / 'pred'
    shutil.copytree(gt_dir, pred_dir)
    first = sorted((pred_dir / 'part').iterdir())[0]
    label = np.array(Image.open(first))

    Image.fromarray(label[:-1]).save(first)
    with pytest.raises(ValueError, match=f'{first}.*the image is'):
        tool.main([str(pred_dir), *spin_args(data_root)])
    Image.fromarray(np.stack([label] * 3, -1)).save(first)
    with pytest.raises(ValueError, match='mode RGB'):
        tool.main([str(pred_dir), *spin_args(data_root)])
    Image.fromarray(np.full_like(label, 200)).save(first)
    with pytest.raises(ValueError, match=r'values \[200\] outside'):
        tool.main([str(pred_dir), *spin_args(data_root)])
    first.unlink()
    with pytest.raises(FileNotFoundError, match=str(first)):
        tool.main([str(pred_dir), *spin_args(data_root)])


def test_partimagenet_two_levels(tool, tmp_path):
    data_root = generate_synthetic_partimagenet(str(tmp_path / 'data'), num_train=0, num_val=2,
                                                seed=1, min_size=64, max_size=96)
    gt_dir = str(tmp_path / 'gt')
    args = ['--dataset', 'partimagenet', '--data-root', data_root, '--split', 'val']
    metrics = tool.main([gt_dir, '--write-gt-as-pred', gt_dir, *args])
    assert metrics['mIoU.part'] == 100 and metrics['SpCS_P2O'] == 100 and metrics['SeCS'] == 100
    assert 'SpCS_S2P' not in metrics and 'mIoU.subpart' not in metrics
    with pytest.raises(ValueError, match="SpCS_S2P: no level pair 'S2P'"):
        tool.main([gt_dir, *args, '--eval', 'SpCS_S2P'])


def test_command_line(spin, tmp_path):
    data_root, gt_dir = spin
    out = str(tmp_path / 'r.json')
    proc = subprocess.run(
        [sys.executable, TOOL, gt_dir, *spin_args(data_root, '--eval', 'SeCS', '--out', out)],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'SeCS (subpart -> part -> object)' in proc.stdout + proc.stderr
    with open(out) as f:
        assert json.load(f) == {'SeCS': 100.0}

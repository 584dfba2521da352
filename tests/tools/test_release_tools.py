"""tools/check_dataset.py and tools/eval_hierarchy.py on SPIN in the release's format.

spin-api writes the label maps other SPIN code scores with (``rasterize_dataset``: category
ids, background 158 / 40 / 0); ``--pred-format spin`` scores them without conversion.
"""
import contextlib
import io
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from spin import SPIN

from tests.helpers.spin_release import load, make_spin_release, save
from tests.helpers.tools import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCORES = ('mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SpCS_S2P', 'SpCS_P2O', 'SeCS')


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    # without the overlapping boxes, which make the ground truth inconsistent across levels
    return make_spin_release(str(tmp_path_factory.mktemp('spin_release')), num_train=2,
                             num_val=4, overlaps=False)


@pytest.fixture(scope='module')
def spin_api_maps(release, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('rasterized'))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        SPIN(osp.join(release, 'annotations'), osp.join(release, 'images'),
             'val').rasterize_dataset(out)
    return out


@pytest.mark.parametrize('object_level', ['superclass', 'class'])
def test_ground_truth_scores_100_both_formats(release, spin_api_maps, tmp_path, object_level):
    tool = load_tool('eval_hierarchy.py')
    args = ['--dataset', 'spin', '--data-root', release, '--split', 'val',
            '--dataset-options', f'object_level={object_level}']
    ours = str(tmp_path / 'ours')
    tool.main(['--write-gt-as-pred', ours, *args])
    for pred, fmt in ((ours, 'ours'), (spin_api_maps, 'spin')):
        metrics = tool.main([pred, '--pred-format', fmt, *args])
        for key in SCORES:
            assert metrics[key] == 100, (fmt, key)


def test_spin_format_wrong_values_name_the_file(release, spin_api_maps, tmp_path):
    tool = load_tool('eval_hierarchy.py')
    pred = str(tmp_path / 'pred')
    shutil.copytree(spin_api_maps, pred)
    path = osp.join(pred, 'val_part', sorted(os.listdir(osp.join(pred, 'val_part')))[0])
    Image.fromarray(np.full_like(np.array(Image.open(path)), 39)).save(path)  # no such part id
    with pytest.raises(ValueError, match=osp.basename(path) + r'.*values \[39\] that are'):
        tool.main([pred, '--pred-format', 'spin', '--dataset', 'spin', '--data-root', release,
                   '--split', 'val'])


def test_check_dataset_reports_problems_with_ids(release, tmp_path, tool_env):
    root = str(tmp_path / 'spin')
    shutil.copytree(release, root)
    wholes = load(root, 'val', 'wholes')
    bad = wholes['annotations'][0]
    bad['segmentation'] = [[1, 1, 30, 1]]  # two points: the object's mask is empty
    save(root, 'val', 'wholes', wholes)
    out = str(tmp_path / 'report.json')
    proc = subprocess.run([sys.executable, 'tools/check_dataset.py', 'spin', root, '--split',
                           'val', '--out', out], cwd=REPO, capture_output=True, text=True,
                          env=tool_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "SPINDataset split 'val': 4 images" in text
    assert 'subpart -> part:' in text and 'by alias' in text
    assert f"image {bad['image_id']} ({wholes['images'][bad['image_id'] - 1]['file_name']}) " \
        f"annotation {bad['id']} polygon 0 has 2 point(s)" in text
    with open(out) as f:
        report = json.load(f)
    rows = {r['child']: r for r in report['hierarchy']['subpart']}
    assert rows['Quadruped-Torso-Spots'] == dict(child='Quadruped-Torso-Spots',
                                                 parents=['Quadruped Body'], rule='alias')
    stray = [m for m in report['misplaced'] if m['level'] == 'part'
             and m['image_id'] == bad['image_id']]
    assert stray and all(m['outside'] > m['pixels'] / 2 for m in stray)
    assert all(m['ann_file'].endswith('spin_val_parts.json') for m in stray)
    assert report['superclasses']['whole_superclasses']['jeep'] == 'Car'

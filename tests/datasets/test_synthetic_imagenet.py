"""The synthetic ImageNet-layout generator: layout, labels, determinism, overwrite rules."""
import filecmp
import os
import os.path as osp

import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from cast.datasets.synthetic import generate_synthetic_imagenet, synthetic_imagenet_classes


def test_layout_read_by_mmpretrain_imagenet(synthetic_imagenet_root):
    root = synthetic_imagenet_root
    wnids = [w for w, _ in synthetic_imagenet_classes('class')]
    for split in ('train', 'val'):
        assert sorted(os.listdir(osp.join(root, split))) == wnids
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(dict(type='ImageNet', data_root=root, split='train',
                                  classes=osp.join(root, 'meta', 'classes.txt')))
    assert len(dataset) == 8 and len(dataset.CLASSES) == 6
    with open(osp.join(root, 'meta', 'train.txt')) as f:
        listed = dict(line.split() for line in f)
    for info in dataset:
        rel = osp.relpath(info['img_path'], osp.join(root, 'train'))
        assert int(listed[rel]) == info['gt_label']
        assert rel.split('/')[0] == wnids[info['gt_label']]


def test_superclass_labels_and_determinism(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    counts = generate_synthetic_imagenet(a, 6, 2, seed=3, label='superclass',
                                         min_size=32, max_size=40)
    assert set(counts) == {'n91000001', 'n91000002', 'n91000003'}
    assert sum(counts.values()) == 8
    with open(osp.join(a, 'meta', 'classes.txt')) as f:
        assert f.read().split('\n')[:3] == ['Quadruped', 'Car', 'Fish']
    generate_synthetic_imagenet(b, 6, 2, seed=3, label='superclass', min_size=32, max_size=40)
    cmp = filecmp.dircmp(osp.join(a, 'train'), osp.join(b, 'train'))
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    # again with the same arguments: nothing to do; other arguments or foreign files: refused
    assert generate_synthetic_imagenet(a, 6, 2, seed=3, label='superclass', min_size=32,
                                       max_size=40) == counts
    with pytest.raises(FileExistsError, match='other parameters'):
        generate_synthetic_imagenet(a, 6, 2, seed=4, label='superclass')
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'mine.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='refusing'):
        generate_synthetic_imagenet(str(foreign), 2, 1)
    assert (foreign / 'mine.txt').read_text() == 'keep me'
    with pytest.raises(ValueError, match='label'):
        synthetic_imagenet_classes('part')

"""The synthetic SPIN / PartImageNet generator: determinism, layout, overwrite rules (its command
line: tests/tools/test_generate_synthetic_spin.py)."""
import filecmp
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from cast.datasets.masks import decode_segmentation
from cast.datasets.synthetic import (
    SYNTHETIC_TAXONOMY,
    generate_synthetic_partimagenet,
    generate_synthetic_spin,
    synthetic_categories,
)

LEVEL_FILES = ('wholes', 'parts', 'subparts')


def load(root, split, level):
    with open(osp.join(root, 'annotations', f'spin_{split}_{level}.json')) as f:
        return json.load(f)


def test_layout(synthetic_spin_root):
    root = synthetic_spin_root
    kinds = set()
    for split, num in (('train', 8), ('val', 4)):
        cocos = {lv: load(root, split, lv) for lv in LEVEL_FILES}
        images = cocos['wholes']['images']
        assert len(images) == num
        assert all(c['images'] == images for c in cocos.values())
        for im in images:
            assert set(im) == {'id', 'file_name', 'height', 'width'}
            assert '.' not in im['file_name'] and im['file_name'].startswith('n9')
            img = cv2.imread(osp.join(root, 'images', split, im['file_name'] + '.JPEG'))
            assert img.shape == (im['height'], im['width'], 3)
            assert 128 <= im['height'] <= 192 and 128 <= im['width'] <= 192
            assert img.std() > 10  # textured, not flat
        for lv, coco in cocos.items():
            assert coco['annotations'], lv
            for ann in coco['annotations']:
                assert set(ann) == {'id', 'image_id', 'category_id', 'segmentation', 'area',
                                    'bbox', 'iscrowd'}
                kinds.add('polygon' if isinstance(ann['segmentation'], list) else 'rle')
                im = images[ann['image_id'] - 1]
                mask = decode_segmentation(ann['segmentation'], im['height'], im['width'])
                assert mask.sum() == ann['area'] > 0
        # the release's conventions: wholes without supercategory, ids from 0 / 0 / 1
        assert all('supercategory' not in c for c in cocos['wholes']['categories'])
        assert [min(c['id'] for c in cocos[lv]['categories']) for lv in LEVEL_FILES] == [0, 0, 1]
        assert all(c['name'].count('-') == 2 for c in cocos['subparts']['categories'])
    assert kinds == {'rle'}  # compressed RLE, as spin-api reads them
    assert not osp.exists(osp.join(root, 'images', 'test'))


def test_styles_give_the_same_label_maps(synthetic_spin_root, tmp_path):
    from cast.datasets import SPINDataset
    coco = str(tmp_path / 'coco')
    generate_synthetic_spin(coco, num_train=8, num_val=4, seed=0, style='coco')
    kinds = {isinstance(a['segmentation'], list) for a in load(coco, 'val', 'parts')['annotations']}
    assert kinds == {True, False}  # polygons and RLE
    load_anns = [dict(type='LoadHierarchicalAnnotations')]
    a = SPINDataset(synthetic_spin_root, split='val', pipeline=load_anns)
    b = SPINDataset(coco, split='val', pipeline=load_anns)
    assert a.metainfo['hierarchy'] == b.metainfo['hierarchy']
    assert a.metainfo['level_classes']['part'] == b.metainfo['level_classes']['part']
    for i in range(len(a)):
        for lv in ('object', 'part', 'subpart'):
            np.testing.assert_array_equal(a[i][f'gt_seg_{lv}'], b[i][f'gt_seg_{lv}'])


def test_fixed_hierarchy():
    cats = synthetic_categories('coco')
    assert len(SYNTHETIC_TAXONOMY) >= 3
    superclasses = {c['supercategory'] for c in cats['wholes']}
    assert superclasses == set(SYNTHETIC_TAXONOMY)
    for sc in superclasses:
        assert sum(c['supercategory'] == sc for c in cats['wholes']) == 2
        parts = [c for c in cats['parts'] if c['supercategory'] == sc]
        assert 2 <= len(parts) <= 4
        assert all(c['name'].startswith(sc + ' ') for c in parts)
    part_names = {c['name'] for c in cats['parts']}
    for sub in cats['subparts']:
        assert sub['supercategory'] in part_names
        assert sub['name'].startswith(sub['supercategory'] + ' ')
    assert [c['id'] for c in cats['parts']] == list(range(1, len(cats['parts']) + 1))
    release = synthetic_categories('release')
    assert [c['key'] for c in release['subparts']] == [c['name'] for c in cats['subparts']]
    names = {c['name'] for c in release['subparts']}
    assert {'Quadruped-Torso-Belly', 'Quadruped-Legs-Paw', 'Car-Tire-Rim'} <= names


def test_levels_nest_exactly(synthetic_spin_root):
    """Subparts lie in their part, parts tile their object: the per-instance masks nest."""
    cocos = {lv: load(synthetic_spin_root, 'train', lv) for lv in LEVEL_FILES}
    for im in cocos['wholes']['images']:
        h, w = im['height'], im['width']
        masks = {}
        for lv, coco in cocos.items():
            masks[lv] = np.zeros((h, w), bool)
            for ann in coco['annotations']:
                if ann['image_id'] == im['id']:
                    masks[lv] |= decode_segmentation(ann['segmentation'], h, w)
        assert np.array_equal(masks['wholes'], masks['parts'])
        assert not (masks['subparts'] & ~masks['parts']).any()


def test_deterministic(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_synthetic_spin(a, num_train=3, num_val=2, num_test=1, seed=5)
    generate_synthetic_spin(b, num_train=3, num_val=2, num_test=1, seed=5)
    generate_synthetic_spin(c, num_train=3, num_val=2, num_test=1, seed=6)
    for split in ('train', 'val', 'test'):
        files = os.listdir(osp.join(a, 'images', split))
        assert len(files) == {'train': 3, 'val': 2, 'test': 1}[split]
        for name in files:
            assert filecmp.cmp(osp.join(a, 'images', split, name),
                               osp.join(b, 'images', split, name), shallow=False)
        for lv in LEVEL_FILES:
            assert load(a, split, lv) == load(b, split, lv)
            assert load(a, split, lv) != load(c, split, lv)


def test_idempotent_and_never_overwrites(tmp_path):
    root = str(tmp_path / 'spin')
    generate_synthetic_spin(root, num_train=2, num_val=1)
    ann = osp.join(root, 'annotations', 'spin_train_parts.json')
    img_dir = osp.join(root, 'images', 'train')
    first_img = osp.join(img_dir, sorted(os.listdir(img_dir))[0])
    mtimes = (os.stat(ann).st_mtime_ns, os.stat(first_img).st_mtime_ns)
    generate_synthetic_spin(root, num_train=2, num_val=1)  # complete: nothing written
    assert (os.stat(ann).st_mtime_ns, os.stat(first_img).st_mtime_ns) == mtimes

    # other arguments: refused, files kept
    with pytest.raises(FileExistsError, match='other parameters.*seed'):
        generate_synthetic_spin(root, num_train=2, num_val=1, seed=1)
    assert os.stat(ann).st_mtime_ns == mtimes[0]

    # an interrupted run (an image lost) is completed, identically
    with open(first_img, 'rb') as f:
        original = f.read()
    os.remove(first_img)
    generate_synthetic_spin(root, num_train=2, num_val=1)
    with open(first_img, 'rb') as f:
        assert f.read() == original

    # files this generator did not write: refused
    foreign = str(tmp_path / 'foreign')
    os.makedirs(osp.join(foreign, 'annotations'))
    user_file = osp.join(foreign, 'annotations', 'spin_train_wholes.json')
    with open(user_file, 'w') as f:
        f.write('{"mine": 1}')
    with pytest.raises(FileExistsError, match='spin_train_wholes.json'):
        generate_synthetic_spin(foreign, num_train=2, num_val=1)
    with open(user_file) as f:
        assert f.read() == '{"mine": 1}'


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='min_size'):
        generate_synthetic_spin(str(tmp_path / 'x'), num_train=1, min_size=200, max_size=100)
    with pytest.raises(ValueError, match='nothing to generate'):
        generate_synthetic_spin(str(tmp_path / 'y'), num_train=0, num_val=0)


def test_partimagenet_format(tmp_path):
    root = str(tmp_path / 'pin')
    generate_synthetic_partimagenet(root, num_train=2, num_val=1, seed=3)
    with open(osp.join(root, 'annotations', 'train', 'train.json')) as f:
        coco = json.load(f)
    assert [c['id'] for c in coco['categories']][0] == 0  # PartImageNet counts from 0
    assert all(c['supercategory'] in SYNTHETIC_TAXONOMY for c in coco['categories'])
    for im in coco['images']:
        assert im['file_name'].endswith('.JPEG')
        assert osp.isfile(osp.join(root, 'images', 'train', im['file_name']))
    # same scenes as the SPIN layout with the same seed
    spin = str(tmp_path / 'spin')
    generate_synthetic_spin(spin, num_train=2, num_val=1, seed=3, style='coco')
    parts = load(spin, 'train', 'parts')
    assert [a['segmentation'] for a in parts['annotations']] == \
        [a['segmentation'] for a in coco['annotations']]

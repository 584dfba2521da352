"""PartImageNetDataset on PartImageNet_Seg's layout: COCO JSON and PNG label maps agree.

The reference painting is the official COCO API's: ``COCO.annToMask`` of every annotation in file
order, category ids on a background of 40 (PartImageNet's PNG convention).
"""
import contextlib
import io
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from pycocotools.coco import COCO

import cast  # noqa: F401
from cast.datasets import PartImageNetDataset
from cast.datasets.masks import make_lut
from cast.datasets.synthetic import generate_synthetic_partimagenet

LOAD = [dict(type='LoadHierarchicalAnnotations')]


@pytest.fixture(scope='module')
def seg_release(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('partimagenet_seg'))
    generate_synthetic_partimagenet(root, num_train=6, num_val=3, seed=2)
    return root


def coco_reference(path, img_id):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    im = coco.imgs[img_id]
    out = np.full((im['height'], im['width']), 40, np.uint8)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
        out[coco.annToMask(ann) > 0] = ann['category_id']
    return out


def test_layout_is_the_release(seg_release):
    assert osp.isfile(osp.join(seg_release, 'annotations', 'train', 'train.json'))
    with open(osp.join(seg_release, 'annotations', 'train', 'train.json')) as f:
        coco = json.load(f)
    assert coco['images'][0]['file_name'].endswith('.JPEG')
    assert min(c['id'] for c in coco['categories']) == 0
    assert all(c.get('supercategory') for c in coco['categories'])
    stem = osp.splitext(coco['images'][0]['file_name'])[0]
    assert osp.isfile(osp.join(seg_release, 'annotations', 'train', stem + '.png'))


@pytest.mark.parametrize('split', ['train', 'val'])
def test_json_png_and_coco_api_agree(seg_release, split):
    from_json = PartImageNetDataset(seg_release, split=split, pipeline=LOAD)
    from_png = PartImageNetDataset(seg_release, split=split, pipeline=LOAD, label_source='png')
    path = from_json.level_ann_file()
    lut = make_lut({**from_json.specs['part'].cat2label, 40: 0})
    to_object = np.asarray(from_json.metainfo['hierarchy']['part'])
    for i in range(len(from_json)):
        a, b = from_json[i], from_png[i]
        reference = lut[coco_reference(path, a['img_id'])]
        np.testing.assert_array_equal(a['gt_seg_part'], reference)
        np.testing.assert_array_equal(b['gt_seg_part'], reference)
        np.testing.assert_array_equal(a['gt_seg_object'], to_object[reference])
        np.testing.assert_array_equal(b['gt_seg_object'], a['gt_seg_object'])


def test_flat_json_windows_names_and_no_supercategory(seg_release, tmp_path):
    """annotations/{split}.json (the older layout), file names holding a Windows path, and
    parts whose superclass is only in their name."""
    root = str(tmp_path / 'pin')
    shutil.copytree(seg_release, root)
    nested = osp.join(root, 'annotations', 'val', 'val.json')
    with open(nested) as f:
        coco = json.load(f)
    os.remove(nested)
    for im in coco['images']:
        im['file_name'] = 'PartImageNet\\images\\val\\' + im['file_name']
    for c in coco['categories']:
        c.pop('supercategory')
    with open(osp.join(root, 'annotations', 'val.json'), 'w') as f:
        json.dump(coco, f)
    reference = PartImageNetDataset(seg_release, split='val', pipeline=LOAD)
    variant = PartImageNetDataset(root, split='val', pipeline=LOAD)
    assert variant.metainfo['level_classes'] == reference.metainfo['level_classes']
    assert variant.metainfo['hierarchy'] == reference.metainfo['hierarchy']
    for i in range(len(reference)):
        for lv in ('object', 'part'):
            np.testing.assert_array_equal(reference[i][f'gt_seg_{lv}'],
                                          variant[i][f'gt_seg_{lv}'])


def test_png_errors_name_the_file(seg_release, tmp_path):
    root = str(tmp_path / 'pin')
    shutil.copytree(seg_release, root)
    ds = PartImageNetDataset(root, split='val', pipeline=LOAD, label_source='png')
    png = ds.get_data_info(0)['seg_pngs']['part']
    from PIL import Image
    Image.fromarray(np.full((4, 4), 200, np.uint8)).save(png)
    with pytest.raises(ValueError, match=osp.basename(png)):
        ds[0]
    os.remove(png)
    with pytest.raises(FileNotFoundError, match=osp.basename(png)):
        ds[0]

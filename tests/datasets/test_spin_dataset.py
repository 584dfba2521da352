"""SPINDataset and PartImageNetDataset on generated data: metainfo, hierarchy, errors."""
import json
import os
import os.path as osp
import re
import shutil
import time

import numpy as np
import pytest
from mmengine.registry import init_default_scope

import cast  # noqa: F401
from cast.datasets import PartImageNetDataset, SPINDataset
from cast.datasets.synthetic import generate_synthetic_partimagenet, synthetic_categories
from mmseg.registry import DATASETS

init_default_scope('mmseg')

LOAD = [dict(type='LoadHierarchicalAnnotations')]
LOAD_IMG = [dict(type='LoadImageFromFile'), dict(type='LoadHierarchicalAnnotations')]


@pytest.fixture
def spin_copy(synthetic_spin_root, tmp_path):
    """A private copy of the session's synthetic SPIN data, for tests that alter it."""
    root = str(tmp_path / 'spin')
    shutil.copytree(synthetic_spin_root, root)
    return root


@pytest.fixture
def coco_style(tmp_path):
    """The same scenes with supercategories on every level ('coco' style of the generator)."""
    from cast.datasets.synthetic import generate_synthetic_spin
    root = str(tmp_path / 'spin_coco')
    generate_synthetic_spin(root, num_train=8, num_val=4, seed=0, style='coco')
    return root


@pytest.fixture(scope='module')
def partimagenet_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('partimagenet'))
    generate_synthetic_partimagenet(root, num_train=4, num_val=2, seed=1)
    return root


def ann_path(root, split, level):
    return osp.join(root, 'annotations', f'spin_{split}_{level}.json')


def rewrite(path, edit):
    with open(path) as f:
        coco = json.load(f)
    edit(coco)
    with open(path, 'w') as f:
        json.dump(coco, f)


def expected_hierarchy():
    """Hierarchy of the synthetic taxonomy, object level = superclass (from the generator's
    own class keys: 'Quadruped Head Eye' lies in 'Quadruped Head')."""
    cats = synthetic_categories('coco')
    superclasses = list(dict.fromkeys(c['supercategory'] for c in cats['wholes']))
    part_keys = [c['key'] for c in cats['parts']]
    part = (0, ) + tuple(superclasses.index(c['supercategory']) + 1 for c in cats['parts'])
    sub = (0, ) + tuple(part_keys.index(c['supercategory']) + 1 for c in cats['subparts'])
    return superclasses, dict(part=part, subpart=sub)


def check_consistent(results, hierarchy):
    """Every labelled child pixel lies on its parent class."""
    obj, part, sub = (results[f'gt_seg_{lv}'] for lv in ('object', 'part', 'subpart'))
    for child, parent, mapping in ((sub, part, hierarchy['subpart']),
                                   (part, obj, hierarchy['part'])):
        mask = (child > 0) & (child != 255)
        assert mask.any()
        np.testing.assert_array_equal(np.asarray(mapping)[child[mask]], parent[mask])


def test_length_and_metainfo(synthetic_spin_root):
    ds = DATASETS.build(dict(type='SPINDataset', data_root=synthetic_spin_root, split='train',
                             pipeline=LOAD))
    assert len(ds) == 8
    assert len(SPINDataset(synthetic_spin_root, split='val')) == 4
    meta = ds.metainfo
    superclasses, hierarchy = expected_hierarchy()
    cats = synthetic_categories()
    assert meta['levels'] == ('object', 'part', 'subpart')
    assert meta['level_classes']['object'] == ('background', *superclasses)
    assert meta['level_classes']['part'] == ('background', *(c['name'] for c in cats['parts']))
    assert meta['level_classes']['subpart'][1:] == tuple(c['name'] for c in cats['subparts'])
    assert 'Quadruped-Torso-Belly' in meta['level_classes']['subpart']  # the release's names
    assert meta['hierarchy'] == hierarchy
    assert meta['classes'] == meta['level_classes']['object']
    assert meta['palette'] == meta['level_palettes']['object']
    assert meta['main_level'] == 'object' and meta['object_level'] == 'superclass'
    for level, classes in meta['level_classes'].items():
        assert len(meta['level_palettes'][level]) == len(classes)
        assert meta['level_palettes'][level][0] == [0, 0, 0]

    results = ds[0]
    info = ds.get_data_info(0)
    assert results['img_path'] == info['img_path'] and osp.isfile(info['img_path'])
    for level in meta['levels']:
        gt = results[f'gt_seg_{level}']
        assert gt.dtype == np.uint8 and gt.shape == (info['height'], info['width'])
        assert gt.max() < len(meta['level_classes'][level])
        assert f'gt_seg_{level}' in results['seg_fields']
    np.testing.assert_array_equal(results['gt_seg_map'], results['gt_seg_object'])
    for i in range(len(ds)):
        check_consistent(ds[i], hierarchy)


def test_main_level_part(synthetic_spin_root):
    ds = SPINDataset(synthetic_spin_root, split='val', main_level='part', pipeline=LOAD,
                     test_mode=True)
    assert ds.metainfo['classes'] == ds.metainfo['level_classes']['part']
    results = ds[1]
    np.testing.assert_array_equal(results['gt_seg_map'], results['gt_seg_part'])


def test_object_level_class(synthetic_spin_root):
    ds = SPINDataset(synthetic_spin_root, split='train', object_level='class', pipeline=LOAD)
    meta = ds.metainfo
    cats = synthetic_categories()
    assert meta['level_classes']['object'] == ('background', *(c['name'] for c in cats['wholes']))
    assert meta['object_level'] == 'class'
    # a part belongs to every class of its superclass: several parents, so no plain mapping
    assert 'part' not in meta['hierarchy']
    assert meta['hierarchy']['subpart'] == expected_hierarchy()[1]['subpart']
    names = meta['level_classes']['object']
    tire = meta['level_classes']['part'].index('Car Tier')
    assert {names[i] for i in meta['level_parents']['part'][tire]} == {'sports car', 'jeep'}
    for i in range(len(ds)):
        results = ds[i]
        obj, part = results['gt_seg_object'], results['gt_seg_part']
        for k in np.unique(part[part > 0]):
            assert set(np.unique(obj[part == k])) <= set(meta['level_parents']['part'][k])


def test_given_hierarchy(synthetic_spin_root):
    _, expected = expected_hierarchy()
    by_index = SPINDataset(synthetic_spin_root, split='val',
                           hierarchy=dict(part=expected['part']))
    assert by_index.metainfo['hierarchy'] == expected
    classes = by_index.metainfo['level_classes']
    by_name = {classes['subpart'][i]: classes['part'][p]
               for i, p in enumerate(expected['subpart']) if i}
    ds = SPINDataset(synthetic_spin_root, split='val', hierarchy=dict(subpart=by_name))
    assert ds.metainfo['hierarchy'] == expected
    with pytest.raises(ValueError, match=r"hierarchy\['part'\] must hold one parent entry"):
        SPINDataset(synthetic_spin_root, split='val', hierarchy=dict(part=[0, 1]))
    with pytest.raises(ValueError, match="keys \\['object'\\]"):
        SPINDataset(synthetic_spin_root, split='val', hierarchy=dict(object=[0]))


def strip_names(root, split='train'):
    """Neutral category names without supercategory: the names no longer spell the chain."""
    for level, prefix in (('parts', 'p'), ('subparts', 's')):
        def edit(coco):
            for c in coco['categories']:
                c['name'] = f"{prefix}{c['id']}"
                c.pop('supercategory', None)
        rewrite(ann_path(root, split, level), edit)


def test_hierarchy_by_containment_and_cache(coco_style):
    spin_copy = coco_style
    strip_names(spin_copy)
    cache = osp.join(spin_copy, 'annotations', 'spin_train_hierarchy.json')
    assert not osp.exists(cache)
    ds = SPINDataset(spin_copy, split='train')
    _, expected = expected_hierarchy()
    assert ds.metainfo['hierarchy'] == expected
    assert osp.isfile(cache)
    with open(cache) as f:
        content = json.load(f)
    assert content['pairs']['subpart']['parents'] == list(expected['subpart'])

    # reused while newer than the JSONs: a (valid) edit of the cache shows up
    content['pairs']['subpart']['parents'][1] = 2
    with open(cache, 'w') as f:
        json.dump(content, f)
    assert SPINDataset(spin_copy, split='train').metainfo['hierarchy']['subpart'][1] == 2

    # a newer annotation file makes it stale: derived again and rewritten
    time.sleep(0.01)
    os.utime(ann_path(spin_copy, 'train', 'subparts'))
    assert SPINDataset(spin_copy, split='train').metainfo['hierarchy'] == expected
    with open(cache) as f:
        assert json.load(f)['pairs']['subpart']['parents'][1] == expected['subpart'][1]


def test_containment_conflict_names_class(coco_style):
    spin_copy = coco_style
    strip_names(spin_copy)
    cats = synthetic_categories('coco')['subparts']
    eye = next(c['id'] for c in cats if c['key'] == 'Quadruped Head Eye')
    rim = next(c['id'] for c in cats if c['key'] == 'Car Tier Rim')

    def relabel(coco):  # every rim becomes an "eye": the class now spans two parts
        for ann in coco['annotations']:
            if ann['category_id'] == rim:
                ann['category_id'] = eye
    rewrite(ann_path(spin_copy, 'train', 'subparts'), relabel)
    with pytest.raises(ValueError, match=rf"subpart class 's{eye}' has no consistent part "
                       r'class: \d+ of its \d+ pixels'):
        SPINDataset(spin_copy, split='train', hierarchy_tolerance=0.0)


def test_partimagenet(partimagenet_root):
    ds = DATASETS.build(dict(type='PartImageNetDataset', data_root=partimagenet_root,
                             split='train', pipeline=LOAD_IMG))
    assert len(ds) == 4 and len(PartImageNetDataset(partimagenet_root, split='val')) == 2
    meta = ds.metainfo
    superclasses, hierarchy = expected_hierarchy()
    assert meta['levels'] == ('object', 'part')
    assert meta['level_classes']['object'] == ('background', *superclasses)
    assert meta['hierarchy'] == dict(part=hierarchy['part'])
    for i in range(len(ds)):
        results = ds[i]
        obj, part = results['gt_seg_object'], results['gt_seg_part']
        assert results['img'].shape[:2] == obj.shape
        np.testing.assert_array_equal(obj > 0, part > 0)  # object = union of its parts
        np.testing.assert_array_equal(np.asarray(hierarchy['part'])[part], obj)


# ---- errors ---------------------------------------------------------------------------------

def test_missing_data_root(tmp_path):
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        SPINDataset(missing)
    with pytest.raises(FileNotFoundError, match='nowhere'):
        PartImageNetDataset(missing)


def test_missing_level_file(spin_copy, partimagenet_root):
    os.remove(ann_path(spin_copy, 'val', 'subparts'))
    with pytest.raises(FileNotFoundError, match=r'spin_val_subparts\.json.*expects '
                       r'spin_val_subparts\.json for the subpart level'):
        SPINDataset(spin_copy, split='val')
    with pytest.raises(FileNotFoundError, match=r'test\.json'):
        PartImageNetDataset(partimagenet_root, split='test')


def test_missing_image(spin_copy):
    with open(ann_path(spin_copy, 'val', 'wholes')) as f:
        name = json.load(f)['images'][2]['file_name']
    path = osp.join(spin_copy, 'images', 'val', name + '.JPEG')
    os.remove(path)
    with pytest.raises(FileNotFoundError, match=re.escape(path) + '.*does not exist'):
        SPINDataset(spin_copy, split='val')


def test_unknown_image_id(spin_copy):
    path = ann_path(spin_copy, 'val', 'parts')

    def edit(coco):
        coco['annotations'][3]['image_id'] = 999
    rewrite(path, edit)
    with pytest.raises(ValueError, match=re.escape(path) + r': annotation \d+ has image_id 999'):
        SPINDataset(spin_copy, split='val')


@pytest.mark.parametrize('content', [b'', b'not a jpeg at all'])
def test_corrupt_image(spin_copy, content):
    ds = SPINDataset(spin_copy, split='val', pipeline=LOAD_IMG)
    path = ds.get_data_info(1)['img_path']
    with open(path, 'wb') as f:
        f.write(content)
    ds[0]  # others still load
    with pytest.raises(Exception, match=re.escape(path)):
        ds[1]


def test_bad_arguments(synthetic_spin_root, partimagenet_root):
    with pytest.raises(ValueError, match='object_level'):
        SPINDataset(synthetic_spin_root, object_level='species')
    with pytest.raises(ValueError, match="main_level 'subpart'"):
        PartImageNetDataset(partimagenet_root, main_level='subpart')
    with pytest.raises(TypeError, match='ann_file'):
        SPINDataset(synthetic_spin_root, ann_file='x.json')


def test_partimagenet_needs_superclass(partimagenet_root, tmp_path):
    root = str(tmp_path / 'pin')
    shutil.copytree(partimagenet_root, root)
    path = osp.join(root, 'annotations', 'val', 'val.json')

    def edit(coco):
        coco['categories'][0].pop('supercategory')
        coco['categories'][0]['name'] = 'Head'
    rewrite(path, edit)
    with pytest.raises(ValueError, match=re.escape(path) + r": categories \['Head'\] "
                       'have no supercategory and no name starting with a superclass'):
        PartImageNetDataset(root, split='val')

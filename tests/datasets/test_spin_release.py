"""SPINDataset on files in the public release's format, against spin-api's own rasterizer.

spin-api (``pip install spin-dataset-api``, the package SPIN's authors publish) is installed by
the test requirements and runs here as users run it: ``SPIN(annotation_dir, image_dir, split)``
and its ``rasterize_coco_segmentations`` / ``rasterize_dataset``.
"""
import contextlib
import io
import json
import os
import os.path as osp
import shutil

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from spin import SPIN
from spin.object_mapping import file_to_object_mapping

import cast  # noqa: F401
from cast.datasets import SPINDataset
from cast.datasets.masks import make_lut
from tests.helpers.spin_release import (
    ABSENT_SUBPARTS,
    LEVEL_FILES,
    SYNSET_SUPERCLASS,
    ann_path,
    load,
    make_spin_release,
    save,
)

LOAD = [dict(type='LoadHierarchicalAnnotations')]
LEVELS = ('object', 'part', 'subpart')
BACKGROUND = dict(object=158, part=40, subpart=0)  # spin-api's rasterize_dataset


@pytest.fixture(scope='module')
def release(tmp_path_factory):
    return make_spin_release(str(tmp_path_factory.mktemp('spin_release')))


@pytest.fixture(scope='module')
def release_int_names(tmp_path_factory):
    return make_spin_release(str(tmp_path_factory.mktemp('spin_release_int')),
                             integer_names=True, part_supercategory=False)


def present_wholes(root, split):
    return len({a['category_id'] for a in load(root, split, 'wholes')['annotations']})


def spin_api(root, split):
    with contextlib.redirect_stdout(io.StringIO()):
        return SPIN(osp.join(root, 'annotations'), osp.join(root, 'images'), split)


def their_maps(api, img_id):
    """spin-api's three maps of one image (values: category ids, its background values)."""
    return {lv: api.rasterize_coco_segmentations(coco, img_id, BACKGROUND[lv])
            for lv, coco in zip(LEVELS, api.cocos)}


def to_ours(dataset, level):
    """spin-api value -> our label: the dataset's category -> label mapping, background -> 0."""
    return make_lut({**dataset.specs[level].cat2label, BACKGROUND[level]: 0})


@pytest.mark.parametrize('object_level', ['superclass', 'class'])
@pytest.mark.parametrize('fixture', ['release', 'release_int_names'])
def test_maps_equal_spin_api(fixture, object_level, request):
    root = request.getfixturevalue(fixture)
    for split in ('train', 'val'):
        api = spin_api(root, split)
        ds = SPINDataset(root, split=split, object_level=object_level, pipeline=LOAD)
        luts = {lv: to_ours(ds, lv) for lv in LEVELS}
        for i in range(len(ds)):
            ours = ds[i]
            theirs = their_maps(api, ours['img_id'])
            for lv in LEVELS:
                assert (luts[lv][theirs[lv]] <= 255).all()
                np.testing.assert_array_equal(ours[f'gt_seg_{lv}'], luts[lv][theirs[lv]],
                                              err_msg=f'{split} image {ours["img_id"]} {lv}')


def test_fixture_has_the_hard_cases(release):
    """Guard: the comparison above only means something if the files hold these cases."""
    subparts = load(release, 'train', 'subparts')
    wholes = load(release, 'train', 'wholes')
    assert all('supercategory' not in c for c in wholes['categories'])
    ids = sorted(c['id'] for c in subparts['categories'])
    assert ids != list(range(ids[0], ids[0] + len(ids)))  # non-contiguous
    assert any(a['iscrowd'] for a in subparts['annotations'])
    names = {c['name'] for c in subparts['categories']}
    assert {'Quadruped-Torso-Belly', 'Quadruped-Legs-Paw', 'Car-Tire-Rim'} <= names
    # overlaps: some pixel is covered by two annotations of one level in one image
    api = spin_api(release, 'train')
    overlapping = 0
    for img_id in api.getImgIds():
        anns = api.parts.loadAnns(api.parts.getAnnIds(imgIds=img_id))
        masks = [api.parts.annToMask(a) for a in anns]
        overlapping += int((np.sum(masks, 0) > 1).sum()) if masks else 0
    assert overlapping > 0


def test_png_layout_equals_json(release, tmp_path):
    """spin-api's rasterize_dataset output, read with label_source='png'."""
    png_root = str(tmp_path / 'rasterized')
    for split in ('train', 'val'):
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            spin_api(release, split).rasterize_dataset(png_root)
        for object_level in ('superclass', 'class'):
            from_json = SPINDataset(release, split=split, object_level=object_level,
                                    pipeline=LOAD)
            from_png = SPINDataset(release, split=split, object_level=object_level,
                                   pipeline=LOAD, label_source='png',
                                   png_dir=osp.relpath(png_root, release))
            assert len(from_png) == len(from_json)
            for i in range(len(from_json)):
                a, b = from_json[i], from_png[i]
                for lv in LEVELS:
                    np.testing.assert_array_equal(a[f'gt_seg_{lv}'], b[f'gt_seg_{lv}'])


def test_hierarchy_from_names_and_aliases(release):
    ds = SPINDataset(release, split='val')
    meta = ds.metainfo
    assert meta['level_classes']['object'] == ('background', 'Quadruped', 'Car', 'Fish')
    parts, subs = meta['level_classes']['part'], meta['level_classes']['subpart']
    parent = {subs[k]: parts[p] for k, p in enumerate(meta['hierarchy']['subpart']) if k}
    assert parent['Quadruped-Torso-Belly'] == 'Quadruped Body'  # alias Torso -> Body
    assert parent['Quadruped-Legs-Paw'] == 'Quadruped Foot'  # alias Legs -> Foot
    assert parent['Car-Tire-Rim'] == 'Car Tier'  # alias Tire -> Tier
    assert parent['Quadruped-Head-Eye'] == 'Quadruped Head'
    # listed but absent from the split: still placed by name, not sent to background
    assert parent['Quadruped-Torso-Spots'] == 'Quadruped Body'
    assert parent['Car-Side_Mirror-Glass'] == 'Car Side Mirror'
    assert parent['Quadruped-Legs-Claw'] == 'Quadruped Foot'
    sources = dict(zip(subs, ds.hierarchy_sources['subpart']))
    assert sources['Quadruped-Torso-Spots'] == 'alias' and sources['Quadruped-Head-Eye'] == 'name'
    objects = meta['level_classes']['object']
    assert [objects[p] for p in meta['hierarchy']['part'][1:]] == [n.split()[0]
                                                                    for n in parts[1:]]
    assert meta['superclasses'] == ('Quadruped', 'Car', 'Fish')
    assert dict(zip(meta['whole_classes'], meta['whole_superclasses']))['jeep'] == 'Car'
    assert ds.superclass_report['used'] == {'part names': present_wholes(release, 'val')}


def test_integer_names_and_object_classes(release_int_names):
    ds = SPINDataset(release_int_names, split='train', object_level='class')
    meta = ds.metainfo
    # integer names become the wnid their pictures share (classes without pictures in the
    # split keep their id); superclasses come from the part names
    wholes = load(release_int_names, 'train', 'wholes')
    stems = {im['id']: im['file_name'] for im in wholes['images']}
    wnids = {}
    for a in wholes['annotations']:
        wnids.setdefault(a['category_id'], set()).add(stems[a['image_id']].split('_')[0])
    sole = [w.copy().pop() for w in wnids.values() if len(w) == 1]
    expected = [wnids[i].copy().pop() if len(wnids.get(i, ())) == 1
                and sole.count(next(iter(wnids[i]))) == 1 else str(i)
                for i in sorted(c['id'] for c in wholes['categories'])]
    assert list(meta['level_classes']['object'][1:]) == expected
    assert any(n.startswith('n900000') for n in expected)
    supers = dict(zip(meta['whole_classes'], meta['whole_superclasses']))
    for name, superclass in supers.items():
        if name.startswith('n900000'):
            assert superclass == SYNSET_SUPERCLASS[name]
    assert 'part' not in meta['hierarchy']  # several parents per part
    names = meta['level_classes']['object']
    tier = meta['level_classes']['part'].index('Car Tier')
    assert {names[i] for i in meta['level_parents']['part'][tier]} == {
        n for n in names[1:] if supers[n] == 'Car'}


def test_superclass_from_spin_api_table(tmp_path):
    """Pictures named as in spin-api's table and parts that name no superclass: only the
    table (from the installed spin-dataset-api) can place the whole categories."""
    by_superclass = {}
    for stem, superclass in file_to_object_mapping.items():
        by_superclass.setdefault(superclass, []).append(stem)
    root = make_spin_release(str(tmp_path / 'spin'), part_supercategory=False,
                             stems={k: sorted(v) for k, v in by_superclass.items()})
    for split in ('train', 'val'):
        for lv, prefix in (('parts', 'p'), ):
            coco = load(root, split, lv)
            for c in coco['categories']:
                c['name'] = f"{prefix}{c['id']}"
            save(root, split, lv, coco)
    ds = SPINDataset(root, split='train', hierarchy_tolerance=1.0)
    assert ds.superclass_report['used'] == {'spin-api table': present_wholes(root, 'train')}
    supers = dict(zip(ds.metainfo['whole_classes'], ds.metainfo['whole_superclasses']))
    assert supers['sports car'] == 'Car' and supers['dalmatian'] == 'Quadruped'


def test_superclass_file_and_missing_superclass(release, tmp_path):
    root = str(tmp_path / 'spin')
    shutil.copytree(release, root)
    for split in ('train', 'val'):
        coco = load(root, split, 'parts')
        for c in coco['categories']:
            c['name'], _ = f"p{c['id']}", c.pop('supercategory', None)
        save(root, split, 'parts', coco)
    with pytest.raises(ValueError, match=r'have no superclass.*superclass_file'):
        SPINDataset(root, split='val', hierarchy_tolerance=1.0)
    wholes = [c['name'] for c in load(root, 'val', 'wholes')['categories']]
    mapping = {n: ('Car' if n in ('sports car', 'jeep') else 'Animal') for n in wholes}
    with open(osp.join(root, 'superclasses.json'), 'w') as f:
        json.dump(mapping, f)
    ds = SPINDataset(root, split='val', superclass_file='superclasses.json',
                     hierarchy_tolerance=1.0)
    assert set(ds.metainfo['level_classes']['object'][1:]) == {'Car', 'Animal'}
    assert ds.superclass_report['used'] == {'superclass_file': len(wholes)}  # present or not


def test_polygons_and_uncompressed_rle_read_alike(release, tmp_path):
    """The release is compressed RLE (spin-api reads nothing else); our loader also reads
    polygons and uncompressed RLE of the same masks, pixel for pixel."""
    root = str(tmp_path / 'spin')
    shutil.copytree(release, root)
    reference = SPINDataset(release, split='val', pipeline=LOAD)
    coco = load(root, 'val', 'parts')
    for k, ann in enumerate(coco['annotations']):
        im = next(i for i in coco['images'] if i['id'] == ann['image_id'])
        mask = mask_utils.decode(ann['segmentation']).astype(bool)
        if k % 2:  # uncompressed RLE: column-major run lengths, zeros first
            flat = mask.T.reshape(-1).astype(np.int8)
            edges = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
            counts = np.diff(np.r_[0, edges]).tolist()
            ann['segmentation'] = dict(size=[im['height'], im['width']], counts=counts)
        else:  # the mask's outline as polygons is not exact; keep exact boxes only
            ys, xs = np.nonzero(mask)
            box = np.zeros_like(mask)
            box[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
            if (box == mask).all():
                ann['segmentation'] = [[float(xs.min()), float(ys.min()),
                                        float(xs.max() + 1), float(ys.min()),
                                        float(xs.max() + 1), float(ys.max() + 1),
                                        float(xs.min()), float(ys.max() + 1)]]
    save(root, 'val', 'parts', coco)
    variant = SPINDataset(root, split='val', pipeline=LOAD)
    for i in range(len(reference)):
        np.testing.assert_array_equal(reference[i]['gt_seg_part'], variant[i]['gt_seg_part'])


def test_other_painting_rules(release):
    api = spin_api(release, 'val')
    spin_like = SPINDataset(release, split='val', pipeline=LOAD)
    smaller = SPINDataset(release, split='val', pipeline=LOAD, overlap='smaller_on_top')
    crowd = SPINDataset(release, split='val', pipeline=LOAD, crowd='ignore')
    differs = ignored = 0
    for i in range(len(spin_like)):
        a, b, c = spin_like[i], smaller[i], crowd[i]
        differs += int((a['gt_seg_part'] != b['gt_seg_part']).sum())
        ignored += int((c['gt_seg_part'] == 255).sum())
        assert not (a['gt_seg_part'] == 255).any()  # spin-api: crowd painted as its category
        assert set(np.unique(c['gt_seg_part'])) - {255} <= set(np.unique(a['gt_seg_part']))
    assert differs > 0 and ignored > 0
    assert len(api.getImgIds()) == len(spin_like)


def test_absent_class_is_predicted_consistently(release):
    """An absent subpart keeps its named parent, so a prediction of it under that parent
    is consistent (SeCS) instead of always counting as a violation."""
    ds = SPINDataset(release, split='val')
    subs = ds.metainfo['level_classes']['subpart']
    for name in ABSENT_SUBPARTS:
        assert ds.metainfo['hierarchy']['subpart'][subs.index(name)] != 0


def test_level_files_missing(release, tmp_path):
    root = str(tmp_path / 'spin')
    shutil.copytree(release, root)
    os.remove(ann_path(root, 'val', LEVEL_FILES[2]))
    with pytest.raises(FileNotFoundError, match='spin_val_subparts.json'):
        SPINDataset(root, split='val')

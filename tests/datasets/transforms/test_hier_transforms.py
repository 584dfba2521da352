"""LoadHierarchicalAnnotations / PackHierSegInputs, and MMSeg's transforms moving all levels."""
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.registry import init_default_scope

import cast  # noqa: F401
from cast.datasets import SPINDataset
from cast.datasets.masks import rasterize_annotations, segmentation_problems
from cast.datasets.transforms import LoadHierarchicalAnnotations, PackHierSegInputs
from mmseg.registry import TRANSFORMS

init_default_scope('mmseg')  # MMCV's RandomResize builds MMSeg's Resize (which moves seg_fields)

LEVELS = ('object', 'part', 'subpart')


def rect(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def rle(mask):
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=encoded['size'], counts=encoded['counts'].decode())


def uncompressed_counts(mask):
    counts, current, run = [], 0, 0
    for value in mask.T.reshape(-1).astype(int):
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    return counts + [run]


def test_rasterize_rules():
    big = np.zeros((8, 10), bool)
    big[1:7, 1:9] = True
    anns = [dict(label=3, segmentation=rect(4, 2, 7, 5), iscrowd=0),  # small, listed first
            dict(label=1, segmentation=rle(big), iscrowd=0),
            dict(label=2, segmentation=rect(0, 0, 3, 3), iscrowd=1)]
    small = rasterize_annotations(anns[:1], 8, 10) > 0
    crowd = rasterize_annotations(anns[2:3], 8, 10) > 0
    # default, as spin-api: file order, the later mask wins, crowd painted as its category
    out = rasterize_annotations(anns, 8, 10)
    assert out.dtype == np.uint8
    assert (out[crowd] == 2).all() and (out[big & ~crowd] == 1).all()
    assert (out[~(big | crowd)] == 0).all()
    # smaller on top: the small mask wins wherever they overlap; crowd ignored under others
    out = rasterize_annotations(anns, 8, 10, overlap='smaller_on_top', crowd='ignore')
    assert (out[small] == 3).all() and (out[big & ~small] == 1).all()
    assert (out[crowd & ~big] == 255).all() and (out[crowd & big] == 1).all()
    with pytest.raises(ValueError, match="overlap must be one of"):
        rasterize_annotations(anns, 8, 10, overlap='largest')
    # uncompressed RLE (column-major runs, zeros first) and degenerate polygons
    unc = dict(size=[8, 10], counts=uncompressed_counts(big))
    np.testing.assert_array_equal(
        rasterize_annotations([dict(label=5, segmentation=unc)], 8, 10), big * 5)
    assert not rasterize_annotations([dict(label=1, segmentation=[[1, 1, 2, 2]])], 8, 10).any()


def test_segmentation_problems():
    assert segmentation_problems(rect(1, 1, 4, 4)[0:1], 8, 10) == []
    assert 'has 2 point(s)' in segmentation_problems([[1, 1, 2, 2]], 8, 10)[0]
    assert 'zero area' in segmentation_problems([[1, 1, 2, 2, 3, 3]], 8, 10)[0]
    assert 'reaches outside' in segmentation_problems(rect(-5, 0, 4, 4), 8, 10)[0]
    assert 'RLE of size' in segmentation_problems(dict(size=[4, 4], counts='00'), 8, 10)[0]


def test_rasterize_errors_name_annotation():
    bad = dict(id=17, label=1, segmentation=dict(size=[4, 4], counts='00'))
    with pytest.raises(ValueError, match=r'annotation 17 for img\.jpg.*RLE size'):
        rasterize_annotations([bad], 8, 10, where='img.jpg')
    with pytest.raises(ValueError, match='annotation 3'):
        rasterize_annotations([dict(id=3, label=1, segmentation='oops')], 8, 10)


def sample(h=12, w=16):
    seg_anns = dict(object=[dict(label=1, segmentation=rect(2, 2, 14, 10))],
                    part=[dict(label=1, segmentation=rect(2, 2, 8, 10)),
                          dict(label=2, segmentation=rect(8, 2, 14, 10))],
                    subpart=[dict(label=1, segmentation=rect(3, 3, 5, 5))])
    return dict(img_path='x.jpg', height=h, width=w, seg_fields=[], levels=LEVELS,
                main_level='part', seg_anns=seg_anns)


def test_load_keys_and_repr():
    t = TRANSFORMS.build(dict(type='LoadHierarchicalAnnotations'))
    results = t(sample())
    assert results['seg_fields'] == ['gt_seg_object', 'gt_seg_part', 'gt_seg_subpart',
                                     'gt_seg_map']
    np.testing.assert_array_equal(results['gt_seg_map'], results['gt_seg_part'])
    assert results['gt_seg_map'] is not results['gt_seg_part']
    assert results['gt_seg_part'][5, 10] == 2 and results['gt_seg_object'][0, 0] == 0
    assert repr(t) == ('LoadHierarchicalAnnotations(main_level=None, levels=None, '
                       'ignore_index=255, warn_stray=True)')
    only = LoadHierarchicalAnnotations(main_level='object', levels=['object'])(sample())
    assert 'gt_seg_part' not in only
    np.testing.assert_array_equal(only['gt_seg_map'], only['gt_seg_object'])


def test_load_passes_through_without_annotations():
    """An image given to mmseg.apis.inference_model has no annotations: nothing to load."""
    results = dict(img_path='x.jpg', img=np.zeros((2, 2, 3), np.uint8))
    assert LoadHierarchicalAnnotations()(dict(results)).keys() == results.keys()


def test_stray_child_warns_with_ids():
    s = sample()
    s['seg_anns']['object'] = [dict(id=9, label=1, segmentation=[[2, 2, 14, 2]])]  # 2 points
    s['seg_anns']['part'][0]['id'] = 41
    with pytest.warns(UserWarning, match=r'x\.jpg.*2 part annotation\(s\).*outside every '
                      r'object mask: annotation 41'):
        LoadHierarchicalAnnotations()(s)


def test_load_errors():
    with pytest.raises(KeyError, match="needs 'seg_anns'.*x.jpg"):
        LoadHierarchicalAnnotations()(dict(img_path='x.jpg', height=2, width=2, levels=LEVELS))
    wrong = dict(sample(), ori_shape=(20, 16))
    with pytest.raises(ValueError, match=r'x\.jpg is 20x16 \(HxW\) but its annotation says 12x16'):
        LoadHierarchicalAnnotations()(wrong)
    with pytest.raises(KeyError, match='main_level'):
        LoadHierarchicalAnnotations(main_level='leaf')(sample())


def test_pack():
    results = LoadHierarchicalAnnotations()(sample())
    results['img'] = np.zeros((12, 16, 3), np.uint8)
    results['superpixels'] = np.arange(12 * 16).reshape(12, 16) % 7
    packed = TRANSFORMS.build(dict(type='PackHierSegInputs'))(results)
    assert packed['inputs'].shape == (3, 12, 16)
    ds = packed['data_samples']
    for level in LEVELS:
        data = ds.get(f'gt_seg_{level}').data
        assert data.shape == (1, 12, 16) and data.dtype == torch.int64
        np.testing.assert_array_equal(data[0].numpy(), results[f'gt_seg_{level}'])
    np.testing.assert_array_equal(ds.gt_sem_seg.data[0].numpy(), results['gt_seg_part'])
    assert ds.superpixels.data.shape == (1, 12, 16) and ds.superpixels.data.dtype == torch.int64
    assert ds.img_path == 'x.jpg'
    del results['superpixels']
    assert 'superpixels' not in PackHierSegInputs()(results)['data_samples']
    assert repr(PackHierSegInputs()).startswith('PackHierSegInputs(meta_keys=')


def consistent(results, hierarchy):
    for child, parent in (('subpart', 'part'), ('part', 'object')):
        c, p = results[f'gt_seg_{child}'], results[f'gt_seg_{parent}']
        assert c.shape == p.shape == results['img'].shape[:2]
        mask = (c > 0) & (c != 255)
        np.testing.assert_array_equal(np.asarray(hierarchy[child])[c[mask]], p[mask])


def test_flip_and_crop_move_every_level(synthetic_spin_root):
    ds = SPINDataset(synthetic_spin_root, split='train',
                     pipeline=[dict(type='LoadImageFromFile'),
                               dict(type='LoadHierarchicalAnnotations')])
    base = ds[0]
    h, w = base['img'].shape[:2]
    flipped = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0))(
        {k: (v.copy() if isinstance(v, (np.ndarray, list)) else v) for k, v in base.items()})
    for key in ('img', 'gt_seg_map') + tuple(f'gt_seg_{lv}' for lv in LEVELS):
        np.testing.assert_array_equal(flipped[key], base[key][:, ::-1])
    crop = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(64, 80)))
    fresh = ds[0]
    cropped = crop(fresh)
    # find the window from the image, then check every map was cut at the same place
    img = base['img']
    found = [(y, x) for y in range(h - 64 + 1) for x in range(w - 80 + 1)
             if np.array_equal(img[y:y + 64, x:x + 80], cropped['img'])]
    assert found
    y, x = found[0]
    for key in ('gt_seg_map', ) + tuple(f'gt_seg_{lv}' for lv in LEVELS):
        np.testing.assert_array_equal(cropped[key], base[key][y:y + 64, x:x + 80])


def test_training_pipeline_keeps_levels_aligned(synthetic_spin_root):
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadHierarchicalAnnotations'),
        dict(type='RandomResize', scale=(160, 160), ratio_range=(0.5, 2.0), keep_ratio=True),
        dict(type='RandomCrop', crop_size=(128, 128), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
    ]
    ds = SPINDataset(synthetic_spin_root, split='train', pipeline=pipeline)
    hierarchy = ds.metainfo['hierarchy']
    pack = PackHierSegInputs()
    np.random.seed(0)
    for i in range(len(ds)):
        results = ds[i]
        assert max(results['img'].shape[:2]) <= 128
        consistent(results, hierarchy)
        packed = pack(results)['data_samples']
        for level in LEVELS:
            assert packed.get(f'gt_seg_{level}').shape == results['img'].shape[:2]
        np.testing.assert_array_equal(packed.gt_sem_seg.data[0].numpy(), results['gt_seg_object'])


def test_config_pipelines(synthetic_spin_root, repo_root):
    """The dataset config fragment builds, and its pipelines run with superpixels added."""
    from mmengine.config import Config

    from mmseg.registry import DATASETS
    cfg = Config.fromfile(f'{repo_root}/configs/_base_/datasets/synthetic_spin.py')
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        ds_cfg = loader.dataset.copy()
        ds_cfg.data_root = synthetic_spin_root
        ds_cfg.pipeline = ds_cfg.pipeline[:-1] + [dict(type='Superpixels'), ds_cfg.pipeline[-1]]
        packed = DATASETS.build(ds_cfg)[0]
        sample_ = packed['data_samples']
        assert sample_.superpixels.shape == tuple(packed['inputs'].shape[1:])
        assert set(sample_.keys()) >= {'gt_sem_seg', 'gt_seg_object', 'gt_seg_part',
                                       'gt_seg_subpart', 'superpixels'}

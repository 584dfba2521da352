"""HierarchicalSegVisualizer on a real sample of the synthetic SPIN dataset."""
import itertools
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import cast  # noqa: F401
import cast.visualization  # noqa: F401  (until cast/__init__.py imports it)
from cast.visualization import HierarchicalSegVisualizer
from cast.visualization.hierarchical_visualizer import resize_label_map
from mmseg.registry import DATASETS, VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

_names = itertools.count()


def build(**kwargs):
    """A visualizer with a fresh instance name (visualizers are global, named instances)."""
    return VISUALIZERS.build(
        dict(type='HierarchicalSegVisualizer', name=f'hier_vis_{next(_names)}', **kwargs))


@pytest.fixture(scope='module')
def dataset(synthetic_spin_root):
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(type='SPINDataset', data_root=synthetic_spin_root, split='val',
             pipeline=[dict(type='LoadImageFromFile'),
                       dict(type='LoadHierarchicalAnnotations'),
                       dict(type='PackHierSegInputs')]))


@pytest.fixture
def sample(dataset):
    """A packed validation sample plus predictions: the ground truth with its left half erased;
    a corner of the ground truth is ignore (255)."""
    data_sample = dataset[0]['data_samples']
    for level in dataset.metainfo['levels']:
        pred = data_sample.get(f'gt_seg_{level}').data.clone()
        pred[..., :pred.shape[-1] // 2] = 0
        data_sample.get(f'gt_seg_{level}').data[..., :8, :8] = 255
        data_sample.set_data({f'pred_seg_{level}': PixelData(data=pred)})
    return data_sample


def rgb(data_sample):
    return mmcv.imread(data_sample.img_path, channel_order='rgb')


def grid(vis, image_shape, rows, cols):
    """The expected picture size and the top-left corner of each cell's panel (below its
    header)."""
    ph, pw = vis.panel_shape(*image_shape[:2])
    header = vis._header('x', pw).shape[0]
    gap = max(4, pw // 64)
    size = (rows * (header + ph) + (rows - 1) * gap, cols * pw + (cols - 1) * gap)

    def corner(r, c):
        return r * (header + ph + gap) + header, c * (pw + gap)

    return size, (ph, pw), corner


def overlay(vis, image, label_map, palette):
    """What a panel shows without class names: the image blended with the palette."""
    ph, pw = vis.panel_shape(*image.shape[:2])
    base = mmcv.imresize(image, (pw, ph), interpolation='bilinear')
    labels = resize_label_map(label_map, ph, pw)
    mask = np.zeros_like(base)
    for label in np.unique(labels):
        if label < len(palette):
            mask[labels == label] = palette[label]
    return (base * (1 - vis.alpha) + mask * vis.alpha).astype(np.uint8)


def test_saves_one_picture_through_the_backends(dataset, sample, tmp_path):
    """As SegVisualizationHook calls it: name + image + sample + step, saved by LocalVisBackend."""
    vis = build(vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path))
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    vis.add_datasample('val_picture', image, data_sample=sample, step=3)
    path = tmp_path / 'vis_data' / 'vis_image' / 'val_picture_3.png'
    assert osp.isfile(path)
    picture = mmcv.imread(str(path), channel_order='rgb')
    # image column + one column per level (object, part, subpart); rows GT and Pred
    size, (ph, pw), _ = grid(vis, image.shape, rows=2, cols=4)
    assert picture.shape == size + (3, )
    assert min(ph, pw) >= vis.min_panel_size > min(image.shape[:2])  # small images upscaled
    np.testing.assert_array_equal(picture, vis.get_image())


@pytest.mark.parametrize('layout', ['columns', 'rows'])
def test_panels_show_each_level_with_its_palette(dataset, sample, layout):
    vis = build(layout=layout)
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    picture = vis.draw_hierarchy(image, vis.levels_to_draw(sample), with_labels=False)
    levels = dataset.metainfo['levels']
    rows, cols = (2, 4) if layout == 'columns' else (4, 2)
    size, (ph, pw), corner = grid(vis, image.shape, rows, cols)
    assert picture.shape == size + (3, )

    y, x = corner(0, 0)
    np.testing.assert_array_equal(picture[y:y + ph, x:x + pw],
                                  mmcv.imresize(image, (pw, ph), interpolation='bilinear'))
    for i, level in enumerate(levels):
        palette = dataset.metainfo['level_palettes'][level]
        for j, kind in enumerate(('gt', 'pred')):
            y, x = corner(j, 1 + i) if layout == 'columns' else corner(1 + i, j)
            label_map = sample.get(f'{kind}_seg_{level}').data[0].numpy()
            np.testing.assert_array_equal(picture[y:y + ph, x:x + pw],
                                          overlay(vis, image, label_map, palette))
    # the object GT and Pred panels differ: the prediction's left half was erased
    (gy, gx), (py, px) = ((corner(0, 1), corner(1, 1)) if layout == 'columns' else
                          (corner(1, 0), corner(1, 1)))
    assert not np.array_equal(picture[gy:gy + ph, gx:gx + pw], picture[py:py + ph, px:px + pw])


def test_headers_are_drawn(dataset, sample):
    """Each panel has a header bar with dark text on a light ground."""
    vis = build()
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    picture = vis.draw_hierarchy(image, vis.levels_to_draw(sample))
    _, (ph, pw), corner = grid(vis, image.shape, 2, 4)
    header = vis._header('x', pw).shape[0]
    for r, c in [(0, 0), (0, 1), (1, 1), (0, 3), (1, 3), (1, 0)]:
        y, x = corner(r, c)
        bar = picture[y - header:y, x:x + pw]
        assert (bar == 235).all(axis=2).mean() > 0.8  # mostly the light ground
        assert (bar.max(axis=2) < 100).sum() > 20  # and some text
    # under the image: the legend, a swatch of each class shown in the level's colour
    y, x = corner(1, 0)
    legend = picture[y:y + ph, x:x + pw]
    for level in dataset.metainfo['levels']:
        palette = dataset.metainfo['level_palettes'][level]
        for label in np.unique(sample.get(f'gt_seg_{level}').data):
            if 0 < label < len(palette):
                assert (legend == palette[label]).all(axis=2).sum() > 10, (level, label)
    picture = vis.draw_hierarchy(image, vis.levels_to_draw(sample), with_labels=False)
    assert (picture[y - header:y + ph, x:x + pw] == 255).all()  # no legend without labels


def test_only_predictions(dataset, sample):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    vis.add_datasample('pred_only', image, sample, draw_gt=False)
    size, _, _ = grid(vis, image.shape, rows=1, cols=4)
    assert vis.get_image().shape == size + (3, )


def test_out_file(dataset, sample, tmp_path):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    out = tmp_path / 'picture.png'
    vis.add_datasample('x', rgb(sample), sample, out_file=str(out))
    np.testing.assert_array_equal(mmcv.imread(str(out), channel_order='rgb'), vis.get_image())


def test_single_level_samples_are_drawn_by_the_parent(dataset, sample, tmp_path):
    """Without per-level maps (or without levels in dataset_meta) the picture is MMSeg's."""
    image = rgb(sample)
    plain = SegDataSample(gt_sem_seg=sample.gt_sem_seg, pred_sem_seg=sample.pred_seg_object)
    meta = dict(classes=dataset.metainfo['classes'], palette=dataset.metainfo['palette'])
    parent = SegLocalVisualizer(name=f'seg_vis_{next(_names)}')
    parent.dataset_meta = meta
    parent.add_datasample('x', image, plain, out_file=str(tmp_path / 'parent.png'))
    expected = mmcv.imread(str(tmp_path / 'parent.png'))
    assert expected.shape == (image.shape[0], 2 * image.shape[1], 3)  # GT | Pred
    for i, dataset_meta in enumerate((meta, dataset.metainfo)):
        vis = build()
        vis.dataset_meta = dataset_meta
        vis.add_datasample('x', image, plain, out_file=str(tmp_path / f'{i}.png'))
        np.testing.assert_array_equal(mmcv.imread(str(tmp_path / f'{i}.png')), expected)
    # a level missing from the sample: not hierarchical either
    partial = sample.clone()
    del partial.gt_seg_subpart
    assert vis.levels_to_draw(partial, draw_pred=False) is None


def test_bad_arguments_and_metainfo(dataset, sample):
    with pytest.raises(ValueError, match='layout'):
        build(layout='grid')
    with pytest.raises(ValueError, match='min_panel_size'):
        build(min_panel_size=0)
    vis = build()
    meta = dict(dataset.metainfo)
    meta['level_classes'] = {k: v for k, v in meta['level_classes'].items() if k != 'part'}
    vis.dataset_meta = meta
    with pytest.raises(KeyError, match="level_classes.*'part'"):
        vis.add_datasample('x', rgb(sample), sample)
    meta = dict(dataset.metainfo)
    meta['level_palettes'] = dict(meta['level_palettes'], part=[[0, 0, 0]])
    vis.dataset_meta = meta
    with pytest.raises(ValueError, match=r"level_palettes'\]\['part'\]"):
        vis.add_datasample('x', rgb(sample), sample)


def test_missing_palettes_are_generated(dataset, sample):
    vis = build()
    vis.dataset_meta = {k: v for k, v in dataset.metainfo.items() if k != 'level_palettes'}
    vis.add_datasample('x', rgb(sample), sample)
    assert vis.get_image().ndim == 3


def test_tensor_and_numpy_maps_and_grey_images(dataset, sample):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    as_numpy = sample.clone()
    for level in dataset.metainfo['levels']:
        key = f'pred_seg_{level}'
        as_numpy.set_data({key: PixelData(data=as_numpy.get(key).data.numpy().astype(np.uint8))})
    a = vis.draw_hierarchy(image, vis.levels_to_draw(sample))
    b = vis.draw_hierarchy(image, vis.levels_to_draw(as_numpy))
    np.testing.assert_array_equal(a, b)
    grey = vis.draw_hierarchy(image[..., 0], vis.levels_to_draw(sample))
    assert grey.shape == a.shape
    assert isinstance(sample.get('pred_seg_part').data, torch.Tensor)


def test_is_a_seg_local_visualizer():
    assert issubclass(HierarchicalSegVisualizer, SegLocalVisualizer)
    assert VISUALIZERS.get('HierarchicalSegVisualizer') is HierarchicalSegVisualizer


def test_label_positions_match_mmseg():
    """The faster _get_center_loc finds the same pixel as SegLocalVisualizer's."""
    rng = np.random.default_rng(0)
    vis = build()
    parent = SegLocalVisualizer(name=f'seg_vis_{next(_names)}')
    for _ in range(20):
        mask = (rng.random((23, 31)) < rng.uniform(0.05, 0.9)).astype(np.uint8)
        mask[rng.integers(23), rng.integers(31)] = 1
        np.testing.assert_array_equal(vis._get_center_loc(mask), parent._get_center_loc(mask))

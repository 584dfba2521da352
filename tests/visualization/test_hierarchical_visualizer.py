"""HierarchicalSegVisualizer on a real sample of the synthetic SPIN dataset, and the tag placement
it relies on."""
import itertools
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import cast  # noqa: F401
from cast.visualization import HierarchicalSegVisualizer
from cast.visualization.drawing import place_tags
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


def crop(picture, cell):
    y, x, h, w = cell
    return picture[y:y + h, x:x + w]


def overlay(vis, image, label_map, palette):
    """What a panel shows without class names: the image blended with the palette where a
    class (not background, not ignore) is, and white boundaries between labels."""
    ph, pw = vis.panel_shape(*image.shape[:2])
    base = mmcv.imresize(image, (pw, ph), interpolation='bilinear')
    labels = resize_label_map(label_map, ph, pw)
    out = base.copy()
    for label in np.unique(labels):
        if 0 < label < len(palette):
            where = labels == label
            out[where] = (base[where] * (1 - vis.alpha) +
                          np.asarray(palette[label]) * vis.alpha).astype(np.uint8)
    clipped = np.where(labels < len(palette), labels, -1)
    edge = np.zeros(labels.shape, bool)
    edge[:, :-1] |= clipped[:, :-1] != clipped[:, 1:]
    edge[:-1] |= clipped[:-1] != clipped[1:]
    out[edge] = 255
    return out


def test_saves_one_picture_through_the_backends(dataset, sample, tmp_path):
    """As SegVisualizationHook calls it: name + image + sample + step, saved by LocalVisBackend."""
    vis = build(vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path))
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    vis.add_datasample('val_picture', image, data_sample=sample, step=3)
    path = tmp_path / 'vis_data' / 'vis_image' / 'val_picture_3.png'
    assert osp.isfile(path)
    picture = mmcv.imread(str(path), channel_order='rgb')
    np.testing.assert_array_equal(picture, vis.get_image())
    ph, pw = vis.panel_shape(*image.shape[:2])
    assert min(ph, pw) >= vis.min_panel_size > min(image.shape[:2])  # small images upscaled
    names = {'image'} | {f'{lv} {k}' for lv in dataset.metainfo['levels']
                         for k in ('GT', 'Pred', 'classes')}
    assert set(vis.cells) == names


def test_layout_image_then_gt_beside_pred_per_level_then_legend(dataset, sample):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    picture = vis.draw_hierarchy(image, vis.levels_to_draw(sample), with_labels=False)
    ph, pw = vis.panel_shape(*image.shape[:2])
    cells = vis.cells
    assert 'object classes' not in cells  # no legend without labels
    np.testing.assert_array_equal(crop(picture, cells['image']),
                                  mmcv.imresize(image, (pw, ph), interpolation='bilinear'))
    previous_y = cells['image'][0]
    for level in dataset.metainfo['levels']:
        gt, pred = cells[f'{level} GT'], cells[f'{level} Pred']
        assert gt[0] == pred[0] > previous_y and gt[1] + pw < pred[1]  # a row: GT | Pred
        previous_y = gt[0]
        palette = dataset.metainfo['level_palettes'][level]
        for kind, cell in (('gt', gt), ('pred', pred)):
            label_map = sample.get(f'{kind}_seg_{level}').data[0].numpy()
            np.testing.assert_array_equal(crop(picture, cell),
                                          overlay(vis, image, label_map, palette))
    # the object GT and Pred panels differ: the prediction's left half was erased
    assert not np.array_equal(crop(picture, cells['object GT']),
                              crop(picture, cells['object Pred']))


def test_legends_have_their_own_column_with_every_class_shown(dataset, sample):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    picture = vis.draw_hierarchy(image, vis.levels_to_draw(sample), title='a title')
    for level in dataset.metainfo['levels']:
        legend = vis.cells[f'{level} classes']
        pred = vis.cells[f'{level} Pred']
        assert legend[0] == pred[0] and legend[1] >= pred[1] + pred[3]  # right of the Pred panel
        box = crop(picture, legend)
        palette = dataset.metainfo['level_palettes'][level]
        for label in np.unique(sample.get(f'gt_seg_{level}').data):
            if 0 < label < len(palette):  # a swatch of each class in the level's colour
                assert (box == palette[label]).all(axis=2).sum() > 20, (level, label)
    # headers: a light bar with dark text above each panel, and the title across the top
    y, x, _, w = vis.cells['object GT']
    bar = picture[y - 12:y - 2, x:x + w]
    assert (bar == 235).all(axis=2).mean() > 0.5 and (bar.max(axis=2) < 100).any()
    assert (picture[2:20, :].max(axis=2) < 100).any() and vis.cells['image'][0] > 20


def test_tags_never_overlap_and_every_class_gets_one():
    """Many small regions (subpart-like dots) next to large ones."""
    rng = np.random.default_rng(0)
    label_map = np.zeros((320, 320), np.int64)
    label_map[40:280, 40:280] = 1
    label_map[60:200, 60:200] = 2
    for k in range(3, 30):
        y, x = rng.integers(50, 260, 2)
        label_map[y:y + 4, x:x + 4] = k  # 16-pixel regions, smaller than a tag
    labels = [int(k) for k in np.unique(label_map) if k > 0]
    tags = place_tags(label_map, labels, [str(k) for k in labels], 0.42)
    assert {t['label'] for t in tags} == set(labels)
    boxes = [t['box'] for t in tags]
    for i, a in enumerate(boxes):
        assert 0 <= a[0] <= a[2] < 320 and 0 <= a[1] <= a[3] < 320
        for b in boxes[i + 1:]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1], (a, b)
    for t in tags:  # small regions are tagged beside themselves, joined by a leader line
        if t['label'] >= 3:
            assert t['anchor'] is not None and label_map[t['anchor'][1], t['anchor'][0]] == \
                t['label']


def test_region_hierarchy_is_drawn_beside_the_image(dataset, sample):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    image = rgb(sample)
    h, w = image.shape[:2]
    fine = torch.arange(h * w).reshape(h, w) // 97 % 40
    with_regions = sample.clone()
    with_regions.set_data({'region_hierarchy': PixelData(
        data=torch.stack([fine, fine % 10, fine % 5, fine % 2]))})
    vis.add_datasample('x', image, with_regions)
    picture = vis.get_image()
    y, x, ch, cw = vis.cells['regions']
    assert y + ch <= vis.cells['object GT'][0]  # in the image's row
    assert x > vis.cells['image'][1] + vis.cells['image'][3]  # beside the image
    strip = picture[y:y + ch, x:x + cw]
    assert (strip != 255).any(axis=2).mean() > 0.3  # tiles fill the row
    vis.add_datasample('x', image, sample)
    assert 'regions' not in vis.cells


def test_only_predictions(dataset, sample):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    vis.add_datasample('pred_only', rgb(sample), sample, draw_gt=False)
    assert not any(name.endswith(' GT') for name in vis.cells)
    assert vis.cells['object classes'][1] == vis.cells['object Pred'][1] + \
        vis.cells['object Pred'][3] + max(6, vis.cells['object Pred'][3] // 48)


def test_out_file(dataset, sample, tmp_path):
    vis = build()
    vis.dataset_meta = dataset.metainfo
    out = tmp_path / 'picture.png'
    vis.add_datasample('x', rgb(sample), sample, out_file=str(out))
    np.testing.assert_array_equal(mmcv.imread(str(out), channel_order='rgb'), vis.get_image())


def test_single_level_samples_are_drawn_as_one_level(dataset, sample):
    """Without per-level maps: GT | Pred of gt_sem_seg / pred_sem_seg with classes / palette."""
    image = rgb(sample)
    plain = SegDataSample(gt_sem_seg=sample.gt_sem_seg, pred_sem_seg=sample.pred_seg_object)
    meta = dict(classes=dataset.metainfo['classes'], palette=dataset.metainfo['palette'])
    for dataset_meta in (meta, dataset.metainfo):
        vis = build()
        vis.dataset_meta = dataset_meta
        picture = vis.draw_hierarchy(image, vis.levels_to_draw(plain), with_labels=False)
        assert set(vis.cells) == {'image', 'GT', 'Pred'}
        np.testing.assert_array_equal(
            crop(picture, vis.cells['Pred']),
            overlay(vis, image, sample.pred_seg_object.data[0].numpy(), meta['palette']))
    # a level missing from the sample: drawn as its main level
    partial = sample.clone()
    del partial.gt_seg_subpart
    assert vis.levels_to_draw(partial, draw_pred=False)[0][0] is None


def test_bad_arguments_and_metainfo(dataset, sample):
    with pytest.raises(ValueError, match='min_panel_size'):
        build(min_panel_size=0)
    with pytest.raises(ValueError, match='max_panel_size'):
        build(min_panel_size=320, max_panel_size=100)
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


def test_large_images_are_scaled_down(dataset, sample):
    vis = build(max_panel_size=400)
    assert vis.panel_shape(1000, 2000) == (200, 400)
    assert vis.panel_shape(100, 150) == (267, 400)  # the long side wins over min_panel_size
    assert vis.panel_shape(100, 120) == (320, 384)


def test_is_a_seg_local_visualizer():
    assert issubclass(HierarchicalSegVisualizer, SegLocalVisualizer)
    assert VISUALIZERS.get('HierarchicalSegVisualizer') is HierarchicalSegVisualizer

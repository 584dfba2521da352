"""Tests of CASTSegDataPreProcessor: images, level maps and superpixels are
padded together."""
import copy

import pytest
import torch
from mmengine.structures import PixelData

from cast.segmentors import CASTSegDataPreProcessor
from cast.utils import pad_superpixels
from mmseg.registry import MODELS
from tests.helpers.hierarchies import LEVELS
from tests.helpers.segmentors import PREPROCESSOR, grid_superpixels, make_batch


def build(**kwargs):
    cfg = dict(PREPROCESSOR, **kwargs)
    return MODELS.build(cfg)


def parent_of(cfg_kwargs):
    cfg = dict(PREPROCESSOR, **cfg_kwargs, type='SegDataPreProcessor')
    return MODELS.build(cfg)


def test_pad_superpixels_adds_one_fresh_label():
    sp = grid_superpixels(5, 6, cell=3)[None]  # labels 0..3
    out = pad_superpixels(sp, 8, 9)
    assert out.shape == (1, 8, 9) and out.dtype == sp.dtype
    assert torch.equal(out[:, :5, :6], sp)
    assert (out[:, 5:] == 4).all() and (out[:, :, 6:] == 4).all()
    assert torch.equal(torch.unique(out), torch.arange(5))
    assert pad_superpixels(sp, 5, 6) is sp  # nothing to pad, no new label
    with pytest.raises(ValueError, match='larger than the padded image'):
        pad_superpixels(sp, 4, 6)


def test_training_pads_all_maps_with_the_images():
    pre = build()
    assert isinstance(pre, CASTSegDataPreProcessor)
    shapes = [(20, 30), (32, 24)]
    data = make_batch(shapes)
    originals = copy.deepcopy(data['data_samples'])
    out = pre(data, training=True)
    inputs, samples = out['inputs'], out['data_samples']
    assert inputs.shape == (2, 3, 32, 32)
    for (h, w), sample, orig in zip(shapes, samples, originals):
        for key in ['gt_sem_seg'] + [f'gt_seg_{lv}' for lv in LEVELS]:
            seg = sample.get(key).data
            assert seg.shape == (1, 32, 32), key
            assert torch.equal(seg[:, :h, :w], orig.get(key).data)
            assert (seg[:, h:] == 255).all() and (seg[:, :, w:] == 255).all()
        sp, sp0 = sample.superpixels.data, orig.superpixels.data
        assert sp.shape == (1, 32, 32) and sp.dtype == torch.long
        assert torch.equal(sp[:, :h, :w], sp0)
        fresh = int(sp0.max()) + 1
        assert (sp[:, h:] == fresh).all() and (sp[:, :, w:] == fresh).all()
        assert torch.equal(torch.unique(sp), torch.arange(fresh + 1))
        assert tuple(sample.img_shape) == (h, w)
        assert tuple(sample.pad_shape) == (32, 32)
        assert tuple(sample.padding_size) == (0, 32 - w, 0, 32 - h)


def test_training_fixed_size_and_pad_shape_without_gt_sem_seg():
    pre = build(size=(40, 36), size_divisor=None)
    data = make_batch([(32, 32)])
    del data['data_samples'][0].gt_sem_seg
    sample = pre(data, training=True)['data_samples'][0]
    assert sample.gt_seg_part.data.shape == (1, 40, 36)
    assert sample.superpixels.data.shape == (1, 40, 36)
    assert tuple(sample.pad_shape) == (40, 36)


def test_no_fresh_label_when_no_padding_needed():
    pre = build()
    data = make_batch([(32, 16)])
    sp0 = data['data_samples'][0].superpixels.data.clone()
    sample = pre(data, training=True)['data_samples'][0]
    assert torch.equal(sample.superpixels.data, sp0)


def test_test_time_without_padding_matches_parent():
    kwargs = dict(size_divisor=None)
    data = make_batch([(24, 40), (24, 40)])
    ours = build(**kwargs)(copy.deepcopy(data), training=False)
    theirs = parent_of(kwargs)(copy.deepcopy(data), training=False)
    assert torch.equal(ours['inputs'], theirs['inputs'])
    for a, b, orig in zip(ours['data_samples'], theirs['data_samples'],
                          data['data_samples']):
        assert a.metainfo == b.metainfo
        assert torch.equal(a.superpixels.data, orig.superpixels.data)
        assert torch.equal(a.gt_seg_part.data, orig.gt_seg_part.data)


def test_test_time_padding_pads_superpixels_not_ground_truth():
    kwargs = dict(size_divisor=None, test_cfg=dict(size_divisor=16))
    data = make_batch([(24, 40), (24, 40)])
    ours = build(**kwargs)(copy.deepcopy(data), training=False)
    theirs = parent_of(kwargs)(copy.deepcopy(data), training=False)
    assert ours['inputs'].shape == (2, 3, 32, 48)
    assert torch.equal(ours['inputs'], theirs['inputs'])
    for a, b in zip(ours['data_samples'], theirs['data_samples']):
        assert a.metainfo == b.metainfo
        assert a.superpixels.data.shape == (1, 32, 48)
        assert a.gt_seg_part.data.shape == (1, 24, 40)  # metrics need these
        assert tuple(a.img_padding_size) == (0, 8, 0, 8)


def test_training_matches_parent_on_images():
    data = make_batch([(20, 30), (32, 24)])
    ours = build()(copy.deepcopy(data), training=True)
    theirs = parent_of({})(copy.deepcopy(data), training=True)
    assert torch.equal(ours['inputs'], theirs['inputs'])
    for a, b in zip(ours['data_samples'], theirs['data_samples']):
        assert torch.equal(a.gt_sem_seg.data, b.gt_sem_seg.data)


def test_maps_larger_than_image_raise():
    pre = build()
    data = make_batch([(16, 16)])
    data['data_samples'][0].gt_seg_part = PixelData(
        data=torch.zeros(1, 40, 16, dtype=torch.long))
    with pytest.raises(ValueError, match='gt_seg_part'):
        pre(data, training=True)
    data = make_batch([(16, 16)])
    data['data_samples'][0].superpixels = PixelData(
        data=torch.zeros(1, 40, 16, dtype=torch.long))
    with pytest.raises(ValueError, match='superpixels'):
        pre(data, training=True)

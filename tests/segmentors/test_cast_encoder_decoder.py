"""Tests of CASTEncoderDecoder: superpixels reach the backbone in training,
whole and sliding-window inference."""
import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData

from cast.segmentors import CASTEncoderDecoder
from cast.utils import relabel_consecutive
from mmseg.registry import MODELS
from tests.helpers.segmentors import (
    PREPROCESSOR,
    TINY_CAST,
    grid_superpixels,
    make_batch,
    uper_head,
)


def build(backbone=TINY_CAST, mode='whole', in_channels=48, **test_cfg):
    return MODELS.build(
        dict(
            type='CASTEncoderDecoder',
            data_preprocessor=PREPROCESSOR,
            backbone=backbone,
            decode_head=uper_head(3, in_channels=in_channels),
            train_cfg=dict(),
            test_cfg=dict(mode=mode, **test_cfg)))


def toy_backbone():
    return dict(type='TestOnlySuperpixelBackbone', channels=8)


def test_relabel_consecutive():
    sp = torch.tensor([[7, 7, 3], [9, 3, 3]])
    out = relabel_consecutive(sp)
    assert out.dtype == torch.long
    assert torch.equal(out, torch.tensor([[1, 1, 0], [2, 0, 0]]))
    np_out = relabel_consecutive(sp.numpy())
    assert np_out.dtype == np.int64 and (np_out == out.numpy()).all()


def test_train_step_tiny_cast_non_square_gradients_reach_backbone():
    torch.manual_seed(0)
    model = build()
    assert isinstance(model, CASTEncoderDecoder)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    data = make_batch([(40, 56), (48, 40)], levels=('object', ))
    before = model.backbone.patch_embed.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    log_vars = model.train_step(data, optim)
    assert torch.isfinite(log_vars['loss'])
    assert {'decode.loss_ce', 'decode.acc_seg'} <= set(log_vars)
    changed = [
        k for k, v in model.backbone.patch_embed.state_dict().items()
        if v.is_floating_point() and not torch.equal(v, before[k])
    ]
    assert changed, 'the backbone received no gradient'


def test_loss_gradient_on_backbone_parameters():
    torch.manual_seed(0)
    model = build()
    data = model.data_preprocessor(
        make_batch([(32, 48), (32, 48)], levels=('object', )), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    grads = [
        p.grad for n, p in model.backbone.named_parameters()
        if 'stages.0' in n and p.requires_grad
    ]
    assert grads and all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_predict_whole_non_square():
    torch.manual_seed(0)
    model = build().eval()
    data = make_batch([(40, 56), (40, 56)], levels=('object', ))
    with torch.no_grad():
        out = model.test_step(data)
    for sample in out:
        assert sample.pred_sem_seg.data.shape == (1, 40, 56)
        assert sample.seg_logits.data.shape == (3, 40, 56)


def test_predict_removes_test_time_padding():
    torch.manual_seed(0)
    cfg = dict(PREPROCESSOR, size_divisor=None, test_cfg=dict(size=(48, 64)))
    model = MODELS.build(
        dict(
            type='CASTEncoderDecoder',
            data_preprocessor=cfg,
            backbone=TINY_CAST,
            decode_head=uper_head(3),
            test_cfg=dict(mode='whole'))).eval()
    data = make_batch([(40, 56)], levels=('object', ))
    with torch.no_grad():
        sample = model.test_step(data)[0]
    assert sample.pred_sem_seg.data.shape == (1, 40, 56)


def test_forward_tensor_mode():
    model = build(toy_backbone(), in_channels=8).eval()
    data = model.data_preprocessor(
        make_batch([(32, 48)], levels=('object', )), False)
    logits = model(**data, mode='tensor')
    assert logits.shape == (1, 3, 8, 12)


def test_slide_inference_crops_and_relabels_superpixels():
    torch.manual_seed(0)
    model = build(
        toy_backbone(), mode='slide', in_channels=8, crop_size=(24, 24),
        stride=(16, 16)).eval()
    data = make_batch([(40, 56)], levels=('object', ))
    full_sp = data['data_samples'][0].superpixels.data[0].clone()
    with torch.no_grad():
        sample = model.test_step(copy.deepcopy(data))[0]
    assert sample.pred_sem_seg.data.shape == (1, 40, 56)
    seen = model.backbone.seen
    assert len(seen) == 2 * 3  # 2 x 3 windows of 24x24
    for crop in seen:
        assert crop.shape == (1, 24, 24)
        labels = torch.unique(crop)
        assert torch.equal(labels, torch.arange(len(labels)))
    # the first window is the top-left crop of the image's map, relabelled
    assert torch.equal(seen[0][0], relabel_consecutive(full_sp[:24, :24]))
    # window (1, 2): rows 16..40, cols 32..56
    assert torch.equal(seen[-1][0], relabel_consecutive(full_sp[16:40, 32:56]))


def test_slide_inference_tiny_cast():
    torch.manual_seed(0)
    model = build(mode='slide', crop_size=(32, 32), stride=(24, 24)).eval()
    data = make_batch([(40, 56)], levels=('object', ))
    with torch.no_grad():
        sample = model.test_step(data)[0]
    assert sample.seg_logits.data.shape == (3, 40, 56)


def test_missing_superpixels_is_a_clear_error():
    model = build(toy_backbone(), in_channels=8)
    data = make_batch([(16, 16)], levels=('object', ), with_superpixels=False)
    with pytest.raises(KeyError, match=r"'superpixels'.*Superpixels"):
        model.test_step(data)
    data = model.data_preprocessor(
        make_batch([(16, 16)], levels=('object', )), False)
    with pytest.raises(ValueError, match='superpixels'):
        model.predict(data['inputs'], None)


def test_superpixels_not_matching_inputs_raise():
    model = build(toy_backbone(), in_channels=8)
    data = model.data_preprocessor(
        make_batch([(16, 16)], levels=('object', )), False)
    data['data_samples'][0].superpixels = PixelData(
        data=grid_superpixels(8, 16)[None])
    with pytest.raises(ValueError, match='do not match inputs'):
        model.predict(**data)

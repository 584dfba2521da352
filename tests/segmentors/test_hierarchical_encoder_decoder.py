"""Tests of HierarchicalEncoderDecoder with a tiny CAST: per-level losses,
per-level predictions, consistent decoding, slide inference."""
import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

from cast.segmentors import HierarchicalEncoderDecoder
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tests.helpers.hierarchies import LEVELS, NUM_CLASSES, TREE
from tests.helpers.segmentors import PREPROCESSOR, TINY_CAST, make_batch, uper_head

WEIGHTS = dict(object=1.0, part=0.5, subpart=0.25)


def build(mode='whole', **kwargs):
    test_cfg = dict(mode=mode)
    if mode == 'slide':
        test_cfg.update(crop_size=(32, 32), stride=(24, 24))
    cfg = dict(
        type='HierarchicalEncoderDecoder',
        data_preprocessor=PREPROCESSOR,
        backbone=TINY_CAST,
        decode_head=dict(
            type='HierarchicalDecodeHead',
            levels=LEVELS,
            num_classes=NUM_CLASSES,
            loss_weights=WEIGHTS,
            decode_head=uper_head()),
        train_cfg=dict(),
        test_cfg=test_cfg)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def assert_valid_chains(sample, hierarchy=TREE):
    for parent, child in zip(LEVELS[:-1], LEVELS[1:]):
        p = sample.get(f'pred_seg_{parent}').data[0]
        c = sample.get(f'pred_seg_{child}').data[0]
        parent_of = torch.tensor(hierarchy[child])
        fg = c > 0
        assert torch.equal(parent_of[c[fg]], p[fg]), (parent, child)
        assert (c[p == 0] == 0).all(), (parent, child)


def test_train_step_losses_per_level_and_backbone_gradient():
    model = build()
    assert isinstance(model, HierarchicalEncoderDecoder)
    data = model.data_preprocessor(make_batch([(40, 56), (48, 40)]), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {
        f'decode.{name}_{level}'
        for name in ('loss_ce', 'acc_seg') for level in LEVELS
    }
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    stem = model.backbone.patch_embed
    grads = [p.grad for p in stem.parameters()]
    assert all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)

    # train_step (data preprocessor + loss + optimizer) runs as the runner's
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(make_batch([(40, 56), (48, 40)]), optim)
    assert torch.isfinite(log_vars['loss'])


def test_predict_fills_every_level_non_square():
    model = build().eval()
    data = make_batch([(40, 56), (40, 56)], ori_shape=(60, 84))
    with torch.no_grad():
        out = model.test_step(data)
    for sample in out:
        for level in LEVELS:
            assert sample.get(f'pred_seg_{level}').data.shape == (1, 60, 84)
            assert sample.get(f'seg_logits_{level}').data.shape == (
                NUM_CLASSES[level], 60, 84)
            pred = sample.get(f'pred_seg_{level}').data
            assert pred.min() >= 0 and pred.max() < NUM_CLASSES[level]
        assert torch.equal(sample.pred_sem_seg.data,
                           sample.pred_seg_object.data)
        assert sample.seg_logits.data.shape == (3, 60, 84)


def favour(model, **classes):
    """Bias each level's classifier towards one class (an invalid chain)."""
    with torch.no_grad():
        for level, k in classes.items():
            model.decode_head.heads[level].conv_seg.bias[k] += 10.


def invalid_chain_pixels(sample, parent, child):
    p = sample.get(f'pred_seg_{parent}').data[0]
    c = sample.get(f'pred_seg_{child}').data[0]
    ok = torch.where(c > 0, torch.tensor(TREE[child])[c] == p, p >= 0)
    return int((~ok).sum())


@pytest.mark.parametrize('decoding', ['greedy', 'joint'])
def test_consistent_decoding_gives_only_valid_chains(decoding):
    data = make_batch([(40, 56), (40, 56)])
    # object 1 -> part 3 (of object 2) -> subpart 6 (of part 4): invalid
    bias = dict(object=1, part=3, subpart=6)
    free = build().eval()
    favour(free, **bias)
    with torch.no_grad():
        free_out = free.test_step(copy.deepcopy(data))
    assert invalid_chain_pixels(free_out[0], 'object', 'part') > 0
    model = build(decoding=decoding, hierarchy=TREE).eval()
    favour(model, **bias)
    with torch.no_grad():
        out = model.test_step(copy.deepcopy(data))
    for sample, free_sample in zip(out, free_out):
        assert_valid_chains(sample)
        if decoding == 'greedy':  # the coarsest level is decoded freely
            assert torch.equal(sample.pred_seg_object.data,
                               free_sample.pred_seg_object.data)
        # the logits are the raw ones
        for level in LEVELS:
            torch.testing.assert_close(
                sample.get(f'seg_logits_{level}').data,
                free_sample.get(f'seg_logits_{level}').data)


def test_consistent_decoding_takes_hierarchy_from_dataset_meta():
    model = build(decoding='joint').eval()
    data = make_batch([(32, 32)])
    with pytest.raises(KeyError, match='hierarchy'):
        with torch.no_grad():
            model.test_step(copy.deepcopy(data))
    model.dataset_meta = dict(hierarchy=TREE, levels=LEVELS)
    with torch.no_grad():
        assert_valid_chains(model.test_step(data)[0])


def test_slide_inference_every_level():
    model = build(mode='slide', decoding='joint', hierarchy=TREE).eval()
    data = make_batch([(40, 56)])
    with torch.no_grad():
        sample = model.test_step(data)[0]
    for level in LEVELS:
        assert sample.get(f'seg_logits_{level}').data.shape == (
            NUM_CLASSES[level], 40, 56)
    assert_valid_chains(sample)


def test_decoding_is_checked():
    model = build(decoding='joint')
    assert model.decoding == 'joint'
    assert build().decoding == 'independent'
    with pytest.raises(ValueError, match='decoding must be one of'):
        build(decoding='best')
    model.decoding = 'independent'  # checked on assignment too
    with pytest.raises(ValueError, match='decoding must be one of'):
        model.decoding = True


@pytest.mark.parametrize('shared', [False, True], ids=['per-level heads', 'shared trunk'])
def test_hierarchy_loss_trains_with_the_dataset_hierarchy(shared):
    """The segmentor hands the ClassHierarchy of model.dataset_meta to the head's loss."""
    head = dict(type='HierarchicalDecodeHead', levels=LEVELS, num_classes=NUM_CLASSES,
                decode_head=uper_head(), shared=shared,
                hierarchy_loss=dict(type='ChainLikelihoodLoss', loss_weight=1.0))
    model = build(decode_head=head)
    batch = make_batch([(40, 56), (48, 40)])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    with pytest.raises(KeyError, match='ChainLikelihoodLoss|hierarchy_loss'):
        model.train_step(copy.deepcopy(batch), optim)
    model.dataset_meta = dict(levels=LEVELS, hierarchy=TREE)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    losses = model(**data, mode='loss')
    assert {'decode.loss_chain', 'decode.loss_chain_dropped', 'decode.loss_ce_subpart'} <= \
        set(losses)
    # random labels: most pixels' chains are invalid and get their finer labels dropped
    assert 0 < losses['decode.loss_chain_dropped'] <= 1
    log_vars = model.train_step(batch, optim)
    assert torch.isfinite(log_vars['loss'])


def test_tensor_mode_returns_logits_per_level():
    model = build().eval()
    data = model.data_preprocessor(make_batch([(32, 48)]), False)
    with torch.no_grad():
        out = model(**data, mode='tensor')
    assert list(out) == list(LEVELS)
    for level in LEVELS:
        assert out[level].shape == (1, NUM_CLASSES[level], 8, 12)


def test_bad_configs_raise():
    with pytest.raises(TypeError, match='hierarchical decode head'):
        build(decode_head=uper_head())
    with pytest.raises(ValueError, match='hierarchy'):
        build(hierarchy=dict(TREE, part=(0, 1, 1, 7, 2)))


def test_pipeline_to_training_and_prediction():
    """Flip -> Superpixels -> PackHierSegInputs -> CASTSegDataPreProcessor ->
    model, as a config wires them."""
    from mmcv.transforms import Compose

    from mmseg.registry import TRANSFORMS
    pipeline = Compose([
        TRANSFORMS.build(t) for t in [
            dict(type='RandomFlip', prob=1.0, direction='horizontal'),
            dict(type='Superpixels', area_per_superpixel=64),
            dict(type='PackHierSegInputs'),
        ]
    ])
    rng = np.random.default_rng(0)

    def item(h, w):
        results = dict(
            img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
            img_shape=(h, w), ori_shape=(h, w), levels=LEVELS,
            seg_fields=[])
        for level in LEVELS:
            key = f'gt_seg_{level}'
            results[key] = rng.integers(
                0, NUM_CLASSES[level], (h, w)).astype(np.uint8)
            results['seg_fields'].append(key)
        results['gt_seg_map'] = results['gt_seg_object'].copy()
        results['seg_fields'].append('gt_seg_map')
        return pipeline(results)

    packed = [item(40, 56), item(36, 48)]
    data = dict(inputs=[p['inputs'] for p in packed],
                data_samples=[p['data_samples'] for p in packed])
    for sample in data['data_samples']:
        assert 'superpixels' in sample and 'gt_seg_subpart' in sample
    model = build(decoding='greedy', hierarchy=TREE)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(copy.deepcopy(data), optim)
    assert torch.isfinite(log_vars['loss'])
    model.eval()
    with torch.no_grad():
        out = model.test_step(dict(inputs=data['inputs'][:1],
                                   data_samples=data['data_samples'][:1]))
    assert out[0].pred_seg_subpart.data.shape == (1, 40, 56)
    assert_valid_chains(out[0])


def test_every_level_is_restored_as_mmseg_restores_one():
    """postprocess_result cuts the padding, undoes the flip and resizes each level's logits
    exactly as MMSeg's BaseSegmentor.postprocess_result does the logits of one level."""
    model = build().eval()
    g = torch.Generator().manual_seed(0)
    logits = {level: torch.randn(2, NUM_CLASSES[level], 24, 32, generator=g)
              for level in LEVELS}
    metas = [dict(ori_shape=(30, 41), padding_size=[0, 5, 0, 3], flip=True,
                  flip_direction='horizontal'),
             dict(ori_shape=(17, 23), img_padding_size=[2, 1, 3, 0], flip=True,
                  flip_direction='vertical')]
    ours = model.postprocess_result(logits, [SegDataSample(metainfo=m) for m in metas])
    for level in LEVELS:
        mmseg = BaseSegmentor.postprocess_result(model, logits[level],
                                                 [SegDataSample(metainfo=m) for m in metas])
        for sample, reference in zip(ours, mmseg):
            assert torch.equal(sample.get(f'seg_logits_{level}').data, reference.seg_logits.data)

"""Tests of HierarchicalDecodeHead: one MMSeg decode head per level."""
import pytest
import torch
from mmengine.structures import PixelData

from cast.heads import HierarchicalDecodeHead
from mmseg.models.decode_heads import SegformerHead, UPerHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

LEVELS = ('object', 'part', 'subpart')
NUM_CLASSES = dict(object=3, part=5, subpart=7)


def uper(**kwargs):
    return dict(
        type='UPerHead',
        in_channels=[8, 8, 8, 8],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2),
        channels=8,
        dropout_ratio=0.0,
        num_classes=1000,  # overwritten per level
        **kwargs)


def build(**kwargs):
    cfg = dict(
        type='HierarchicalDecodeHead',
        levels=LEVELS,
        num_classes=NUM_CLASSES,
        decode_head=uper())
    cfg.update(kwargs)
    return MODELS.build(cfg)


def features(batch=2, h=32, w=48):
    torch.manual_seed(0)
    return tuple(
        torch.randn(batch, 8, h // s, w // s) for s in (4, 8, 16, 32))


def samples(batch=2, h=32, w=48, levels=LEVELS):
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(batch):
        s = SegDataSample()
        for level in levels:
            s.set_data({
                f'gt_seg_{level}':
                PixelData(data=torch.randint(
                    0, NUM_CLASSES[level], (1, h, w), generator=g))
            })
        s.set_metainfo(dict(img_shape=(h, w), pad_shape=(h, w)))
        out.append(s)
    return out


def test_template_builds_one_head_per_level():
    head = build()
    assert isinstance(head, HierarchicalDecodeHead)
    assert list(head.heads) == list(LEVELS)
    for level in LEVELS:
        assert isinstance(head.heads[level], UPerHead)
        assert head.heads[level].num_classes == NUM_CLASSES[level]
    assert head.main_level == 'object'
    assert head.num_classes == head.out_channels == 3
    assert head.align_corners is False and head.threshold is None
    out = head(features())
    assert list(out) == list(LEVELS)
    for level in LEVELS:
        assert out[level].shape == (2, NUM_CLASSES[level], 8, 12)


def test_per_level_configs_and_main_level():
    light = dict(
        type='SegformerHead',
        in_channels=[8, 8, 8, 8],
        in_index=[0, 1, 2, 3],
        channels=8,
        num_classes=1)
    head = build(
        num_classes=[3, 5, 7],
        decode_head=dict(object=uper(), part=light, subpart=light),
        main_level='part')
    assert isinstance(head.heads['object'], UPerHead)
    assert isinstance(head.heads['subpart'], SegformerHead)
    assert head.num_classes == 5
    head = build(decode_head=[uper(), uper(), light])
    assert isinstance(head.heads['subpart'], SegformerHead)


def test_loss_sums_weighted_levels():
    feats, batch = features(), samples()
    weights = dict(object=1.0, part=0.5, subpart=0.25)
    head = build(loss_weights=weights)
    logits = head(feats)
    losses = head.loss_by_feat(logits, batch)
    assert set(losses) == {
        f'{name}_{level}'
        for name in ('loss_ce', 'acc_seg') for level in LEVELS
    }
    for level in LEVELS:
        level_batch = [
            SegDataSample(gt_sem_seg=s.get(f'gt_seg_{level}')) for s in batch
        ]
        ref = head.heads[level].loss_by_feat(logits[level], level_batch)
        torch.testing.assert_close(losses[f'loss_ce_{level}'],
                                   weights[level] * ref['loss_ce'])
        torch.testing.assert_close(losses[f'acc_seg_{level}'], ref['acc_seg'])


def test_loss_backpropagates_to_every_head_and_ignores_255():
    feats = tuple(f.requires_grad_() for f in features())
    batch = samples()
    for s in batch:  # one level fully ignored
        s.gt_seg_subpart = PixelData(data=torch.full_like(
            s.gt_seg_subpart.data, 255))
    head = build()
    losses = head.loss(feats, batch, train_cfg=dict())
    assert losses['loss_ce_subpart'] == 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for level in ('object', 'part'):
        assert head.heads[level].conv_seg.weight.grad.abs().sum() > 0
    assert feats[0].grad is not None


def test_missing_level_ground_truth_is_a_clear_error():
    head = build()
    with pytest.raises(KeyError, match="'gt_seg_subpart'"):
        head.loss(features(), samples(levels=('object', 'part')), dict())


def test_predict_resizes_every_level_to_the_input():
    head = build()
    metas = [dict(img_shape=(32, 48), pad_shape=(32, 48))] * 2
    out = head.predict(features(), metas, test_cfg=dict())
    for level in LEVELS:
        assert out[level].shape == (2, NUM_CLASSES[level], 32, 48)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(levels='object'), ValueError, 'levels'),
    (dict(levels=('object', 'object')), ValueError, 'unique'),
    (dict(num_classes=dict(object=3, part=5)), ValueError, 'missing'),
    (dict(num_classes=[3, 5]), ValueError, '2 entries for 3 levels'),
    (dict(num_classes=dict(object=3, part=5, subpart=1)), ValueError,
     'num_classes'),
    (dict(main_level='scene'), ValueError, 'main_level'),
    (dict(loss_weights=[1.0]), ValueError, 'loss_weights'),
    (dict(decode_head=[uper()]), ValueError, 'decode_head'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        build(**kwargs)


def test_shared_trunk_has_one_trunk_and_a_classifier_per_level():
    head = build(shared=True)
    assert not hasattr(head, 'heads') and isinstance(head.trunk, UPerHead)
    assert isinstance(head.trunk.conv_seg, torch.nn.Identity)
    for level in LEVELS:
        conv = head.classifier(level)
        assert conv.in_channels == head.trunk.channels and conv.kernel_size == (1, 1)
        assert conv.out_channels == NUM_CLASSES[level]
    separate = build()
    trunk_params = sum(p.numel() for p in head.trunk.parameters())
    per_level = sum(p.numel() for p in separate.heads['object'].parameters())
    assert trunk_params < per_level  # no classifier in the trunk
    assert sum(p.numel() for p in head.parameters()) < sum(
        p.numel() for p in separate.parameters())
    out = head(features())
    for level in LEVELS:
        assert out[level].shape == (2, NUM_CLASSES[level], 8, 12)
    losses = head.loss(features(), samples(), dict())
    assert set(losses) == {f'{name}_{level}' for name in ('loss_ce', 'acc_seg')
                           for level in LEVELS}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)
    metas = [dict(img_shape=(32, 48), pad_shape=(32, 48))] * 2
    out = head.predict(features(), metas, test_cfg=dict())
    assert out['subpart'].shape == (2, 7, 32, 48)
    with pytest.raises(ValueError, match='shared=True takes one decode_head'):
        build(shared=True, decode_head=[uper(), uper(), uper()])


@pytest.mark.parametrize('shared', [False, True])
def test_hierarchy_loss_beside_or_instead_of_level_losses(shared):
    from cast.structures import ClassHierarchy
    hierarchy = ClassHierarchy(LEVELS, dict(part=(0, 1, 1, 2, 2),
                                            subpart=(0, 1, 2, 2, 3, 4, 4)),
                               num_classes=NUM_CLASSES)
    chain = dict(type='ChainLikelihoodLoss', loss_weight=2.0)
    head = build(shared=shared, hierarchy_loss=chain)
    assert head.needs_hierarchy and not build().needs_hierarchy
    with pytest.raises(RuntimeError, match='hierarchy_loss needs the class hierarchy'):
        head.loss(features(), samples(), dict())
    head.class_hierarchy = hierarchy
    losses = head.loss(features(), samples(), dict())
    assert {'loss_chain', 'loss_chain_dropped', 'loss_ce_part', 'acc_seg_part'} <= set(losses)
    alone = build(shared=shared, hierarchy_loss=chain, loss_weights=[0, 0, 0])
    alone.load_state_dict(head.state_dict())
    alone.class_hierarchy = hierarchy
    alone_losses = alone.loss(features(), samples(), dict())
    assert not any(k.startswith('loss_ce') for k in alone_losses)
    torch.testing.assert_close(alone_losses['loss_chain'], losses['loss_chain'])
    torch.testing.assert_close(alone_losses['acc_seg_subpart'], losses['acc_seg_subpart'])
    alone_losses['loss_chain'].backward()
    assert alone.classifier('subpart').weight.grad.abs().sum() > 0


@pytest.mark.parametrize('shared', [False, True])
def test_embedding_loss_trains_a_projection_in_training_only(shared):
    """HSSN's recipe: tree-min beside the level losses, the tree-triplet loss on a normalised
    embedding of one input feature map; predictions do not change with the embedding."""
    from cast.structures import ClassHierarchy
    hierarchy = ClassHierarchy(LEVELS, dict(part=(0, 1, 1, 2, 2),
                                            subpart=(0, 1, 2, 2, 3, 4, 4)),
                               num_classes=NUM_CLASSES)
    head = build(shared=shared, hierarchy_loss=dict(type='TreeMinLoss'),
                 embedding_loss=dict(type='TreeTripletLoss', warmup_iters=2),
                 embedding_channels=16, embedding_in_index=1)
    assert head.needs_hierarchy and head.embedding_index == 1
    with pytest.raises(RuntimeError, match='hierarchy_loss needs the class hierarchy'):
        head.loss(features(), samples(), dict())
    head.class_hierarchy = hierarchy
    head.step.zero_()
    for step in (1, 2):
        losses = head.loss(features(), samples(), dict())
        assert int(head.step) == step
    assert {'loss_tree_min', 'loss_tree_triplet', 'loss_ce_part'} <= set(losses)
    assert losses['loss_tree_triplet'] > 0  # random labels: siblings and strangers exist
    losses['loss_tree_triplet'].backward()
    assert head.embedding[-1].weight.grad.abs().sum() > 0
    head.eval()
    plain = build(shared=shared)
    plain.load_state_dict({k: v for k, v in head.state_dict().items()
                           if not k.startswith(('embedding', 'step'))})
    plain.eval()
    metas = [dict(img_shape=(32, 48))] * 2
    for level, x in head.predict(features(), metas, dict()).items():
        torch.testing.assert_close(x, plain.predict(features(), metas, dict())[level])
    with pytest.raises(ValueError, match='embedding_in_index=4'):
        build(embedding_loss=dict(type='TreeTripletLoss'), embedding_in_index=4)

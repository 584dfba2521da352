import pytest
import torch

from cast.backbones import CAST
from cast.backbones.graph_pool import repeated_seeds

TINY = dict(embed_dims=24, num_layers=[1, 1, 1, 1], num_heads=2)


def grid_superpixels(B, H, W, cell):
    """Square superpixels of side ``cell``, labels 0..S-1."""
    cols = -(-W // cell)
    ys = torch.arange(H).view(H, 1) // cell
    xs = torch.arange(W).view(1, W) // cell
    return (ys * cols + xs).expand(B, H, W).clone()


def make_cast(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('arch', TINY)
    kwargs.setdefault('num_clusters', [8, 4, 2, 2])
    kwargs.setdefault('img_size', 32)
    model = CAST(**kwargs)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('H,W', [(32, 32), (32, 48), (40, 24)])
def test_featmap_shapes(H, W):
    model = make_cast()
    superpixels = grid_superpixels(2, H, W, 4)
    outs = model(torch.randn(2, 3, H, W), superpixels)
    assert len(outs) == 4
    for out, stride in zip(outs, (4, 8, 16, 32)):
        assert out.shape == (2, 24, -(-H // stride), -(-W // stride))
        assert torch.isfinite(out).all()


def test_out_indices_strides_and_cls_token():
    model = make_cast(out_indices=(1, 3), out_strides=(4, 4, 8, 8))
    x, sp = torch.randn(1, 3, 32, 48), grid_superpixels(1, 32, 48, 4)
    outs = model(x, sp)
    assert [o.shape for o in outs] == [(1, 24, 8, 12), (1, 24, 4, 6)]

    model = make_cast(out_type='cls_token', out_indices=-1)
    assert model.pos_embed_type == 'sincos'
    assert model.feature_resize == 'nearest'
    outs = model(x, sp)
    assert len(outs) == 1 and outs[0].shape == (1, 24)
    raw = model.forward_raw(x, sp)
    torch.testing.assert_close(outs[0], raw['cls_out'])


def test_first_stage_only():
    model = make_cast(out_indices=0)
    outs = model(torch.randn(1, 3, 32, 48), grid_superpixels(1, 32, 48, 4))
    assert len(outs) == 1 and outs[0].shape == (1, 24, 8, 12)


def test_nearest_variant_featmaps_and_hierarchy():
    # Random 2x2-pixel superpixels: many miss every 8x8 grid cell.
    model = make_cast(feature_resize='nearest', pos_embed_type='sincos')
    gen = torch.Generator().manual_seed(0)
    sp = torch.randint(0, 40, (2, 16, 24), generator=gen)
    sp = sp.repeat_interleave(2, 1).repeat_interleave(2, 2)
    x = torch.randn(2, 3, 32, 48)
    outs = model(x, sp)
    assert [o.shape[-2:] for o in outs] == [(8, 12), (4, 6), (2, 3), (1, 2)]
    levels = model.forward_hierarchy(x, sp)
    assert torch.equal(levels[0], model.token_labels(sp))
    assert torch.equal(levels[0][:, ::8, ::8], sp[:, ::8, ::8])  # nearest
    for fine, coarse in zip(levels[:-1], levels[1:]):
        for b in range(2):
            for region in fine[b].unique():
                assert coarse[b][fine[b] == region].unique().numel() == 1


def test_classification_defaults():
    model = CAST(arch='small', out_type='cls_token')
    assert model.num_clusters == [64, 32, 16, 8]
    assert model.pos_embed is None
    model = CAST(arch='base-deep')
    assert model.num_clusters == [320, 160, 80, 40]
    assert model.embed_dims == 768 and model.depths == [6, 3, 3, 3]
    assert model.pos_embed.shape == (1, 1 + 28 * 28, 768)


def test_raw_output_and_padding_for_different_superpixel_counts():
    model = make_cast(out_type='raw')
    sp = grid_superpixels(2, 32, 48, 4)  # 96 superpixels
    sp[1] = grid_superpixels(1, 32, 48, 8)[0]  # 24 superpixels
    raw = model(torch.randn(2, 3, 32, 48), sp)
    assert [t.shape[1] for t in raw['tokens']] == [96, 8, 4, 2]
    mask = raw['padding_masks'][0]
    assert mask.shape == (2, 96)
    assert mask[0].sum() == 0 and mask[1].sum() == 96 - 24
    assert (raw['seed_inds'][0][1] < 24).all()  # padded tokens never seed
    assert [t.shape for t in raw['logits']] == [(2, 96, 8), (2, 8, 4),
                                                (2, 4, 2), (2, 2, 2)]
    assert raw['cls_out'].shape == (2, 24)
    for masks in raw['padding_masks'][1:]:
        assert not masks.any()


def test_fewer_superpixels_than_clusters():
    model = make_cast(num_clusters=[20, 10, 5, 2])
    sp = grid_superpixels(2, 32, 32, 8)  # 16 superpixels
    sp[1] = (sp[1] >= 8).long()  # image 1: 2 superpixels
    x = torch.randn(2, 3, 32, 32)
    outs = model(x, sp)
    assert all(torch.isfinite(o).all() for o in outs)
    levels = model.forward_hierarchy(x, sp)
    for level in levels[1:]:
        assert level[1].unique().numel() <= 2
    # Image 1's duplicate clusters get no pixel, are padding in the next
    # stage and so are never its seeds.
    raw = model.forward_raw(x, sp)
    for i in range(4):
        repeated = repeated_seeds(raw['seed_inds'][i])
        assert repeated[1].sum() == model.num_clusters[i] - 2
        assert not repeated[1][levels[i + 1][1]].any()
        if i < 3:
            mask, seeds = raw['padding_masks'][i + 1], raw['seed_inds'][i + 1]
            assert torch.equal(mask, repeated)
            assert not mask[1].gather(0, seeds[1]).any()


def test_forward_hierarchy_is_nested():
    model = make_cast()
    sp = grid_superpixels(2, 32, 48, 4)
    levels = model.forward_hierarchy(torch.randn(2, 3, 32, 48), sp)
    assert len(levels) == 5
    assert torch.equal(levels[0], sp)
    for level, clusters in zip(levels[1:], model.num_clusters):
        assert level.shape == (2, 32, 48) and level.dtype == torch.long
        assert 0 <= level.min() and level.max() < clusters
    for fine, coarse in zip(levels[:-1], levels[1:]):
        for b in range(2):
            for region in fine[b].unique():
                assert coarse[b][fine[b] == region].unique().numel() == 1


def test_featmap_is_painted_through_the_chain():
    model = make_cast(out_type='raw')
    x, sp = torch.randn(1, 3, 32, 32), grid_superpixels(1, 32, 32, 4)
    raw = model(x, sp)
    model.out_type, model.out_strides = 'featmap', [4, 4, 4, 4]
    maps = model.paint_featmaps(raw)
    levels = model.hierarchy_from_raw(raw)
    # 4x4 superpixels on a stride-4 map: each cell holds one token.
    for stage in range(4):
        ids = levels[stage][0, ::4, ::4]
        expected = raw['tokens'][stage][0][ids].permute(2, 0, 1)
        torch.testing.assert_close(maps[stage][0], expected)


def test_fast_segment_mean_matches_reference_path():
    x, sp = torch.randn(2, 3, 32, 48), grid_superpixels(2, 32, 48, 6)
    sp[1] = torch.randint(0, 30, (32, 48), generator=torch.Generator(
    ).manual_seed(0))
    outs = [make_cast(out_type='raw', fast_segment_mean=fast)(x, sp)
            for fast in (True, False)]
    for a, b in zip(outs[0]['tokens'], outs[1]['tokens']):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_superpixels_with_channel_dim_and_int32():
    model = make_cast()
    x, sp = torch.randn(1, 3, 32, 32), grid_superpixels(1, 32, 32, 8)
    ref = model(x, sp)
    out = model(x, sp[:, None].int())
    for a, b in zip(ref, out):
        torch.testing.assert_close(a, b)


def test_backward_and_frozen_parts():
    model = make_cast().train()
    x, sp = torch.randn(2, 3, 32, 32), grid_superpixels(2, 32, 32, 4)
    sum(o.sum() for o in model(x, sp)).backward()
    assert model.pos_embed.grad is not None
    assert model.patch_embed.convs[0].conv.weight.grad is not None
    assert model.stages[0]['pool'].fc1[1].weight.grad is not None
    assert all(not p.requires_grad
               for p in model.stages[-1]['pool'].parameters())
    assert all(not p.requires_grad for p in model.norm.parameters())
    model = make_cast(frozen_last_pool=False, out_type='raw')
    assert all(p.requires_grad for p in model.parameters())


def test_registered_in_mmseg_and_mmpretrain():
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS

    from mmseg.registry import MODELS
    cfg = dict(type='CAST', arch=TINY, num_clusters=[4, 2, 2, 1])
    assert type(MODELS.build(cfg)) is CAST
    assert type(PRETRAIN_MODELS.build(cfg)) is CAST


def test_outputs_feed_mmseg_heads():
    import mmseg.models  # noqa: F401 (registers the heads)
    from mmseg.registry import MODELS
    model = make_cast()
    feats = model(torch.randn(2, 3, 32, 32), grid_superpixels(2, 32, 32, 4))
    for head in (dict(type='UPerHead', in_channels=[24] * 4,
                      in_index=[0, 1, 2, 3], pool_scales=(1, 2),
                      channels=16, num_classes=3),
                 dict(type='SegformerHead', in_channels=[24] * 4,
                      in_index=[0, 1, 2, 3], channels=16, num_classes=3)):
        logits = MODELS.build(head)(feats)
        assert logits.shape == (2, 3, 8, 8)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(arch='tiny'), ValueError, 'arch'),
    (dict(arch=dict(embed_dims=24, num_heads=2)), ValueError, 'num_layers'),
    (dict(arch=dict(embed_dims=24, num_layers=3, num_heads=2)), ValueError,
     'depth per stage'),
    (dict(arch=[24]), TypeError, 'str or dict'),
    (dict(num_clusters=[8, 4, 2]), ValueError, 'num_clusters'),
    (dict(num_clusters=[8, 4, 0, 2]), ValueError, 'num_clusters'),
    (dict(out_indices=(0, 4)), ValueError, 'out_indices'),
    (dict(out_type='avg_featmap'), ValueError, 'out_type'),
    (dict(out_strides=(4, 8, 16)), ValueError, 'out_strides'),
    (dict(pos_embed_type='rope'), ValueError, 'pos_embed_type'),
    (dict(feature_resize='area'), ValueError, 'feature_resize'),
    (dict(patch_size=16), ValueError, 'stride 8'),
    (dict(arch=dict(embed_dims=40, num_layers=[1] * 4, num_heads=2)),
     ValueError, 'divisible'),
    (dict(fps_backend='cuda'), ValueError, 'fps_backend'),
    (dict(pretrained='a.pth', init_cfg=dict(type='Pretrained')), ValueError,
     'pretrained'),
])
def test_bad_args_raise(kwargs, error, match):
    kwargs.setdefault('arch', TINY)
    kwargs.setdefault('num_clusters', [8, 4, 2, 2])
    with pytest.raises(error, match=match):
        CAST(**kwargs)


def test_bad_inputs_raise():
    model = make_cast()
    x = torch.randn(1, 3, 32, 32)
    sp = grid_superpixels(1, 32, 32, 8)
    with pytest.raises(ValueError, match='superpixels must be'):
        model(x, sp[:, :16])
    with pytest.raises(TypeError, match='integer'):
        model(x, sp.float())
    with pytest.raises(ValueError, match='>= 0'):
        model(x, sp - 1)
    with pytest.raises(ValueError, match='needs superpixels'):
        model(x, None)

"""CASTImageClassifier and CASTMoCoV3 on tiny inputs: superpixels reach both encoders."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

TINY = dict(type='CAST', arch=dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12),
            img_size=64, out_type='cls_token', out_indices=(3, ), num_clusters=[8, 4, 2, 1],
            fps_backend='torch')


def grid_superpixels(h, w, cell=8):
    rows = np.arange(h)[:, None] // cell
    cols = np.arange(w)[None, :] // cell
    return (rows * (-(-w // cell)) + cols).astype(np.int64)


def samples(n, h, w, views=None, label=True):
    out = []
    for i in range(n):
        s = DataSample()
        if label:
            s.set_gt_label(i % 3)
        sp = grid_superpixels(h, w, cell=8 + i)
        s.set_field([sp, grid_superpixels(h, w, 12)] if views else sp, 'superpixels')
        out.append(s)
    return out


@pytest.fixture
def classifier():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='CASTImageClassifier',
        backbone=dict(TINY, pos_embed_type='learned'),
        head=dict(type='VisionTransformerClsHead', num_classes=3, in_channels=48),
        data_preprocessor=dict(num_classes=3, mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], to_rgb=True),
        train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)])))
    model.init_weights()
    return model


def test_classifier_loss_predict_tensor(classifier):
    h, w = 48, 64  # not square
    data = dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8) for _ in range(2)],
                data_samples=samples(2, h, w))
    batch = classifier.data_preprocessor(data, True)  # Mixup/CutMix on images and labels
    losses = classifier(**batch, mode='loss')
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert classifier.backbone.stages[0]['blocks'][0].attn.qkv.weight.grad is not None
    batch = classifier.data_preprocessor(data, False)
    preds = classifier(**batch, mode='predict')
    assert len(preds) == 2 and preds[0].pred_score.shape == (3, )
    logits = classifier(**batch, mode='tensor')
    assert logits.shape == (2, 3)
    feats = classifier.extract_feat(batch['inputs'], stage='backbone',
                                    data_samples=batch['data_samples'])
    assert feats[0].shape == (2, 48)
    # the superpixels matter: another partition gives other features
    other = classifier.extract_feat(
        batch['inputs'], stage='backbone',
        superpixels=torch.zeros(2, h, w, dtype=torch.long))
    assert not torch.allclose(feats[0], other[0])


def test_classifier_without_superpixels_says_what_to_add(classifier):
    inputs = torch.zeros(1, 3, 32, 32)
    with pytest.raises(KeyError, match='PackInputs'):
        classifier(inputs, [DataSample().set_gt_label(0)], mode='loss')
    with pytest.raises(ValueError, match='stage'):
        classifier.extract_feat(inputs, stage='head', data_samples=samples(1, 32, 32))


def test_mocov3_loss_uses_each_views_superpixels():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='CASTMoCoV3',
        backbone=TINY,
        neck=dict(type='NonLinearNeck', in_channels=48, hid_channels=64, out_channels=32,
                  num_layers=3, with_bias=False, with_last_bn=True, with_last_bn_affine=False,
                  with_last_bias=False, with_avg_pool=False),
        head=dict(type='MoCoV3Head',
                  predictor=dict(type='NonLinearNeck', in_channels=32, hid_channels=64,
                                 out_channels=32, num_layers=2, with_bias=False,
                                 with_last_bn=True, with_last_bn_affine=False,
                                 with_last_bias=False, with_avg_pool=False),
                  loss=dict(type='CrossEntropyLoss', loss_weight=0.4), temperature=0.2),
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], to_rgb=True)))
    model.init_weights()
    calls = []
    momentum_backbone = model.momentum_encoder.module[0]
    momentum_backbone.register_forward_hook(
        lambda mod, args, out: calls.append(args[1].clone()))
    views = [torch.randint(0, 255, (4, 3, 40, 56), dtype=torch.uint8) for _ in range(2)]
    batch = model.data_preprocessor(dict(inputs=views, data_samples=samples(4, 40, 56, True)),
                                    True)
    losses = model(**batch, mode='loss')
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    # the momentum encoder got view 1's then view 2's superpixels
    assert len(calls) == 2
    assert torch.equal(calls[0][1], torch.from_numpy(grid_superpixels(40, 56, 9)))
    assert torch.equal(calls[1][1], torch.from_numpy(grid_superpixels(40, 56, 12)))
    feats = model(batch['inputs'], batch['data_samples'], mode='tensor')
    assert feats[0].shape == (4, 48)
    with pytest.raises(ValueError, match='two views'):
        model.loss(batch['inputs'][:1], batch['data_samples'])

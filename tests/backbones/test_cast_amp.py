"""CAST under automatic mixed precision (what ``--amp`` runs), checked with CPU autocast.

bf16 is the CPU's autocast type; the same ops run in fp16 under CUDA autocast. Before the
fix, the sparse products of the per-superpixel averaging and painting ran in half precision
under autocast and their backward failed with "expected scalar type Float but found BFloat16".
"""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import cast  # noqa: F401
from cast.backbones import CAST
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ARCH = dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12)
VARIANTS = {
    'cls': dict(out_type='cls_token', out_indices=(3, )),
    'seg': dict(out_type='featmap'),
    'seg-full-res': dict(out_type='featmap', fast_segment_mean=False),
    'seg-sincos': dict(out_type='featmap', pos_embed_type='sincos'),
    'raw': dict(out_type='raw'),
}


def inputs():
    g = torch.Generator().manual_seed(0)
    superpixels = (torch.arange(40)[:, None] // 7) * 9 + torch.arange(56)[None] // 7
    return torch.randn(2, 3, 40, 56, generator=g), torch.stack([superpixels, superpixels // 2])


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16], ids=['bf16', 'fp16'])
@pytest.mark.parametrize('variant', list(VARIANTS))
def test_forward_backward_under_autocast(variant, dtype):
    torch.manual_seed(0)
    model = CAST(ARCH, img_size=32, num_clusters=[12, 6, 3, 2], **VARIANTS[variant])
    model.init_weights()
    model.train()
    x, superpixels = inputs()
    with torch.autocast('cpu', dtype=dtype):
        out = model(x, superpixels)
        if isinstance(out, dict):  # every stage's tokens, logits and pooled tokens, and [CLS]
            out = out['tokens'] + out['logits'] + out['pooled_tokens'] + [out['cls_out']]
        loss = sum(o.float().mean() for o in out)
    loss.backward()
    assert all(torch.isfinite(o).all() for o in out)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_autocast_tokens_stay_close_to_float32():
    torch.manual_seed(0)
    model = CAST(ARCH, img_size=32, num_clusters=[12, 6, 3, 2], out_type='raw').eval()
    x, superpixels = inputs()
    with torch.no_grad():
        ref = model(x, superpixels)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            amp = model(x, superpixels)
    # first-stage tokens (before any pooling decision) agree to bf16 precision
    torch.testing.assert_close(amp['tokens'][0].float(), ref['tokens'][0], atol=0.1, rtol=0.05)
    assert torch.equal(amp['padding_masks'][0], ref['padding_masks'][0])


def hierarchical_segmentor():
    init_default_scope('mmseg')
    levels = ('object', 'part')
    head = dict(type='UPerHead', in_channels=[48] * 4, in_index=[0, 1, 2, 3], pool_scales=(1, 2),
                channels=16, num_classes=-1, norm_cfg=dict(type='BN'),
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
    cfg = dict(
        type='HierarchicalEncoderDecoder',
        data_preprocessor=dict(type='CASTSegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=16,
                               pad_val=0, seg_pad_val=255),
        backbone=dict(type='CAST', arch=ARCH, img_size=32, num_clusters=[12, 6, 3, 2]),
        decode_head=dict(type='HierarchicalDecodeHead', levels=levels,
                         num_classes=dict(object=3, part=5), decode_head=head),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    torch.manual_seed(0)
    return MODELS.build(cfg), levels


def test_segmentor_trains_and_predicts_under_autocast():
    model, levels = hierarchical_segmentor()
    g = torch.Generator().manual_seed(0)
    images, samples = [], []
    for _ in range(2):
        images.append(torch.randint(0, 256, (3, 40, 56), generator=g, dtype=torch.uint8))
        sample = SegDataSample()
        for level, n in zip(levels, (3, 5)):
            labels = torch.randint(0, n, (1, 40, 56), generator=g)
            sample.set_data({f'gt_seg_{level}': PixelData(data=labels)})
        sample.gt_sem_seg = PixelData(data=sample.gt_seg_object.data.clone())
        sample.superpixels = PixelData(data=inputs()[1][0][None])
        sample.set_metainfo(dict(img_shape=(40, 56), ori_shape=(40, 56), flip=False))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(data['inputs'], data['data_samples'])
        loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    assert model.backbone.patch_embed.proj.weight.grad is not None
    model.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        preds = model.predict(data['inputs'], data['data_samples'])
    assert preds[0].pred_seg_part.data.shape == (1, 40, 56)

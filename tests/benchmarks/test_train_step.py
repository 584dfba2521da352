"""benchmarks/train_step.py times a training iteration stage by stage: the staged iteration must
update the weights exactly as MMEngine's ``model.train_step`` does."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from benchmarks import train_step
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

ARCH = dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12)


def head(num_classes):
    return dict(type='UPerHead', in_channels=[48] * 4, in_index=[0, 1, 2, 3], pool_scales=(1, 2),
                channels=16, dropout_ratio=0.1, num_classes=num_classes, norm_cfg=dict(type='BN'),
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))


def aux(num_classes):
    return dict(type='FCNHead', in_channels=48, in_index=2, channels=8, num_convs=1,
                dropout_ratio=0.1, num_classes=num_classes,
                loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))


def model_cfg(hierarchical):
    levels, classes = ('object', 'part'), dict(object=3, part=5)
    cfg = dict(
        data_preprocessor=dict(type='CASTSegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=16,
                               pad_val=0, seg_pad_val=255),
        backbone=dict(type='CAST', arch=ARCH, img_size=32, num_clusters=[12, 6, 3, 2],
                      drop_path_rate=0.1),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    if hierarchical:
        cfg.update(type='HierarchicalEncoderDecoder',
                   decode_head=dict(type='HierarchicalDecodeHead', levels=levels,
                                    num_classes=classes, decode_head=head(-1),
                                    hierarchy_loss=dict(type='ChainLikelihoodLoss')),
                   auxiliary_head=dict(type='HierarchicalDecodeHead', levels=levels,
                                       num_classes=classes, decode_head=aux(-1)))
    else:
        cfg.update(type='CASTEncoderDecoder', decode_head=head(3), auxiliary_head=aux(3))
    return cfg


def batch():
    g = torch.Generator().manual_seed(0)
    images, samples = [], []
    for h, w in ((40, 56), (33, 47)):
        images.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        sample = SegDataSample()
        for level, n in (('object', 3), ('part', 5)):
            sample.set_data({f'gt_seg_{level}': PixelData(
                data=torch.randint(0, n, (1, h, w), generator=g))})
        sample.gt_sem_seg = PixelData(data=sample.gt_seg_object.data.clone())
        labels = (torch.arange(h)[:, None] // 6) * 10 + torch.arange(w)[None] // 6
        sample.superpixels = PixelData(data=torch.unique(labels, return_inverse=True)[1][None])
        sample.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), flip=False))
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


@pytest.mark.parametrize('hierarchical', [False, True], ids=['upernet', 'hierarchical'])
def test_staged_iteration_updates_weights_as_train_step(hierarchical):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    reference = MODELS.build(model_cfg(hierarchical))
    reference.init_weights()
    # the chain loss reads the hierarchy from the data's metainfo, as DatasetMetaHook sets it
    reference.dataset_meta = dict(levels=('object', 'part'), hierarchy=dict(part=(0, 1, 1, 2, 2)))
    staged = copy.deepcopy(reference)
    initial = [p.detach().clone() for p in reference.parameters()]
    wrappers = [OptimWrapper(torch.optim.SGD(m.parameters(), lr=0.5)) for m in (reference, staged)]
    torch.manual_seed(1)  # dropout and drop path draw the same numbers in both runs
    ref_log = reference.train_step(batch(), wrappers[0])
    torch.manual_seed(1)
    timer = train_step.StageTimer()
    log = train_step.staged_train_step(staged, batch(), wrappers[1], timer)
    assert set(log) == set(ref_log)
    for key in ref_log:
        torch.testing.assert_close(torch.as_tensor(log[key]), torch.as_tensor(ref_log[key]))
    for (name, p), q in zip(reference.named_parameters(), staged.parameters()):
        torch.testing.assert_close(q, p, atol=1e-6, rtol=1e-5, msg=name)
    moved = sum(not torch.equal(p, p0) for p, p0 in zip(reference.parameters(), initial))
    assert moved > 20  # the step updated the backbone and the heads
    assert set(timer.times) == set(train_step.PARTS) - {'data wait'}

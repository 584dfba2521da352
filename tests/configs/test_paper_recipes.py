"""The paper's MoCo v3 pre-training and linear probe configs: their reference
settings, and one iteration each with real MMEngine runners on a tiny
synthetic ImageNet-layout folder (pre-training, then probing its
checkpoint)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import cast  # noqa: F401  (registers CAST and MMPretrain's side: cast.recognition)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MOCO = osp.join(REPO, 'configs', 'cast', 'mocov3_cast-s_in1k_paper.py')
PROBE = osp.join(REPO, 'configs', 'cast',
                 'mocov3_cast-s_linear-probe_in1k_paper.py')
TINY = dict(arch=dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12),
            img_size=64, num_clusters=[8, 4, 2, 1], fps_backend='torch')
SEEDS_MOCO = dict(type='Superpixels', method='seeds', num_superpixels=196,
                  histogram_bins=15, max_iter=20)


def tiny_data(cfg, loader, root, split, batch_size):
    cfg[loader].update(batch_size=batch_size, num_workers=0,
                       persistent_workers=False, pin_memory=False)
    cfg[loader].dataset.update(data_root=root, split=split,
                               classes=f'{root}/meta/classes.txt')


def test_moco_paper_settings():
    cfg = Config.fromfile(MOCO)
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=1.5e-4,
                                               weight_decay=0.1)
    assert 'paramwise_cfg' not in cfg.optim_wrapper  # decay on everything
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.train_cfg.max_epochs == 100
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, cosine.type, cosine.begin) == (
        'LinearLR', 10, 'CosineAnnealingLR', 10)
    assert cfg.model.base_momentum == 0.01 and cfg.temperature == 0.2
    assert cfg.model.backbone.stem_norm_cfg == dict(type='SyncBN')
    views = cfg.train_dataloader.dataset.pipeline[1].transforms
    for view in views:
        assert view[-1] == SEEDS_MOCO  # after every augmentation of the view
    probe = Config.fromfile(PROBE)
    assert probe.optim_wrapper.optimizer == dict(type='SGD', lr=120.,
                                                 momentum=0.9, weight_decay=0.)
    assert probe.auto_scale_lr.base_batch_size == 1024
    assert probe.train_dataloader.batch_size * 8 == 1024
    assert probe.param_scheduler == [dict(type='CosineAnnealingLR', T_max=90,
                                          by_epoch=True, begin=0, end=90)]
    for loader in ('train_dataloader', 'val_dataloader'):
        assert SEEDS_MOCO in probe[loader].dataset.pipeline


@pytest.fixture(scope='module')
def moco_checkpoint(synthetic_imagenet_root, tmp_path_factory):
    """One iteration of the paper's MoCo v3 config, shrunk to 64 px views."""
    cfg = Config.fromfile(MOCO)
    work_dir = str(tmp_path_factory.mktemp('moco_paper'))
    cfg.work_dir = work_dir
    cfg.model.backbone.update(TINY)
    cfg.model.neck.update(in_channels=48, hid_channels=64, out_channels=32)
    cfg.model.head.predictor.update(in_channels=32, hid_channels=64,
                                    out_channels=32)
    for view in cfg.train_dataloader.dataset.pipeline[1].transforms:
        view[0].scale = 64
        view[-1].num_superpixels = 16
    tiny_data(cfg, 'train_dataloader', synthetic_imagenet_root, 'train', 8)
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1., by_epoch=True)]
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.backbone.state_dict().items()}
    runner.train()
    after = runner.model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    return osp.join(work_dir, 'epoch_1.pth')


def test_linear_probe_trains_only_the_head(moco_checkpoint,
                                           synthetic_imagenet_root, tmp_path):
    cfg = Config.fromfile(PROBE)
    cfg.work_dir = str(tmp_path)
    cfg.model.backbone.update(TINY)
    cfg.model.backbone.init_cfg.checkpoint = moco_checkpoint
    cfg.model.head.update(in_channels=48, num_classes=6)
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val')):
        tiny_data(cfg, loader, synthetic_imagenet_root, split, 8)
        for step in cfg[loader].dataset.pipeline:
            if step.type == 'RandomResizedCrop':
                step.scale = 64
            if step.type == 'ResizeEdge':
                step.scale = 72
            if step.type == 'CenterCrop':
                step.crop_size = 64
            if step.type == 'Superpixels':
                step.num_superpixels = 16
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1., by_epoch=True)]
    cfg.default_hooks.logger.interval = 1
    cfg.val_evaluator = dict(type='Accuracy', topk=(1, ))
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    pretrained = torch.load(moco_checkpoint, weights_only=False)['state_dict']
    backbone = runner.model.backbone
    # the MoCo online backbone (not the momentum copy) is what is probed
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, pretrained['backbone.' + key]), key
    head_before = runner.model.head.layers.head.weight.clone()
    assert float(head_before.std()) < 0.02  # N(0, 0.01) init
    runner.train()
    # the reference's sanity check: nothing but the linear layer changed,
    # BatchNorm statistics included
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, pretrained['backbone.' + key]), key
    assert not torch.equal(runner.model.head.layers.head.weight, head_before)
    assert not any(p.requires_grad for p in backbone.parameters())
    metrics = runner.val_loop.run()
    assert 'accuracy/top1' in metrics

# Linear probe of a MoCo v3 CAST-S on ImageNet-1K as the paper (68.1% top-1 for CAST-S, 100
# pre-training epochs; twke18/CAST moco-v3/main_lincls_suppix.py, scripts/moco/
# train_imagenet1k_cast.sh), in the form of MMPretrain's linear-probe benchmarks
# (configs/mocov3/benchmarks/vit-small-p16_8xb128-linear-coslr-90e_in1k.py): frozen backbone in
# eval mode, its final [CLS] (LayerNorm of the last stage's) -> one Linear (init N(0, 0.01)), SGD
# lr 30 x 1024 / 256 = 120, momentum 0.9, weight decay 0, batch 1024 (8 GPUs x 128), 90 epochs,
# cosine per epoch; RandomResizedCrop 224 + flip for training, short side 256 + centre crop 224
# for testing; SEEDS superpixels as in pre-training (196, 15 bins, 20 iterations).
#   tools/dist_train.sh configs/cast/mocov3_cast-s_linear-probe_in1k_paper.py 8 \
#       --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/mocov3_cast-s_in1k_paper/epoch_100.pth
# The official MoCo v3 CAST-S (checkpoint_0099.pth.tar), converted by
# tools/model_converters/cast2mmseg.py, loads the same way (its backbone is under `backbone.`).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['cast'], allow_failed_imports=False)

checkpoint = 'work_dirs/mocov3_cast-s_in1k_paper/epoch_100.pth'
model = dict(
    type='CASTImageClassifier',
    freeze_backbone=True,
    backbone=dict(
        type='CAST',
        arch='small',
        img_size=224,
        out_type='cls_token',
        out_indices=(3, ),
        num_clusters=[64, 32, 16, 8],
        pos_embed_type='sincos',
        feature_resize='nearest',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='Normal', std=0.01, layer='Linear')))

superpixels = dict(type='Superpixels', method='seeds', num_superpixels=196, histogram_bins=15,
                   max_iter=20)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    superpixels,
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    superpixels,
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
train_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, num_workers=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=120., momentum=0.9, weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=0, end=90)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=1024)

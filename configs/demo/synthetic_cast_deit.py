# A CPU-sized run of the supervised recipe (configs/cast/cast-s_deit_in1k.py) on the synthetic
# ImageNet-layout folder labelled by superclass (Quadruped / Car / Fish):
#   python -m cast.datasets.synthetic.imagenet data/synthetic_imagenet --label superclass \
#       --num-train 600 --num-val 60 --seed 1 --min-size 96 --max-size 128
#   python tools/train.py configs/demo/synthetic_cast_deit.py
# A 96-dim CAST with one block per stage, 32/16/8/4 clusters, 96 px crops, about 80 superpixels
# per crop (one per 12x12 pixels), 400 iterations of 32 images; no Mixup/CutMix/RandAugment so
# that a few minutes of CPU suffice. Its hierarchy is then scored by tools/eval_unsupervised.py.
_base_ = ['../cast/cast-s_deit_in1k.py']

data_root = 'data/synthetic_imagenet'
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=[1, 1, 1, 1], num_heads=12),
        img_size=96,
        num_clusters=[32, 16, 8, 4],
        drop_path_rate=0.),
    head=dict(num_classes=3, in_channels=96),
    train_cfg=dict(_delete_=True))
data_preprocessor = dict(num_classes=3)
superpixels = dict(type='Superpixels', area_per_superpixel=144)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.35, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    superpixels,
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=96, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=96),
    superpixels,
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
dataset = dict(data_root=data_root, classes=data_root + '/meta/classes.txt')
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**dataset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    dataset=dict(**dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

max_iters = 400
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, end=40),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=40, end=max_iters)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

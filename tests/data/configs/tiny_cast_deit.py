# configs/cast/cast-s_deit_in1k.py shrunk for CPU tests: 64 px crops, a 48-dim CAST with one
# block per stage, 8/4/2/1 clusters, 6 classes (the synthetic ImageNet), one epoch.
# The data root comes from --cfg-options (train_dataloader.dataset.data_root=... and classes=...).
_base_ = ['../../../configs/cast/cast-s_deit_in1k.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12),
        img_size=64,
        num_clusters=[8, 4, 2, 1],
        drop_path_rate=0.,
        fps_backend='torch'),  # same seeds as dgl, faster on CPU
    head=dict(num_classes=6, in_channels=48))
data_preprocessor = dict(num_classes=6)
superpixels = dict(type='Superpixels', area_per_superpixel=64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5, hparams=dict(pad_val=[104, 116, 124])),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=[103.53, 116.28, 123.675],
         fill_std=[57.375, 57.12, 58.395]),
    superpixels,
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=72, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=64),
    superpixels,
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
loader = dict(batch_size=4, num_workers=0, persistent_workers=False)
train_dataloader = dict(**loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, end=1, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0)

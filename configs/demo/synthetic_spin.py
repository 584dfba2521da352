# The demo: a small hierarchical CAST trained from scratch on the built-in synthetic SPIN data
# (`make demo` generates it under data/synthetic_spin on first use), predicting the object, part
# and subpart level at once with the project's recipe: per-level cross-entropy plus the chain
# likelihood loss, and joint decoding (the most probable valid object -> part -> subpart chain
# per pixel). Sized for a 2-core CPU: a few minutes of training.
#
# 480 iterations at lr 4e-3, crops resized by 1.0-1.75 around the test scale (smaller crops make
# eyes, noses and paws smaller than a superpixel). The chain loss makes an iteration about 1.2x
# dearer on the CPU than cross-entropy alone, so the demo trains 480 iterations where the
# cross-entropy demo (benchmarks/configs/synthetic_spin_ce.py) trains 600 in the same time; lr
# 4e-3 is the best lr of the validation search of docs/benchmarks.md (at 480 iterations on
# the 32 validation pictures, seed 0: mean mIoU of the three levels 53.4 against 50.0 at 2e-3).
# No validation pass during training: `make demo` tests the last checkpoint on the same 32
# pictures right after.
_base_ = ['../_base_/datasets/synthetic_spin.py', '../_base_/default_runtime.py']

crop_size = (128, 128)
levels = ('object', 'part', 'subpart')
num_classes = dict(object=4, part=12, subpart=13)  # the synthetic taxonomy, background included
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadHierarchicalAnnotations'),
    dict(type='RandomResize', scale=(160, 160), ratio_range=(1.0, 1.75), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Superpixels', area_per_superpixel=64),  # on the final crop, 256 per crop
    dict(type='PhotoMetricDistortion'),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))

model = dict(
    type='HierarchicalEncoderDecoder',
    data_preprocessor=dict(
        type='CASTSegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(
        type='CAST',
        arch=dict(embed_dims=96, num_layers=[2, 2, 2, 2], num_heads=6),
        img_size=128,
        num_clusters=[64, 32, 16, 8],
        pos_embed_type='learned',
        feature_resize='bilinear',
        out_indices=(0, 1, 2, 3),
        out_strides=(4, 8, 16, 32)),
    decode_head=dict(
        type='HierarchicalDecodeHead',
        levels=levels,
        num_classes=num_classes,
        decode_head=dict(
            type='SegformerHead',
            in_channels=[96, 96, 96, 96],
            in_index=[0, 1, 2, 3],
            channels=96,
            dropout_ratio=0.1,
            norm_cfg=dict(type='BN', requires_grad=True),
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        loss_weights=dict(object=1.0, part=1.0, subpart=1.0),
        # over all levels at once (needs the hierarchy: DatasetMetaHook, below)
        hierarchy_loss=dict(type='ChainLikelihoodLoss', loss_weight=1.0)),
    decoding='joint',  # or 'independent' / 'greedy' / 'hssn' (`make demo` prints independent)
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

custom_hooks = [dict(type='DatasetMetaHook')]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-3, betas=(0.9, 0.999), weight_decay=0.01, fused=True),
    paramwise_cfg=dict(custom_keys=dict(
        pos_embed=dict(decay_mult=0.), cls_token=dict(decay_mult=0.), norm=dict(decay_mult=0.))))
max_iters = 480
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=240, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
# Pictures of every level's prediction beside its ground truth (tools/test.py --show-dir).
visualizer = dict(type='HierarchicalSegVisualizer')

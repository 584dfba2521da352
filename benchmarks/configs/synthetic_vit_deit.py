# The side-by-side baseline of benchmarks/adaptation_study.py: configs/demo/synthetic_cast_deit.py
# with MMPretrain's plain ViT in place of CAST, at the same size (96 channels, 4 blocks, 12 heads,
# MLP ratio 4) and token count (12x12 patches of a 96-pixel crop: 64 tokens, CAST's superpixels
# cover 144 pixels each), trained and adapted the same way. It has recognition but no hierarchy.
# Not a shipped config: it exists for that comparison.
_base_ = ['../../configs/demo/synthetic_cast_deit.py']

model = dict(
    type='ImageClassifier',
    _delete_=True,
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=96, num_layers=4, num_heads=12, feedforward_channels=384),
        img_size=96,
        patch_size=12,
        out_type='cls_token',
        drop_path_rate=0.,
        init_cfg=[dict(type='Kaiming', layer='Conv2d', mode='fan_in', nonlinearity='linear')]),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=3,
        in_channels=96,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))
# the same images and augmentations, without the superpixels only CAST reads
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.35, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=96, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=96),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

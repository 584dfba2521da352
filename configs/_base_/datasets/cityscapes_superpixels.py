# MMSeg's Cityscapes (19 train ids, 512x1024 crops from 2048x1024 images) with superpixels on each
# final crop (train) and on the resized image (test; slide inference relabels them per window),
# packed for CAST. One superpixel per 256 pixels, as the ADE20K and Pascal Context configs: 2,048
# per 512x1024 crop, 8,192 on a whole 2048x1024 test image (the count scales with the area).
_base_ = ['mmseg::_base_/datasets/cityscapes.py']

crop_size = (512, 1024)
superpixels = dict(type='Superpixels', area_per_superpixel=256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    superpixels,
    dict(type='PhotoMetricDistortion'),
    dict(type='PackHierSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    superpixels,
    dict(type='LoadAnnotations'),
    dict(type='PackHierSegInputs')
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [superpixels],
            [dict(type='LoadAnnotations')],
            [dict(type='PackHierSegInputs')],
        ])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# MMSeg's ADE20K (512x512 crops) with superpixels computed on each final crop (train) and on the
# resized image (test; slide inference relabels them per window), packed for CAST.
_base_ = ['mmseg::_base_/datasets/ade20k.py']

crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Superpixels', area_per_superpixel=256),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackHierSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='Superpixels', area_per_superpixel=256),
    dict(type='LoadAnnotations', reduce_zero_label=True),
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
            [dict(type='Superpixels', area_per_superpixel=256)],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackHierSegInputs')],
        ])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

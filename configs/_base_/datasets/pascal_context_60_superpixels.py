# MMSeg's Pascal Context with 60 classes (background included, as the paper's 49.1) at the
# reference's scale: images resized to short side 520 (scale (4160, 520), the reference's
# max_ratio 8; MMSeg's (520, 520) caps the long side at 520 instead), 480x480 crops, superpixels
# on each final crop (train) and on the resized image (test), packed for CAST.
_base_ = ['mmseg::_base_/datasets/pascal_context.py']

crop_size = (480, 480)
img_scale = (4160, 520)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Superpixels', area_per_superpixel=256),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackHierSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Superpixels', area_per_superpixel=256),
    dict(type='LoadAnnotations'),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

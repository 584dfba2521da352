# The built-in synthetic SPIN data (tools/generate_synthetic_spin.py data/synthetic_spin):
# 96 train / 32 val pictures of 128-192 px, levels object (3 superclasses) / part / subpart.
# Every level is loaded and packed as gt_seg_{level}; 'object' is the main level (gt_sem_seg).
# Superpixels are computed in the pipeline for CAST.
dataset_type = 'SPINDataset'
data_root = 'data/synthetic_spin'
superpixels = dict(type='Superpixels', area_per_superpixel=64)  # 256 per 128x128 crop
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadHierarchicalAnnotations'),
    dict(type='RandomResize', scale=(160, 160), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    superpixels,  # on the final crop: after every geometric transform
    dict(type='PhotoMetricDistortion'),
    dict(type='PackHierSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 160), keep_ratio=True),
    superpixels,
    # annotations after Resize: the ground truth keeps the original size
    dict(type='LoadHierarchicalAnnotations'),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        object_level='superclass',
        main_level='object',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        object_level='superclass',
        main_level='object',
        pipeline=test_pipeline))
test_dataloader = val_dataloader  # the synthetic data has no test split by default

# per-level mIoU, spatial (SpCS) and semantic (SeCS) consistency across the levels
val_evaluator = dict(type='HierarchicalMetric', hier_metrics=['mIoU', 'SpCS', 'SeCS'])
test_evaluator = val_evaluator

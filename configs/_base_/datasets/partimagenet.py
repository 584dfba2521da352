# PartImageNet_Seg (arXiv 2112.00933, github TACJu/PartImageNet) as released:
# data/PartImageNet/annotations/{train,val,test}/{split}.json (40 parts, supercategory = one of
# 11 superclasses; annotations/{split}.json also read) and data/PartImageNet/images/{split}/.
# Levels object (the superclass; its mask is the union of the parts) / part. The release's PNG
# label maps (annotations/{split}/*.png, 40 = background) are read with label_source='png'.
dataset_type = 'PartImageNetDataset'
data_root = 'data/PartImageNet'
# one superpixel per 16x16 pixels (1024 per 512x512 crop)
superpixels = dict(type='Superpixels', area_per_superpixel=256)
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadHierarchicalAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    superpixels,  # on the final crop: after every geometric transform
    dict(type='PhotoMetricDistortion'),
    dict(type='PackHierSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    superpixels,
    dict(type='LoadHierarchicalAnnotations'),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        main_level='object',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        main_level='object',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        main_level='object',
        pipeline=test_pipeline))

# per-level mIoU, spatial (SpCS) and semantic (SeCS) consistency across the levels
val_evaluator = dict(type='HierarchicalMetric', hier_metrics=['mIoU', 'SpCS_P2O', 'SeCS'])
test_evaluator = val_evaluator

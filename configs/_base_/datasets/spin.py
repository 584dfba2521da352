# SPIN (SubPartImageNet, arXiv 2407.09686) as released (spin-api 1.0.0's layout):
# data/spin/annotations/spin_{split}_{wholes,parts,subparts}.json and PartImageNet_Seg's pictures in
# data/spin/images/{train,val,test}/. Levels object (11 superclasses; object_level='class' for
# the 158 classes) / part / subpart. Masks are painted as spin-api paints them (file order, later
# wins, iscrowd not looked at); spin-api's rasterize_dataset PNGs are read with
# dataset=dict(label_source='png', png_dir='annotations'). `python tools/check_dataset.py spin
# data/spin --split val` checks a local copy.
dataset_type = 'SPINDataset'
data_root = 'data/spin'
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
        object_level='superclass',
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
        object_level='superclass',
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
        object_level='superclass',
        main_level='object',
        pipeline=test_pipeline))

# per-level mIoU, spatial (SpCS) and semantic (SeCS) consistency across the levels
val_evaluator = dict(type='HierarchicalMetric', hier_metrics=['mIoU', 'SpCS', 'SeCS'])
test_evaluator = val_evaluator

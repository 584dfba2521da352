# Hierarchical UperNet + CAST-S on SPIN (levels object / part / subpart: 11 superclasses,
# 40 parts, 203 subparts, each + background), 512x512 crops, 80k iterations, 8 GPUs x 2 images.
#   tools/dist_train.sh configs/cast/hier-upernet_cast-s_spin.py 8
#   python tools/test.py configs/cast/hier-upernet_cast-s_spin.py <ckpt> --show-dir vis
# Predictions are decoded consistently (each level restricted to the children of the level
# above, hierarchy from the dataset's metainfo via DatasetMetaHook); set
# model.consistent_decoding=False to score the raw per-level argmax. Test reports per-level mIoU,
# SpCS (S2P, P2O) and SeCS; --show-dir saves the image with every level's GT beside Pred.
_base_ = [
    '../_base_/models/hier-upernet_cast.py', '../_base_/datasets/spin.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_80k.py'
]
crop_size = (512, 512)
checkpoint = 'pretrain/cast-s_deit.pth'
levels = ('object', 'part', 'subpart')
num_classes = [12, 41, 204]  # ordered like levels, background included
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
    decode_head=dict(levels=levels, num_classes=num_classes),
    auxiliary_head=dict(levels=levels, num_classes=num_classes),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

# superpixels on each final crop (train) and on the resized image (test; slide inference
# relabels them per window)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadHierarchicalAnnotations'),
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
    # annotations after Resize: the ground truth keeps the original size
    dict(type='LoadHierarchicalAnnotations'),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

val_evaluator = dict(
    _delete_=True, type='HierarchicalMetric', hier_metrics=['mIoU', 'SpCS', 'SeCS'])
test_evaluator = val_evaluator
custom_hooks = [dict(type='DatasetMetaHook')]
visualizer = dict(type='HierarchicalSegVisualizer')

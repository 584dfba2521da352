# Hierarchical UperNet + CAST-S on Cityscapes as HSSN's two-level hierarchy (7 categories -> 19
# classes, both read from the released *_gtFine_labelTrainIds.png: CityscapesHierarchyDataset),
# trained with per-level cross-entropy + the chain likelihood loss, decoded jointly; 512x1024
# crops, 80k iterations, 8 GPUs x 1 image, slide inference. The figure to set beside HSSN's
# published 81.61 mIoU (DeepLabV3+ R-101, single scale) is mIoU_nobg.class (19 classes):
#   tools/dist_train.sh configs/cast/hier-upernet_cast-s_cityscapes-512x1024.py 8
#   python tools/test.py configs/cast/hier-upernet_cast-s_cityscapes-512x1024.py <ckpt> \
#       --eval mIoU SpCS SeCS
# HSSN's own recipe on the same model: override decode_head with its losses and
# model.decoding='hssn' (docs/hierarchical_segmentation.md, "The peer baseline").
_base_ = [
    '../_base_/models/hier-upernet_cast.py', '../_base_/datasets/cityscapes_superpixels.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_80k.py'
]
crop_size = (512, 1024)
checkpoint = 'pretrain/cast-s_deit.pth'
levels = ('category', 'class')
num_classes = [8, 20]  # ordered like levels, background (never labelled here) included
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(levels=levels, num_classes=num_classes, main_level='class'),
    auxiliary_head=dict(levels=levels, num_classes=num_classes, main_level='class'),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(384, 768)))

superpixels = dict(type='Superpixels', area_per_superpixel=256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadHierarchicalAnnotations'),
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
    dict(type='LoadHierarchicalAnnotations'),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(
    batch_size=1, dataset=dict(type='CityscapesHierarchyDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='CityscapesHierarchyDataset', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='HierarchicalMetric', hier_metrics=['mIoU', 'SpCS', 'SeCS'])
test_evaluator = val_evaluator
visualizer = dict(type='HierarchicalSegVisualizer')

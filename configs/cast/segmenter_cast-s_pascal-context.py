# Segmenter + CAST-S on Pascal Context, 60 classes with background, as the paper (49.1 mIoU;
# twke18/CAST scripts/segmenter/train_context_cast.sh, segmenter/segm/config.yml): short side
# 520, 480x480 crops, batch 16 (8 GPUs x 2), 256 epochs, slide inference 480 stride 320; optimizer,
# schedule, model and SEEDS superpixels as segmenter_cast-s_ade20k.py.
#   tools/dist_train.sh configs/cast/segmenter_cast-s_pascal-context.py 8
_base_ = [
    '../_base_/models/segmenter_cast.py', '../_base_/datasets/pascal_context_60_superpixels.py',
    '../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py'
]
crop_size = (480, 480)
checkpoint = 'pretrain/cast-s_deit.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(num_classes=60),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)))

superpixels = dict(type='Superpixels', method='seeds', area_per_superpixel=256, histogram_bins=5,
                   max_iter=15)
mean_bgr = (104, 116, 124)  # the reference pads the normalised crop with 0
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(4160, 520), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Pad', size=crop_size, pad_val=dict(img=mean_bgr, seg=255)),
    superpixels,
    dict(type='PackHierSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4160, 520), keep_ratio=True),
    superpixels,
    dict(type='LoadAnnotations'),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# 256 epochs of the 4,996 training images at batch 16 (313 iterations each)
max_iters = 256 * 313
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=0.0, nesterov=True),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
find_unused_parameters = True

# Segmenter + CAST-S on ADE20K as the paper (43.1 mIoU; twke18/CAST scripts/segmenter/
# train_ade20k_cast.sh, segmenter/segm/config.yml and train_cast.py): 512x512 crops, SGD (Nesterov
# momentum 0.9, as timm's 'sgd'), lr 1e-3, weight decay 0, poly 0.9 to 1e-5 per iteration, no
# warm-up, batch 8, 64 epochs (8 GPUs x 1 image), slide inference 512 stride 512 at short side 512,
# SEEDS superpixels (5 bins, 15 iterations, one per 16x16 pixels) computed after the photometric
# distortion on the crop padded with the mean colour, as the reference. docs/reproducing.md
# lists what still differs.
#   python tools/model_converters/cast2mmseg.py best_checkpoint.pth pretrain/cast-s_deit.pth
#   tools/dist_train.sh configs/cast/segmenter_cast-s_ade20k.py 8
# A converted reference Segmenter checkpoint (backbone, block_fusion and decoder) loads whole:
#   --cfg-options load_from=pretrain/cast-s_segmenter_ade20k.pth
_base_ = [
    '../_base_/models/segmenter_cast.py', '../_base_/datasets/ade20k_superpixels.py',
    '../_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_160k.py'
]
crop_size = (512, 512)
checkpoint = 'pretrain/cast-s_deit.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))

# the reference's SEEDS (segmenter/segm/data/utils.py): CIELAB, 1 level, prior 2, 5 bins, 15 its
superpixels = dict(type='Superpixels', method='seeds', area_per_superpixel=256, histogram_bins=5,
                   max_iter=15)
# mmseg 0.x Pad of the normalised image with 0: the mean colour (BGR) before normalisation
mean_bgr = (104, 116, 124)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Pad', size=crop_size, pad_val=dict(img=mean_bgr, seg=255)),
    superpixels,
    dict(type='PackHierSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    superpixels,
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackHierSegInputs')
]
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# 64 epochs of ADE20K's 20,210 training images at batch 8 (2,527 iterations each)
max_iters = 64 * 2527
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=0.0, nesterov=True),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=16000)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
find_unused_parameters = True  # as the reference's DDP (CAST's final norm feeds only [CLS])

# CAST-S supervised on ImageNet-1K with the DeiT recipe (MMPretrain's deit-small: AdamW, 300
# epochs, RandAugment, RandomErasing, Mixup/CutMix, label smoothing), 8 GPUs x 128 images.
#   tools/dist_train.sh configs/cast/cast-s_deit_in1k.py 8 [--amp]
# Classification variant of the DeiT-trained reference (cast_models/cast_deit.py): learned
# position table, superpixels resized to the stride-8 grid, clusters 64/32/16/8, [CLS] -> head.
# The trained backbone initialises the segmentation configs (keys under `backbone.`):
#   backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.'))
_base_ = [
    '../_base_/recognition/imagenet_bs128_deit_superpixels.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['cast'], allow_failed_imports=False)

model = dict(
    type='CASTImageClassifier',
    backbone=dict(
        type='CAST',
        arch='small',
        img_size=224,
        out_type='cls_token',
        out_indices=(3, ),  # the final [CLS] (after the last LayerNorm)
        num_clusters=[64, 32, 16, 8],
        pos_embed_type='learned',
        feature_resize='nearest',
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=1000,
        in_channels=384,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

# schedule: lr 5e-4 x 1024 / 512 (auto_scale_lr rescales it to the actual batch size)
optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }),
    clip_grad=dict(max_norm=5.0))
# warm-up and floor of the reference's DeiT run (5 epochs, min lr 1e-5), 300 epochs in all
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=1024)

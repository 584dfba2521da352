# CAST-S self-supervised on ImageNet-1K with MMPretrain's MoCo v3 (ViT-S recipe: AdamW, lr
# 1.5e-4 x 4096 / 256, weight decay 0.1, temperature 0.2, momentum 0.99 -> 1 cosine), 100 epochs
# as in the paper's linear-probe table, 16 GPUs x 256 images. Train in mixed precision on GPUs:
#   tools/dist_train.sh configs/cast/mocov3_cast-s_in1k.py 16 --amp
# Classification variant of the reference (cast_models/cast.py): fixed 2D sin-cos positions,
# superpixels resized to the stride-8 grid, clusters 64/32/16/8; each view has its own superpixels.
# The online backbone is saved under `backbone.` (the momentum copy under
# `momentum_encoder.module.0.`); to initialise a segmentation config from it, use
#   backbone=dict(pos_embed_type='sincos',
#                 init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.'))
_base_ = [
    '../_base_/recognition/imagenet_bs256_mocov3_superpixels.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['cast'], allow_failed_imports=False)

temperature = 0.2
model = dict(
    type='CASTMoCoV3',
    base_momentum=0.01,
    backbone=dict(
        type='CAST',
        arch='small',
        img_size=224,
        out_type='cls_token',
        out_indices=(3, ),  # the final [CLS] (after the last LayerNorm)
        num_clusters=[64, 32, 16, 8],
        pos_embed_type='sincos',
        feature_resize='nearest'),
    neck=dict(
        type='NonLinearNeck',
        in_channels=384,
        hid_channels=4096,
        out_channels=256,
        num_layers=3,
        with_bias=False,
        with_last_bn=True,
        with_last_bn_affine=False,
        with_last_bias=False,
        with_avg_pool=False),
    head=dict(
        type='MoCoV3Head',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,
            hid_channels=4096,
            out_channels=256,
            num_layers=2,
            with_bias=False,
            with_last_bn=True,
            with_last_bn_affine=False,
            with_last_bias=False,
            with_avg_pool=False),
        loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
        temperature=temperature))

# `--amp` turns this into AmpOptimWrapper (CUDA only), as MMPretrain's MoCo v3 recipe trains.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2.4e-3, weight_decay=0.1))
find_unused_parameters = True  # as MMPretrain's MoCo v3 configs

max_epochs = 100
warmup_epochs = 10
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=4096)

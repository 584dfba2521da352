# CAST-S self-supervised on ImageNet-1K with MoCo v3 as the paper trained it (twke18/CAST
# scripts/moco/train_imagenet1k_cast.sh, moco-v3/main_moco_suppix.py): batch 256 (8 GPUs x 32),
# AdamW lr 1.5e-4 x 256 / 256 on every parameter, weight decay 0.1, 100 epochs with 10 linear
# warm-up epochs then half-cosine (per iteration), temperature 0.2, momentum 0.99 -> 1 (cosine),
# BatchNorm synchronised across GPUs (the reference converts every BN, the ConvStem's included),
# SEEDS superpixels (196 per view, CIELAB, 1 level, prior 2, 15 bins, 20 iterations) on each
# augmented view. About 500k iterations. mocov3_cast-s_in1k.py is MMPretrain's recipe instead.
#   tools/dist_train.sh configs/cast/mocov3_cast-s_in1k_paper.py 8 --amp
# Then the linear probe: configs/cast/mocov3_cast-s_linear-probe_in1k_paper.py (68.1% reported).
_base_ = ['./mocov3_cast-s_in1k.py']

model = dict(backbone=dict(stem_norm_cfg=dict(type='SyncBN')))
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1.5e-4, weight_decay=0.1))
auto_scale_lr = dict(base_batch_size=256)

# the reference's SEEDS for MoCo (moco-v3/suppix_utils/datasets_seeds.py)
superpixels = dict(type='Superpixels', method='seeds', num_superpixels=196, histogram_bins=15,
                   max_iter=20)
view_pipeline1 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.), backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='SafeColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
                          hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.),
    dict(type='RandomFlip', prob=0.5),
    superpixels,
]
view_pipeline2 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.), backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='SafeColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
                          hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
    dict(type='RandomFlip', prob=0.5),
    superpixels,
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='SuperpixelMultiView', num_views=[1, 1],
         transforms=[view_pipeline1, view_pipeline2], collect_keys=['img', 'superpixels']),
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
train_dataloader = dict(batch_size=32, drop_last=True, dataset=dict(pipeline=train_pipeline))

# ImageNet-1K, two MoCo v3 views (MMPretrain's ViT recipe: crops of 8-100% of the image), each
# with its own superpixels: `Superpixels` ends every view's pipeline, after that view's crop, flip
# and colour augmentations (the reference computes them on the augmented view); 196 superpixels
# at 224x224. `SuperpixelMultiView` collects img and superpixels per view. `SafeColorJitter` is
# MMPretrain's ColorJitter with the hue shift taken modulo 1 (mmcv 2.1's adjust_hue overflows
# under numpy 2 for negative shifts). Default scope: mmpretrain.
dataset_type = 'ImageNet'
data_root = 'data/imagenet'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
superpixels = dict(type='Superpixels', area_per_superpixel=256)


def _view(blur_prob, solarize_prob):
    return [
        dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.), backend='pillow'),
        dict(
            type='RandomApply',
            transforms=[
                dict(type='SafeColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
            ],
            prob=0.8),
        dict(
            type='RandomGrayscale',
            prob=0.2,
            keep_channels=True,
            channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=blur_prob),
        dict(type='Solarize', thr=128, prob=solarize_prob),
        dict(type='RandomFlip', prob=0.5),
        superpixels,
    ]


view_pipeline1 = _view(blur_prob=1., solarize_prob=0.)
view_pipeline2 = _view(blur_prob=0.1, solarize_prob=0.2)
del _view  # configs keep data only
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='SuperpixelMultiView',
        num_views=[1, 1],
        transforms=[view_pipeline1, view_pipeline2],
        collect_keys=['img', 'superpixels']),
    dict(type='PackInputs', algorithm_keys=['superpixels']),
]
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))

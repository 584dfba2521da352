# UperNet on CAST-S (segmentation variant: learned position table, 320/160/80/40 clusters).
# The backbone paints each stage's tokens back onto the pixel grid at strides 4/8/16/32, so
# MMSeg's UPerHead takes its outputs unchanged. Superpixels come from the `Superpixels` transform.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='CASTSegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='CASTEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='CAST',
        arch='small',
        img_size=224,  # the learned table's grid (28x28), resized to every input
        num_clusters=[320, 160, 80, 40],
        pos_embed_type='learned',
        feature_resize='bilinear',
        out_indices=(0, 1, 2, 3),
        out_strides=(4, 8, 16, 32),
        drop_path_rate=0.1),
    decode_head=dict(
        type='UPerHead',
        in_channels=[384, 384, 384, 384],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=384,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

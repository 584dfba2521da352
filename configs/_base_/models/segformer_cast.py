# SegFormer's all-MLP head on CAST-S (segmentation variant), one map per stage at strides 4-32.
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
        img_size=224,
        num_clusters=[320, 160, 80, 40],
        pos_embed_type='learned',
        feature_resize='bilinear',
        out_indices=(0, 1, 2, 3),
        out_strides=(4, 8, 16, 32),
        drop_path_rate=0.1),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[384, 384, 384, 384],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

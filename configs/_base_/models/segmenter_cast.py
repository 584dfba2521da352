# Segmenter on CAST-S as the paper fine-tunes it (twke18/CAST segmenter/, cast_seg_deit.py): the
# backbone's raw stage outputs -> BlockFusionNeck (the reference's `block_fusion`: every stage's
# tokens gathered onto the superpixels, BatchNorm1d, Dropout 0.2, Linear 4C -> C) -> MMSeg's
# Segmenter mask transformer on the fused superpixel tokens (SuperpixelSegmenterHead: 2 layers,
# 6 heads, dropout 0.1, no drop path), every pixel taking its superpixel's class masks.
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
        img_size=224,  # the DeiT table's grid (28x28), resized to every input
        num_clusters=[320, 160, 80, 40],
        pos_embed_type='learned',
        feature_resize='bilinear',
        out_type='raw',  # every stage's tokens, pooled [CLS] and logits, for the neck
        # the reference's --drop-path 0.1 never reaches its encoder (segm/model/factory.py
        # builds cast_small() without arguments): 0 is what it trains with
        drop_path_rate=0.0),
    neck=dict(type='BlockFusionNeck', in_channels=384, out_channels=384, num_stages=4,
              dropout=0.2),
    decode_head=dict(
        type='SuperpixelSegmenterHead',
        in_channels=384,
        channels=384,
        num_classes=150,
        num_layers=2,
        num_heads=6,  # d_model // 64
        embed_dims=384,
        mlp_ratio=4,
        drop_rate=0.1,
        attn_drop_rate=0.1,
        drop_path_rate=0.0,
        dropout_ratio=0.0,
        align_corners=False,
        # torch's CrossEntropyLoss(ignore_index=255), averaged over the labelled pixels
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(512, 512)))

# SegFormer's all-MLP head on CAST-S: ./upernet_cast.py's preprocessor and backbone (segmentation
# variant, one map per stage at strides 4-32) with the head swapped and no auxiliary head.
_base_ = ['./upernet_cast.py']

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='SegformerHead',
        in_channels=[384, 384, 384, 384],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None)

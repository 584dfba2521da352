# SegFormer head + CAST-B on Pascal Context (59 classes).
_base_ = ['./segformer_cast-s_pascal-context-59.py']
checkpoint = 'pretrain/cast-b_deit.pth'
model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(in_channels=[768, 768, 768, 768]))

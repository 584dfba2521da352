# SegFormer head + CAST-B on ADE20K.
_base_ = ['./segformer_cast-s_ade20k.py']
checkpoint = 'pretrain/cast-b_deit.pth'
model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(in_channels=[768, 768, 768, 768]))

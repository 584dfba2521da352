# SegFormer head + CAST-B on Cityscapes (19 classes), 512x1024 crops.
_base_ = ['./segformer_cast-s_cityscapes-512x1024.py']
checkpoint = 'pretrain/cast-b_deit.pth'
model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(in_channels=[768, 768, 768, 768]))

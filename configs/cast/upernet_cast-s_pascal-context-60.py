# UperNet + CAST-S on Pascal Context with 60 classes (background included) at the reference's
# scale (short side 520), 480x480 crops, 80k iterations, 8 GPUs x 2: MMSeg's recipe otherwise
# (as upernet_cast-s_pascal-context-59.py).
_base_ = [
    '../_base_/models/upernet_cast.py', '../_base_/datasets/pascal_context_60_superpixels.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_80k.py'
]
crop_size = (480, 480)
checkpoint = 'pretrain/cast-s_deit.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(num_classes=60),
    auxiliary_head=dict(num_classes=60),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)))
train_dataloader = dict(batch_size=2)

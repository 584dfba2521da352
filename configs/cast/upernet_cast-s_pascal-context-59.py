# UperNet + CAST-S on Pascal Context (59 classes), 480x480 crops, 80k iterations, 8 GPUs x 2.
_base_ = [
    '../_base_/models/upernet_cast.py', '../_base_/datasets/pascal_context_59_superpixels.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_80k.py'
]
crop_size = (480, 480)
checkpoint = 'pretrain/cast-s_deit.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(num_classes=59),
    auxiliary_head=dict(num_classes=59),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)))
train_dataloader = dict(batch_size=2)

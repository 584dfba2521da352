# UperNet + CAST-S on Cityscapes (19 classes), 512x1024 crops, 80k iterations, 8 GPUs x 1 image
# (MMSeg's Cityscapes recipe: batch 8), slide inference over the 2048x1024 image.
#   tools/dist_train.sh configs/cast/upernet_cast-s_cityscapes-512x1024.py 8
_base_ = [
    '../_base_/models/upernet_cast.py', '../_base_/datasets/cityscapes_superpixels.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_80k.py'
]
crop_size = (512, 1024)
checkpoint = 'pretrain/cast-s_deit.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    decode_head=dict(num_classes=19),
    auxiliary_head=dict(num_classes=19),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(384, 768)))
train_dataloader = dict(batch_size=1)

# SegFormer head + CAST-S on ADE20K, 512x512 crops, 160k iterations, 8 GPUs x 2 images.
_base_ = [
    '../_base_/models/segformer_cast.py', '../_base_/datasets/ade20k_superpixels.py',
    '../_base_/default_runtime.py', '../_base_/schedules/adamw_160k.py'
]
crop_size = (512, 512)
checkpoint = 'pretrain/cast-s_deit.pth'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
train_dataloader = dict(batch_size=2)

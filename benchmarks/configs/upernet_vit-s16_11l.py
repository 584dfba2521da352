# MMSeg's UperNet + ViT (mmseg::_base_/models/upernet_vit-b16_ln_mln.py) cut to ViT-S/16 with the
# depth of CAST-S (3+3+3+2 = 11 blocks, stage outputs after blocks 3, 6, 9, 11) and the heads of
# configs/cast/upernet_cast-s_ade20k.py (UPerHead 512 channels, FCN auxiliary head on the
# stride-16 map), for benchmarks/train_step.py and benchmarks/cuda_check.py. Not a shipped
# config: no pretrained weights.
_base_ = [
    'mmseg::_base_/models/upernet_vit-b16_ln_mln.py', '../../configs/_base_/default_runtime.py',
    '../../configs/_base_/schedules/adamw_160k.py'
]
crop_size = (512, 512)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        img_size=crop_size, embed_dims=384, num_layers=11, num_heads=6,
        out_indices=(2, 5, 8, 10), drop_path_rate=0.1, final_norm=True),
    neck=dict(in_channels=[384, 384, 384, 384], out_channels=384),
    decode_head=dict(in_channels=[384, 384, 384, 384], num_classes=150),
    auxiliary_head=dict(in_channels=384, in_index=2, num_classes=150))

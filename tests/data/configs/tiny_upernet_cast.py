# configs/cast/upernet_cast-s_ade20k.py with the architecture of the reference-format test
# fixture (tests/backbones/fixtures/cast_reference_tiny.pth): 48 dims, depths 2/1/1/1, 4 heads,
# 16/8/4/2 clusters; no pretrained checkpoint. For the hierarchy tools' tests.
_base_ = ['../../../configs/cast/upernet_cast-s_ade20k.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=48, num_layers=[2, 1, 1, 1], num_heads=4),
        img_size=64,
        num_clusters=[16, 8, 4, 2],
        fps_backend='torch',
        init_cfg=None),
    decode_head=dict(in_channels=[48, 48, 48, 48], channels=32, norm_cfg=dict(type='BN')),
    auxiliary_head=dict(in_channels=48, channels=16, norm_cfg=dict(type='BN')))

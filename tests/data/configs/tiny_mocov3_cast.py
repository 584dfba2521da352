# configs/cast/mocov3_cast-s_in1k.py shrunk for CPU tests: two 64 px views, a 48-dim CAST with one
# block per stage, 8/4/2/1 clusters, small projector and predictor, one epoch.
# The data root comes from --cfg-options (train_dataloader.dataset.data_root=... and classes=...).
_base_ = ['../../../configs/cast/mocov3_cast-s_in1k.py']

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12),
        img_size=64,
        num_clusters=[8, 4, 2, 1],
        fps_backend='torch'),  # same seeds as dgl, faster on CPU
    # BN1d instead of the recipe's SyncBN: on CPU, DDP (dist_train.sh) refuses SyncBN
    neck=dict(in_channels=48, hid_channels=64, out_channels=32, norm_cfg=dict(type='BN1d')),
    head=dict(predictor=dict(in_channels=32, hid_channels=64, out_channels=32,
                             norm_cfg=dict(type='BN1d'))))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, pin_memory=False)
train_cfg = dict(max_epochs=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, end=1, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0)

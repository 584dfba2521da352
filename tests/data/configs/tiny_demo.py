# The demo config cut down for tests: a few iterations on the tiny generated dataset whose root
# the tests pass as `--cfg-options data_root=...` (see tests/tools/test_train_test.py).
_base_ = ['../../../configs/demo/synthetic_spin.py']

max_iters = 4
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=1.0, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, max_keep_ckpts=10))
# Dropout draws from torch's RNG, whose state checkpoints do not hold: without it a resumed
# run replays the uninterrupted one exactly (data augmentation is replayed by MMEngine).
model = dict(
    backbone=dict(pool_dropout=0.0),
    decode_head=dict(decode_head=dict(dropout_ratio=0.0)))
randomness = dict(seed=0, deterministic=True)

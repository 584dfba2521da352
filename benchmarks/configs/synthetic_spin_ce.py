# The cross-entropy demo: the demo (configs/demo/synthetic_spin.py) with per-level cross-entropy
# only, decoded level by level, at the demo's earlier schedule (600 iterations at lr 2e-3, a
# checkpoint every 300). It is the `heads+ce / independent` baseline of docs/benchmarks.md as a
# config of its own: benchmarks/train_step.py's iteration cost of the chain loss, the time budget
# that the demo keeps (its chain loss costs more per iteration, so it trains 480 iterations), and
# training the baseline with tools/train.py.
_base_ = ['../../configs/demo/synthetic_spin.py']

model = dict(decode_head=dict(hierarchy_loss=None), decoding='independent')
optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_iters = 600
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(checkpoint=dict(interval=300))

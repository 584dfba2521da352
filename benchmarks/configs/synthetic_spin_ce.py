# The demo (configs/demo/synthetic_spin.py) with per-level cross-entropy only, decoded level by
# level: the `heads+ce / independent` baseline of docs/benchmarks.md, as a config of its own (for
# benchmarks/train_step.py's iteration cost of the chain loss, and for training the baseline
# with tools/train.py).
_base_ = ['../../configs/demo/synthetic_spin.py']

model = dict(decode_head=dict(hierarchy_loss=None), decoding='independent')

# tiny_faults.py with the data loader workers of the real configs (2 per loader, persistent).
_base_ = ['./tiny_faults.py']

train_dataloader = dict(num_workers=2, persistent_workers=True)
val_dataloader = dict(num_workers=2, persistent_workers=True)
test_dataloader = val_dataloader

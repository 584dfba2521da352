# tiny_demo.py with the data loader workers of the real configs (persistent, 2 per loader) and a
# hook that marks when validation starts: the signal tests (tests/tools/test_run_safety.py) send
# SIGINT/SIGTERM at that moment. The mark file is set with --cfg-options custom_hooks.1.path=...
_base_ = ['./tiny_demo.py']

custom_imports = dict(imports=['cast', 'tests.helpers.hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='DatasetMetaHook'), dict(type='MarkHook', path='')]
train_dataloader = dict(num_workers=2, persistent_workers=True)
val_dataloader = dict(num_workers=2, persistent_workers=True)
test_dataloader = val_dataloader

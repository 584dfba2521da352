# tests/data/configs/tiny_demo.py (4 iterations, checkpoints at 2 and 4) with a FaultHook that
# does nothing unless --cfg-options custom_hooks.1.action=... asks (tests/faults/hooks.py). It
# draws no random numbers, so a run of this config replays tiny_demo.py's run exactly.
_base_ = ['../../data/configs/tiny_demo.py']

custom_imports = dict(imports=['cast', 'tests.faults.hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='DatasetMetaHook'), dict(type='FaultHook')]

# tiny_demo.py whose run dies right after iteration 2 is checkpointed (the resume test).
_base_ = ['./tiny_demo.py']

custom_imports = dict(imports=['cast', 'tests.helpers.hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='DatasetMetaHook'), dict(type='InterruptTrainingHook', after_iter=2)]

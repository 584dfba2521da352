# MMSeg's runtime defaults, plus the import that registers CAST's modules.
_base_ = ['mmseg::_base_/default_runtime.py']

custom_imports = dict(imports=['cast'], allow_failed_imports=False)
default_scope = 'mmseg'

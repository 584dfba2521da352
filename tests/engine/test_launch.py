"""What tools/train.py and tools/test.py set up (cast.engine.launch): the distributed backend,
SyncBN or BN in the loaded config, the process group's end."""
import os.path as osp

from mmengine.config import Config

import cast  # noqa: F401
from cast.engine import (
    finish_distributed,
    load_config,
    select_dist_backend,
    select_sync_bn,
)


def test_dist_backend_is_gloo_without_cuda(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert select_dist_backend(cfg) == 'gloo'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict())
    assert select_dist_backend(cfg) == 'nccl'


def _norm_types(node):
    if isinstance(node, dict):
        found = [node['type']] if node.get('type') in ('BN', 'SyncBN') else []
        return found + [t for v in node.values() for t in _norm_types(v)]
    if isinstance(node, (list, tuple)):
        return [t for v in node for t in _norm_types(v)]
    return []


def test_configs_get_bn_unless_distributed_on_cuda(repo_root, monkeypatch):
    import torch
    path = osp.join(repo_root, 'configs/cast/hier-upernet_cast-s_spin.py')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)  # as on this machine
    for launcher in ('none', 'pytorch'):
        types = _norm_types(load_config(path, launcher).model)
        assert types and set(types) == {'BN'}, (launcher, types)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    # as the config writes them: the decode and auxiliary heads' norm
    assert _norm_types(load_config(path, 'pytorch').model) == ['SyncBN', 'SyncBN']


def test_select_sync_bn_switches_nested_norms_in_place():
    cfg = Config(dict(model=dict(
        decode_head=dict(decode_head=dict(norm_cfg=dict(type='SyncBN', requires_grad=True))),
        heads=[dict(norm_cfg=dict(type='SyncBN')), dict(norm_cfg=dict(type='LN'))])))
    assert select_sync_bn(cfg, sync=True) == 0
    assert select_sync_bn(cfg, sync=False) == 2
    assert cfg.model.decode_head.decode_head.norm_cfg == dict(type='BN', requires_grad=True)
    assert [h.norm_cfg.type for h in cfg.model.heads] == ['BN', 'LN']


def test_finish_distributed_ends_the_process_group(tmp_path):
    import torch.distributed as dist
    finish_distributed()  # outside a distributed run: nothing to do
    store = dist.FileStore(str(tmp_path / 'store'), 1)
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    assert dist.is_initialized()
    finish_distributed()
    assert not dist.is_initialized()

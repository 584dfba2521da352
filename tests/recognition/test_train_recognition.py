"""The recognition configs through the tools, as users run them (real MMEngine runners, a few
iterations on a tiny synthetic ImageNet-layout folder), and their checkpoints loaded into the
segmentation backbone."""
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmpretrain.models.utils import resize_pos_embed

from cast.backbones.checkpoint_converter import convert_cast_checkpoint
from mmseg.registry import MODELS as SEG_MODELS
from tests.helpers.tools import data_options, load_tool, run_tool, tool_environment

TINY_ARCH = dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=12)


def imagenet_options(root, splits):
    """``--cfg-options`` values for the ImageNet-layout folder: its root and class list."""
    return data_options(root, splits) + [
        f'{split}_dataloader.dataset.classes={root}/meta/classes.txt' for split in splits]


@pytest.fixture(scope='module')
def deit_ckpt(tmp_path_factory, synthetic_imagenet_root, repo_root, tiny_config_dir):
    """tools/train.py on the tiny DeiT config: 2 iterations + validation."""
    work_dir = tmp_path_factory.mktemp('deit')
    _, out = run_tool([sys.executable, 'tools/train.py',
                       osp.join(tiny_config_dir, 'tiny_cast_deit.py'), '--work-dir', str(work_dir),
                       '--cfg-options',
                       *imagenet_options(synthetic_imagenet_root, ('train', 'val'))],
                      repo_root, tool_environment())
    assert 'accuracy/top1' in out
    return str(work_dir / 'epoch_1.pth')


@pytest.fixture(scope='module')
def moco_ckpt(tmp_path_factory, synthetic_imagenet_root, repo_root, tiny_config_dir):
    """tools/dist_train.sh (one process, gloo on CPU) on the tiny MoCo v3 config."""
    work_dir = tmp_path_factory.mktemp('moco')
    views = [f'train_dataloader.dataset.pipeline.1.transforms.{v}.0.scale=64' for v in (0, 1)]
    env_python = f'PYTHON={sys.executable}'
    run_tool(['env', env_python, 'PORT=29731', 'bash', 'tools/dist_train.sh',
              osp.join(tiny_config_dir, 'tiny_mocov3_cast.py'), '1', '--work-dir', str(work_dir),
              '--cfg-options', *views, *imagenet_options(synthetic_imagenet_root, ('train', ))],
             repo_root, tool_environment())
    return str(work_dir / 'epoch_1.pth')


def backbone_keys(path):
    state = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
    return state, {k[len('backbone.'):]: v for k, v in state.items()
                   if k.startswith('backbone.')}


def seg_backbone(repo_root, checkpoint, prefix='backbone.', **overrides):
    """The backbone of configs/cast/upernet_cast-s_ade20k.py, shrunk to the tiny arch and
    initialised from ``checkpoint`` the way a user would (init_cfg with ``prefix``: our
    training checkpoints and converted ones both keep the backbone under ``backbone.``)."""
    cfg = Config.fromfile(osp.join(repo_root, 'configs/cast/upernet_cast-s_ade20k.py'))
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
    if prefix:
        init_cfg['prefix'] = prefix
    backbone = dict(cfg.model.backbone, arch=TINY_ARCH, fps_backend='torch', init_cfg=init_cfg)
    backbone.update(overrides)
    model = SEG_MODELS.build(backbone)
    model.init_weights()
    return model


def test_configs_parse_with_mmpretrain_scope(repo_root):
    for name in ('cast-s_deit_in1k.py', 'mocov3_cast-s_in1k.py'):
        cfg = Config.fromfile(osp.join(repo_root, 'configs/cast', name))
        assert cfg.default_scope == 'mmpretrain'
        assert cfg.custom_imports == dict(imports=['cast'], allow_failed_imports=False)
        assert cfg.model.backbone.type == 'CAST' and cfg.model.backbone.arch == 'small'
        pipeline = cfg.train_dataloader.dataset.pipeline
        assert pipeline[-1] == dict(type='PackInputs', algorithm_keys=['superpixels'])
    moco = Config.fromfile(osp.join(repo_root, 'configs/cast/mocov3_cast-s_in1k.py'))
    for view in moco.train_dataloader.dataset.pipeline[1].transforms:
        # each view: its own crop and flip, then its superpixels
        types = [t['type'] for t in view]
        assert types[-1] == 'Superpixels' and types.index('RandomFlip') < len(types) - 1


def test_full_size_models_build(repo_root):
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope('mmpretrain')
    deit = Config.fromfile(osp.join(repo_root, 'configs/cast/cast-s_deit_in1k.py'))
    model = MODELS.build(dict(deit.model, data_preprocessor=deit.data_preprocessor))
    backbone = model.backbone
    assert (backbone.embed_dims, backbone.depths, backbone.num_clusters) == (
        384, [3, 3, 3, 2], [64, 32, 16, 8])
    assert (backbone.pos_embed_type, backbone.feature_resize) == ('learned', 'nearest')
    moco = Config.fromfile(osp.join(repo_root, 'configs/cast/mocov3_cast-s_in1k.py'))
    model = MODELS.build(dict(moco.model, data_preprocessor=moco.data_preprocessor))
    assert type(model).__name__ == 'CASTMoCoV3'
    assert (model.backbone.pos_embed_type, model.backbone.feature_resize) == ('sincos',
                                                                             'nearest')
    assert model.backbone.pos_embed is None


def test_deit_checkpoint_initialises_segmentation(deit_ckpt, repo_root, tmp_path):
    full, source = backbone_keys(deit_ckpt)
    assert any(k.startswith('head.') for k in full)
    model = seg_backbone(repo_root, deit_ckpt)
    ours = model.state_dict()
    assert set(ours) == set(source)  # everything loads, nothing is left over
    for key, value in source.items():
        if key == 'pos_embed':  # 8x8 grid (img_size 64) resized to 28x28 (img_size 224)
            value = resize_pos_embed(value, (8, 8), (28, 28), mode='bicubic',
                                     num_extra_tokens=1)
        torch.testing.assert_close(ours[key], value, msg=key)
    # The converter takes our checkpoints too (the backbone under 'backbone.') and writes the
    # form the segmentation configs load (the backbone under `backbone.`).
    converted, report = convert_cast_checkpoint(torch.load(deit_ckpt, weights_only=True))
    assert set(converted) == set(source) and report['prefix'] == 'backbone.'
    assert report['pos_embed_type'] == 'learned'
    tool = load_tool('model_converters/cast2mmseg.py').main
    dst = str(tmp_path / 'cast-s_deit.pth')
    tool([deit_ckpt, dst])
    again = seg_backbone(repo_root, dst).state_dict()
    assert all(torch.equal(again[k], v) for k, v in ours.items())


def test_moco_checkpoint_initialises_segmentation(moco_ckpt, repo_root):
    full, source = backbone_keys(moco_ckpt)
    assert any(k.startswith('momentum_encoder.module.0.') for k in full)
    assert 'pos_embed' not in source  # fixed sin-cos table: nothing to save
    # Segmentation with the sin-cos table, as the MoCo-trained reference: everything loads.
    model = seg_backbone(repo_root, moco_ckpt, pos_embed_type='sincos')
    ours = model.state_dict()
    assert set(ours) == set(source)
    for key, value in source.items():
        assert torch.equal(ours[key], value), key
    # The online encoder, not the momentum copy.
    converted, report = convert_cast_checkpoint(torch.load(moco_ckpt, weights_only=True))
    assert report['prefix'] == 'backbone.' and report['pos_embed_type'] == 'sincos'
    assert all(torch.equal(converted[k], source[k]) for k in source)
    # With the default learned table the table has no source: it stays at zero.
    learned = seg_backbone(repo_root, moco_ckpt)
    assert torch.count_nonzero(learned.pos_embed) == 0

"""CAST's region hierarchy (cast/apis/region_hierarchy.py): init_region_model, HierarchyPredictor
and the tools built on them (tools/visualize_hierarchy.py, tools/eval_unsupervised.py), with
official-format, converted and our own checkpoints, segmentation and recognition configs."""
import glob
import json
import os.path as osp
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import cast.recognition  # noqa: F401  (MMPretrain registrations)
from cast.apis import HierarchyPredictor
from tests.helpers.reference import load_reference
from tests.helpers.tools import load_tool


@pytest.fixture(scope='module')
def tools():
    def load(name):
        return load_tool(name).main
    return dict(visualize=load('visualize_hierarchy.py'), evaluate=load('eval_unsupervised.py'),
                convert=load(osp.join('model_converters', 'cast2mmseg.py')))


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    """The reference-format fixture as official DeiT / MoCo v3 files."""
    fixture = load_reference()
    out = tmp_path_factory.mktemp('official')
    deit, moco = str(out / 'deit.pth'), str(out / 'moco.pth')
    torch.save(dict(model=fixture['seg']['state_dict']), deit)
    torch.save(dict(state_dict=OrderedDict(
        ('module.base_encoder.' + k, v) for k, v in fixture['cls']['state_dict'].items())), moco)
    return dict(deit=deit, moco=moco)


@pytest.fixture(scope='module')
def image_path(synthetic_spin_root):
    return sorted(glob.glob(osp.join(synthetic_spin_root, 'images', 'val', '*.JPEG')))[0]


def test_visualize_converted_official_checkpoint(tools, official, image_path, tiny_config_dir,
                                                 tmp_path):
    converted = str(tmp_path / 'converted.pth')
    tools['convert']([official['deit'], converted])
    out = tmp_path / 'vis'
    written = tools['visualize']([image_path, osp.join(tiny_config_dir, 'tiny_upernet_cast.py'),
                                  converted, '--out', str(out), '--size', '64'])
    stem = osp.splitext(osp.basename(image_path))[0]
    assert len(written) == 2 * 5 + 1 and all(osp.isfile(p) for p in written)
    panel = cv2.imread(str(out / f'{stem}_hierarchy.png'))
    level = cv2.imread(str(out / f'{stem}_level4_stage4.png'))
    assert level.shape[0] == 64 and panel.shape[1] > 6 * level.shape[1]


def test_official_moco_checkpoint_switches_to_sincos(official, tiny_config_dir, image_path):
    with pytest.warns(UserWarning, match="pos_embed_type='sincos'"):
        predictor = HierarchyPredictor(osp.join(tiny_config_dir, 'tiny_upernet_cast.py'),
                                       official['moco'])
    assert predictor.backbone.pos_embed_type == 'sincos'
    img = cv2.resize(cv2.imread(image_path), (64, 48))
    levels = predictor(img)
    assert [lv.shape for lv in levels] == [(48, 64)] * 5
    for fine, coarse in zip(levels[:-1], levels[1:]):  # nested
        pairs = np.unique(np.stack([fine.ravel(), coarse.ravel()]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1]


def test_recognition_config_and_our_checkpoint(tools, tiny_config_dir, image_path, tmp_path,
                                               synthetic_spin_root):
    config = osp.join(tiny_config_dir, 'tiny_cast_deit.py')
    cfg = Config.fromfile(config)
    init_default_scope('mmpretrain')
    torch.manual_seed(1)
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    ckpt = str(tmp_path / 'ours.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    predictor = HierarchyPredictor(config, ckpt)
    assert predictor.superpixels.area_per_superpixel == 64  # from the config's pipeline
    assert predictor.model.data_preprocessor.to_rgb  # MMPretrain's ClsDataPreprocessor
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(predictor.backbone.state_dict()[key], value), key
    written = tools['visualize']([image_path, config, ckpt, '--out', str(tmp_path / 'vis'),
                                  '--num-superpixels', '30'])
    assert len(written) == 11
    # the evaluation tool, trained-format checkpoint vs random initialisation
    scores = {}
    for name in (ckpt, 'random'):
        out = str(tmp_path / f'{osp.basename(name)}.json')
        tools['evaluate']([config, name, '--dataset', 'spin', '--data-root',
                           synthetic_spin_root, '--size', '64', '--out', out,
                           '--levels', 'object', 'part'])
        with open(out) as f:
            scores[name] = json.load(f)
    result = scores[ckpt]
    assert list(result['scores']) == ['superpixels', 'stage1', 'stage2', 'stage3', 'stage4']
    assert set(result['scores']['stage1']) == {'object', 'part'}
    assert result['regions']['stage4'] <= 1 < result['regions']['stage1'] <= 8
    for per_level in result['scores'].values():
        for s in per_level.values():
            assert 0 <= s['mIoU'] <= 100 and 0 <= s['mIoU_fg'] <= s['mIoU'] + 100
    # superpixels are finer than any stage: their majority labels fit the objects best
    sp, coarse = result['scores']['superpixels'], result['scores']['stage4']
    assert sp['object']['mIoU'] > coarse['object']['mIoU']


def test_bad_checkpoint_is_named(tiny_config_dir, tmp_path, official):
    with pytest.raises(KeyError, match='does not fit'):
        HierarchyPredictor(osp.join(tiny_config_dir, 'tiny_cast_deit.py'), official['deit'])
    with pytest.raises(FileNotFoundError):
        HierarchyPredictor(osp.join(tiny_config_dir, 'tiny_cast_deit.py'),
                           str(tmp_path / 'missing.pth'))



@pytest.mark.parametrize('config, preprocessor', [
    ('tiny_upernet_cast.py', 'CASTSegDataPreProcessor'),
    ('tiny_cast_deit.py', 'ClsDataPreprocessor'),
    ('tiny_mocov3_cast.py', 'SelfSupDataPreprocessor'),
])
def test_regions_normalised_by_the_models_own_data_preprocessor(tiny_config_dir, image_path,
                                                                config, preprocessor):
    """The model's data preprocessor (MMSeg's or MMPretrain's) gives what normalising by hand
    with the config's mean, std and BGR -> RGB gave, to the bit: the same region ids."""
    cfg = Config.fromfile(osp.join(tiny_config_dir, config))
    predictor = HierarchyPredictor(cfg, 'random')
    assert type(predictor.model.data_preprocessor).__name__ == preprocessor
    settings = cfg.model.get('data_preprocessor') or cfg.data_preprocessor
    mean, std = (torch.tensor(settings[key]) for key in ('mean', 'std'))
    img = cv2.resize(cv2.imread(image_path), (40, 32))
    superpixels = predictor.superpixels.compute(img)
    by_hand = ((torch.from_numpy(img).float().flip(-1) - mean) / std).permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = predictor.backbone.forward_hierarchy(
            by_hand.contiguous(), torch.from_numpy(superpixels).long()[None])
    levels = predictor(img, superpixels)
    assert len(levels) == len(expected) == 5
    for level, reference in zip(levels, expected):
        np.testing.assert_array_equal(level, reference[0].numpy())


def test_every_shipped_config_names_its_normalisation(repo_root):
    """The configs we ship give their data preprocessor mean, std and BGR -> RGB, so the
    removed by-hand path never fell back to a default mean; the test above covers each kind
    of data preprocessor they use (MMSeg's, MMPretrain's classifier and self-supervised)."""
    paths = sorted(glob.glob(osp.join(repo_root, 'configs', 'cast', '*.py')) +
                   glob.glob(osp.join(repo_root, 'configs', 'demo', '*.py')))
    assert len(paths) >= 17
    for path in paths:
        cfg = Config.fromfile(path)
        settings = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor')
        assert settings is not None, path
        assert len(settings['mean']) == len(settings['std']) == 3, path
        assert settings.get('bgr_to_rgb') or settings.get('to_rgb'), path

"""tools/model_converters/cast2mmseg.py on checkpoints in the reference's
layouts (MoCo v3, DeiT, Segmenter), loaded back through init_cfg. The conversion
itself (cast.backbones.checkpoint_converter): tests/backbones/test_checkpoint_converter.py."""
import argparse
import fractions
from collections import OrderedDict

import cast  # noqa: F401  (first: makes torchvision importable for mmpretrain)

# isort: split
import pytest
import torch
from mmpretrain.models.utils import resize_pos_embed

from cast.backbones import CAST
from tests.helpers.reference import load_reference
from tests.helpers.tools import load_tool


@pytest.fixture(scope='module')
def fixture():
    return load_reference()


@pytest.fixture(scope='module')
def tool_main():
    return load_tool('model_converters/cast2mmseg.py').main


def moco_form(state_dict):
    ckpt = OrderedDict()
    for k, v in state_dict.items():
        ckpt['module.base_encoder.' + k] = v
    for k, v in state_dict.items():
        ckpt['module.momentum_encoder.' + k] = v + 1
    ckpt['module.predictor.0.weight'] = torch.zeros(4, 4)
    return dict(state_dict=ckpt, epoch=100, arch='cast_small')


def deit_form(state_dict):
    return dict(model=dict(state_dict), epoch=300,
                args=argparse.Namespace(model='cast_small', lr=5e-4))


def segmenter_form(state_dict):
    model = OrderedDict(('encoder.' + k, v) for k, v in state_dict.items())
    model['decoder.cls_emb'] = torch.zeros(1, 3, 48)
    model['decoder.proj_dec.weight'] = torch.zeros(48, 48)
    return dict(model=model, epoch=64)


def build(fixture, variant, checkpoint=None, img_size=None, **kwargs):
    variant_args = dict(
        cls=dict(pos_embed_type='sincos', feature_resize='nearest'),
        seg=dict(pos_embed_type='learned', feature_resize='bilinear'))
    init_cfg = None
    if checkpoint is not None:
        init_cfg = dict(type='Pretrained', checkpoint=checkpoint,
                        prefix='backbone.')
    model = CAST(arch=fixture['arch'], num_clusters=fixture['num_clusters'],
                 img_size=img_size or fixture[variant]['img_size'],
                 init_cfg=init_cfg, **variant_args[variant], **kwargs)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('variant,form', [('cls', moco_form),
                                          ('cls', deit_form),
                                          ('seg', deit_form),
                                          ('seg', segmenter_form)])
def test_convert_and_load_through_init_cfg(fixture, tool_main, tmp_path,
                                           variant, form):
    src, dst = tmp_path / 'official.pth', tmp_path / 'out' / 'cast.pth'
    torch.save(form(fixture[variant]['state_dict']), src)
    tool_main([str(src), str(dst)])

    converted = torch.load(dst, weights_only=True)
    state_dict = {k[len('backbone.'):]: v
                  for k, v in converted['state_dict'].items()
                  if k.startswith('backbone.')}
    assert converted['meta']['depths'] == fixture['arch']['num_layers']
    model = build(fixture, variant, checkpoint=str(dst))
    ours = model.state_dict()
    # No missing and no unexpected backbone keys, every value loaded.
    assert set(state_dict) == set(ours)
    for key, value in state_dict.items():
        assert torch.equal(ours[key], value), key
    # The base encoder, not the momentum one, and the reference's outputs.
    with torch.no_grad():
        out = model.forward_raw(fixture['inputs'],
                                fixture['superpixels'].long())
    torch.testing.assert_close(out['cls_out'],
                               fixture[variant]['outputs']['cls_out'],
                               atol=1e-4, rtol=1e-4)


def test_never_overwrites_without_force(fixture, tool_main, tmp_path):
    src, dst = tmp_path / 'official.pth', tmp_path / 'cast.pth'
    torch.save(moco_form(fixture['cls']['state_dict']), src)
    dst.write_bytes(b'mine')
    with pytest.raises(SystemExit, match='exists; pass --force'):
        tool_main([str(src), str(dst)])
    assert dst.read_bytes() == b'mine'
    tool_main([str(src), str(dst), '--force'])
    assert 'state_dict' in torch.load(dst, weights_only=True)


def test_position_table_resized_for_another_grid(fixture, tool_main,
                                                 tmp_path):
    src = tmp_path / 'deit.pth'
    torch.save(deit_form(fixture['seg']['state_dict']), src)
    table = fixture['seg']['state_dict']['pos_embed']  # 8 x 8 grid
    expected = resize_pos_embed(table, (8, 8), (12, 12), mode='bicubic')
    # Resized when loaded into a model with another img_size ...
    plain = tmp_path / 'plain.pth'
    tool_main([str(src), str(plain)])
    model = build(fixture, 'seg', checkpoint=str(plain), img_size=96)
    torch.testing.assert_close(model.pos_embed.data, expected)
    # ... or by the converter.
    resized = tmp_path / 'resized.pth'
    tool_main([str(src), str(resized), '--img-size', '96'])
    state_dict = torch.load(resized, weights_only=True)['state_dict']
    torch.testing.assert_close(state_dict['backbone.pos_embed'], expected)


def test_pickled_or_missing_files_are_refused(fixture, tool_main, tmp_path):
    raw = dict(fixture['cls']['state_dict'])
    # A pickled object outside the allow-list is refused by default.
    src = tmp_path / 'pickled.pth'
    torch.save(dict(model=raw, extra=fractions.Fraction(1, 3)), src)
    with pytest.raises(RuntimeError, match='--allow-pickle'):
        tool_main([str(src), str(tmp_path / 'x.pth')])
    tool_main([str(src), str(tmp_path / 'x.pth'), '--allow-pickle'])
    with pytest.raises(FileNotFoundError):
        tool_main([str(tmp_path / 'missing.pth'), str(tmp_path / 'y.pth')])

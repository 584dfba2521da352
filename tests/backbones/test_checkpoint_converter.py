"""cast.backbones.checkpoint_converter on the reference's state dicts: keys renamed to the
stages, the neck and head split off, bad checkpoints refused. The command-line tool
(tools/model_converters/cast2mmseg.py) is tested in tests/tools/test_cast2mmseg.py."""
import pytest
import torch

from cast.backbones.checkpoint_converter import convert_cast_checkpoint
from tests.helpers.reference import load_reference


@pytest.fixture(scope='module')
def fixture():
    return load_reference()


def test_each_block_kept_once(fixture):
    raw = fixture['seg']['state_dict']
    state_dict, report = convert_cast_checkpoint(raw)
    assert not any(k.startswith('blocks') for k in state_dict)
    qkv = [k for k in state_dict if k.endswith('blocks.0.attn.qkv.weight')]
    assert sorted(qkv) == [f'stages.{s}.blocks.0.attn.qkv.weight'
                           for s in range(4)]
    assert 'stages.0.blocks.1.ffn.layers.0.0.weight' in state_dict
    assert torch.equal(state_dict['stages.3.blocks.0.ln1.weight'],
                       raw['blocks.4.norm1.weight'])
    assert report['pos_embed_type'] == 'learned'
    # block_fusion goes to the neck, nothing of it is dropped
    assert not [k for k in report['dropped'] if 'block_fusion' in k]
    assert torch.equal(report['neck']['proj.weight'],
                       raw['block_fusion.proj_blocks.2.weight'])
    assert set(report['neck']) == {
        'norm.weight', 'norm.bias', 'norm.running_mean', 'norm.running_var',
        'norm.num_batches_tracked', 'proj.weight', 'proj.bias'}


def test_depths_needed_without_stage_views(fixture):
    raw = {k: v for k, v in fixture['cls']['state_dict'].items()
           if not k[len('blocks'):len('blocks') + 1].isdigit()}
    with pytest.raises(ValueError, match='pass depths'):
        convert_cast_checkpoint(raw)
    state_dict, _ = convert_cast_checkpoint(raw, depths=[2, 1, 1, 1])
    reference, _ = convert_cast_checkpoint(fixture['cls']['state_dict'])
    assert set(state_dict) == set(reference)


def test_already_converted_is_returned(fixture):
    state_dict, _ = convert_cast_checkpoint(fixture['seg']['state_dict'])
    wrapped = {'backbone.' + k: v for k, v in state_dict.items()}
    wrapped['decode_head.conv_seg.weight'] = torch.zeros(1)
    again, report = convert_cast_checkpoint(dict(state_dict=wrapped))
    assert set(again) == set(state_dict)
    # only a Segmenter model's neck and head are kept beside the backbone
    assert report['dropped'] == ['decode_head.conv_seg.weight']
    assert not report['decode_head'] and not report['neck']
    segmenter = dict(wrapped)
    del segmenter['decode_head.conv_seg.weight']
    head = {'cls_emb': torch.zeros(1, 3, 48), 'dec_proj.weight': torch.zeros(
        48, 48), 'patch_proj.weight': torch.zeros(48, 48)}
    segmenter.update({'decode_head.' + k: v for k, v in head.items()})
    segmenter.update({'neck.norm.weight': torch.ones(192),
                      'neck.proj.weight': torch.zeros(48, 192)})
    segmenter['auxiliary_head.conv_seg.weight'] = torch.zeros(1)
    _, report = convert_cast_checkpoint(dict(state_dict=segmenter))
    assert report['dropped'] == ['auxiliary_head.conv_seg.weight']
    assert set(report['decode_head']) == set(head)
    assert set(report['neck']) == {'norm.weight', 'proj.weight'}


def test_bad_checkpoints_raise(fixture):
    raw = dict(fixture['cls']['state_dict'])
    with pytest.raises(KeyError, match='no CAST encoder'):
        convert_cast_checkpoint({'head.weight': torch.zeros(1)})
    with pytest.raises(KeyError, match='no state dict'):
        convert_cast_checkpoint({'epoch': 3})
    with pytest.raises(KeyError, match='unknown CAST encoder key'):
        convert_cast_checkpoint(dict(raw, extra_table=torch.zeros(1)))
    with pytest.raises(ValueError, match='pe_token'):
        convert_cast_checkpoint(dict(raw, pe_token=torch.ones(1, 1, 48)))
    changed = dict(raw)
    changed['blocks.0.norm1.weight'] = changed['blocks.0.norm1.weight'] + 1
    with pytest.raises(ValueError, match='differs from its stage view'):
        convert_cast_checkpoint(changed)

"""BlockFusionNeck against the reference's block_fusion, and a Segmenter
config loading a reference-layout Segmenter checkpoint (backbone,
block_fusion, decoder) with no missing key."""
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

import cast  # noqa: F401
from cast.backbones import CAST
from cast.backbones.checkpoint_converter import convert_cast_checkpoint
from cast.necks import BlockFusionNeck
from mmseg.registry import MODELS
from tests.helpers.reference import load_reference
from tests.helpers.tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_CLASSES = 3


@pytest.fixture(scope='module')
def fixture():
    return load_reference()


def reference_decoder(dims=48, num_classes=NUM_CLASSES, seed=0):
    """A state dict in the layout of the reference's Segmenter decoder
    (segm/model/decoder.py MaskTransformer: one block)."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=gen) * 0.2

    block = {
        'norm1.weight': 1 + rand(dims), 'norm1.bias': rand(dims),
        'attn.qkv.weight': rand(3 * dims, dims), 'attn.qkv.bias': rand(3 * dims),
        'attn.proj.weight': rand(dims, dims), 'attn.proj.bias': rand(dims),
        'norm2.weight': 1 + rand(dims), 'norm2.bias': rand(dims),
        'mlp.fc1.weight': rand(4 * dims, dims), 'mlp.fc1.bias': rand(4 * dims),
        'mlp.fc2.weight': rand(dims, 4 * dims), 'mlp.fc2.bias': rand(dims),
    }
    state = OrderedDict(('blocks.0.' + k, v) for k, v in block.items())
    state.update({
        'cls_emb': rand(1, num_classes, dims),
        'proj_dec.weight': rand(dims, dims), 'proj_dec.bias': rand(dims),
        'proj_patch': rand(dims, dims), 'proj_classes': rand(dims, dims),
        'decoder_norm.weight': 1 + rand(dims), 'decoder_norm.bias': rand(dims),
        'mask_norm.weight': 1 + rand(num_classes),
        'mask_norm.bias': rand(num_classes),
    })
    return state


def reference_masks(w, x, heads):
    """The reference decoder's masks (B, S, K) in eval mode, written out from
    its definition: pre-norm block (qkv attention, GELU MLP), then
    ``patches @ proj_patch`` / ``cls @ proj_classes``, L2-normalised, their
    product and a LayerNorm over the classes."""
    ln = torch.nn.functional.layer_norm
    x = x @ w['proj_dec.weight'].t() + w['proj_dec.bias']
    x = torch.cat([x, w['cls_emb'].expand(x.shape[0], -1, -1)], 1)
    B, N, C = x.shape
    p = 'blocks.0.'
    h = ln(x, (C, ), w[p + 'norm1.weight'], w[p + 'norm1.bias'])
    qkv = (h @ w[p + 'attn.qkv.weight'].t() + w[p + 'attn.qkv.bias']).reshape(
        B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    attn = (qkv[0] @ qkv[1].transpose(-2, -1)) * (C // heads)**-0.5
    y = (attn.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(B, N, C)
    x = x + y @ w[p + 'attn.proj.weight'].t() + w[p + 'attn.proj.bias']
    h = ln(x, (C, ), w[p + 'norm2.weight'], w[p + 'norm2.bias'])
    h = torch.nn.functional.gelu(h @ w[p + 'mlp.fc1.weight'].t() +
                                 w[p + 'mlp.fc1.bias'])
    x = x + h @ w[p + 'mlp.fc2.weight'].t() + w[p + 'mlp.fc2.bias']
    x = ln(x, (C, ), w['decoder_norm.weight'], w['decoder_norm.bias'])
    K = w['cls_emb'].shape[1]
    patches = x[:, :-K] @ w['proj_patch']
    classes = x[:, -K:] @ w['proj_classes']
    patches = patches / patches.norm(dim=-1, keepdim=True)
    classes = classes / classes.norm(dim=-1, keepdim=True)
    masks = patches @ classes.transpose(1, 2)
    return ln(masks, (K, ), w['mask_norm.weight'], w['mask_norm.bias'])


def tiny_segmenter_cfg(fixture):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'cast', 'segmenter_cast-s_ade20k.py'))
    dims = fixture['arch']['embed_dims']
    model = cfg.model
    model.backbone.update(
        arch=fixture['arch'], num_clusters=fixture['num_clusters'],
        img_size=fixture['seg']['img_size'], fps_backend='torch',
        init_cfg=None)
    model.neck.update(in_channels=dims, out_channels=dims)
    model.decode_head.update(in_channels=dims, channels=dims, embed_dims=dims,
                             num_layers=1, num_heads=4,
                             num_classes=NUM_CLASSES)
    return model


def test_neck_equals_the_reference_block_fusion(fixture):
    seg = fixture['seg']
    state_dict, report = convert_cast_checkpoint({'model': seg['state_dict']})
    backbone = CAST(arch=fixture['arch'], num_clusters=fixture['num_clusters'],
                    img_size=seg['img_size'], out_type='raw').eval()
    backbone.load_state_dict(state_dict)
    dims = fixture['arch']['embed_dims']
    neck = BlockFusionNeck(dims, dims).eval()
    neck.load_state_dict(report['neck'])  # strict: every key, no other
    with torch.no_grad():
        out = neck(backbone(fixture['inputs'], fixture['superpixels']))
    fused = seg['outputs']['fused']  # the reference's [CLS] + tokens
    torch.testing.assert_close(out['tokens'], fused[:, 1:], atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(out['cls_token'], fused[:, 0], atol=1e-4,
                               rtol=1e-4)
    assert torch.equal(out['superpixels'], fixture['superpixels'].long())


def test_segmenter_config_loads_a_reference_segmenter_checkpoint(
        fixture, tmp_path):
    """Reference Segmenter layout: {'model': {'encoder.*' (with
    block_fusion), 'decoder.*'}}. Converted, it loads into the Segmenter
    config's model strictly: no missing and no unexpected key."""
    encoder = fixture['seg']['state_dict']
    decoder = reference_decoder()
    model_state = OrderedDict(('encoder.' + k, v) for k, v in encoder.items())
    model_state.update(('decoder.' + k, v) for k, v in decoder.items())
    src, dst = tmp_path / 'segmenter.pth', tmp_path / 'converted.pth'
    torch.save(dict(model=model_state, epoch=63), src)
    load_tool('model_converters/cast2mmseg.py').main([str(src), str(dst)])

    model = MODELS.build(tiny_segmenter_cfg(fixture))
    load_checkpoint(model, str(dst), strict=True)  # raises on any mismatch
    ours = model.state_dict()
    for key, value in encoder.items():
        if key.startswith('block_fusion.proj_blocks.2.'):
            assert torch.equal(ours['neck.proj.' + key.split('.', 3)[3]],
                               value)
    assert torch.equal(ours['decode_head.patch_proj.weight'],
                       decoder['proj_patch'].t())

    # the whole model computes what the reference does, up to the masks
    model.eval()
    inputs, superpixels = fixture['inputs'], fixture['superpixels'].long()
    with torch.no_grad():
        fused = model.neck(model.backbone(inputs, superpixels))
        logits = model.decode_head(fused)
        expected = reference_masks(decoder, fused['tokens'], heads=4)
    torch.testing.assert_close(
        fused['tokens'], fixture['seg']['outputs']['fused'][:, 1:],
        atol=1e-4, rtol=1e-4)
    B, K, H, W = logits.shape
    assert (B, K, (H, W)) == (2, NUM_CLASSES, tuple(superpixels.shape[-2:]))
    # every pixel holds its superpixel's masks
    painted = expected.gather(
        1, superpixels.reshape(B, -1, 1).expand(-1, -1, K))
    torch.testing.assert_close(logits.flatten(2).transpose(1, 2), painted,
                               atol=1e-5, rtol=1e-5)


def test_deit_checkpoint_leaves_only_neck_and_head_to_train(fixture, tmp_path):
    """The DeiT form holds no block_fusion: the converted file fills the
    backbone (prefix 'backbone.') and nothing else."""
    src, dst = tmp_path / 'deit.pth', tmp_path / 'cast-s_deit.pth'
    deit = {k: v for k, v in fixture['seg']['state_dict'].items()
            if not k.startswith('block_fusion.')}
    torch.save(dict(model=deit), src)
    load_tool('model_converters/cast2mmseg.py').main([str(src), str(dst)])
    keys = torch.load(dst, weights_only=True)['state_dict']
    assert keys and all(k.startswith('backbone.') for k in keys)
    cfg = tiny_segmenter_cfg(fixture)
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(dst),
                                 prefix='backbone.')
    model = MODELS.build(cfg)
    model.init_weights()
    backbone = model.backbone.state_dict()
    assert {'backbone.' + k for k in backbone} == set(keys)
    assert all(torch.equal(backbone[k[len('backbone.'):]], v)
               for k, v in keys.items())


def test_bad_inputs_raise(fixture):
    neck = BlockFusionNeck(48, 48)
    with pytest.raises(TypeError, match="out_type='raw'"):
        neck((torch.zeros(1, 48, 4, 4), ))
    raw = dict(tokens=[torch.zeros(1, 5, 48)] * 2,
               pooled_cls_tokens=[torch.zeros(1, 48)] * 2,
               logits=[torch.zeros(1, 5, 2)], labels=torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match='fuses 4 stages'):
        neck(raw)
    with pytest.raises(ValueError, match='in_channels'):
        BlockFusionNeck(32, 48, num_stages=2)(raw)
    with pytest.raises(ValueError, match='num_stages'):
        BlockFusionNeck(48, 48, num_stages=0)
    with pytest.raises(KeyError, match='unknown block_fusion key'):
        convert_cast_checkpoint({'model': dict(
            fixture['seg']['state_dict'],
            **{'block_fusion.proj_blocks.5.weight': torch.zeros(1)})})
    with pytest.raises(KeyError, match='unknown Segmenter decoder key'):
        convert_cast_checkpoint({'model': dict(
            {'encoder.' + k: v for k, v in fixture['seg']['state_dict'].items()},
            **{'decoder.extra': torch.zeros(1)})})

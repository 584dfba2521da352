"""Our CAST against outputs of the reference implementation (twke18/CAST).

The fixture holds the reference's own state dicts (its key layout) and its
per-stage outputs on fixed inputs; see fixtures/README.md for how they were
made.
"""

import pytest
import torch
import torch.nn.functional as F

from cast.backbones import CAST
from cast.backbones import superpixel_ops as ops
from cast.backbones.checkpoint_converter import convert_cast_checkpoint
from tests.helpers.reference import load_reference

TOL = dict(atol=1e-4, rtol=1e-4)
VARIANTS = {
    'cls': dict(pos_embed_type='sincos', feature_resize='nearest'),
    'seg': dict(pos_embed_type='learned', feature_resize='bilinear'),
}


@pytest.fixture(scope='module')
def fixture():
    return load_reference()


def build(fixture, variant, **kwargs):
    data = fixture[variant]
    state_dict, _ = convert_cast_checkpoint({'model': data['state_dict']})
    kwargs.setdefault('out_type', 'raw')
    model = CAST(arch=fixture['arch'], num_clusters=fixture['num_clusters'],
                 img_size=data['img_size'], **VARIANTS[variant], **kwargs)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return model.eval()


def inputs(fixture):
    return fixture['inputs'], fixture['superpixels'].long()


@pytest.mark.parametrize('variant,fast,backend', [
    ('cls', True, 'dgl'), ('cls', True, 'torch'), ('seg', True, 'dgl'),
    ('seg', True, 'torch'), ('seg', False, 'dgl')])
def test_stage_outputs_match_reference(fixture, variant, fast, backend):
    # fast=False: full-resolution resizing as the reference (segmentation).
    model = build(fixture, variant, fast_segment_mean=fast,
                  fps_backend=backend)
    ref = fixture[variant]['outputs']
    with torch.no_grad():
        out = model(*inputs(fixture))
    assert len(out['tokens']) == 4
    for key in ('tokens', 'cls_tokens', 'logits', 'pooled_tokens',
                'pooled_cls_tokens'):
        for stage, (ours, theirs) in enumerate(zip(out[key], ref[key])):
            assert ours.shape == theirs.shape, (key, stage)
            torch.testing.assert_close(
                ours, theirs, **TOL, msg=f'{variant} {key} stage {stage}')
    for key in ('seed_inds', 'padding_masks'):
        for ours, theirs in zip(out[key], ref[key]):
            assert torch.equal(ours, theirs), key
    torch.testing.assert_close(out['cls_out'], ref['cls_out'], **TOL)
    # The inputs exercise padding: images with different token counts.
    assert ref['padding_masks'][0].any()


def test_cls_token_output_matches_reference(fixture):
    model = build(fixture, 'cls', out_type='cls_token', out_indices=(3, ))
    with torch.no_grad():
        (cls_out, ) = model(*inputs(fixture))
    torch.testing.assert_close(cls_out, fixture['cls']['outputs']['cls_out'],
                               **TOL)


def test_featmaps_paint_reference_tokens(fixture):
    """Feature maps = the reference's stage tokens painted through the argmax
    chain of its logits, average-pooled to strides 4, 8, 16, 32."""
    model = build(fixture, 'seg', out_type='featmap')
    images, superpixels = inputs(fixture)
    with torch.no_grad():
        maps = model(images, superpixels)
    ref = fixture['seg']['outputs']
    chain = ops.assignment_chain(ref['logits'][:3], ref['tokens'][0].shape[1])
    for stage, stride in enumerate((4, 8, 16, 32)):
        tokens = ref['tokens'][stage]
        per_superpixel = torch.stack(
            [tokens[b][chain[stage][b]] for b in range(tokens.shape[0])])
        painted = ops.paint_tokens(per_superpixel, superpixels)
        expected = F.avg_pool2d(painted, stride, stride, ceil_mode=True)
        torch.testing.assert_close(maps[stage], expected, **TOL)


@pytest.mark.parametrize('variant', ['cls', 'seg'])
def test_superpixel_tokens_match_reference(fixture, variant):
    """Tokens entering the first stage: segment means plus positions."""
    model = build(fixture, variant)
    with torch.no_grad():
        x, mask, cls_token = model.embed_tokens(*inputs(fixture))
    ref = fixture[variant]['outputs']['embed']
    torch.testing.assert_close(cls_token, ref[:, :1], **TOL)
    torch.testing.assert_close(x, ref[:, 1:], **TOL)
    assert torch.equal(mask, fixture[variant]['outputs']['padding_masks'][0])

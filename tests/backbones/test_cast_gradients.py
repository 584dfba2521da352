"""Gradients of CAST's fast paths (sparse superpixel averaging of the resized
grid and position table, per-stride sparse painting) against the
full-resolution computations they replace."""
import torch
import torch.nn.functional as F

from cast.backbones import CAST
from cast.backbones import superpixel_ops as ops

TINY = dict(embed_dims=24, num_layers=[1, 1, 1, 1], num_heads=2)
STRIDES = (4, 8, 16, 32)


def irregular_superpixels(B, H, W, seed=0):
    """Random 4x4-block labels relabelled 0..S_b-1 per image (B, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 30, (B, -(-H // 4), -(-W // 4)), generator=gen)
    labels = coarse.repeat_interleave(4, 1).repeat_interleave(4, 2)
    labels = labels[:, :H, :W]
    return torch.stack([m.unique(return_inverse=True)[1] for m in labels])


def build(fast):
    torch.manual_seed(0)
    model = CAST(arch=TINY, num_clusters=[8, 4, 2, 2], img_size=32,
                 fast_segment_mean=fast, pool_dropout=0.)
    model.init_weights()
    # eval(): BN uses its running statistics; gradients still flow.
    return model.double().eval()


def full_resolution_featmaps(model, inputs, superpixels):
    """Reference path: tokens painted at full resolution, then avg-pooled."""
    raw = model.forward_raw(inputs, superpixels, last_pool=False)
    labels = raw['labels']
    chain = ops.assignment_chain(raw['logits'][:3], raw['tokens'][0].shape[1])
    outs = []
    for stage, stride in enumerate(STRIDES):
        tokens = raw['tokens'][stage]
        per_superpixel = tokens.gather(
            1, chain[stage].unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        painted = ops.paint_tokens(per_superpixel, labels)
        outs.append(F.avg_pool2d(painted, stride, stride, ceil_mode=True))
    return outs


def test_fast_paths_gradients_match_full_resolution():
    H, W = 36, 44  # not multiples of the strides: truncated border cells
    superpixels = irregular_superpixels(2, H, W)
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, H, W, generator=gen, dtype=torch.float64)
    weights = [torch.randn(2, 24, -(-H // s), -(-W // s), generator=gen,
                           dtype=torch.float64) for s in STRIDES]
    results = []
    for fast in (True, False):
        model = build(fast)
        x = images.clone().requires_grad_()
        if fast:
            outs = model(x, superpixels)
        else:
            outs = full_resolution_featmaps(model, x, superpixels)
        sum((o * w).sum() for o, w in zip(outs, weights)).backward()
        grads = {name: p.grad for name, p in model.named_parameters()
                 if p.grad is not None}
        results.append((outs, grads, x.grad))
    (outs_fast, grads_fast, x_fast), (outs_full, grads_full, x_full) = results
    for fast, full in zip(outs_fast, outs_full):
        torch.testing.assert_close(fast, full)
    assert grads_fast.keys() == grads_full.keys()
    for name in ('patch_embed', 'pos_embed', 'cls_token', 'stages.0.blocks',
                 'stages.2.pool'):
        assert any(key.startswith(name) for key in grads_fast), name
    for name, grad in grads_fast.items():
        torch.testing.assert_close(grad, grads_full[name], msg=name)
        assert torch.isfinite(grad).all(), name
    assert grads_fast['pos_embed'].abs().sum() > 0
    torch.testing.assert_close(x_fast, x_full)

"""SuperpixelSegmenterHead: Segmenter's masks per superpixel, painted per pixel."""
import pytest
import torch
from mmengine.structures import PixelData

import cast  # noqa: F401
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def build(num_classes=3):
    head = MODELS.build(dict(
        type='SuperpixelSegmenterHead', in_channels=16, channels=16, num_classes=num_classes,
        num_layers=1, num_heads=2, embed_dims=16, dropout_ratio=0.0,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)))
    head.init_weights()
    return head


def test_pixels_take_their_superpixel_masks_and_train():
    torch.manual_seed(0)
    head = build().eval()
    tokens = torch.randn(2, 5, 16)
    superpixels = torch.randint(0, 5, (2, 6, 7))
    logits = head(dict(tokens=tokens, superpixels=superpixels))
    assert logits.shape == (2, 3, 6, 7)
    # the parent head on the (B, C, 1, S) token map gives the per-superpixel masks
    masks = super(type(head), head).forward([tokens.transpose(1, 2).reshape(2, 16, 1, 5)])
    for b in range(2):
        for s in range(5):
            inside = superpixels[b] == s
            expected = masks[b, :, 0, s, None].expand(-1, int(inside.sum()))
            torch.testing.assert_close(logits[b][:, inside], expected)
    # MMSeg's loss takes the painted logits unchanged
    head.train()
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 6, 7)))
        samples.append(sample)
    losses = head.loss(dict(tokens=tokens, superpixels=superpixels), samples, None)
    losses['loss_ce'].backward()
    assert head.cls_emb.grad is not None


def test_bad_inputs_raise():
    head = build()
    with pytest.raises(TypeError, match='BlockFusionNeck'):
        head([torch.zeros(1, 16, 4, 4)])
    with pytest.raises(ValueError, match=r'\(B, H, W\)'):
        head(dict(tokens=torch.zeros(2, 5, 16), superpixels=torch.zeros(1, 4, 4).long()))

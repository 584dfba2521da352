"""restore_to_original: MMSeg's unpad / unflip / resize, for logits and for label maps."""
import pytest
import torch
import torch.nn.functional as F

import tests.helpers.segmentors  # noqa: F401  (registers TestOnlySuperpixelBackbone)
from cast.utils import restore_to_original
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

METAS = [
    dict(ori_shape=(30, 41)),
    dict(ori_shape=(30, 41), padding_size=[0, 5, 0, 3], flip=True,
         flip_direction='horizontal'),
    dict(ori_shape=(17, 23), img_padding_size=[2, 1, 3, 0], flip=True,
         flip_direction='vertical'),
]


@pytest.mark.parametrize('meta', METAS)
def test_logits_are_restored_as_mmseg_restores_them(meta):
    """Equal to the logits of MMSeg's own BaseSegmentor.postprocess_result."""
    segmentor = MODELS.build(dict(
        type='EncoderDecoder', backbone=dict(type='TestOnlySuperpixelBackbone'),
        decode_head=dict(type='FCNHead', in_channels=8, channels=4, num_convs=1,
                         num_classes=3, in_index=-1)))
    logits = torch.randn(2, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    samples = segmentor.postprocess_result(logits, [SegDataSample(metainfo=meta)
                                                    for _ in range(2)])
    restored = restore_to_original(logits, [meta, meta], 'bilinear', segmentor.align_corners)
    for sample, maps in zip(samples, restored):
        assert maps.shape == (3, ) + meta['ori_shape']
        assert torch.equal(maps, sample.seg_logits.data)


@pytest.mark.parametrize('meta', METAS)
def test_label_maps_keep_their_ids(meta):
    ids = torch.randint(0, 1000, (1, 4, 24, 32), generator=torch.Generator().manual_seed(1))
    maps, = restore_to_original(ids, [meta], 'nearest')
    assert maps.dtype == torch.long and maps.shape == (4, ) + meta['ori_shape']
    left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size', [0] * 4))
    expected = ids[0, :, top:24 - bottom, left:32 - right]
    if meta.get('flip'):
        expected = expected.flip(-1 if meta['flip_direction'] == 'horizontal' else -2)
    expected = F.interpolate(expected[None].float(), size=meta['ori_shape'],
                             mode='nearest')[0].long()
    assert torch.equal(maps, expected)


def test_bad_flip_direction_is_named():
    with pytest.raises(ValueError, match='diagonal'):
        restore_to_original(torch.zeros(1, 1, 4, 4), [dict(ori_shape=(4, 4), flip=True,
                                                           flip_direction='diagonal')])

"""cast.utils.flops on a tiny CAST: the transformer part follows the token count exactly, the
parts add up, and grid superpixels are what they say."""
import pytest

from cast.utils.flops import build_from_arch, grid_shape, grid_superpixels, measure

TINY = dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=4)
CLUSTERS = [8, 4, 2, 1]


def block_flops(tokens, channels, mlp_ratio=4):
    """One pre-norm ViT block: qkv, proj, two MLP layers, QK^T and AV."""
    linear = 2 * tokens * channels * channels * (3 + 1 + 2 * mlp_ratio)
    return linear + 2 * 2 * tokens * tokens * channels


def test_scales_with_superpixels():
    results = {}
    for num in (16, 64):
        model, _ = build_from_arch(TINY, 'cls_token', num_classes=0, num_clusters=CLUSTERS)
        results[num] = measure(model, (64, 64), num)
        assert results[num]['num_tokens'] == num
    small, large = results[16]['flops'], results[64]['flops']
    # the ConvStem sees pixels only; later stages see the fixed clusters
    assert small['stem'] == large['stem'] > 0
    assert large['backbone_as_run'] > small['backbone_as_run']
    # stage-1 blocks: N superpixels + [CLS]; stages 2-4: K + [CLS] tokens
    for num, flops in ((16, small), (64, large)):
        expected = sum(block_flops(n + 1, 48) for n in [num] + CLUSTERS[:3])
        assert flops['blocks'] == expected
    # the nearest-resize variant's superpixel means are scatter ops
    assert small['superpixel_pooling'] == large['superpixel_pooling'] == 0


@pytest.mark.parametrize('fast', [True, False])
def test_segmentation_superpixel_pooling(fast):
    model, _ = build_from_arch(TINY, 'featmap', num_clusters=CLUSTERS, fast_segment_mean=fast)
    result = measure(model, (64, 96), 24)
    flops = result['flops']
    assert result['num_tokens'] == 24
    # both paths average per superpixel with sparse products or scatters, which the counter
    # does not see (as for the reference's interpolate + scatter)
    assert flops['superpixel_pooling'] == 0
    assert flops['backbone_as_run'] == (
        flops['backbone_network'] + flops['superpixel_pooling'])
    assert flops['backbone_network'] == (
        flops['stem'] + flops['blocks'] + flops['graph_pooling'] +
        flops['norm'])


def test_grid_superpixels():
    labels = grid_superpixels(30, 60, 8)
    assert grid_shape(30, 60, 8) == (2, 4)
    assert labels.unique().tolist() == list(range(8))
    with pytest.raises(ValueError, match='grid'):
        grid_shape(4, 4, 17)

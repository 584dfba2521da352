"""tools/analysis_tools/get_flops.py on a tiny CAST: counts are positive, the
transformer part follows the token count exactly, and the parts add up."""
import importlib.util
import json
import os.path as osp

import pytest

from cast.backbones import CAST

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=4)
CLUSTERS = [8, 4, 2, 1]


@pytest.fixture(scope='module')
def get_flops():
    spec = importlib.util.spec_from_file_location(
        'get_flops', osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                              'get_flops.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def block_flops(tokens, channels, mlp_ratio=4):
    """One pre-norm ViT block: qkv, proj, two MLP layers, QK^T and AV."""
    linear = 2 * tokens * channels * channels * (3 + 1 + 2 * mlp_ratio)
    return linear + 2 * 2 * tokens * tokens * channels


def test_cli_counts_tiny_classifier(get_flops, capsys):
    (result, ) = get_flops.main([
        '--arch', json.dumps(TINY), '--out-type', 'cls_token',
        '--num-clusters', *map(str, CLUSTERS), '--shape', '64', '64',
        '--superpixels', '16', '--num-classes', '10'])
    out = capsys.readouterr().out
    assert '16 superpixels (grid 4x4)' in out
    flops, params = result['flops'], result['params']
    assert flops['model_as_run'] > flops['backbone_as_run'] > 0
    assert flops['head'] == 2 * 48 * 10  # the linear head on [CLS]
    assert params['model'] == params['backbone'] + params['head'] > 0


def test_scales_with_superpixels(get_flops):
    results = {}
    for num in (16, 64):
        model, _ = get_flops.build_from_arch(
            TINY, 'cls_token', num_classes=0, num_clusters=CLUSTERS)
        results[num] = get_flops.measure(model, (64, 64), num)
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
def test_segmentation_superpixel_pooling(get_flops, fast):
    model, _ = get_flops.build_from_arch(
        TINY, 'featmap', num_clusters=CLUSTERS, fast_segment_mean=fast)
    result = get_flops.measure(model, (64, 96), 24)
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


def test_grid_superpixels(get_flops):
    labels = get_flops.grid_superpixels(30, 60, 8)
    assert get_flops.grid_shape(30, 60, 8) == (2, 4)
    assert labels.unique().tolist() == list(range(8))
    with pytest.raises(ValueError, match='grid'):
        get_flops.grid_shape(4, 4, 17)


def test_reference_lookup(get_flops):
    model, _ = get_flops.build_from_arch('small', 'featmap')
    assert get_flops.reference_for(model, (512, 512), 1024) == (40.558,
                                                                28.933)
    assert get_flops.reference_for(model, (512, 512), 900) is None
    assert isinstance(model.backbone, CAST)

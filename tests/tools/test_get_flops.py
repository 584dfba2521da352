"""tools/analysis_tools/get_flops.py on a tiny CAST classifier config: counts are positive, the
head's count is exact and the parameters add up."""
import pytest

from tests.helpers.tools import load_tool

TINY = dict(embed_dims=48, num_layers=[1, 1, 1, 1], num_heads=4)
CLUSTERS = [8, 4, 2, 1]
CONFIG = f"""
default_scope = 'mmpretrain'
custom_imports = dict(imports=['cast'], allow_failed_imports=False)
model = dict(
    type='CASTImageClassifier',
    backbone=dict(type='CAST', arch={TINY!r}, out_type='cls_token', out_indices=(3, ),
                  num_clusters={CLUSTERS!r}),
    head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=48))
"""


@pytest.fixture(scope='module')
def get_flops():
    return load_tool('analysis_tools/get_flops.py')


def test_cli_counts_tiny_classifier(get_flops, tmp_path, capsys):
    config = tmp_path / 'tiny_cast_classifier.py'
    config.write_text(CONFIG)
    result = get_flops.main([str(config), '--shape', '64', '64', '--superpixels', '16'])
    out = capsys.readouterr().out
    assert '16 superpixels (grid 4x4)' in out
    flops, params = result['flops'], result['params']
    assert flops['model_as_run'] > flops['backbone_as_run'] > 0
    assert flops['head'] == 2 * 48 * 10  # the linear head on [CLS]
    assert params['model'] == params['backbone'] + params['head'] > 0

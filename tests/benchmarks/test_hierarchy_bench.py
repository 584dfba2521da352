"""benchmarks/hierarchy.py writes each variant's config as it says, inheriting the demo's."""
import pytest
from mmengine.config import Config

from benchmarks import hierarchy
from mmseg.registry import MODELS


@pytest.mark.parametrize('variant', list(hierarchy.VARIANTS))
def test_variant_configs_build_the_named_recipe(variant, tmp_path):
    args = hierarchy.parse_args([str(tmp_path), '--lr', '1e-3', '--loss-scale', '0.5',
                                 '--eval-split', 'val'])
    args.iters = 8
    path = hierarchy.write_config(args, variant, seed=3, test_root=str(tmp_path / 'data'))
    assert path.endswith(f"{variant.replace('+', '_')}_lr0.001_x0.5_seed3_it8.py")
    cfg = Config.fromfile(path)
    head = cfg.model.decode_head
    loss = {'ce': None, 'chain': 'ChainLikelihoodLoss', 'hssn': 'TreeMinLoss'}[
        variant.split('+')[1]]
    assert (head.get('hierarchy_loss') or {}).get('type') == loss  # none for cross-entropy
    if loss is not None:  # the hierarchy losses' weights are scaled, not the cross-entropies'
        base = hierarchy.VARIANTS[variant]['hierarchy_loss']['loss_weight']
        assert head.hierarchy_loss.loss_weight == base * 0.5
    assert bool(head.get('shared')) == variant.startswith('shared')
    assert (cfg.optim_wrapper.optimizer.lr, cfg.train_cfg.max_iters, cfg.randomness.seed) == (
        1e-3, 8, 3)
    assert cfg.test_dataloader.dataset.split == 'val'
    MODELS.build(cfg.model)
    # the same point again reuses the file; other settings under the same name are refused
    assert hierarchy.write_config(args, variant, 3, str(tmp_path / 'data')) == path
    args.iters = 8
    with pytest.raises(FileExistsError, match='other settings'):
        hierarchy.write_config(args, variant, 3, str(tmp_path / 'other'))


def test_default_schedule_is_the_benchmarks_not_the_demos(tmp_path):
    """The table's runs keep 600 iterations at lr 2e-3 whatever the demo config trains."""
    args = hierarchy.parse_args([str(tmp_path)])
    path = hierarchy.write_config(args, 'heads+chain', seed=0, test_root=str(tmp_path / 'data'))
    assert path.endswith('heads_chain_seed0_it600.py')
    cfg = Config.fromfile(path)
    demo = Config.fromfile(hierarchy.DEMO_CONFIG)
    assert (cfg.optim_wrapper.optimizer.lr, cfg.train_cfg.max_iters) == (2e-3, 600)
    assert (demo.optim_wrapper.optimizer.lr, demo.train_cfg.max_iters) != (2e-3, 600)
    assert cfg.param_scheduler[-1].end == 600

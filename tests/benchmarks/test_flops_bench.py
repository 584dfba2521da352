"""benchmarks/flops.py finds the reference's counts for the settings it measured only."""
from benchmarks.flops import reference_for
from cast.backbones import CAST
from cast.utils.flops import build_from_arch


def test_reference_lookup():
    model, _ = build_from_arch('small', 'featmap')
    assert reference_for(model, (512, 512), 1024) == (40.558,
                                                      28.933)
    assert reference_for(model, (512, 512), 900) is None
    assert isinstance(model.backbone, CAST)

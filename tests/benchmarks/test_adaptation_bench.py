"""benchmarks/adaptation.py --quick: plain inference, then one adaptation row with its ratio and
peak memory."""
from benchmarks.adaptation import main


def test_quick_run_prints_plain_inference_and_one_adaptation(capsys):
    rows = main(['--quick'])
    assert [(v, n) for v, n, *_ in rows] == [(0, 0), (2, 1)]
    (_, _, plain_s, plain_ratio, _), (_, _, seconds, ratio, memory) = rows
    assert plain_ratio == 1.0 and ratio == seconds / plain_s > 1  # views, backward, records
    assert memory > 0
    out = capsys.readouterr().out
    assert '| plain inference | - |' in out and '| 2 | 1 |' in out

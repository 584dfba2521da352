"""benchmarks/open_vocab.py at a few steps: the CLIP it trains is saved and read back, every
region source is scored at the paper's region counts."""
import os.path as osp

from benchmarks.open_vocab import LEVEL_REGIONS, main, squares, voronoi


def test_region_sources_have_the_counts():
    import numpy as np
    assert len(np.unique(squares(96, 96, 16))) == 16
    assert len(np.unique(squares(96, 96, 8))) == 9  # a 3 x 3 grid
    assert len(np.unique(voronoi(96, 96, 8, np.random.default_rng(0)))) == 8


def test_tiny_run(tmp_path, capsys):
    results = main([str(tmp_path), '--steps', '2', '--seeds', '0', '--num-train', '4',
                    '--num-val', '2', '--batch', '4'])
    assert osp.isfile(tmp_path / 'bench_clip_seed0.pth')
    assert list(results) == ['CAST', 'squares', 'random regions', 'ground truth']
    for name, runs in results.items():
        assert len(runs) == 1
        for level in ('object', 'part'):
            assert 0 <= runs[0][level]['mIoU_img'] <= 100
    assert results['random regions'][0]['part']['regions'] == LEVEL_REGIONS['part']
    assert results['CAST'][0]['object']['regions'] <= LEVEL_REGIONS['object']
    assert 'ground truth' in capsys.readouterr().out

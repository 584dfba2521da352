"""benchmarks/thin_structures.py: its scenes hold thin objects of the widths asked, and a quick
run measures every method."""
import json

import numpy as np

from benchmarks.thin_structures import GROUPS, METHODS, main, owned_objects, street_scene


def test_thin_objects_have_the_width_asked():
    rng = np.random.default_rng(3)
    for _ in range(3):
        scene = street_scene(256, 512, rng, scale=0.5)
        inst, seen = scene['instances'], set()
        assert inst.min() >= 1 and inst.max() == len(scene['objects'])
        for obj in scene['objects']:
            if obj['category'] not in ('pole', 'wire'):
                continue
            mask = inst == obj['id']
            # pixels per row of a pole, per column of a wire (0 where something covers it)
            runs = mask.sum(1 if obj['category'] == 'pole' else 0)
            runs = runs[runs > 0]
            if len(runs) < 8:
                continue
            assert 1 <= obj['width'] <= (4 if obj['category'] == 'pole' else 3)
            assert runs.max() == obj['width'], obj
            assert np.median(runs) == obj['width'], obj
            seen.add((obj['category'], obj['width']))
        assert scene['img'].shape == (256, 512, 3) and scene['img'].dtype == np.uint8
    assert {w for c, w in seen if c == 'pole'} == {1, 2, 3, 4}


def test_owned_objects_is_the_majority_label():
    inst = np.array([[1, 1, 2, 2], [1, 1, 2, 3]])
    sp = np.array([[0, 0, 0, 1], [0, 0, 1, 1]])  # superpixel 1: two pixels of 2, one of 3
    assert owned_objects(sp, inst).tolist() == [1, 2]


def test_quick_run(tmp_path, capsys):
    out = tmp_path / 'thin.json'
    results = main(['--quick', '--json', str(out)])
    assert list(results) == list(METHODS)
    for r in results.values():
        assert 0 <= r['boundary_recall'] <= 1 and 0 <= r['thin_boundary_recall'] <= 1
        assert r['superpixels'] >= 1 and r['ms_per_image'] > 0
        assert set(r['kept']) == set(GROUPS)
    assert json.loads(out.read_text())['results']['slic']['kept']['thin']['total'] > 0
    assert '| slic + thin split |' in capsys.readouterr().out

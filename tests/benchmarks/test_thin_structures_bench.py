"""benchmarks/thin_structures.py: its scenes hold thin objects of the widths asked, the degrade
options change the images only (and nothing when off), and a quick run measures every method."""
import json

import numpy as np

from benchmarks.thin_structures import (
    GROUPS,
    METHODS,
    degrade,
    main,
    owned_objects,
    scenes,
    street_scene,
)


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


def test_degrade_changes_the_image_only():
    rng = np.random.default_rng(0)
    drawn = [street_scene(128, 256, rng, 0.25) for _ in range(2)]
    plain = scenes('quick', 2, 0)
    off = scenes('quick', 2, 0, blur=0., contrast=1., noise=0.)
    for d, p, o in zip(drawn, plain, off):  # off: bit-identical to the scenes as drawn
        for s in (p, o):
            assert s['img'].dtype == np.uint8 and np.array_equal(s['img'], d['img'])
            assert np.array_equal(s['instances'], d['instances']) and s['objects'] == d['objects']
    assert degrade(drawn[0]['img']) is drawn[0]['img']
    for opts in (dict(blur=1.0), dict(contrast=0.6), dict(noise=3.), dict(blur=1.5, contrast=0.6,
                                                                          noise=5.)):
        degraded = scenes('quick', 2, 0, **opts)
        for d, g in zip(drawn, degraded):
            assert g['img'].shape == d['img'].shape and g['img'].dtype == np.uint8
            assert not np.array_equal(g['img'], d['img']), opts
            assert np.array_equal(g['instances'], d['instances']) and g['objects'] == d['objects']
    # blur and lower contrast shrink the image's spread; noise keeps the mean
    img = drawn[0]['img'].astype(float)
    assert degrade(drawn[0]['img'], contrast=0.5).std() < 0.6 * img.std()
    assert np.abs(np.diff(degrade(drawn[0]['img'], blur=1.5).astype(float), axis=1)).mean() < \
        np.abs(np.diff(img, axis=1)).mean()
    noisy = degrade(drawn[0]['img'], noise=3., rng=np.random.default_rng(0))
    assert abs(noisy.mean() - img.mean()) < 0.5


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


def test_quick_run_degraded(tmp_path, capsys):
    out = tmp_path / 'thin.json'
    results = main(['--quick', '--methods', 'slic', '--blur', '1', '--contrast', '0.6',
                    '--noise', '3', '--json', str(out)])
    assert list(results) == ['slic']
    saved = json.loads(out.read_text())
    assert (saved['blur'], saved['contrast'], saved['noise']) == (1, 0.6, 3)
    assert 'images degraded: blur sigma 1 px, contrast x0.6, noise std 3' in \
        capsys.readouterr().out

"""benchmarks.adaptation_study's data and scoring (the study itself trains models: minutes)."""
import numpy as np

from benchmarks.adaptation_study import OBJECTS, PARTS, SIZE, Cell, study_scenes


def test_scenes_are_test_views_with_aligned_object_and_part_maps():
    scenes = study_scenes(stream=7000, num=3)
    assert [s['img'].shape for s in scenes] == [(SIZE, SIZE, 3)] * 3
    for s in scenes:
        obj, part = s['object'].numpy(), s['part'].numpy()
        assert obj.shape == part.shape == (SIZE, SIZE)
        assert 0 <= obj.min() and obj.max() < len(OBJECTS) and part.max() < len(PARTS)
        assert ((part > 0) == (obj > 0)).all()  # every object pixel lies in one of its parts
        for p in np.unique(part[part > 0]):  # a part's superclass is its object's
            assert set(np.unique(obj[part == p])) == {OBJECTS.index(PARTS[p].split()[0])}
        assert s['label'] in range(3)
    assert not np.array_equal(scenes[0]['img'], study_scenes(stream=8000, num=1)[0]['img'])


def test_cell_scores_regions_and_the_shift_control_lowers_them():
    scene = study_scenes(stream=7000, num=1)[0]
    exact = scene['part'].numpy()  # a hierarchy whose first level is the part masks
    coarse = scene['object'].numpy()
    record = dict(topk=[(scene['label'], 'x', 0.9)], entropy=0.3, hierarchy=[exact, coarse])
    wrong = dict(topk=[((scene['label'] + 1) % 3, 'y', 0.5)], entropy=0.6,
                 hierarchy=[coarse, np.zeros_like(coarse)])
    cell = Cell()
    cell.add(dict(records=[record, wrong]), scene, shift=8)
    out = cell.to_json()
    assert out['top1'] == [100.0, 0.0] and out['entropy'] == [0.3, 0.6]
    regions = out['regions']
    assert regions['0']['0/part']['mIoU'] == 100 and regions['0']['0/object']['mIoU'] == 100
    assert regions['0']['1/object']['mIoU'] == 100 and regions['0']['1/part']['mIoU'] < 100
    assert regions['1']['1/object']['mIoU'] < 100  # a single region: background everywhere
    assert regions['shifted']['0/part']['mIoU'] < 100
    assert regions['shifted']['0/object']['BF'] < regions['0']['0/object']['BF']

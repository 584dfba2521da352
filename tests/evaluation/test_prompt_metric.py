"""PromptMetric and cast.evaluation.prompts on hand-made 4x4 images whose scores are worked out
by hand: overlapping answers, missing answers, absent parents, a class answered twice, an answer
for a class the image does not hold, the two averagings, size bins and name kinds."""
import math

import numpy as np
import pytest

from cast.evaluation import PromptMetric
from cast.evaluation import prompts as P

LEVELS = ('object', 'part', 'subpart')


def meta():
    """object: animal, car, boat; part: head, body (animal), wheel (car), head (boat);
    subpart: eye (head), nose (head), tire (wheel), eye (boat head): 'eye' and 'head' recur
    under another parent (general names), the others do not (specific)."""
    return dict(levels=LEVELS, main_level='object',
                level_classes=dict(object=('background', 'Animal', 'Car', 'Boat'),
                                   part=('background', 'Animal Head', 'Animal Body',
                                         'Car Wheel', 'Boat Head'),
                                   subpart=('background', 'Animal-Head-Eye', 'Animal-Head-Nose',
                                            'Car-Wheel-Tire', 'Boat-Head-Eye')),
                hierarchy=dict(part=(0, 1, 1, 2, 3), subpart=(0, 1, 1, 3, 4)),
                superclasses=('Animal', 'Car', 'Boat'))


GT = dict(
    object=[[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 2, 2], [0, 0, 2, 2]],
    part=[[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 3, 3], [0, 0, 3, 3]],
    subpart=[[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0]])


def mask(*cells):
    out = np.zeros((4, 4), bool)
    for r, c in cells:
        out[r, c] = True
    return out


def rows(*indices):
    return mask(*[(r, c) for r in indices for c in range(4)])


def answers():
    """The answers of the worked example (scores in brackets):
    object: animal twice, row 0 (0.9) and row 1 (0.5); car exact; boat (not in the image).
    part: head rows 0-1 cols 0-2 (0.8) and body rows 0-1 cols 1-3 (0.6), overlapping;
    wheel: no answer. subpart: eye, nose, tire each exact (tire's parent, wheel, unanswered)."""
    car = mask((2, 2), (2, 3), (3, 2), (3, 3))
    head = mask(*[(r, c) for r in (0, 1) for c in (0, 1, 2)])
    body = mask(*[(r, c) for r in (0, 1) for c in (1, 2, 3)])
    return dict(
        object=[dict(label=1, mask=rows(0), score=0.9), dict(label=1, mask=rows(1), score=0.5),
                dict(label=2, mask=car, score=1.0), dict(label=3, mask=rows(3), score=1.0)],
        part=[dict(label=1, mask=head, score=0.8), dict(label=2, mask=body, score=0.6)],
        subpart=[dict(label=1, mask=mask((0, 0)), score=1.0),
                 dict(label=2, mask=mask((1, 1)), score=1.0),
                 dict(label=3, mask=mask((2, 2)), score=1.0)])


def sample(gt=GT, pred=None, path='a.png'):
    pred = answers() if pred is None else pred
    out = dict(img_path=path, pred_prompts=pred)
    for level, data in gt.items():
        out[f'gt_seg_{level}'] = dict(data=np.asarray(data, np.uint8)[None])
    return out


def evaluate(samples, **kwargs):
    metric = PromptMetric(**kwargs)
    metric.dataset_meta = meta()
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_worked_example_default_rules():
    m = evaluate([sample()])
    # object: animal = union of rows 0 and 1 = its ground truth; car exact
    assert m['mIoU.object'] == 100
    # part: head 4 / 6, body 4 / 6 (overlapping answers each scored alone), wheel missing: 0
    assert m['mIoU.part'] == round(100 * (2 / 3 + 2 / 3 + 0) / 3, 2)
    assert m['missing.part'] == 1 and m['prompts.part'] == 3
    assert m['mIoU.subpart'] == 100
    # S2P: eye and nose inside the head answer (1, 1); tire's parent unanswered: 0
    assert m['SpCS_S2P'] == round(100 * 2 / 3, 2)
    assert m['SpCS_S2P_no_parent'] == 1 and m['SpCS_S2P_skipped'] == 0
    # P2O: head and body inside the animal answers (1, 1); wheel's answer is empty: skipped
    assert m['SpCS_P2O'] == 100 and m['SpCS_P2O_skipped'] == 1
    assert m['duplicate_answers'] == 1 and m['extra_answers'] == 1  # boat: reported, ignored
    # SeCS over the painted answers: pixels with a foreground class at all three levels are
    # (0, 0) animal/head/eye and (1, 1) animal/head/nose (head painted over body): both valid
    assert m['SeCS'] == 100


def test_absent_parent_skip_and_max_score_duplicates():
    m = evaluate([sample()], absent_parent='skip', duplicates='max_score')
    assert m['SpCS_S2P'] == 100 and m['SpCS_S2P_no_parent'] == 1
    # animal keeps its 0.9 answer (row 0): IoU 4 / 8; head and body lie half inside it
    assert m['mIoU.object'] == round(100 * (0.5 + 1) / 2, 2)
    assert m['SpCS_P2O'] == 50


def test_missing_level_counts_as_empty_and_no_secs_without_every_level():
    pred = answers()
    pred['subpart'] = []
    m = evaluate([sample(pred=pred)])
    assert m['mIoU.subpart'] == 0 and m['missing.subpart'] == 3
    assert m['SpCS_S2P_skipped'] == 3 and math.isnan(m['SpCS_S2P'])
    m = evaluate([sample(gt={k: GT[k] for k in ('object', 'part')})], levels=('object', 'part'))
    assert 'SeCS' not in m and 'SpCS_S2P' not in m and m['SpCS_P2O'] == 100


def test_prompt_and_category_averaging():
    """Head in two images: answered exactly (4 / 4), then by 12 pixels around it (4 / 12)."""
    gt = dict(object=GT['object'], part=GT['part'], subpart=GT['subpart'])
    exact = dict(part=[dict(label=1, mask=np.asarray(GT['part']) == 1, score=1.0)])
    loose = dict(part=[dict(label=1, mask=rows(0, 1, 2), score=1.0)])
    samples = [sample(gt, exact, 'a.png'), sample(gt, loose, 'b.png')]
    by_prompt = evaluate(samples, levels=('part', ))
    by_class = evaluate(samples, levels=('part', ), averaging='category')
    # prompts: head 1 and 1/3, body 0, 0, wheel 0, 0
    assert by_prompt['mIoU.part'] == round(100 * (1 + 1 / 3) / 6, 2)
    # classes: head 8 / 16, body 0, wheel 0
    assert by_class['mIoU.part'] == round(100 * 0.5 / 3, 2)


def test_size_bins_and_name_kinds():
    m = evaluate([sample()])
    assert m['mIoU.part.small'] == m['mIoU.part'] and math.isnan(m['mIoU.part.medium'])
    # subparts: eye is general (Boat-Head-Eye), nose and tire specific; parts: head general
    assert m['SpCS_S2P.general'] == 100 and m['SpCS_S2P.specific'] == 50
    assert m['mIoU.part.general'] == round(100 * 2 / 3, 2)
    assert m['mIoU.part.specific'] == round(100 * (2 / 3 + 0) / 2, 2)
    assert P.size_bin(32 * 32) == 'small' and P.size_bin(32 * 32 + 1) == 'medium'
    assert P.size_bin(96 * 96 + 1) == 'large'


def test_names_prompts_box_and_point():
    names = P.class_names(meta())
    eye = names['subpart'][1]
    assert (eye['general'], eye['specific'], eye['kind']) == ('eye', 'animal head eye',
                                                            'general')
    assert eye['prompt'] == "the subpart 'eye' of the animal's head"
    assert names['subpart'][2]['kind'] == 'specific'
    assert names['part'][3]['prompt'] == "the part 'wheel' of the car"
    ring = np.zeros((9, 9), bool)
    ring[1:8, 1:8] = True
    ring[3:6, 3:6] = False  # a hole: the centre is outside the mask
    x, y = P.inner_point(ring)
    assert ring[y, x]
    assert P.mask_box(ring) == [1, 1, 7, 7]


def test_bad_options_and_levels():
    with pytest.raises(ValueError, match='averaging'):
        PromptMetric(averaging='pixel')
    with pytest.raises(ValueError, match='absent_parent'):
        PromptMetric(absent_parent='one')
    metric = PromptMetric(levels=('subpart', 'object', 'part'))
    with pytest.raises(ValueError, match='subsequence'):
        metric.dataset_meta = meta()
    metric = PromptMetric()
    metric.dataset_meta = meta()
    bad = sample()
    bad['pred_prompts'] = dict(answers(), wholes=[])
    with pytest.raises(KeyError, match='wholes'):
        metric.process({}, [bad])


def test_label_maps_answer_when_no_prompt_answers_are_given():
    """A segmentor's data samples (pred_seg_{level} label maps) score as their answers."""
    pred = dict(object=[[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 2, 2], [0, 2, 2, 2]],
                part=[[1, 2, 2, 2], [1, 1, 2, 2], [0, 0, 3, 1], [0, 0, 3, 3]],
                subpart=[[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 3], [0, 0, 0, 0]])
    maps = sample(pred={})
    for level, data in pred.items():
        maps[f'pred_seg_{level}'] = dict(data=np.asarray(data, np.uint8)[None])
    given = sample(pred={level: P.label_map_answers(np.asarray(pred[level]),
                                                    np.asarray(GT[level])) for level in pred})
    m, expected = evaluate([maps]), evaluate([given])
    assert m['mIoU.subpart'] < 100 and m['SpCS_S2P'] < 100
    assert {k: v for k, v in m.items() if v == v} == {k: v for k, v in expected.items()
                                                      if v == v}

"""Tests of the decodings on hand-made and random logits: greedy restricts each level to the
children of the class above; greedy, joint and hssn give only valid chains, so SpCS and SeCS are 100
by construction; joint is never worse in total score than greedy."""
import pytest
import torch
import torch.nn.functional as F

from cast.evaluation import HierarchicalMetric
from cast.segmentors import greedy_argmax, hssn_argmax, joint_argmax
from cast.segmentors.consistent_decoding import decode_levels
from cast.structures import ClassHierarchy
from tests.helpers.hierarchies import LEVELS, NUM_CLASSES, TREE

MULTI = dict(part=((0, ), (1, ), (1, 2), (2, ), (2, )),
             subpart=((0, ), (1, ), (2, ), (2, 3), (4, ), (4, ), (3, 4)))


def hierarchy(parents=TREE, levels=LEVELS):
    return ClassHierarchy(levels, {lv: parents[lv] for lv in levels[1:]},
                          num_classes={lv: NUM_CLASSES[lv] for lv in levels})


def test_greedy_argmax_restricts_children():
    # 1 x 4 pixels; parent argmax: 0, 1, 2, 2
    parent = torch.tensor([[5., 0, 0, 0], [0, 5, 0, 0], [0, 0, 5, 5]])
    parent = parent[:, None]  # (3, 1, 4)
    # child logits prefer class 3 (parent 2) everywhere, class 1 second
    child = torch.zeros(5, 1, 4)
    child[3] = 9
    child[1] = 4
    h = hierarchy(levels=('object', 'part'))
    free = [parent.argmax(0), child.argmax(0)]
    p, c = greedy_argmax([parent, child], h)
    assert torch.equal(p, free[0])
    assert torch.equal(free[1], torch.tensor([[3, 3, 3, 3]]))
    # bg parent -> bg only; parent 1 -> class 1; parent 2 -> class 3
    assert torch.equal(c, torch.tensor([[0, 1, 3, 3]]))


def test_joint_lets_a_confident_part_overrule_an_unsure_object():
    # object: animal 0.45, car 0.55 (unsure); part: head (animal) certain
    obj = torch.log(torch.tensor([0.0, 0.45, 0.55]))[:, None]
    part = torch.log(torch.tensor([0.01, 0.96, 0.01, 0.015, 0.005]))[:, None]
    h = hierarchy(levels=('object', 'part'))
    assert [p.item() for p in greedy_argmax([obj, part], h)] == [2, 3]
    assert [p.item() for p in joint_argmax([obj, part], h)] == [1, 1]


@pytest.mark.parametrize('parents', [TREE, MULTI], ids=['tree', 'dag'])
@pytest.mark.parametrize('decoding', ['greedy', 'joint', 'hssn'])
def test_random_logits_give_valid_chains(parents, decoding):
    torch.manual_seed(0)
    h = hierarchy(parents)
    logits = [torch.randn(NUM_CLASSES[lv], 6, 9) for lv in LEVELS]
    preds = decode_levels(logits, decoding, h)
    for child, p, c in zip(LEVELS[1:], preds[:-1], preds[1:]):
        assert h.allowed_children(child)[c, p].all()
        assert (c[p == 0] == 0).all()


def test_joint_total_score_is_never_below_greedy():
    torch.manual_seed(1)
    h = hierarchy(MULTI)
    logits = [torch.randn(NUM_CLASSES[lv], 40, 40) for lv in LEVELS]
    scores = [F.log_softmax(x, 0) for x in logits]

    def total(preds):
        return sum(s.gather(0, p[None])[0] for s, p in zip(scores, preds))
    greedy, joint = total(greedy_argmax(logits, h)), total(joint_argmax(logits, h))
    assert (joint >= greedy - 1e-5).all() and (joint > greedy + 1e-3).any()


@pytest.mark.parametrize('parents', [TREE, MULTI], ids=['tree', 'dag'])
@pytest.mark.parametrize('decoding', ['greedy', 'joint', 'hssn'])
def test_consistency_scores_are_100_by_construction(parents, decoding):
    """SpCS (both pairs) and SeCS of consistently decoded random logits, against random ground
    truth, through HierarchicalMetric."""
    h = hierarchy(parents)
    meta = dict(levels=LEVELS, level_classes={lv: tuple(f'{lv}{k}' for k in range(n))
                                              for lv, n in NUM_CLASSES.items()},
                level_parents=h.parents, main_level='object')
    metric = HierarchicalMetric(hier_metrics=['mIoU', 'SpCS', 'SeCS'])
    metric.dataset_meta = meta
    g = torch.Generator().manual_seed(2)
    samples = []
    for i in range(4):
        logits = [torch.randn(NUM_CLASSES[lv], 12, 10, generator=g) * 3 for lv in LEVELS]
        preds = decode_levels(logits, decoding, h)
        sample = dict(img_path=f'{i}.png')
        for lv, pred in zip(LEVELS, preds):
            gt = torch.randint(0, NUM_CLASSES[lv], (1, 12, 10), generator=g)
            sample[f'gt_seg_{lv}'] = dict(data=gt)
            sample[f'pred_seg_{lv}'] = dict(data=pred[None])
        samples.append(sample)
    metric.process({}, samples)
    results = metric.compute_metrics(metric.results)
    assert results['SpCS_S2P'] == results['SpCS_P2O'] == results['SeCS'] == 100.0
    free = HierarchicalMetric(hier_metrics=['SeCS'])
    free.dataset_meta = meta
    for s in samples:  # independent decoding of the same logits is not consistent
        for lv in LEVELS:
            s[f'pred_seg_{lv}']['data'] = torch.randint(0, NUM_CLASSES[lv], (1, 12, 10),
                                                        generator=g)
    free.process({}, samples)
    assert free.compute_metrics(free.results)['SeCS'] < 100


def test_child_of_background_is_never_predicted():
    h = hierarchy(dict(TREE, part=(0, 0, 1, 2, 2)), levels=('object', 'part'))
    assert not h.allowed_children('part')[1].any()
    parent = torch.randn(3, 4, 4)
    child = torch.zeros(5, 4, 4)
    child[1] = 10.  # the orphan class wins every free argmax
    for decode in (greedy_argmax, joint_argmax, hssn_argmax):
        _, c = decode([parent, child], h)
        assert (c != 1).all()


@pytest.mark.parametrize('decoding', ['greedy', 'joint', 'hssn'])
def test_chunks_of_any_size_and_no_pixels(decoding):
    g = torch.Generator().manual_seed(3)
    h = hierarchy()
    logits = [torch.randn(NUM_CLASSES[lv], 5, 7, generator=g) for lv in LEVELS]
    whole = decode_levels(logits, decoding, h)
    for chunk_size in (1, 6, 35, 36):  # one pixel, a last partial chunk, exact, one chunk
        for p, q in zip(decode_levels(logits, decoding, h, chunk_size), whole):
            assert torch.equal(p, q)
    empty = decode_levels([x[:, :0] for x in logits], decoding, h)
    assert all(p.shape == (0, 7) and p.dtype == torch.long for p in empty)


def test_unknown_decoding():
    with pytest.raises(ValueError, match="decoding must be one of"):
        decode_levels([torch.zeros(3, 2)], 'best', None)

"""HSSN's tree-min and tree-triplet losses and decoding: hand cases, HSSN's formulas on a tree, the
stated adaptations spelled out pixel by pixel on DAGs, and brute-force chain enumeration."""
import math

import pytest
import torch
import torch.nn.functional as F

from cast.losses import TreeMinLoss, TreeTripletLoss, triplet_factor
from cast.segmentors import hssn_argmax
from cast.structures import ClassHierarchy
from mmseg.registry import MODELS
from tests.helpers.hierarchies import brute_force_chains, chain_scores, dag, random_hierarchy, tree

X = 255


def chain_labels(h, seed, batch=2, size=(4, 5)):
    g = torch.Generator().manual_seed(seed)
    logits = [torch.randn(batch, h.num_classes[lv], *size, generator=g, dtype=torch.float64) * 2
              for lv in h.levels]
    chains = h.chains()
    pick = chains[torch.randint(0, len(chains), (batch, *size), generator=g)]
    return logits, [pick[..., i].clone() for i in range(len(h.levels))]


def ancestors_and_descendants(h):
    """Per (level index, class): the set of (level index, class) of its foreground ancestors
    (through every parent) and of its foreground descendants, by walking the parent lists."""
    levels = h.levels
    anc, desc = {}, {}
    for i, lv in enumerate(levels):
        for k in range(h.num_classes[lv]):
            anc[i, k], desc[i, k] = set(), set()
    for i in range(1, len(levels)):
        for k in range(1, h.num_classes[levels[i]]):
            todo = [(i, k)]
            while todo:
                m, c = todo.pop()
                if m == 0:
                    continue
                for p in h.parents[levels[m]][c]:
                    if p:
                        anc[i, k].add((m - 1, p))
                        desc[m - 1, p].add((i, k))
                        todo.append((m - 1, p))
    return anc, desc


def hssn_tree_reference(h, logits, labels):
    """HSSN's loss as the paper writes it, for a tree with labels on valid chains: per class
    sigmoids; a positive scored by the min over itself and all its ancestors, a negative by the
    max over itself and all its descendants; binary cross-entropy summed over the level's
    classes, / N_l, mean over labelled pixels, summed over levels, times 5."""
    anc, desc = ancestors_and_descendants(h)
    total = 0.
    for i, lv in enumerate(h.levels):
        n = h.num_classes[lv]
        per_pixel = []
        for b in range(labels[0].shape[0]):
            for r in range(labels[0].shape[1]):
                for c in range(labels[0].shape[2]):
                    y = labels[i][b, r, c].item()
                    if y == X:
                        continue
                    sig = {(m, k): torch.sigmoid(logits[m][b, k, r, c])
                           for m in range(len(h.levels))
                           for k in range(h.num_classes[h.levels[m]])}
                    value = 0.
                    for k in range(n):
                        if k == y:  # background's ancestors: the chain's classes above
                            group = {(i, k)} | (anc[i, k] if k else
                                                {(m, labels[m][b, r, c].item())
                                                 for m in range(i)})
                            value = value - torch.log(min(sig[u] for u in group))
                        else:
                            group = {(i, k)} | desc[i, k]
                            value = value - torch.log(1 - max(sig[u] for u in group))
                    per_pixel.append(value / n)
        total = total + torch.stack(per_pixel).mean()
    return 5 * total


def adapted_reference(h, logits, labels):
    """The module docstring's generalisation, pixel by pixel: ancestors of a positive = the
    pixel's labelled classes above it; descendants of a negative = its foreground descendants
    except the pixel's labelled class of their level."""
    _, desc = ancestors_and_descendants(h)
    total = 0.
    for i, lv in enumerate(h.levels):
        n = h.num_classes[lv]
        per_pixel = []
        for b in range(labels[0].shape[0]):
            for r in range(labels[0].shape[1]):
                for c in range(labels[0].shape[2]):
                    ys = [labels[m][b, r, c].item() for m in range(len(h.levels))]
                    if ys[i] == X:
                        continue
                    sig = {(m, k): torch.sigmoid(logits[m][b, k, r, c])
                           for m in range(len(h.levels))
                           for k in range(h.num_classes[h.levels[m]])}
                    value = 0.
                    for k in range(n):
                        if k == ys[i]:
                            group = [(m, ys[m]) for m in range(i + 1) if ys[m] != X]
                            value = value - torch.log(min(sig[u] for u in group))
                        else:
                            group = [(i, k)] + [(m, d) for m, d in desc[i, k] if ys[m] != d]
                            value = value - torch.log(1 - max(sig[u] for u in group))
                    per_pixel.append(value / n)
        if per_pixel:
            total = total + torch.stack(per_pixel).mean()
    return 5 * total


def test_tree_min_equals_hssn_formula_on_a_tree():
    h = tree()
    for seed in range(2):
        logits, labels = chain_labels(h, seed)
        value, misfit = TreeMinLoss()(logits, labels, h)
        torch.testing.assert_close(value, hssn_tree_reference(h, logits, labels))
        assert misfit == 0


@pytest.mark.parametrize('make', [dag, lambda: random_hierarchy((4, 6, 9), 3, max_parents=2)],
                         ids=['dag', 'random-dag'])
def test_tree_min_equals_the_adaptation_on_dags_with_ignored_levels(make):
    h = make()
    logits, labels = chain_labels(h, 1)
    labels[2][0, :2] = X  # subparts unlabelled
    labels[0][1, 0, :3] = X  # objects unlabelled under labelled parts
    for t in labels:
        t[0, 3, 4] = X
    value, _ = TreeMinLoss()(logits, labels, h)
    torch.testing.assert_close(value, adapted_reference(h, logits, labels))


def test_tree_min_hand_case():
    # two levels: object {bg, 1}, part {bg, 1 under 1}; one pixel labelled (1, 1)
    h = ClassHierarchy(('object', 'part'), dict(part=(0, 1)), num_classes=dict(object=2, part=2))
    z_obj, z_part = torch.tensor([-1., 0.5]), torch.tensor([0.2, 2.])
    logits = [z_obj.view(1, 2, 1, 1), z_part.view(1, 2, 1, 1)]
    labels = [torch.ones(1, 1, 1, dtype=torch.long)] * 2
    sp = F.softplus
    obj = (sp(-z_obj[1]) + sp(z_obj[0])) / 2  # bg object: no descendants
    # the part is positive: the min of its and its object's sigmoid; bg part negative alone
    part = (max(sp(-z_part[1]), sp(-z_obj[1])) + sp(z_part[0])) / 2
    value, _ = TreeMinLoss(loss_weight=1.)(logits, labels, h)
    torch.testing.assert_close(value, obj + part)
    # labelled (bg, bg): object 1 is negative with its part as descendant
    labels = [torch.zeros(1, 1, 1, dtype=torch.long)] * 2
    obj = (sp(-z_obj[0]) + max(sp(z_obj[1]), sp(z_part[1]))) / 2
    part = (max(sp(-z_part[0]), sp(-z_obj[0])) + sp(z_part[1])) / 2
    value, _ = TreeMinLoss(loss_weight=1.)(logits, labels, h)
    torch.testing.assert_close(value, obj + part)


def test_tree_min_gradients_registry_and_errors():
    h = dag()
    logits, labels = chain_labels(h, 0)
    logits = [x.float().requires_grad_() for x in logits]
    loss = MODELS.build(dict(type='TreeMinLoss', loss_weight=2.))
    assert loss.loss_name == 'loss_tree_min'
    value, _ = loss(logits, labels, h)
    value.backward()
    assert all(torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0 for x in logits)
    original = [t.clone() for t in labels]
    nothing = [torch.full_like(t, X) for t in labels]
    zero, _ = loss(logits, nothing, h)
    assert zero.item() == 0 and zero.requires_grad
    assert all(torch.equal(a, b) for a, b in zip(labels, original))  # labels not overwritten
    with pytest.raises(ValueError, match='outside 0..4'):
        loss(logits, [labels[0], labels[1] + 9, labels[2]], h)
    with pytest.raises(ValueError, match='do not match'):
        loss([logits[0], logits[2], logits[1]], labels, h)
    # labels fitting no chain are reported, not dropped
    bad = [t.clone() for t in labels]
    bad[0][:] = 1
    bad[1][:] = 4  # part 4 lies under object 2 only
    assert loss(logits, bad, h)[1] == 1


def test_triplet_schedule():
    assert triplet_factor(0, 100) == pytest.approx(0.)
    assert triplet_factor(50, 100) == pytest.approx(0.25)
    assert triplet_factor(100, 100) == triplet_factor(10 ** 6, 100) == 0.5


def test_tree_triplet_hand_case_and_formula():
    # object {bg, 1, 2}; parts 1, 2 under object 1, part 3 under object 2
    h = ClassHierarchy(('object', 'part'), dict(part=(0, 1, 1, 2)),
                       num_classes=dict(object=3, part=4))
    part = torch.tensor([[1, 2, 3, 0, X, 1]])  # (1, 1, 6) pixels
    obj = torch.tensor([[1, 1, 2, 0, X, 1]])
    emb = F.normalize(torch.randn(1, 8, 1, 6, generator=torch.Generator().manual_seed(0)), dim=1)
    loss = TreeTripletLoss(margin=0.6, warmup_iters=10)
    value = loss(emb, [obj[:, None], part[:, None]], h, step=10)
    e = emb[0, :, 0].t()  # (6, D)

    def tl(a, p, n):
        return F.relu((1 - e[a] @ e[p]) - (1 - e[a] @ e[n]) + 0.6)
    # part 1: anchors 0, 5; positive (sibling part 2) pixel 1 only; negative part 3 pixel 2
    # part 2: anchor 1, positives 0, 5 -> first; negative 2; part 3: no sibling -> no triplet
    expected = 0.5 * (tl(0, 1, 2) + tl(1, 0, 2)) / 2
    torch.testing.assert_close(value, expected)
    assert loss(emb, [obj[:, None], part[:, None]], h, step=0).item() == pytest.approx(0.)
    alone = torch.tensor([[[3, 3, 0, X, 0, 3]]])
    zero = loss(emb.requires_grad_(), [alone, alone], h, step=10)
    assert zero.item() == 0 and zero.requires_grad


def test_hssn_decoding_sums_raw_logits_over_chains():
    # hand case: a class's score plus its parent's, as HSSN's predict_by_feat
    h = ClassHierarchy(('object', 'part'), dict(part=(0, 1, 1, 2)),
                       num_classes=dict(object=3, part=4))
    obj = torch.tensor([0., 3., 2.5])[:, None]
    part = torch.tensor([0., -1., -2., 1.])[:, None]
    # chains (1,1)=2, (1,0)=3, (2,3)=3.5 -> object 2, part 3
    assert [p.item() for p in hssn_argmax([obj, part], h)] == [2, 3]
    for h in (tree(), dag(), random_hierarchy((4, 6, 9), 5, max_parents=2)):
        g = torch.Generator().manual_seed(4)
        logits = [torch.randn(h.num_classes[lv], 3, 7, generator=g) for lv in h.levels]
        chains = brute_force_chains(h)
        flat = [x.reshape(x.shape[0], -1) for x in logits]
        best = chains[chain_scores(chains, flat).argmax(0)]  # (P, L)
        preds = hssn_argmax(logits, h)
        for i, p in enumerate(preds):
            assert torch.equal(p.reshape(-1), best[:, i])


def test_triplet_factor_matches_hssn_cosine():
    t = 80000
    for step in (1, 20000, 79999):
        assert triplet_factor(step, t) == pytest.approx(
            1 / 4 * (1 + math.cos((step - t) / t * math.pi)))

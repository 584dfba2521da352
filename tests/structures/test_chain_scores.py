"""Exactness of the chain dynamic programmes against brute-force enumeration of all chains.

The brute force tries every tuple of classes (itertools.product), keeps those the chain rule
(spelled out in tests.helpers.hierarchies.is_valid_chain) allows, and scores each one: the best
chain per pixel (first maximum, i.e. the lexicographically smallest among ties) and the log-sum-exp.
"""
import zlib

import pytest
import torch
import torch.nn.functional as F

from cast.segmentors import joint_argmax
from cast.structures import ClassHierarchy, best_chains, chain_completions, chain_logsumexp
from tests.helpers.hierarchies import brute_force_chains, chain_scores, dag, random_hierarchy, tree

CASES = [
    ('tree', tree),
    ('dag', dag),
    ('two levels', lambda: random_hierarchy((5, 9), 1)),
    ('four levels', lambda: random_hierarchy((3, 5, 8, 6), 2)),
    ('dag 4/7/11', lambda: random_hierarchy((4, 7, 11), 3, max_parents=3)),
    ('dag 6/9/13', lambda: random_hierarchy((6, 9, 13), 4, max_parents=4, orphans=0.2)),
]
SHAPES = [(13, ), (5, 9), (2, 3, 7)]


def brute_force(h, scores):
    """(L, P) best chains and (P,) best scores, (P,) log-sum-exp, by enumeration."""
    chains = brute_force_chains(h)
    flat = [s.reshape(s.shape[0], -1) for s in scores]
    total = chain_scores(chains, flat)  # (K, P)
    best = total.argmax(0)  # first maximum: chains are in lexicographic order
    return chains[best].t(), total.amax(0), torch.logsumexp(total, 0)


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('name, make', CASES, ids=[c[0] for c in CASES])
def test_joint_decoding_equals_brute_force_on_random_logits(name, make, shape):
    h = make()
    g = torch.Generator().manual_seed(zlib.crc32(f'{name}{shape}'.encode()))
    for trial in range(3):
        logits = [3 * torch.randn(h.num_classes[lv], *shape, generator=g, dtype=torch.float64)
                  for lv in h.levels]
        scores = [F.log_softmax(x, 0) for x in logits]
        preds, best = best_chains(h, scores, chunk_size=7)  # several chunks
        expected, expected_best, _ = brute_force(h, scores)
        assert all(p.shape == shape for p in preds)
        got = torch.stack([p.reshape(-1) for p in preds])
        torch.testing.assert_close(best.reshape(-1), expected_best, rtol=0, atol=1e-12)
        assert torch.equal(got, expected), (name, shape, trial)
        # the decoding the segmentor runs (float32 log-softmax) picks the same chains
        decoded = joint_argmax([x.float() for x in logits], h)
        assert torch.equal(torch.stack([p.reshape(-1) for p in decoded]), expected)


@pytest.mark.parametrize('name, make', CASES, ids=[c[0] for c in CASES])
def test_ties_go_to_the_smallest_chain(name, make):
    """Small integer scores: many exact ties, all resolved as the brute force resolves them."""
    h = make()
    g = torch.Generator().manual_seed(7)
    scores = [torch.randint(0, 3, (h.num_classes[lv], 200), generator=g).double()
              for lv in h.levels]
    preds, best = best_chains(h, scores, chunk_size=64)
    expected, expected_best, _ = brute_force(h, scores)
    assert torch.equal(best, expected_best)
    assert torch.equal(torch.stack(preds), expected)
    zeros = [torch.zeros(h.num_classes[lv], 3) for lv in h.levels]
    assert all((p == 0).all() for p in best_chains(h, zeros)[0])  # all tied: background


@pytest.mark.parametrize('name, make', CASES, ids=[c[0] for c in CASES])
def test_logsumexp_and_its_gradient_equal_brute_force(name, make):
    h = make()
    g = torch.Generator().manual_seed(3)
    scores = [(4 * torch.randn(h.num_classes[lv], 11, generator=g, dtype=torch.float64))
              .requires_grad_() for lv in h.levels]
    ours = chain_logsumexp(h, scores)
    chains = brute_force_chains(h)
    reference = torch.logsumexp(chain_scores(chains, scores), 0)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(ours.sum(), scores)
    expected = torch.autograd.grad(reference.sum(), scores)
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_logsumexp_with_excluded_classes_is_finite_and_exact():
    """-inf scores exclude classes (the loss's labelled sums); all excluded gives -inf, and
    gradients stay finite."""
    h = dag()
    g = torch.Generator().manual_seed(0)
    scores = [torch.randn(h.num_classes[lv], 6, generator=g, dtype=torch.float64)
              for lv in h.levels]
    keep = [torch.rand(s.shape, generator=g) < 0.5 for s in scores]
    keep[0][:, 0] = False  # pixel 0: no object class at all
    masked = [s.masked_fill(~k, float('-inf')).requires_grad_() for s, k in zip(scores, keep)]
    ours = chain_logsumexp(h, masked)
    reference = torch.logsumexp(chain_scores(brute_force_chains(h), masked), 0)
    assert ours[0] == float('-inf')
    torch.testing.assert_close(ours, reference)
    finite = torch.isfinite(ours)
    grads = torch.autograd.grad(ours[finite].sum(), masked)
    assert all(torch.isfinite(x).all() for x in grads)


def test_completions_are_per_class_best_continuations():
    h = tree()
    g = torch.Generator().manual_seed(5)
    scores = [torch.randn(h.num_classes[lv], 4, generator=g, dtype=torch.float64)
              for lv in h.levels]
    completions = chain_completions(h, scores, 'max')
    chains = brute_force_chains(h)
    total = chain_scores(chains, scores)
    for level in range(3):
        for k in range(h.num_classes[h.levels[level]]):
            through = chains[:, level] == k
            head = sum(scores[m][chains[through, m]] for m in range(level))
            expected = (total[through] - head).amax(0)
            torch.testing.assert_close(completions[level][k], expected)


def test_spin_sized_dag_in_chunks():
    """SPIN's class counts with object_level='class' (159 / 41 / 204; parts under every class
    of their superclass): equal to brute force over its chains on a few pixels."""
    g = torch.Generator().manual_seed(0)
    superclass = torch.randint(1, 12, (158, ), generator=g)
    part_super = torch.arange(40) % 11 + 1
    parts = [(0, )] + [tuple((torch.nonzero(superclass == s).view(-1) + 1).tolist()) or (0, )
                       for s in part_super.tolist()]
    subparts = [(0, )] + [(int(p), ) for p in torch.randint(1, 41, (203, ), generator=g)]
    h = ClassHierarchy(('object', 'part', 'subpart'), dict(part=parts, subpart=subparts),
                       num_classes=dict(object=159, part=41, subpart=204))
    logits = [torch.randn(n, 300, generator=g) for n in (159, 41, 204)]
    scores = [F.log_softmax(x, 0) for x in logits]
    preds, _ = best_chains(h, scores, chunk_size=100)
    chains = h.chains()
    expected = chains[chain_scores(chains, scores).argmax(0)].t()
    assert torch.equal(torch.stack(preds), expected)


@pytest.mark.parametrize('name, make', CASES, ids=[c[0] for c in CASES])
def test_logsumexp_of_far_apart_scores_in_float32(name, make):
    """Scores spread over hundreds of nats: the groups far below a pixel's largest child
    underflow in the one-product reduction and are recomputed per group, so float32 stays as
    exact as float64 brute force allows (values and gradients), -inf where all is excluded."""
    h = make()
    g = torch.Generator().manual_seed(7)
    scores = [200 * torch.randn(h.num_classes[lv], 40, generator=g) for lv in h.levels]
    scores[-1][:, :5] -= 400 * torch.rand(scores[-1].shape[0], 5, generator=g)
    scores[-1][1:, 5] = float('-inf')  # pixel 5: only background at the finest level
    scores = [s.requires_grad_() for s in scores]
    ours = chain_logsumexp(h, scores)
    wide = [s.detach().double().requires_grad_() for s in scores]
    reference = torch.logsumexp(chain_scores(brute_force_chains(h), wide), 0)
    torch.testing.assert_close(ours, reference.float(), rtol=1e-6, atol=1e-4)
    grads = torch.autograd.grad(ours.sum(), scores)
    expected = torch.autograd.grad(reference.sum(), wide)
    for a, b in zip(grads, expected):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b.float(), rtol=1e-4, atol=1e-5)


def test_one_product_reduction_equals_the_per_group_one():
    """The matrix-product log-sum-exp of the children into groups against the per-group
    shifted sums it replaces, on SPIN-sized random groups with excluded classes."""
    from cast.structures import chain_scores as programme
    h = random_hierarchy((12, 41, 204), 5, max_parents=2)
    g = torch.Generator().manual_seed(1)
    child = 5 * torch.randn(204, 500, generator=g, dtype=torch.float64)
    child[torch.rand(child.shape, generator=g) < 0.3] = float('-inf')
    child[:, :3] = float('-inf')  # pixels with nothing allowed
    edges = h.child_groups('level2')
    fast = programme._logsumexp_by_product(child, edges)
    slow = programme._logsumexp_per_group(child, edges)
    assert torch.equal(torch.isinf(fast), torch.isinf(slow))
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)


def test_logsumexp_under_autocast_keeps_the_scores_precision():
    """Under AMP the loss runs inside autocast: the reduction's matrix products must stay in
    float32 (autocast would run them in bfloat16 / float16)."""
    h = random_hierarchy((12, 41, 204), 6)
    g = torch.Generator().manual_seed(2)
    scores = [3 * torch.randn(h.num_classes[lv], 256, generator=g) for lv in h.levels]
    plain = chain_logsumexp(h, scores)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = chain_logsumexp(h, scores)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, plain, rtol=1e-6, atol=1e-6)

"""ChainLikelihoodLoss against the likelihood computed by enumerating every chain."""

import pytest
import torch

from cast.losses import ChainLikelihoodLoss
from cast.structures import ClassHierarchy
from mmseg.registry import MODELS
from tests.helpers.hierarchies import brute_force_chains, chain_scores, dag, tree

X = 255


def logits_and_labels(h, seed, batch=2, size=(5, 6), consistent=True):
    g = torch.Generator().manual_seed(seed)
    logits = [torch.randn(batch, h.num_classes[lv], *size, generator=g, dtype=torch.float64)
              for lv in h.levels]
    chains = h.chains()
    pick = chains[torch.randint(0, len(chains), (batch, *size), generator=g)]  # (B, H, W, L)
    labels = [pick[..., i].clone() for i in range(len(h.levels))]
    if not consistent:
        labels = [torch.randint(0, h.num_classes[lv], (batch, *size), generator=g)
                  for lv in h.levels]
    return logits, labels


def reference_nll(h, logits, labels):
    """Mean over pixels labelled somewhere of -log P(chains fitting the labels)."""
    chains = brute_force_chains(h)
    flat = [x.transpose(0, 1).reshape(x.shape[1], -1) for x in logits]
    total = chain_scores(chains, flat)  # (K, P)
    log_z = torch.logsumexp(total, 0)
    y = torch.stack([t.reshape(-1) for t in labels])  # (L, P)
    fits = ((chains[:, :, None] == y[None]) | (y[None] == X)).all(1)  # (K, P)
    labelled = (y != X).any(0)
    nll = log_z - torch.logsumexp(total.masked_fill(~fits, float('-inf')), 0)
    return nll[labelled].mean()


@pytest.mark.parametrize('make', [tree, dag], ids=['tree', 'dag'])
def test_equals_enumerated_likelihood(make):
    h = make()
    loss = ChainLikelihoodLoss(loss_weight=1.0)
    for seed in range(3):
        logits, labels = logits_and_labels(h, seed)
        # some pixels unlabelled at the finer levels or everywhere
        labels[2][0, :2] = X
        labels[1][1, 0, :3] = X
        for t in labels:
            t[0, 4, 5] = X
        value, dropped = loss(logits, labels, h)
        torch.testing.assert_close(value, reference_nll(h, logits, labels))
        assert dropped == 0


def test_weight_gradient_and_registry():
    h = dag()
    logits, labels = logits_and_labels(h, 0)
    logits = [x.requires_grad_() for x in logits]
    loss = MODELS.build(dict(type='ChainLikelihoodLoss', loss_weight=0.5))
    value, _ = loss(logits, labels, h)
    torch.testing.assert_close(value, 0.5 * reference_nll(h, logits, labels))
    grads = torch.autograd.grad(value, logits)
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    assert loss.loss_name == 'loss_chain'


def test_labels_fitting_no_chain_drop_their_finest_levels():
    h = tree()
    logits, labels = logits_and_labels(h, 1)
    # pixel (0, 0, 0): object car, part head (an animal part), subpart eye -> only the
    # object fits; pixel (0, 0, 1): animal / head / belly (a body subpart) -> drop the subpart
    labels[0][0, 0, :2] = torch.tensor([2, 1])
    labels[1][0, 0, :2] = torch.tensor([1, 1])
    labels[2][0, 0, :2] = torch.tensor([1, 3])
    value, dropped = ChainLikelihoodLoss()(logits, labels, h)
    fixed = [t.clone() for t in labels]
    fixed[1][0, 0, 0] = fixed[2][0, 0, 0] = X
    fixed[2][0, 0, 1] = X
    torch.testing.assert_close(value, reference_nll(h, logits, fixed))
    torch.testing.assert_close(dropped, torch.tensor(2 / 60))


def test_random_labels_and_unlabelled_batches():
    h = dag()
    logits, labels = logits_and_labels(h, 2, consistent=False)
    value, dropped = ChainLikelihoodLoss()(logits, labels, h)
    assert torch.isfinite(value) and 0 < dropped < 1
    empty = [torch.full_like(t, X) for t in labels]
    logits = [x.requires_grad_() for x in logits]
    value, dropped = ChainLikelihoodLoss()(logits, empty, h)
    assert value == 0 and dropped == 0
    value.backward()  # a zero loss with a graph, as MMEngine sums every loss


def test_every_chain_probability_sums_to_one():
    """exp(-loss) of every chain with all levels labelled sums to 1 at a pixel."""
    h = dag()
    g = torch.Generator().manual_seed(4)
    logits = [torch.randn(1, h.num_classes[lv], 1, 1, generator=g, dtype=torch.float64)
              for lv in h.levels]
    total = 0.
    for chain in h.chains().tolist():
        labels = [torch.tensor([[[c]]]) for c in chain]
        total += torch.exp(-ChainLikelihoodLoss()(logits, labels, h)[0])
    torch.testing.assert_close(total, torch.tensor(1., dtype=torch.float64))


def test_bad_inputs():
    h = tree()
    logits, labels = logits_and_labels(h, 0)
    labels[1][0, 0, 0] = 9
    with pytest.raises(ValueError, match=r'part labels hold values \[9\]'):
        ChainLikelihoodLoss()(logits, labels, h)
    with pytest.raises(ValueError, match='2 logits and 3 label maps'):
        ChainLikelihoodLoss()(logits[:2], labels, h)
    two = ClassHierarchy(('object', 'part'), dict(part=(0, 1, 1, 2, 2)),
                         num_classes=dict(object=3, part=5))
    with pytest.raises(ValueError, match='do not match'):
        ChainLikelihoodLoss()([logits[0], logits[2]], labels[:2], two)


@pytest.mark.parametrize('make', [tree, dag], ids=['tree', 'dag'])
def test_fit_check_equals_enumeration_for_every_label_pattern(make):
    """Whether a pixel's labels fit a valid chain: the pair lookups (labelled from the top
    down) and the programme (other patterns) against trying every enumerated chain."""
    h = make()
    _, labels = logits_and_labels(h, 5, batch=4, size=(9, 10), consistent=False)
    g = torch.Generator().manual_seed(5)
    for t in labels:
        t[torch.rand(t.shape, generator=g) < 0.3] = X  # every ignore pattern occurs
    targets = [t.reshape(-1) for t in labels]
    y = torch.stack(targets)  # (L, P)
    chains = brute_force_chains(h)
    expected = ((chains[:, :, None] == y[None]) | (y[None] == X)).all(1).any(0)
    fits = ChainLikelihoodLoss()._fits(h, targets)
    assert torch.equal(fits, expected)
    assert 0 < fits.sum() < fits.numel()


@pytest.mark.parametrize('make', [tree, dag], ids=['tree', 'dag'])
def test_float32_with_far_apart_logits_equals_float64_enumeration(make):
    """Logits spread over hundreds of nats in float32 (what the per-group recomputation of
    the programme is for), every label pattern: as the float64 enumeration, with gradients."""
    h = make()
    logits, labels = logits_and_labels(h, 6, batch=2, size=(6, 7))
    logits = [(60 * x).float().requires_grad_() for x in logits]
    labels[2][0, :3] = X  # subpart ignored
    labels[1][1, :2] = X  # part ignored under a labelled subpart
    labels[0][0, 4] = X  # object ignored above a labelled part
    labels[0][1, 4, :3] = labels[1][1, 4, :3] = X  # only the subpart labelled
    labels[0][1, 5] = labels[1][1, 5] = labels[2][1, 5] = X  # nothing labelled
    value, _ = ChainLikelihoodLoss()(logits, labels, h)
    wide = [x.detach().double().requires_grad_() for x in logits]
    expected = reference_nll(h, wide, labels)
    torch.testing.assert_close(value, expected.float(), rtol=1e-5, atol=1e-4)
    ours = torch.autograd.grad(value, logits)
    theirs = torch.autograd.grad(expected, wide)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b.float(), rtol=1e-4, atol=1e-6)

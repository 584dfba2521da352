import pytest
import torch

from cast.backbones import GraphPooling, GroupingBlock
from cast.backbones.graph_pool import first_occurrence, repeated_seeds


def make_pool(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('embed_dims', 24)
    kwargs.setdefault('num_clusters', 4)
    return GraphPooling(**kwargs).eval()


def test_shapes_and_seeds():
    pool = make_pool()
    cls_token, x = torch.randn(2, 1, 24), torch.randn(2, 10, 24)
    new_cls, clusters, logits, seeds = pool(cls_token, x, None)
    assert new_cls.shape == (2, 1, 24)
    assert clusters.shape == (2, 4, 24)
    assert logits.shape == (2, 10, 4)
    assert seeds.shape == (2, 4) and seeds.dtype == torch.long
    assert logits.abs().max() <= 5 + 1e-5  # 5 * cosine
    # Each seed is its own cluster's best match (cosine 1).
    own = logits.gather(1, seeds.unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(own, torch.full_like(own, 5.))


def test_padded_tokens_are_never_seeds():
    pool = make_pool(num_clusters=5)
    x = torch.randn(2, 12, 24)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[1, 6:] = True
    x[1, 6:] = 0  # padded tokens are zero vectors
    seeds = pool.sample_seeds(x, mask)
    assert (seeds[1] < 6).all()
    assert len(set(seeds[1].tolist())) == 5


def test_fewer_valid_tokens_than_clusters_does_not_crash():
    pool = make_pool(num_clusters=6)
    x = torch.randn(2, 8, 24)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[1, 3:] = True  # image 1: 3 valid tokens for 6 clusters
    _, clusters, logits, seeds = pool(torch.randn(2, 1, 24), x, mask)
    assert torch.isfinite(clusters).all() and torch.isfinite(logits).all()
    assert (seeds >= 0).all() and (seeds[1] < 3).all()
    assert len(set(seeds[1, :3].tolist())) == 3
    # The missing seeds repeat the first one: duplicate clusters that the
    # argmax never chooses.
    assert (seeds[1, 3:] == seeds[1, 0]).all()
    assert (logits[1].argmax(-1) < 3).all()
    # Fewer tokens than clusters in the whole batch (dgl alone would refuse).
    pool = make_pool(num_clusters=10)
    _, clusters, _, seeds = pool(torch.randn(1, 1, 24), torch.randn(1, 4, 24))
    assert clusters.shape == (1, 10, 24) and (seeds < 4).all()
    # A single valid token: all distances are zero.
    x = torch.randn(1, 4, 24)
    seeds = pool.sample_seeds(x, torch.tensor([[True, False, True, True]]))
    assert (seeds == 1).all()


def test_first_occurrence_and_repeated_seeds():
    seeds = torch.tensor([[4, 0, 7, 1], [2, 5, 2, 2], [3, 3, 3, 3]])
    assert first_occurrence(seeds).tolist() == [[0, 1, 2, 3], [0, 1, 0, 0],
                                                [0, 0, 0, 0]]
    assert repeated_seeds(seeds).tolist() == [
        [False, False, False, False], [False, False, True, True],
        [False, True, True, True]]


def test_repeated_seeds_tie_exactly_whatever_the_product_gives(monkeypatch):
    """A repeated seed's logit column is a bit-exact copy of its first
    occurrence's, even where the product gives the duplicate columns other
    values (vectorised kernels differ in the last bits; here the duplicates'
    inputs are made larger by a factor 1 + 1e-6): the argmax never picks it."""
    import cast.backbones.graph_pool as graph_pool
    pool = make_pool(num_clusters=6)
    x = torch.randn(2, 8, 24)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[1, 3:] = True  # image 1: 3 valid tokens for 6 clusters
    normalize = graph_pool.F.normalize

    def off_by_a_little(t, dim):
        out = normalize(t, dim=dim)
        if out.shape[1] == 6:  # the seeds' nodes (B, K, C)
            out[1, 3:] *= 1 + 1e-6
        return out

    monkeypatch.setattr(graph_pool.F, 'normalize', off_by_a_little)
    _, _, logits, seeds = pool(torch.randn(2, 1, 24), x, mask)
    assert (seeds[1, 3:] == seeds[1, 0]).all()
    for k in range(3, 6):
        assert torch.equal(logits[1, :, k], logits[1, :, 0])
    assert (logits[1].argmax(-1) < 3).all()
    # image 0 has its 6 distinct seeds: nothing is copied
    assert not repeated_seeds(seeds)[0].any()


def test_backends_agree():
    x = torch.randn(2, 30, 24)
    mask = torch.zeros(2, 30, dtype=torch.bool)
    mask[0, 20:] = True
    dgl = make_pool(num_clusters=8, fps_backend='dgl').sample_seeds(x, mask)
    tch = make_pool(num_clusters=8, fps_backend='torch').sample_seeds(x, mask)
    assert torch.equal(dgl, tch)


def test_dropout_only_in_training():
    pool = make_pool()
    cls_token, x = torch.randn(1, 1, 24), torch.randn(1, 10, 24)
    with torch.no_grad():
        a = pool(cls_token, x)[1]
        b = pool(cls_token, x)[1]
        assert torch.equal(a, b)
        pool.train()
        c = pool(cls_token, x)[1]
    assert not torch.allclose(a, c)


def test_grouping_block_centres_tokens():
    torch.manual_seed(0)
    block = GroupingBlock(24)
    out = block(torch.randn(2, 5, 24))
    torch.testing.assert_close(
        out.mean(1), block.bias.detach().expand(2, -1), atol=1e-5, rtol=0)


def test_bad_args():
    with pytest.raises(ValueError, match='num_clusters'):
        GraphPooling(24, 0)
    with pytest.raises(ValueError, match='fps_backend'):
        GraphPooling(24, 4, fps_backend='cuda')
    with pytest.raises(ValueError, match='divisible'):
        GraphPooling(20, 4)  # 12 heads

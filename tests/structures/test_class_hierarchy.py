"""ClassHierarchy: validation with errors naming level and class, relations, chains, meta."""
import re

import pytest
import torch

from cast.structures import ClassHierarchy, pair_names
from tests.helpers.hierarchies import (
    DAG,
    LEVELS,
    NUM_CLASSES,
    TREE,
    brute_force_chains,
    dag,
    random_hierarchy,
    tree,
)

NAMES = dict(object=('background', 'animal', 'car'),
             part=('background', 'head', 'body', 'wheel', 'door'),
             subpart=('background', 'eye', 'belly', 'fur', 'rim', 'orphan', 'handle'))


def test_relation_and_parent_index():
    h = tree()
    rel = h.relation('part')
    assert rel.shape == (5, 3) and rel.dtype == torch.bool
    assert rel.nonzero().tolist() == [[0, 0], [1, 1], [2, 1], [3, 2], [4, 2]]
    assert h.parent_index('subpart').tolist() == list(TREE['subpart'])
    assert h.is_single_parent('part') and not dag().is_single_parent('part')
    assert dag().parent_index('part') is None
    assert dag().relation('part')[2].tolist() == [False, True, True]


def test_allowed_children_matrix():
    allowed = ClassHierarchy(('object', 'part'), dict(part=(0, 1, 1, 2, 2)),
                             num_classes=dict(object=3, part=5)).allowed_children('part')
    expected = torch.tensor([
        [1, 1, 1],  # background: under any parent
        [0, 1, 0],
        [0, 1, 0],
        [0, 0, 1],
        [0, 0, 1],
    ]).bool()
    assert torch.equal(allowed, expected)


def test_orphan_is_allowed_nowhere():
    h = dag()
    assert h.orphans('subpart') == [5] and h.orphans('part') == []
    assert not h.allowed_children('subpart')[5].any()
    assert h.relation('subpart')[5].tolist() == [True, False, False, False, False]
    assert not (h.chains() == 5).any()


@pytest.mark.parametrize('make', [tree, dag])
def test_chains_are_every_valid_tuple_in_order(make):
    h = make()
    chains = h.chains()
    assert torch.equal(chains, brute_force_chains(h))
    assert chains[0].tolist() == [0, 0, 0]
    mask = h.chain_mask(extra=1)
    assert mask.shape == (4, 6, 8)
    fg = chains[(chains > 0).all(1)]
    assert int(mask.sum()) == len(fg) and mask[tuple(fg.t())].all()


@pytest.mark.parametrize('seed', range(4))
def test_random_dags_chains_and_groups(seed):
    h = random_hierarchy((4, 6, 9), seed, max_parents=3)
    assert torch.equal(h.chains(), brute_force_chains(h))
    for child in h.levels[1:]:
        edge_child, edge_group, parent_group = h.child_groups(child)
        num_groups = int(parent_group[0])
        assert parent_group.numel() == h.num_classes[h.parent_level(child)]
        for k in range(1, parent_group.numel()):
            members = set(edge_child[edge_group == parent_group[k]].tolist())
            assert members == {j for j in range(1, h.num_classes[child])
                               if k in h.parents[child][j]}
        assert edge_group.max() < num_groups if edge_group.numel() else num_groups == 0


def test_restrict_composes_through_skipped_levels():
    h = dag().restrict(('object', 'subpart'))
    assert h.levels == ('object', 'subpart')
    # eye -> head -> animal; fur -> body|wheel -> animal|car; orphan stays an orphan
    assert h.parents['subpart'] == ((0, ), (1, ), (1, 2), (1, 2), (2, ), (0, ), (2, ))
    assert torch.equal(dag().relation('subpart', 'object'), h.relation('subpart'))
    with pytest.raises(ValueError, match='subsequence'):
        dag().restrict(('part', 'object'))


@pytest.mark.parametrize('levels', [('part', 'object'), ('object', 'object'), ('object', 'leg')])
def test_one_subsequence_check_names_both_level_lists(levels):
    assert ClassHierarchy.subsequence_index(('object', 'subpart'), LEVELS) == [0, 2]
    message = re.escape(f'levels {levels} are not a coarse -> fine subsequence of ')
    with pytest.raises(ValueError, match=message + re.escape(f"the hierarchy's levels = {LEVELS}")):
        dag().restrict(levels)
    with pytest.raises(ValueError, match=message + re.escape(f"dataset_meta['levels'] = {LEVELS}")):
        ClassHierarchy.from_meta(dict(levels=LEVELS, hierarchy=TREE), levels=levels,
                                 num_classes=NUM_CLASSES)


def test_names_meta_round_trip_and_name_mapping():
    by_name = {'eye': 'head', 'belly': 'body', 'fur': ['body', 'wheel'], 'rim': 'door',
               'orphan': 'background', 'handle': 'door'}
    h = ClassHierarchy(LEVELS, dict(part=TREE['part'], subpart=by_name), classes=NAMES)
    meta = h.to_meta()
    assert meta['levels'] == LEVELS and meta['level_classes'] == NAMES
    assert meta['hierarchy'] == dict(part=TREE['part'])  # subpart has a two-parent class
    assert meta['level_parents']['subpart'][3] == (2, 3)
    again = ClassHierarchy.from_meta(meta)
    assert again.parents == h.parents
    assert ClassHierarchy.from_meta(meta, levels=('object', 'subpart')).parents == \
        h.restrict(('object', 'subpart')).parents
    # the single-parent table alone, and the model's class counts checked against the names
    only = dict(levels=LEVELS, hierarchy=dict(TREE))
    assert ClassHierarchy.from_meta(only, num_classes=NUM_CLASSES).parents == tree().parents
    with pytest.raises(ValueError, match="'part' has 5 class names but 6"):
        ClassHierarchy.from_meta(meta, num_classes=dict(part=6))
    with pytest.raises(ValueError, match='child classes missing'):
        ClassHierarchy(LEVELS, dict(part=TREE['part'], subpart={'eye': 'head'}), classes=NAMES)


def test_meta_tables_must_agree():
    meta = dict(levels=LEVELS, level_classes=NAMES, hierarchy=dict(TREE),
                level_parents=dict(part=DAG['part'], subpart=TREE['subpart']))
    with pytest.raises(ValueError, match=r"\['hierarchy'\]\['part'\] and .* disagree"):
        ClassHierarchy.from_meta(meta)
    assert ClassHierarchy.from_meta(meta, overrides=dict(part=TREE['part'])).parents == \
        tree().parents
    with pytest.raises(KeyError, match='no parents of the subpart classes'):
        ClassHierarchy.from_meta(dict(levels=LEVELS, level_classes=NAMES,
                                      hierarchy=dict(part=TREE['part'])))


@pytest.mark.parametrize('hierarchy, match', [
    (dict(part=TREE['part']), "no entry for level 'subpart'"),
    (dict(TREE, part=(0, 1, 1)), '3 entries'),
    (dict(TREE, part=(0, 1, 1, 3, 2)), 'bad'),
    (dict(TREE, part=(1, 1, 1, 2, 2)), r'background.*\(0, 1\)'),
    (dict(TREE, part=(0, 1, 1, -1, 2)), r'\(3, -1\)'),
    (dict(TREE, part=((0, ), (1, ), (0, 1), (2, ), (2, ))), "part class 2 has the parents"),
    (dict(TREE, part=((0, ), (1, ), (), (2, ), (2, ))), 'part class 2 has no parent'),
])
def test_check_hierarchy_errors(hierarchy, match):
    with pytest.raises((KeyError, ValueError), match=match):
        ClassHierarchy(LEVELS, hierarchy, num_classes=NUM_CLASSES)


def test_errors_name_classes_when_names_are_known():
    bad = dict(TREE, part=((0, ), (1, ), (0, 1), (2, ), (2, )))
    with pytest.raises(ValueError, match="part class 'body' has the parents"):
        ClassHierarchy(LEVELS, bad, classes=NAMES)


def test_pair_names():
    assert pair_names(LEVELS) == [('S2P', 'subpart', 'part'), ('P2O', 'part', 'object')]
    assert pair_names(('scene', 'segment')) == [('segment2scene', 'segment', 'scene')]
    assert tree().pair_names() == pair_names(LEVELS)

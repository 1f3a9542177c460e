import numpy as np
import pandas as pd
import pytest

from genotx.errors import InputError
from genotx.evaluate.splits import ColdSplit, LeaveOneGroupOutSplit, PredefinedSplit, RandomSplit, ScaffoldSplit

GROUPS = pd.DataFrame({"drug": np.repeat([f"d{i}" for i in range(10)], 7), "cell": np.tile([f"c{i}" for i in range(7)], 10)})


@pytest.mark.parametrize("splitter", [ColdSplit("drug"), ColdSplit("drug", n_folds=5), ColdSplit("cell", n_folds=3), LeaveOneGroupOutSplit("drug")])
def test_cold_splits_share_no_entity_and_are_disjoint(splitter):
    column = splitter.group
    folds = splitter.split(GROUPS, random_state=0)
    for fold in folds:
        assert not set(fold.train) & set(fold.test)
        assert not set(GROUPS[column].iloc[fold.train]) & set(GROUPS[column].iloc[fold.test])
        assert len(fold.train) + len(fold.test) == len(GROUPS)


def test_k_fold_cold_split_tests_every_row_once():
    folds = ColdSplit("drug", n_folds=5).split(GROUPS, random_state=1)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(GROUPS)))


@pytest.mark.parametrize("splitter", [RandomSplit(0.2), RandomSplit(0.2, group="drug"), ColdSplit("cell", n_folds=3)])
def test_splits_reproduce_with_a_seed_and_change_with_another(splitter):
    a = splitter.split(GROUPS, random_state=3)
    b = splitter.split(GROUPS, random_state=3)
    c = splitter.split(GROUPS, random_state=4)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b))
    assert any(not np.array_equal(x.test, y.test) for x, y in zip(a, c))


def test_more_folds_than_groups_is_refused_clearly():
    with pytest.raises(InputError, match="only 10 distinct drug"):
        ColdSplit("drug", n_folds=11).split(GROUPS, random_state=0)


def test_missing_group_column_names_the_valid_ones():
    with pytest.raises(InputError, match="gene"):
        ColdSplit("gene").split(GROUPS, random_state=0)


def test_scaffold_split_keeps_scaffolds_together():
    smiles = ["c1ccccc1C", "c1ccccc1CC", "C1CCNCC1C", "C1CCNCC1CC", "CCO", "CCCO", "c1ccncc1", "c1ccncc1C"] * 3
    groups = pd.DataFrame({"smiles": smiles})
    (fold,) = ScaffoldSplit(test_size=0.3).split(groups, random_state=0)
    from genotx.evaluate.splits import murcko_scaffolds

    scaffolds = murcko_scaffolds(groups["smiles"])
    assert not set(scaffolds[fold.train]) & set(scaffolds[fold.test])


def test_predefined_split_uses_the_shipped_labels():
    groups = pd.DataFrame({"set": ["training", "validation", "test", "test"]})
    (fold,) = PredefinedSplit().split(groups, random_state=0)
    assert fold.train.tolist() == [0, 1] and fold.test.tolist() == [2, 3]

"""Cold-drug split for rows that hold two drugs: no test row's new drug is ever seen in training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["ColdDrugSplit"]


@dataclass(frozen=True)
class ColdDrugSplit:
    """The drugs are shuffled into ``n_folds`` groups (seeded). Fold ``i`` trains on the rows whose two
    drugs are both outside group ``i`` and tests the rows whose *first-numbered* group is ``i`` (one
    or both drugs of group ``i``, the other from group ``i`` or later): every row is tested exactly
    once, by a model that never saw its group-``i`` drug(s).

    Examples
    --------
    >>> groups = pd.DataFrame({"drug_a": list("aabbcde"), "drug_b": list("bcdeeea")})
    >>> folds = ColdDrugSplit(n_folds=3).split(groups, random_state=0)
    >>> sorted(np.concatenate([f.test for f in folds]).tolist())
    [0, 1, 2, 3, 4, 5, 6]
    """

    n_folds: int = 5
    columns: tuple[str, str] = ("drug_a", "drug_b")

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        missing = [c for c in self.columns if c not in groups]
        if missing:
            raise InputError("ColdDrugSplit", f"needs the group columns {missing}", fix=f"the dataset has {sorted(groups.columns)}")
        a, b = (groups[c].astype(str).to_numpy() for c in self.columns)
        drugs = np.unique(np.r_[a, b])
        if self.n_folds > len(drugs):
            raise InputError("ColdDrugSplit", f"asks for {self.n_folds} folds but there are only {len(drugs)} drugs",
                             fix=f"use n_folds <= {len(drugs)}")
        order = np.random.default_rng(random_state).permutation(len(drugs))
        group = pd.Series(np.arange(len(drugs))[np.argsort(order)] % self.n_folds, index=drugs)
        ga, gb = group[a].to_numpy(), group[b].to_numpy()
        first = np.minimum(ga, gb)
        folds = []
        for i in range(self.n_folds):
            train = np.flatnonzero((ga != i) & (gb != i))
            test = np.flatnonzero(first == i)
            folds.append(Fold(train, test, f"cold_drug_fold{i}"))
        return folds

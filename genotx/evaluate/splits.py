"""Splitters: seeded, returning index arrays; cold and group splits never let an entity cross.

Every splitter takes the dataset's ``groups`` table (one row per example) and a ``random_state``, and
returns a list of :class:`Fold` (several for cross-validation-style splits, one for a hold-out). The
index arrays are positions into the dataset, sorted, disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, LeaveOneGroupOut

from genotx.errors import InputError

__all__ = [
    "Fold",
    "RandomSplit",
    "ColdSplit",
    "LeaveOneGroupOutSplit",
    "ScaffoldSplit",
    "PredefinedSplit",
    "murcko_scaffolds",
]


@dataclass(frozen=True)
class Fold:
    """Train and test positions of one fold; ``name`` says what was held out."""

    train: np.ndarray
    test: np.ndarray
    name: str = "holdout"


def _column(groups: pd.DataFrame, column: str, splitter: str) -> np.ndarray:
    if column not in groups:
        raise InputError(
            splitter, f"needs the group column {column!r}", fix=f"the dataset has {sorted(groups.columns)}"
        )
    values = groups[column].to_numpy()
    if pd.isna(values).any():
        raise InputError(splitter, f"group column {column!r} has missing values", fix="drop or fill those rows")
    return values


def _codes(values: np.ndarray) -> np.ndarray:
    return pd.factorize(values, sort=True)[0]


@dataclass(frozen=True)
class RandomSplit:
    """Random hold-out of ``test_size``; with ``group``, rows sharing a value stay on one side.

    Examples
    --------
    >>> groups = pd.DataFrame({"seq": list("aabbccddee")})
    >>> fold, = RandomSplit(test_size=0.2, group="seq").split(groups, random_state=0)
    >>> len(set(groups.seq[fold.train]) & set(groups.seq[fold.test]))
    0
    """

    test_size: float = 0.2
    group: str | None = None

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        n = len(groups)
        labels = _codes(_column(groups, self.group, "RandomSplit")) if self.group else np.arange(n)
        splitter = GroupShuffleSplit(n_splits=1, test_size=self.test_size, random_state=random_state)
        train, test = next(splitter.split(np.zeros(n), groups=labels))
        return [Fold(np.sort(train), np.sort(test), "random")]


@dataclass(frozen=True)
class ColdSplit:
    """Hold out whole entities (drug, cell line, gene...): none appears in both train and test.

    With ``n_folds`` it is a shuffled group K-fold (every entity tested once); otherwise one hold-out.

    Examples
    --------
    >>> groups = pd.DataFrame({"drug": np.repeat(list("abcdefghij"), 3)})
    >>> folds = ColdSplit("drug", n_folds=5).split(groups, random_state=0)
    >>> len(folds), sum(len(f.test) for f in folds)
    (5, 30)
    """

    group: str
    test_size: float = 0.2
    n_folds: int | None = None

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        labels = _codes(_column(groups, self.group, f"ColdSplit({self.group!r})"))
        n_groups = labels.max() + 1
        if self.n_folds is None:
            return [
                Fold(f.train, f.test, f"cold_{self.group}")
                for f in RandomSplit(self.test_size, "_g").split(pd.DataFrame({"_g": labels}), random_state=random_state)
            ]
        if self.n_folds > n_groups:
            raise InputError(
                f"ColdSplit({self.group!r})",
                f"asks for {self.n_folds} folds but there are only {n_groups} distinct {self.group} values",
                fix=f"use n_folds <= {n_groups}",
            )
        kfold = GroupKFold(n_splits=self.n_folds, shuffle=True, random_state=random_state)
        return [
            Fold(np.sort(tr), np.sort(te), f"cold_{self.group}_fold{i}")
            for i, (tr, te) in enumerate(kfold.split(labels, groups=labels))
        ]


@dataclass(frozen=True)
class LeaveOneGroupOutSplit:
    """One fold per entity: train on all others, test on it (e.g. leave-one-gene-out)."""

    group: str

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        values = _column(groups, self.group, f"LeaveOneGroupOutSplit({self.group!r})")
        labels = _codes(values)
        names = np.unique(values)
        return [
            Fold(np.sort(tr), np.sort(te), str(names[labels[te[0]]]))
            for tr, te in LeaveOneGroupOut().split(labels, groups=labels)
        ]


def murcko_scaffolds(smiles: pd.Series) -> np.ndarray:
    """Bemis-Murcko scaffold SMILES per molecule (RDKit); unparsable SMILES keep their own string."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem.Scaffolds import MurckoScaffold

    RDLogger.DisableLog("rdApp.*")
    unique = pd.unique(smiles)
    scaffold = {}
    for s in unique:  # one RDKit call per distinct molecule, not per row
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) else None
        scaffold[s] = MurckoScaffold.MurckoScaffoldSmiles(mol=mol) if mol is not None else str(s)
    return smiles.map(scaffold).to_numpy()


@dataclass(frozen=True)
class ScaffoldSplit:
    """Molecules grouped by Bemis-Murcko scaffold; whole scaffolds are held out (seeded)."""

    smiles: str = "smiles"
    test_size: float = 0.2

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        scaffolds = murcko_scaffolds(groups[self.smiles] if self.smiles in groups else pd.Series(_column(groups, self.smiles, "ScaffoldSplit")))
        (fold,) = RandomSplit(self.test_size, "_s").split(pd.DataFrame({"_s": scaffolds}), random_state=random_state)
        return [Fold(fold.train, fold.test, "scaffold")]


@dataclass(frozen=True)
class PredefinedSplit:
    """The split shipped with the data (e.g. a ``set`` column of training/validation/test)."""

    column: str = "set"
    train: tuple[str, ...] = ("training", "validation")
    test: tuple[str, ...] = ("test",)
    _name: str = field(default="predefined")

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002
        values = _column(groups, self.column, "PredefinedSplit")
        train = np.flatnonzero(np.isin(values, self.train))
        test = np.flatnonzero(np.isin(values, self.test))
        if len(train) == 0 or len(test) == 0:
            raise InputError(
                "PredefinedSplit", f"column {self.column!r} has no {self.train} or no {self.test} rows",
                fix=f"values present: {sorted(set(values))}",
            )
        return [Fold(train, test, self._name)]

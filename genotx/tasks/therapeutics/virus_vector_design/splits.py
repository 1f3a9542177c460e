"""The FLIP-style split: learn from variants with few mutations, predict and design beyond them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["MutationCountSplit"]


@dataclass(frozen=True)
class MutationCountSplit:
    """Train on the variants with at most ``max_train`` mutations, test on all with more (FLIP's
    ``two_vs_many`` for ``max_train=2``); deterministic, one fold.

    Examples
    --------
    >>> fold, = MutationCountSplit(2).split(pd.DataFrame({"n_mutations": [0, 1, 2, 3, 5]}), random_state=0)
    >>> fold.train.tolist(), fold.test.tolist(), fold.name
    ([0, 1, 2], [3, 4], 'le2_vs_more')
    """

    max_train: int = 2
    column: str = "n_mutations"

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        if self.column not in groups:
            raise InputError("few_to_more split", f"needs the group column {self.column!r}",
                             fix=f"the dataset has {sorted(groups.columns)}")
        counts = groups[self.column].to_numpy()
        train, test = np.flatnonzero(counts <= self.max_train), np.flatnonzero(counts > self.max_train)
        if len(train) == 0 or len(test) == 0:
            seen = sorted(int(c) for c in np.unique(counts))
            raise InputError("few_to_more split", f"needs variants with at most {self.max_train} and with more than "
                             f"{self.max_train} mutations; this dataset has only {seen}",
                             fix="use the random split (single or double mutants only cannot be split by count)")
        return [Fold(train, test, f"le{self.max_train}_vs_more")]

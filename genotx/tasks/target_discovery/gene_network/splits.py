"""Which samples a network method sees: all of them, or seeded subsamples (for stability).

A network task holds out no rows: the reference network is what the scores are compared with. A
fold's ``train`` is the samples the method fits on; ``test`` is the rest (empty for all samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["AllSamples", "Subsamples"]


@dataclass(frozen=True)
class AllSamples:
    """One fold: the method sees every sample.

    Examples
    --------
    >>> fold, = AllSamples().split(pd.DataFrame({"cell": range(4)}), random_state=0)
    >>> fold.train.tolist(), fold.test.tolist(), fold.name
    ([0, 1, 2, 3], [], 'all_cells')
    """

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        return [Fold(np.arange(len(groups)), np.arange(0), "all_cells")]


@dataclass(frozen=True)
class Subsamples:
    """``n_subsamples`` seeded draws of ``fraction`` of the samples, without replacement.

    Examples
    --------
    >>> folds = Subsamples(3, 0.5).split(pd.DataFrame({"cell": range(10)}), random_state=0)
    >>> [len(f.train) for f in folds], [f.name for f in folds]
    ([5, 5, 5], ['subsample0', 'subsample1', 'subsample2'])
    """

    n_subsamples: int = 5
    fraction: float = 0.5

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        n = len(groups)
        size = int(round(self.fraction * n))
        if not 0 < self.fraction < 1 or size < 3:
            raise InputError("Subsamples", f"a {self.fraction} subsample of {n} samples has {size} samples",
                             fix="use a fraction in (0, 1) that leaves at least 3 samples")
        rng = np.random.default_rng(random_state)
        folds = []
        for k in range(self.n_subsamples):
            chosen = np.zeros(n, dtype=bool)
            chosen[rng.choice(n, size=size, replace=False)] = True
            folds.append(Fold(np.flatnonzero(chosen), np.flatnonzero(~chosen), f"subsample{k}"))
        return folds

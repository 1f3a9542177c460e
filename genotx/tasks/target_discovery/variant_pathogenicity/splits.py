"""variant_pathogenicity's own split: train on one mutation order, test on another (singles -> doubles)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["MutationOrderSplit"]


@dataclass(frozen=True)
class MutationOrderSplit:
    """Train on variants with ``train`` mutations, test on those with ``test`` (e.g. singles -> doubles).

    Examples
    --------
    >>> (fold,) = MutationOrderSplit().split(pd.DataFrame({"n_mutations": [1, 2, 1, 2, 2]}), random_state=0)
    >>> fold.train.tolist(), fold.test.tolist(), fold.name
    ([0, 2], [1, 3, 4], '1_to_2_mutations')
    """

    train: int = 1
    test: int = 2

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        order = groups["n_mutations"].to_numpy()
        train, test = np.flatnonzero(order == self.train), np.flatnonzero(order == self.test)
        if len(train) == 0 or len(test) == 0:
            present = sorted(int(v) for v in np.unique(order))
            raise InputError(
                "split singles_to_doubles", f"needs variants with {self.train} and with {self.test} mutations; "
                f"this scan has only {present} (e.g. GB1 ships double mutants only)", fix="use split 'random' or 'predefined'",
            )
        return [Fold(train, test, f"{self.train}_to_{self.test}_mutations")]

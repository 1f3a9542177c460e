"""The transfer split: every mouse row trains; held-out human rows test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["TransferSplit"]


class TransferSplit:
    """Train on all mouse rows + ``n_shot`` simulated human rows (labels used by the few-shot model only).

    ``test="simulated"``: the other simulated human rows, ``n_folds`` times with different shots (the
    test rows of different folds overlap); ``test="real"``: the real human rows (one fold).

    Examples
    --------
    >>> groups = pd.DataFrame({"species": ["mouse"] * 4 + ["human"] * 6, "kind": "simulated"})
    >>> fold, = TransferSplit(n_shot=2, n_folds=1).split(groups, random_state=0)
    >>> fold.train[:4].tolist(), len(fold.train), len(fold.test)
    ([0, 1, 2, 3], 6, 4)
    """

    def __init__(self, *, test: str = "simulated", n_shot: int = 10, n_folds: int = 5) -> None:
        self.test = test
        self.n_shot = n_shot
        self.n_folds = n_folds

    def split(self, groups: pd.DataFrame, *, random_state: int = 0) -> list[Fold]:
        for column in ("species", "kind"):
            if column not in groups:
                raise InputError("TransferSplit", f"needs the group column {column!r}", fix=f"the dataset has {sorted(groups.columns)}")
        species, kind = groups["species"].to_numpy(), groups["kind"].to_numpy()
        mouse = np.flatnonzero(species == "mouse")
        human = np.flatnonzero((species == "human") & (kind == "simulated"))
        real = np.flatnonzero((species == "human") & (kind == "real"))
        if len(human) < self.n_shot + 3 or len(mouse) < 3:
            raise InputError("TransferSplit", f"needs >= 3 mouse and >= {self.n_shot + 3} simulated human rows",
                             fix="use more samples")
        if self.test == "real" and len(real) < 3:
            raise InputError("TransferSplit", "needs >= 3 real human rows", fix="use the default dataset")
        rng = np.random.default_rng(random_state)
        folds = []
        for k in range(1 if self.test == "real" else self.n_folds):
            order = rng.permutation(human)
            shots, rest = np.sort(order[: self.n_shot]), np.sort(order[self.n_shot:])
            test = real if self.test == "real" else rest
            folds.append(Fold(np.concatenate([mouse, shots]), test, name=f"{self.test}_{k}"))
        return folds

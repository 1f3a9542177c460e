"""The ``held_out_cells`` split: train on mixtures of one partition's reference cells, test on the
mixtures of its held-out cells (the two halves never share a cell)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["CellPartitionSplit"]


@dataclass(frozen=True)
class CellPartitionSplit:
    """One fold per seed: partition ``random_state % n_partitions`` of the ``partition`` column;
    train = its rows whose ``side`` is ``"reference"``, test = its rows whose side is ``"held_out"``.

    Examples
    --------
    >>> groups = pd.DataFrame({"partition": [0, 0, 0, 1, 1, 1],
    ...                        "side": ["reference", "reference", "held_out"] * 2})
    >>> fold, = CellPartitionSplit().split(groups, random_state=1)
    >>> fold.train.tolist(), fold.test.tolist(), fold.name
    ([3, 4], [5], 'cells_1')
    """

    partition: str = "partition"
    side: str = "side"

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        for column in (self.partition, self.side):
            if column not in groups:
                raise InputError("CellPartitionSplit", f"needs the group column {column!r}", fix=f"the dataset has {sorted(groups.columns)}")
        partitions = np.sort(pd.unique(groups[self.partition]))
        chosen = partitions[random_state % len(partitions)]
        mine = (groups[self.partition] == chosen).to_numpy()
        side = groups[self.side].to_numpy()
        train, test = np.flatnonzero(mine & (side == "reference")), np.flatnonzero(mine & (side == "held_out"))
        if not len(train) or not len(test):
            raise InputError("CellPartitionSplit", f"partition {chosen!r} lacks reference or held-out mixtures",
                             fix="give every partition both sides")
        return [Fold(train, test, f"cells_{chosen}")]

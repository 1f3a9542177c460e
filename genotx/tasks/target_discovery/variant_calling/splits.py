"""The ``held_out_region`` split: train on the start of the genome, test on its end, every sample.

Positions (0-based) below ``TRAIN_END`` are the training region, from ``TEST_START`` the test region;
the 500-bp buffer between them keeps reads of one region from covering the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.evaluate.splits import Fold

__all__ = ["TRAIN_END", "TEST_START", "region_of", "HeldOutRegion"]

TRAIN_END, TEST_START = 36_000, 36_500


def region_of(pos: np.ndarray) -> np.ndarray:
    """``"train"``, ``"buffer"`` or ``"test"`` for each 0-based position.

    >>> region_of(np.array([0, 36_200, 40_000])).tolist()
    ['train', 'buffer', 'test']
    """
    pos = np.asarray(pos)
    return np.where(pos < TRAIN_END, "train", np.where(pos >= TEST_START, "test", "buffer"))


@dataclass(frozen=True)
class HeldOutRegion:
    """Train on candidates of the training region, test on those of the test region (every sample)."""

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        region = groups["region"].to_numpy()
        return [Fold(np.flatnonzero(region == "train"), np.flatnonzero(region == "test"), "held_out_region")]

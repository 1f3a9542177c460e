"""Spot-level cross-validation: whole spatial blocks held out (the honest estimate), or random spots
(neighbours of a test spot train the model: the optimistic one, shown beside it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.model_selection import KFold

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["SpatialBlocks", "RandomSpots", "spatial_blocks"]


def _coordinates(groups: pd.DataFrame, columns: tuple[str, str], splitter: str, n_folds: int) -> np.ndarray:
    missing = [c for c in columns if c not in groups]
    if missing:
        raise InputError(splitter, f"needs the group columns {list(columns)}", fix=f"the dataset has {sorted(groups.columns)}")
    xy = groups[list(columns)].to_numpy(np.float64)
    if not np.isfinite(xy).all():
        raise InputError(splitter, "spot coordinates have missing or infinite values", fix="drop or fix those spots")
    if len(np.unique(xy, axis=0)) < n_folds:
        raise InputError(splitter, f"asks for {n_folds} folds but there are only {len(np.unique(xy, axis=0))} distinct spot positions",
                         fix=f"use at most {len(np.unique(xy, axis=0))} folds")
    return xy


def spatial_blocks(xy: np.ndarray, n_blocks: int, *, random_state: int) -> np.ndarray:
    """A block label per spot: k-means (seeded) on the spot coordinates, so each block is one compact
    patch of tissue.

    Examples
    --------
    >>> xy = np.array([[0, 0], [1, 0], [0, 1], [10, 10], [11, 10], [10, 11]], dtype=float)
    >>> labels = spatial_blocks(xy, 2, random_state=0)
    >>> len(set(labels[:3])), len(set(labels[3:])), bool(labels[0] != labels[3])
    (1, 1, True)
    """
    return KMeans(n_clusters=n_blocks, n_init=10, random_state=random_state).fit_predict(xy)


@dataclass(frozen=True)
class SpatialBlocks:
    """``n_folds`` folds, each holding out one k-means block of spots (seeded by ``random_state``):
    every spot is tested once, and no test spot is in its fold's training set.

    Examples
    --------
    >>> g = pd.DataFrame({"x": np.repeat(np.arange(6.0), 4), "y": np.tile(np.arange(4.0), 6)})
    >>> folds = SpatialBlocks(n_folds=3).split(g, random_state=0)
    >>> sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(24)), folds[0].name
    (True, 'block0')
    """

    n_folds: int = 5
    columns: tuple[str, str] = ("x", "y")

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        xy = _coordinates(groups, self.columns, "SpatialBlocks", self.n_folds)
        labels = spatial_blocks(xy, self.n_folds, random_state=random_state)
        order = np.argsort([xy[labels == k].mean(axis=0) @ (1.0, 1e-3) for k in range(self.n_folds)])  # blocks left to right
        return [Fold(np.flatnonzero(labels != k), np.flatnonzero(labels == k), f"block{i}") for i, k in enumerate(order)]


@dataclass(frozen=True)
class RandomSpots:
    """Shuffled ``n_folds``-fold cross-validation over spots (seeded)."""

    n_folds: int = 5
    columns: tuple[str, str] = ("x", "y")

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        _coordinates(groups, self.columns, "RandomSpots", self.n_folds)
        kfold = KFold(n_splits=self.n_folds, shuffle=True, random_state=random_state)
        return [Fold(np.sort(tr), np.sort(te), f"spots{i}") for i, (tr, te) in enumerate(kfold.split(np.zeros(len(groups))))]

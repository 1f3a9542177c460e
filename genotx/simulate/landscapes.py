"""Fitness landscapes with a known truth: a global-epistasis sigmoid over measured single-mutation effects.

No multi-mutant measurement of a vector (or spike) ships offline, so design tasks score designs by a
landscape built from real parts: each mutation's measured single-mutant effect, combined on a latent
additive scale and squashed between a floor and a ceiling, as in the Bloom lab's own global-epistasis
models (Otwinowski, McCandlish & Plotkin 2018). Seeded; returns arrays, writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, logit

__all__ = ["GlobalEpistasis", "global_epistasis_library"]


class GlobalEpistasis:
    """Noise-free fitness of a variant: ``g(sum of latent effects)``, ``g`` a sigmoid from ``low`` to
    ``high`` with ``g(0) = 0`` (the wild type), each mutation's latent effect chosen so that the
    single mutant's fitness is its measured effect.

    Examples
    --------
    >>> land = GlobalEpistasis({"A1C": -1.0, "K2R": 0.5}, low=-4.0, high=2.0)
    >>> np.round(land(pd.DataFrame({"mutations": ["", "A1C", "A1C K2R"]})), 3).tolist()
    [0.0, -1.0, -0.4]
    """

    def __init__(self, effects: dict[str, float], *, low: float, high: float) -> None:
        self.low, self.high = float(low), float(high)
        self.offset = float(logit(-self.low / (self.high - self.low)))
        self.latent = {t: self._to_latent(e) for t, e in effects.items()}

    def _to_latent(self, observed: float) -> float:
        return float(logit((observed - self.low) / (self.high - self.low)) - self.offset)

    def fitness(self, mutations) -> np.ndarray:
        """Noise-free fitness of each mutation list (NaN when a mutation has no measured effect)."""
        latent = np.array([sum(self.latent.get(t, np.nan) for t in str(m).split()) for m in mutations], dtype=float)
        return self.low + (self.high - self.low) * expit(latent + self.offset)

    def __call__(self, designs: pd.DataFrame) -> np.ndarray:
        return self.fitness(designs["mutations"].fillna("").astype(str).tolist())


def global_epistasis_library(effects: dict[str, float], genotypes: Sequence[str], *, noise: float, margin: float = 0.25,
                             random_state: int = 0) -> tuple[GlobalEpistasis, np.ndarray, np.ndarray]:
    """``(landscape, true fitness, measured fitness)`` of real genotypes (space-separated mutation tokens,
    each with a measured effect): the sigmoid's floor and ceiling sit ``margin`` beyond the most extreme
    single effects; measured = truth + Gaussian noise of sd ``noise`` (seeded).

    Examples
    --------
    >>> land, truth, measured = global_epistasis_library({"A1C": -1.0, "K2R": 0.5}, ["A1C", "A1C K2R"], noise=0.1)
    >>> np.round(truth, 3).tolist(), measured.shape
    ([-1.0, -0.5], (2,))
    """
    values = np.array(list(effects.values()), dtype=float)
    land = GlobalEpistasis(effects, low=values.min() - margin, high=values.max() + margin)
    truth = land.fitness(genotypes)
    measured = truth + np.random.default_rng(random_state).normal(scale=noise, size=len(truth))
    return land, truth, measured

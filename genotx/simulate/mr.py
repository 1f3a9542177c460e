"""Simulated two-sample MR summary statistics with a known causal effect.

Model (per replicate, ``J`` variants): ``se_x = sx * U(0.8, 1.2)``, ``se_y = sy * U(0.8, 1.2)``;
true variant-exposure effects ``gamma = se_x * sqrt(F) * U(0.5, 1.5)`` (positive, so that direction
of pleiotropy is defined relative to the exposure; mean F-statistic about ``1.08 F``); a fraction
``invalid`` of variants get a pleiotropic effect ``alpha`` on the outcome, independent of ``gamma``
(InSIDE holds): ``balanced`` draws ``alpha ~ N(0, tau)``, ``directional`` ``alpha ~ U(0, 2 tau)``.
Observed ``bx = gamma + N(0, se_x)`` and ``by = beta * gamma + alpha + N(0, se_y)`` (independent
samples). :data:`SCENARIOS` holds five settings: valid instruments, the null, balanced and directional
pleiotropy, and weak instruments.

A replicate is a DataFrame with TwoSampleMR's harmonised columns (:data:`HARMONISED_COLUMNS`), the
same shape as a user's file, so any MR estimator reads real and simulated data alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["HARMONISED_COLUMNS", "Scenario", "SCENARIOS", "Replicate", "simulate_summary_stats", "replicates",
           "scenario_settings"]

#: TwoSampleMR's harmonised column names: variant-exposure beta and SE, variant-outcome beta and SE.
HARMONISED_COLUMNS: tuple[str, ...] = ("beta_exposure", "se_exposure", "beta_outcome", "se_outcome")


@dataclass(frozen=True)
class Scenario:
    """One simulation setting (see the module docstring for the model)."""

    name: str
    beta: float = 0.2
    n_variants: int = 25
    f_stat: float = 50.0
    invalid: float = 0.0
    pleiotropy: Literal["none", "balanced", "directional"] = "none"
    tau: float = 0.04
    sx: float = 0.01
    sy: float = 0.01


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("valid"),
        Scenario("null", beta=0.0),
        Scenario("balanced", invalid=0.3, pleiotropy="balanced"),
        Scenario("directional", invalid=0.3, pleiotropy="directional"),
        Scenario("weak", f_stat=8.0),
    )
}


def simulate_summary_stats(scenario: Scenario, *, random_state: int | np.random.Generator = 0) -> pd.DataFrame:
    """One replicate under ``scenario``: one row per variant, :data:`HARMONISED_COLUMNS`.

    Examples
    --------
    >>> frame = simulate_summary_stats(SCENARIOS["valid"], random_state=0)
    >>> frame.shape, bool((frame["se_exposure"] > 0).all())
    ((25, 4), True)
    """
    rng = np.random.default_rng(random_state)
    j = scenario.n_variants
    se_x = scenario.sx * rng.uniform(0.8, 1.2, j)
    se_y = scenario.sy * rng.uniform(0.8, 1.2, j)
    gamma = se_x * np.sqrt(scenario.f_stat) * rng.uniform(0.5, 1.5, j)
    alpha = np.zeros(j)
    n_invalid = int(round(scenario.invalid * j))
    if n_invalid and scenario.pleiotropy != "none":
        which = rng.choice(j, n_invalid, replace=False)
        if scenario.pleiotropy == "balanced":
            alpha[which] = rng.normal(0.0, scenario.tau, n_invalid)
        else:
            alpha[which] = rng.uniform(0.0, 2 * scenario.tau, n_invalid)
    bx = gamma + rng.normal(0.0, se_x)
    by = scenario.beta * gamma + alpha + rng.normal(0.0, se_y)
    bx = np.where(bx == 0, 1e-12, bx)  # a zero exposure effect is no instrument; practically never drawn
    return pd.DataFrame(dict(zip(HARMONISED_COLUMNS, (bx, se_x, by, se_y))))


class Replicate(NamedTuple):
    """One simulated data set: its scenario, the seed it was drawn with, and the summary statistics."""

    scenario: Scenario
    seed: int
    data: pd.DataFrame


def replicates(scenarios: Mapping[str, Scenario] | None = None, *, n_reps: int = 100,
               random_state: int = 0) -> Iterator[Replicate]:
    """``n_reps`` seeded replicates of every scenario, scenario by scenario.

    Each scenario gets its own child of ``SeedSequence(random_state)`` and each replicate a seed
    drawn from it, so adding a scenario does not change the others' replicates. A study can reuse a
    replicate's ``seed`` for the estimator's own randomness (a bootstrap).

    Examples
    --------
    >>> reps = list(replicates({"null": SCENARIOS["null"]}, n_reps=3))
    >>> [r.scenario.name for r in reps], len(reps[0].data)
    (['null', 'null', 'null'], 25)
    """
    scenarios = SCENARIOS if scenarios is None else scenarios
    children = np.random.SeedSequence(random_state).spawn(len(scenarios))
    for scenario, child in zip(scenarios.values(), children):
        for seed in child.generate_state(n_reps):
            yield Replicate(scenario, int(seed), simulate_summary_stats(scenario, random_state=int(seed)))


def scenario_settings(scenarios: Mapping[str, Scenario] | None = None) -> list[dict]:
    """The scenarios as plain dicts (for run records)."""
    return [asdict(s) for s in (SCENARIOS if scenarios is None else scenarios).values()]

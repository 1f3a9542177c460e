"""Simulated two-sample summary statistics with a known causal effect, and a study of MR estimators.

Model (per replicate, ``J`` variants): ``se_x = sx * U(0.8, 1.2)``, ``se_y = sy * U(0.8, 1.2)``;
true variant-exposure effects ``gamma = se_x * sqrt(F) * U(0.5, 1.5)`` (positive, so that direction
of pleiotropy is defined relative to the exposure; mean F-statistic about ``1.08 F``); a fraction
``invalid`` of variants get a pleiotropic effect ``alpha`` on the outcome, independent of ``gamma``
(InSIDE holds): ``balanced`` draws ``alpha ~ N(0, tau)``, ``directional`` ``alpha ~ U(0, 2 tau)``.
Observed ``bx = gamma + N(0, se_x)`` and ``by = beta * gamma + alpha + N(0, se_y)`` (independent
samples). :data:`SCENARIOS` holds five settings: valid instruments, the null, balanced and directional
pleiotropy, and weak instruments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

from genotx.tasks.clinical.mendelian_randomization.methods import METHODS, MRMethod, SummaryStats

__all__ = ["Scenario", "SCENARIOS", "scenario_settings", "simulate", "simulation_study"]


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


def simulate(scenario: Scenario, *, random_state: int | np.random.Generator = 0) -> SummaryStats:
    """One replicate of summary statistics under ``scenario``.

    Examples
    --------
    >>> s = simulate(SCENARIOS["valid"], random_state=0)
    >>> len(s), bool((s.bxse > 0).all())
    (25, True)
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
    bx = np.where(bx == 0, 1e-12, bx)
    return SummaryStats(bx=bx, bxse=se_x, by=by, byse=se_y)


def simulation_study(
    *,
    scenarios: Mapping[str, Scenario] | None = None,
    methods: tuple[str, ...] = tuple(METHODS),
    n_reps: int = 100,
    n_boot: int = 100,
    alpha: float = 0.05,
    random_state: int = 0,
) -> pd.DataFrame:
    """Bias, empirical SD, mean SE, RMSE, CI coverage and rejection rate of each method per scenario.

    ``power`` is the fraction of replicates with ``p < alpha`` (the type I error under ``beta = 0``).
    Replicates are seeded from ``random_state``; every method sees the same replicates.

    Examples
    --------
    >>> table = simulation_study(scenarios={"valid": SCENARIOS["valid"]}, methods=("ivw",), n_reps=20)
    >>> table[["scenario", "method"]].values.tolist()
    [['valid', 'ivw']]
    """
    scenarios = SCENARIOS if scenarios is None else scenarios
    seeds = np.random.SeedSequence(random_state).spawn(len(scenarios))
    estimators = {m: MRMethod(m, alpha=alpha, **({"n_boot": n_boot} if m in ("weighted_median", "weighted_mode") else {}))
                  for m in methods}
    rows = []
    for (name, scenario), seed in zip(scenarios.items(), seeds):
        rep_seeds = seed.generate_state(n_reps)
        results = {m: np.empty((n_reps, 4)) for m in methods}
        for r, rep_seed in enumerate(rep_seeds):
            data = simulate(scenario, random_state=int(rep_seed))
            for m, est in estimators.items():
                res = est.estimate(data, **({"random_state": int(rep_seed)} if est.method in ("weighted_median", "weighted_mode") else {}))
                results[m][r] = (res.estimate, res.se, res.ci_low <= scenario.beta <= res.ci_high, res.p < alpha)
        for m, values in results.items():
            estimate, se, covered, rejected = values.T
            rows.append({
                "scenario": name, "method": m, "beta": scenario.beta, "n_reps": n_reps,
                "mean_estimate": float(estimate.mean()), "bias": float(estimate.mean() - scenario.beta),
                "empirical_sd": float(estimate.std(ddof=1)), "mean_se": float(se.mean()),
                "rmse": float(np.sqrt(np.mean((estimate - scenario.beta) ** 2))),
                "coverage": float(covered.mean()), "power": float(rejected.mean()),
            })
    return pd.DataFrame(rows)


def scenario_settings(scenarios: Mapping[str, Scenario] | None = None) -> list[dict]:
    """The scenarios as plain dicts (for run records)."""
    return [asdict(s) for s in (SCENARIOS if scenarios is None else scenarios).values()]

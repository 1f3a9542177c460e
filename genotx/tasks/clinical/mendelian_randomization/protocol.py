"""How Mendelian randomization is evaluated: the estimation protocol with an MR simulation study.

The run's estimator gives the causal estimate on the real summary statistics (``estimate``, ``se``,
``ci_low``, ``ci_high``, ``p``). Real data have no known causal truth, so the same estimator is
also run on seeded replicates with a known effect (:mod:`genotx.simulate.mr`: valid instruments, the
null, balanced and directional pleiotropy, weak instruments). In a replicate, an estimator with a
bootstrap runs ``n_boot`` resamples seeded by the replicate's own seed (its ``n_boot`` and
``random_state`` parameters are set), so every method sees the same replicates and the study is
reproducible.

Metric names are the task's (the base protocol would say ``<bias|coverage|power>_<scenario>``):
``coverage``, ``bias``, ``power`` on valid instruments, ``type1_error`` = power under the null, and
``bias_<s>``, ``coverage_<s>`` for ``s`` in directional, balanced, weak. ``details`` holds every
method on the real data (:func:`~.methods.analyse`) and the simulation table of every baseline.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone

from genotx.evaluate.protocols import Estimation
from genotx.simulate.mr import HARMONISED_COLUMNS, SCENARIOS, Scenario, replicates, scenario_settings
from genotx.tasks.clinical.mendelian_randomization.methods import METHODS, MRMethod, analyse

__all__ = ["MRSimulationStudy", "TASK_METRICS"]

#: The task's simulation metrics -> the base protocol's ``<statistic>_<scenario>`` names.
TASK_METRICS: dict[str, str] = {
    "coverage": "coverage_valid", "bias": "bias_valid", "power": "power_valid", "type1_error": "power_null",
    "bias_directional": "bias_directional", "coverage_directional": "coverage_directional",
    "bias_balanced": "bias_balanced", "coverage_balanced": "coverage_balanced",
    "bias_weak": "bias_weak", "coverage_weak": "coverage_weak",
}
REAL = ("estimate", "se", "ci_low", "ci_high", "p")


class MRSimulationStudy(Estimation):
    """The estimation protocol for MR: real-data estimate + bias/coverage/power on simulated replicates.

    Examples
    --------
    >>> study = MRSimulationStudy(n_reps=20, scenarios={"null": SCENARIOS["null"]})
    >>> table = study.simulation_table(MRMethod("ivw"), seed=0)
    >>> table[["scenario", "n_reps"]].values.tolist()
    [['null', 20]]
    """

    def __init__(self, *, n_reps: int = 100, n_boot: int = 100, alpha: float = 0.05,
                 scenarios: Mapping[str, Scenario] = SCENARIOS) -> None:
        self.n_reps = n_reps
        self.n_boot = n_boot
        self.alpha = alpha
        self.scenarios = dict(scenarios)
        self._baseline_tables: dict[int, pd.DataFrame] = {}  # deterministic in the seed: computed once per process

    def replicates(self, seed: int) -> Iterator[tuple[str, float, pd.DataFrame]]:
        for rep in replicates(self.scenarios, n_reps=self.n_reps, random_state=seed):
            yield rep.scenario.name, rep.scenario.beta, rep.data

    def study(self, estimators: Mapping[str, object], seed: int) -> pd.DataFrame:
        """Bias, empirical SD, mean SE, RMSE, CI coverage and rejection rate (``power``: the type I
        error under ``beta = 0``) of each estimator per scenario, on the same replicates."""
        seeded = {name: self._bootstrap_options(est) for name, est in estimators.items()}
        results: dict[tuple[str, str], list[tuple[float, float, bool, bool]]] = {}
        for rep in replicates(self.scenarios, n_reps=self.n_reps, random_state=seed):
            beta = rep.scenario.beta
            for name, (estimator, seedable) in seeded.items():
                if seedable:
                    estimator.set_params(random_state=rep.seed)
                e = estimator.estimate(rep.data)
                results.setdefault((rep.scenario.name, name), []).append(
                    (e.estimate, e.se, e.ci_low <= beta <= e.ci_high, e.p < self.alpha))
        rows = []
        for (scenario, name), values in results.items():
            beta = self.scenarios[scenario].beta
            estimate, se, covered, rejected = np.array(values, dtype=float).T
            rows.append({
                "scenario": scenario, "method": name, "beta": beta, "n_reps": len(estimate),
                "mean_estimate": float(estimate.mean()), "bias": float(estimate.mean() - beta),
                "empirical_sd": float(estimate.std(ddof=1)), "mean_se": float(se.mean()),
                "rmse": float(np.sqrt(np.mean((estimate - beta) ** 2))),
                "coverage": float(covered.mean()), "power": float(rejected.mean()),
            })
        return pd.DataFrame(rows)

    def _bootstrap_options(self, estimator) -> tuple[object, bool]:
        """A copy of ``estimator`` running ``n_boot`` resamples, and whether it takes a ``random_state``."""
        params = estimator.get_params() if hasattr(estimator, "get_params") else {}
        estimator = clone(estimator) if params else estimator
        if "n_boot" in params:
            estimator.set_params(n_boot=self.n_boot)
        return estimator, "random_state" in params

    def simulation_table(self, estimator, seed: int) -> pd.DataFrame:
        return self.study({"estimator": estimator}, seed).drop(columns="method")

    def baseline_table(self, seed: int) -> pd.DataFrame:
        """:meth:`study` of every baseline method (cached per seed)."""
        if seed not in self._baseline_tables:
            self._baseline_tables[seed] = self.study({m: MRMethod(m, alpha=self.alpha) for m in METHODS}, seed)
        return self._baseline_tables[seed].copy()

    def finish(self, task, dataset, outcome, estimator, *, split, model, seed) -> None:  # noqa: ARG002
        named = outcome.metrics
        outcome.metrics = {**{k: named[k] for k in REAL}, **{k: named[v] for k, v in TASK_METRICS.items() if v in named}}
        (fold,) = task.folds(dataset, split, random_state=seed)
        frame = dataset.inputs.iloc[fold.test]
        outcome.details = {
            "exposure": dataset.meta.get("exposure"), "outcome": dataset.meta.get("outcome"),
            "real_data": analyse(frame, random_state=seed),
            "summary_stats": frame[list(HARMONISED_COLUMNS)].to_dict(orient="list"),
            "simulation": {"scenarios": scenario_settings(self.scenarios), "n_reps": self.n_reps, "n_boot": self.n_boot,
                           "table": self.baseline_table(seed).to_dict(orient="records")},
        }

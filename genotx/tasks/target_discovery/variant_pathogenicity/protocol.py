"""How variant_pathogenicity is evaluated: the supervised protocol, and beside its metrics

* ``noise_ceiling``: the expected Pearson of noise-free effects with the test measurements
  (:func:`noise_ceiling`, from the shipped standard errors ``dy``);
* ``per_n_mutations``: Pearson and Spearman per mutation order of the test variants;
* ``causal_ranking_simulated``: the SIMULATED causal-position ranking (:mod:`.ranking`) with the
  run's own model (a baseline's factory, or a clone of the user's estimator).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from genotx.data.dataset import Dataset
from genotx.evaluate.metrics import evaluate
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Supervised
from genotx.tasks.target_discovery.variant_pathogenicity.ranking import simulate_causal_ranking

__all__ = ["VariantEffect", "noise_ceiling"]


def noise_ceiling(y: np.ndarray, dy: np.ndarray) -> float:
    """Expected Pearson of noise-free effects with measurements ``y`` of standard error ``dy``.

    ``var(y) = var(true) + mean(dy**2)`` for independent noise, so the ceiling is
    ``sqrt(1 - mean(dy**2) / var(y))`` (0 when the noise explains all the variance).

    Examples
    --------
    >>> round(noise_ceiling(np.array([0.0, 1.0, 2.0, 3.0]), np.full(4, 0.5)), 3)
    0.922
    """
    var = float(np.var(y, ddof=1)) if len(y) > 1 else 0.0
    if var <= 0:
        return float("nan")
    return float(np.sqrt(max(0.0, 1.0 - float(np.mean(np.square(dy))) / var)))


class VariantEffect(Supervised):
    """:class:`~genotx.evaluate.protocols.Supervised` with the noise ceiling, metrics per mutation
    order and the simulated causal ranking in the details."""

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str,  # noqa: ARG002
               model: str | None, seed: int) -> None:
        test = outcome.predictions
        y_true, y_pred = test["y_true"].to_numpy(float), test["y_pred"].to_numpy(float)
        ceiling = noise_ceiling(y_true, test["dy"].to_numpy())
        per_order = {}
        for n_mut, part in test.groupby("n_mutations").indices.items():
            if len(part) >= 3:
                per_order[f"{int(n_mut)}_mutations"] = {"n": len(part), **evaluate(("pearson", "spearman"), y_true[part], y_pred[part])}
        outcome.details.update({
            "noise_ceiling": {
                "pearson": ceiling,
                "pearson_fraction_of_ceiling": outcome.metrics["pearson"] / ceiling if ceiling else float("nan"),
                "formula": "sqrt(1 - mean(dy^2) / var(y)) over the test rows",
            },
            "per_n_mutations": per_order,
            "wild_type": dataset.context.get("wild_type"),
            "causal_ranking_simulated": simulate_causal_ranking(dataset, self._factory(task, model, fits), seed=seed),
        })

    @staticmethod
    def _factory(task, model: str | None, fits: list[FoldFit]):
        """A fresh model per simulated repeat: the baseline's factory, or a clone of the user's estimator."""
        if model is not None:
            return lambda random_state=0: task.model(model, random_state=random_state)
        fitted = fits[0].estimator

        def user_model(random_state: int = 0):
            fresh = clone(fitted)
            if "random_state" in fresh.get_params():
                fresh.set_params(random_state=random_state)
            return fresh

        return user_model

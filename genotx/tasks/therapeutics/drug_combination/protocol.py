"""How drug_combination is evaluated: the supervised protocol, plus how close a model gets to the truth.

Where the data are simulated (``arrays["expected"]``: the score of the noise-free dose-response
matrix; ``arrays["interaction"]``: the planted interaction), :meth:`SynergyProtocol.finish` adds,
on the same held-out rows:

* ``noise_ceiling``: the SPEC metrics of the noise-free score against the measured one, i.e. the best
  any model can do (plus ``r2``);
* ``of_ceiling``: the model's Pearson and R² as a fraction of the ceiling's;
* ``planted_pearson``: Pearson of the predictions with the planted interaction itself;
* ``by_new_drugs``: the metrics of the rows with 0, 1 and 2 drugs the fold's model never saw.
"""

from __future__ import annotations

import numpy as np

from genotx.data.dataset import Dataset
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Supervised, safe_metrics

__all__ = ["SynergyProtocol"]


class SynergyProtocol(Supervised):
    """:class:`~genotx.evaluate.protocols.Supervised` with the noise ceiling of a simulated screen."""

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,
               seed: int) -> None:
        super().finish(task, dataset, outcome, fits, split=split, model=model, seed=seed)
        if not fits:
            return
        names = tuple(task.spec.metrics) + ("r2",)
        test = np.concatenate([f.fold.test for f in fits])
        score = np.concatenate([np.asarray(f.prediction.score, float) for f in fits])
        truth = np.asarray(dataset.target, float)[test]
        own = safe_metrics(names, truth, score)
        new = np.concatenate([_new_drugs(dataset, f) for f in fits])
        outcome.details["by_new_drugs"] = {str(k): {"n": int((new == k).sum()), **safe_metrics(task.spec.metrics, truth[new == k], score[new == k])}
                                           for k in np.unique(new)}
        if "expected" not in dataset.arrays:
            return
        ceiling = safe_metrics(names, truth, np.asarray(dataset.arrays["expected"], float)[test])
        outcome.details["noise_ceiling"] = ceiling
        outcome.details["of_ceiling"] = {name: own[name] / ceiling[name] for name in ("pearson", "r2") if name in own}
        if "interaction" in dataset.arrays:
            planted = np.asarray(dataset.arrays["interaction"], float)[test]
            outcome.details["planted_pearson"] = safe_metrics(("pearson",), planted, score)["pearson"]


def _new_drugs(dataset: Dataset, fit: FoldFit) -> np.ndarray:
    """How many of each test row's two drugs (0, 1, 2) are absent from the fold's training rows."""
    groups = dataset.groups
    seen = set(groups["drug_a"].iloc[fit.fold.train]) | set(groups["drug_b"].iloc[fit.fold.train])
    test = groups.iloc[fit.fold.test]
    return (~test["drug_a"].isin(seen)).to_numpy(int) + (~test["drug_b"].isin(seen)).to_numpy(int)

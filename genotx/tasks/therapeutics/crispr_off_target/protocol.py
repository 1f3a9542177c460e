"""How crispr_off_target is evaluated: the supervised protocol with an activity threshold.

The target is a site's cleavage activity relative to its guide's on-target site (0-1). A site is
**active** when its true activity is >= :data:`ACTIVE_THRESHOLD` (0.1: at least 10 % of the
on-target cleavage); AUROC and AUPR score the model's prediction against that label, Spearman
against the activity itself. Where the data are simulated (``arrays["expected"]``: the noise-free
activity), :meth:`OffTargetProtocol.finish` adds the same metrics of the noise-free truth on the same
held-out rows (the noise ceiling) and each model's metrics per kind of site.
"""

from __future__ import annotations

import numpy as np

from genotx.data.dataset import Dataset
from genotx.evaluate.metrics import METRICS
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised, safe_metrics

__all__ = ["OffTargetProtocol", "ACTIVE_THRESHOLD", "off_target_metrics"]

ACTIVE_THRESHOLD = 0.1


def off_target_metrics(names, activity: np.ndarray, score: np.ndarray, *, groups=None) -> dict[str, float]:
    """Classification metrics on ``activity >= ACTIVE_THRESHOLD``, the others on the activity.

    >>> m = off_target_metrics(("auroc", "spearman"), np.array([0.0, 0.05, 0.2, 0.9]), np.array([0.1, 0.2, 0.3, 0.4]))
    >>> m["auroc"], round(m["spearman"], 3)
    (1.0, 1.0)
    """
    activity = np.asarray(activity, float)
    active = (activity >= ACTIVE_THRESHOLD).astype(int)
    out = {}
    for name in names:
        base = name.partition("_per_")[0]
        classify = METRICS[base].kind == "classification"
        if classify and base == name and len(np.unique(active)) < 2:
            out[name] = float("nan")  # one class only (e.g. on-target sites alone): undefined
            continue
        out.update(safe_metrics([name], active if classify else activity, score, groups=groups))
    return out


class OffTargetProtocol(Supervised):
    """:class:`~genotx.evaluate.protocols.Supervised` scoring AUROC/AUPR on the active label."""

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        return off_target_metrics(task.spec.metrics, part.target, prediction.score, groups=part.groups)

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,
               seed: int) -> None:
        super().finish(task, dataset, outcome, fits, split=split, model=model, seed=seed)
        if not fits:
            return
        test = np.concatenate([f.fold.test for f in fits])
        score = np.concatenate([np.asarray(f.prediction.score, float) for f in fits])
        truth = np.asarray(dataset.target, float)[test]
        outcome.details["active_threshold"] = ACTIVE_THRESHOLD
        outcome.details["active_fraction"] = float(np.mean(truth >= ACTIVE_THRESHOLD))
        if "expected" in dataset.arrays:
            expected = np.asarray(dataset.arrays["expected"], float)[test]
            outcome.details["noise_ceiling"] = off_target_metrics(task.spec.metrics, truth, expected)
        if "kind" in dataset.groups:
            kinds = dataset.groups["kind"].to_numpy()[test]
            outcome.details["by_kind"] = {
                str(k): {"n": int((kinds == k).sum()), **off_target_metrics(task.spec.metrics, truth[kinds == k], score[kinds == k])}
                for k in np.unique(kinds)
            }

"""How trial matching is evaluated: the supervised loop, with per-line truth and the rule parser's accuracy.

:class:`TrialMatching` is :class:`~genotx.evaluate.protocols.Supervised` with four hooks:

* ``fit`` passes each training pair's per-line pass/fail (``dataset.arrays['line_labels']``) to an
  estimator whose ``fit`` takes ``line_labels`` (any other estimator gets plain ``fit(X, y)``);
* ``predict`` adds, for an estimator with ``predict_lines``, each pair's per-line pass probability
  (``Prediction.extra['line_proba']``, laid out like the line labels);
* ``score`` adds ``line_auroc`` (per-line pass prediction) to the registry's metrics;
* ``finish`` adds the rule parser's criterion-level accuracy (a property of the parser, reported on
  a run of the :class:`~genotx.tasks.clinical.trial_matching.models.RuleMatcher`) and the details:
  AUROC per cohort, line AUROC by phrasing family (seen / unseen by the parser), the parser's accuracy.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import has_fit_parameter

from genotx.bio.eligibility import canonical, parse_criteria
from genotx.data.dataset import Dataset
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised, safe_metrics
from genotx.tasks.clinical.trial_matching.models import RuleMatcher

__all__ = ["TrialMatching", "parser_accuracy", "CRITERION_METRICS"]

#: Metrics of the rule parser itself (criterion-level accuracy), not of a run's predictions.
CRITERION_METRICS = ("criterion_accuracy", "criterion_accuracy_seen", "criterion_accuracy_unseen")
_OWN = ("line_auroc", *CRITERION_METRICS)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def parser_accuracy(trials) -> dict[str, float]:
    """Criterion-level accuracy of the rule parser (parsed == true rule up to equivalence), by phrasing family."""
    hits: dict[str, list[bool]] = {"seen": [], "unseen": []}
    for trial in trials:
        parsed = parse_criteria(trial.text)
        for (rule, _, _), truth, family in zip(parsed, trial.criteria, trial.families):
            hits[family].append(canonical(rule) == canonical(truth))
    every = hits["seen"] + hits["unseen"]
    mean = lambda v: float(np.mean(v)) if v else float("nan")  # noqa: E731
    return {"criterion_accuracy": mean(every), "criterion_accuracy_seen": mean(hits["seen"]),
            "criterion_accuracy_unseen": mean(hits["unseen"]),
            "n_lines_seen": len(hits["seen"]), "n_lines_unseen": len(hits["unseen"])}


def _families(part: Dataset) -> np.ndarray:
    """Each line's phrasing family (``seen`` / ``unseen``; empty beyond a trial's last line), laid out like the line labels."""
    width = part.arrays["line_labels"].shape[1]
    by_trial = {t.trial: t.families for t in part.context["trials"]}
    names, codes = np.unique(part.groups["trial"].to_numpy(), return_inverse=True)
    table = np.array([tuple(by_trial[t]) + ("",) * (width - len(by_trial[t])) for t in names], dtype=object)
    return table[codes]


class TrialMatching(Supervised):
    """Cold-trial CV of pair eligibility, with per-line truth as a fit parameter and line-level scores."""

    def fit(self, estimator, train: Dataset):
        if has_fit_parameter(estimator, "line_labels"):
            return estimator.fit(train.inputs, train.target, line_labels=train.arrays["line_labels"])
        return estimator.fit(train.inputs, train.target)

    def predict(self, estimator, test: Dataset) -> Prediction:
        prediction = super().predict(estimator, test)
        if hasattr(estimator, "predict_lines"):
            lines, p_line = estimator.predict_lines(test.inputs)
            grid = np.full(test.arrays["line_labels"].shape, np.nan)
            grid[lines["pair"].to_numpy(), lines["line"].to_numpy()] = p_line
            prediction.extra["line_proba"] = grid
        return prediction

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        names = [m for m in task.spec.metrics if m not in _OWN]
        out = safe_metrics(names, part.target, prediction.score, groups=part.groups, labels=prediction.label)
        out["line_auroc"] = float("nan")
        if "line_proba" in prediction.extra:
            truth, p = part.arrays["line_labels"], prediction.extra["line_proba"]
            known = ~np.isnan(truth)
            out["line_auroc"] = _auc(truth[known], p[known])
        return out

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,
               seed: int) -> None:
        super().finish(task, dataset, outcome, fits, split=split, model=model, seed=seed)
        trials = dataset.context.get("trials", ())  # the structured truth behind the texts (absent: no parser metrics)
        parser = parser_accuracy(trials)
        of_parser = bool(fits) and isinstance(fits[0].estimator, RuleMatcher)
        for name in CRITERION_METRICS:
            outcome.metrics[name] = parser[name] if of_parser else float("nan")
        outcome.metrics = {m: outcome.metrics.get(m, float("nan")) for m in task.spec.metrics}
        table = outcome.predictions
        cohorts = {c: _auc(rows["y_true"].to_numpy(), rows["y_pred"].to_numpy()) for c, rows in table.groupby("cohort")}
        outcome.details.update({
            "auroc_per_cohort": {c: v for c, v in cohorts.items() if np.isfinite(v)},
            "eligibility_rate": float(np.mean(dataset.target)),
            "n_trials": int(dataset.groups["trial"].nunique()),
            "parser": parser,
            "line_auroc_by_phrasing": self._line_auroc_by_family(fits) if trials else {},
            "note": "criterion_accuracy_* are properties of the rule parser (reported on the rule_parser run)",
        })

    @staticmethod
    def _line_auroc_by_family(fits: list[FoldFit]) -> dict[str, float]:
        scored = [f for f in fits if "line_proba" in f.prediction.extra]
        if not scored:
            return {}
        truth = np.concatenate([f.test.arrays["line_labels"].ravel() for f in scored])
        p = np.concatenate([f.prediction.extra["line_proba"].ravel() for f in scored])
        family = np.concatenate([_families(f.test).ravel() for f in scored])
        return {f"line_auroc_{name}": _auc(truth[family == name], p[family == name]) for name in ("seen", "unseen")}

"""How patient stratification is evaluated: held-out risk and subgroups, then the whole cohort's subgroups.

:class:`Stratification` is :class:`~genotx.evaluate.protocols.Supervised` (``c_index`` = mean over
folds) with three hooks:

* ``predict``: the risk score, and the risk subgroup as ``Prediction.extra['group']`` when the
  estimator has ``predict_group``;
* ``score``: Harrell's C-index of the risk and the log-rank p-value between the subgroups (pooled over
  folds: the out-of-fold subgroups);
* ``finish``: ``c_index_pooled`` (C over all out-of-fold risks), then one fit on the full cohort:
  its subgroups' in-sample log-rank p-value (``logrank_p_insample``), readable rules from a depth-3
  decision tree with their cross-validated fidelity (``rule_accuracy``), the mean adjusted Rand index
  of the subgroups over bootstrap refits with the inner-CV choice of hyperparameters kept
  (``stability_ari``), Kaplan-Meier curves per subgroup and what the model says about its groups.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from genotx.data.dataset import Dataset
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised, safe_metrics
from genotx.tasks.clinical.patient_stratification.features import clinical_names, encoded_names, rule_features
from genotx.tasks.clinical.patient_stratification.models import (
    ClusterRisk,
    RiskGroups,
    Subgroups,
    bootstrap_stability,
    group_labels,
    kaplan_meier_curves,
    logrank_p,
    subgroup_rules,
)

__all__ = ["Stratification"]


def _inner(model):
    """The subgroup model inside a :class:`Subgroups` wrapper (or the model itself)."""
    return model.estimator_ if isinstance(model, Subgroups) else model


def _with_selected_params(fitted):
    """An unfitted copy of ``fitted`` with its inner-CV choice of hyperparameters fixed (for bootstraps)."""
    if isinstance(fitted, RiskGroups) and hasattr(fitted.estimator_, "best_estimator_"):
        return RiskGroups(clone(fitted.estimator_.best_estimator_), n_groups=fitted.n_groups)
    return clone(fitted)


def _criteria(model, frame) -> dict:
    """What the fitted model itself says about its groups (selected genes, top Cox coefficients)."""
    if isinstance(model, ClusterRisk):
        out = {"clustered_features": model.selected_features_, "group_event_rate_per_day": model.group_rate_.tolist()}
        if model.n_select:
            out["univariate_cox_z"] = dict(zip(model.selected_features_, np.round(model.selected_z_, 3).tolist()))
        return out
    if isinstance(model, RiskGroups):
        inner = model.estimator_
        best = inner.best_estimator_ if hasattr(inner, "best_estimator_") else inner
        out = {"risk_cut_points": model.cuts_.tolist()}
        if hasattr(inner, "best_params_"):
            out["selected_params"] = {k.split("__")[-1]: v for k, v in inner.best_params_.items()}
        coef = getattr(best[-1], "coef_", None) if hasattr(best, "__getitem__") else None
        if coef is not None:
            coef = np.asarray(coef).reshape(-1)
            names = encoded_names(frame) if len(coef) > 10 else clinical_names(frame)
            top = np.argsort(-np.abs(coef))[:15]
            out["top_coefficients"] = {names[i]: float(coef[i]) for i in top if coef[i] != 0}
        return out
    return {}


def _describe(model) -> str:
    if isinstance(model, RiskGroups):
        return "risk tertiles of the training risk"
    if isinstance(model, ClusterRisk):
        return "k-means clusters ordered by training event rate"
    return "one group" if hasattr(model, "predict_group") else "none (the estimator has no predict_group)"


class Stratification(Supervised):
    """Stratified CV of a survival risk model and its subgroups, plus the full cohort's subgroups."""

    def __init__(self, *, n_boot: int = 20, keep_fitted: bool = False) -> None:
        super().__init__(fold_mean=("c_index",), keep_fitted=keep_fitted)
        self.n_boot = n_boot

    def predict(self, estimator, test: Dataset) -> Prediction:
        risk = np.asarray(estimator.predict(test.inputs), dtype=float)
        if hasattr(estimator, "predict_group"):
            return Prediction(risk, extra={"group": np.asarray(estimator.predict_group(test.inputs), dtype=int)})
        return Prediction(risk)

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        out = safe_metrics(["c_index"], part.target, prediction.score)
        group = prediction.extra.get("group")
        out["logrank_p"] = logrank_p(part.target, group) if group is not None else float("nan")
        return out

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,
               seed: int) -> None:
        super().finish(task, dataset, outcome, fits, split=split, model=model, seed=seed)
        X, y = dataset.inputs, dataset.target
        risk = np.full(len(y), np.nan)
        oof = np.full(len(y), -1)
        for f in fits:
            risk[f.fold.test] = f.prediction.score
            oof[f.fold.test] = f.prediction.extra.get("group", -1)
        tested = ~np.isnan(risk)
        metrics = {"c_index_pooled": safe_metrics(["c_index"], y[tested], risk[tested])["c_index"]}
        details: dict = {"time_unit": "days"}
        full = self.fit(clone(fits[0].estimator), dataset) if fits else None
        inner = _inner(full)
        if hasattr(inner, "predict_group"):
            groups = np.asarray(inner.predict_group(X), dtype=int)
            labels = group_labels(groups)
            several = len(np.unique(groups)) > 1
            rules = subgroup_rules(rule_features(X), groups, labels=labels, random_state=seed)
            ari = bootstrap_stability(_with_selected_params(inner), X, y=y, reference=groups, n_boot=self.n_boot,
                                      random_state=seed)
            metrics.update({
                "stability_ari": float(np.mean(ari)) if several else float("nan"),
                "logrank_p_insample": logrank_p(y, groups),
                "rule_accuracy": rules["cv_accuracy"] if several else float("nan"),
            })
            details.update({
                "subgroups": _describe(inner),
                "group_sizes": {labels.get(g, str(g)): int(n) for g, n in zip(*np.unique(groups, return_counts=True))},
                "criteria": _criteria(inner, X),
                "rules": rules,
                "stability_ari_per_resample": ari.tolist(),
                "km_full": kaplan_meier_curves(y, groups, labels=labels),
            })
        if (oof[tested] >= 0).all() and tested.any():
            details["km_out_of_fold"] = kaplan_meier_curves(y[tested], oof[tested], labels=group_labels(oof[tested]))
        outcome.metrics = {m: {**outcome.metrics, **metrics}.get(m, float("nan")) for m in task.spec.metrics}
        outcome.details.update(details)

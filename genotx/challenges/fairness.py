"""Fairness: a task's score per group of the data, the largest gap with its bootstrap interval, and mitigation.

Two tools:

* :func:`fairness` (``genotx fairness TASK --by COLUMN``): the task's model is trained and scored on
  the task's default split through the task's own protocol (``fit_folds``; no fold loop here), and
  its out-of-fold predictions are scored per group of a REAL column of the data with fairlearn's
  ``MetricFrame``: tissue of origin (drug_response: GDSC cell lines), age band and histological grade
  (patient_stratification: GSE7390 patients), disease category (rare_disease: the HPO organ system
  with most annotations of the true disease; its patients are simulated by the task). The gap is the
  best group's score minus the worst's (fairlearn's ``difference``), with a seeded bootstrap interval
  (fairlearn resamples the scored rows ``n_boot`` times: 1,000 by default). Mitigations rerun the same
  folds with the model wrapped in :class:`GroupReweighted`: ``group_balanced`` (every group weighs
  the same in training, Kamiran & Calders 2012) and ``upweight_worst`` (the group that an inner
  cross-validation on the training rows finds worst weighs ``factor`` times more; no held-out row is
  looked at). Over seeds, mean +- std of the gap and of the overall score, per method.
* :func:`prs_fairness` (``genotx fairness prs``): the design of Martin et al. (2017, Am J Hum
  Genet 100:635) on SIMULATED genotypes (:mod:`genotx.simulate.ancestry`: stdpopsim's
  OutOfAfrica_3G09, YRI / CEU / CHB, through msprime; causal effects shared across populations; the
  same heritability in each). A GWAS (:func:`marginal_gwas`, vectorised marginal regressions) and a
  clumped + thresholded polygenic score (:func:`clump`; the p-value threshold chosen on validation
  individuals of the discovery population) are built in CEU and scored (R^2 within each
  population) on held-out CEU, YRI and CHB individuals. The mitigation is multi-ancestry discovery
  with the same total sample size (a third from each population; the GWAS adjusts for population).

No ancestry labels are invented on real data: none of the real tasks' default data carries
ancestry (or sex), and the report says so; no task uses the ALL leukaemia cohort (sex, age) today.

Examples
--------
>>> sorted(FAIRNESS), sorted(MITIGATIONS)
(['drug_response', 'patient_stratification', 'rare_disease'], ['exponentiated_gradient', 'group_balanced', 'threshold_optimizer', 'upweight_worst'])
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from genotx.challenges._results import Section, clean_json, records, write_result
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.metrics import Evaluator
from genotx.evaluate.protocols import Ranking, Supervised

__all__ = [
    "FAIRNESS", "MITIGATIONS", "Grouping", "FairnessPlan", "FairnessResult", "GroupReweighted", "group_metrics",
    "fairness", "fairness_figures", "save_fairness", "report_section", "marginal_gwas", "clump", "PRSResult",
    "prs_fairness", "prs_figures", "NO_ANCESTRY",
]

#: What the report says of every real task: the default data carries no ancestry.
NO_ANCESTRY = ("No ancestry labels exist in this task's default data, so none are used or invented here; ancestry "
               "gaps are shown on simulated genotypes (genotx fairness prs).")


# ---- per-group metrics ------------------------------------------------------------------------------


def _metric_fn(metric: str, truth: np.ndarray, groups: pd.DataFrame, *, on_ranks: bool = False) -> Callable:
    """``fn(positions, prediction) -> float`` for fairlearn: the rows' truth (and groups, for a
    ``*_per_*`` metric) are looked up by position, so any target (survival pairs, disease ids) works."""
    evaluator = Evaluator(metric)
    per = evaluator.group

    def score(positions, prediction) -> float:
        positions = np.asarray(positions, dtype=np.int64)
        prediction = np.asarray(prediction)
        if on_ranks:  # a ranking protocol's prediction is the rank of the truth: metrics read ranks only
            return float(evaluator(prediction, prediction))
        part = {per: groups[per].to_numpy()[positions]} if per else None
        try:
            return float(evaluator(truth[positions], prediction, groups=part))
        except (ValueError, ZeroDivisionError):  # one class, no event, a constant: undefined in this resample
            return float("nan")

    score.__name__ = metric
    return score


def group_metrics(metric: str, truth, prediction, group, *, groups: pd.DataFrame | None = None,
                  n_boot: int | None = 1000, random_state: int = 0, on_ranks: bool = False,
                  quantiles: tuple[float, float] = (0.025, 0.975)) -> dict[str, Any]:
    """``metric`` per group with fairlearn's ``MetricFrame``, the largest gap and bootstrap intervals.

    ``truth`` and ``prediction`` are row-aligned (any target the metric registry scores), ``group``
    the sensitive column; ``groups`` holds the columns a ``<metric>_per_<column>`` metric needs. The
    largest gap is ``best - worst`` group (fairlearn's ``difference``, ``max - min``). ``n_boot``
    seeded resamples of the rows give percentile intervals (``quantiles``) of each group's metric,
    of the overall one and of the gap between the two groups named at the point estimate (``gap_ci``;
    the question asked is "how large is the gap between these groups?"); ``range_ci`` is the interval
    of each resample's own ``max - min`` (fairlearn's ``difference_ci``; biased upward with many small
    groups). ``n_boot=None``: no intervals.

    Examples
    --------
    >>> out = group_metrics("rmse", [1.0, 2, 3, 4], [1.0, 2, 4, 6], ["a", "a", "b", "b"], n_boot=None)
    >>> out["by_group"], out["gap"], out["worst"], out["best"]
    ({'a': 0.0, 'b': 1.5811388300841898}, 1.5811388300841898, 'b', 'a')
    """
    from fairlearn.metrics import MetricFrame

    truth = np.asarray(truth) if not isinstance(truth, np.ndarray) else truth
    prediction = np.asarray(prediction)
    group = np.asarray(group, dtype=object).astype(str)
    if not len(truth) == len(prediction) == len(group):
        raise InputError("group_metrics", f"{len(truth)} truths, {len(prediction)} predictions and {len(group)} group "
                         "labels", fix="pass row-aligned arrays")
    groups = groups if groups is not None else pd.DataFrame(index=range(len(truth)))
    fn = _metric_fn(metric, truth, groups.reset_index(drop=True), on_ranks=on_ranks)
    positions = np.arange(len(truth))
    frame = MetricFrame(metrics={metric: fn}, y_true=positions, y_pred=prediction, sensitive_features=group)
    by_group = frame.by_group[metric].astype(float)
    greater = Evaluator(metric).greater_is_better
    finite = by_group.dropna()
    worst = (finite.idxmin() if greater else finite.idxmax()) if len(finite) else None
    best = (finite.idxmax() if greater else finite.idxmin()) if len(finite) else None
    out: dict[str, Any] = {
        "overall": float(frame.overall[metric]),
        "by_group": {str(k): float(v) for k, v in by_group.items()},
        "n_by_group": {str(k): int(v) for k, v in pd.Series(group).value_counts().items()},
        "gap": float(frame.difference()[metric]),
        "worst": None if worst is None else str(worst),
        "best": None if best is None else str(best),
        "n_boot": int(n_boot or 0),
    }
    if not n_boot:
        return out
    # fairlearn's own bootstrap (MetricFrame(n_boot=...)) keeps only quantiles, not each resample's
    # groups, and the interval of the worst-vs-best difference needs them: the resampling is done here
    rng = np.random.default_rng(random_state)
    names = list(by_group.index)
    samples = np.full((n_boot, len(names) + 1), np.nan)
    for b in range(n_boot):
        draw = rng.integers(0, len(truth), len(truth))
        samples[b, -1] = fn(draw, prediction[draw])
        drawn = group[draw]
        for j, name in enumerate(names):
            mine = draw[drawn == name]
            if len(mine):
                samples[b, j] = fn(mine, prediction[mine])
    q = list(quantiles)
    with np.errstate(all="ignore"):
        low, high = np.nanquantile(samples, q, axis=0) if np.isfinite(samples).any() else (samples[0], samples[0])
        spread = np.nanmax(samples[:, :-1], axis=1) - np.nanmin(samples[:, :-1], axis=1)
    out["by_group_ci"] = {str(name): [float(low[j]), float(high[j])] for j, name in enumerate(names)}
    out["overall_ci"] = [float(low[-1]), float(high[-1])]
    if worst is not None:
        pair = (samples[:, names.index(best)] - samples[:, names.index(worst)]) * (1 if greater else -1)
        out["gap_ci"] = [float(v) for v in np.nanquantile(pair, q)]
    out["range_ci"] = [float(v) for v in np.nanquantile(spread, q)]
    return out


# ---- mitigation: group reweighting around any task model ---------------------------------------------


def _fit_weighted(estimator, X, y, weights: np.ndarray):
    """Fit with ``sample_weight`` where the learner takes it (a Pipeline's last step included); else
    replicate rows by their weight rounded to whole counts (the smallest weight = 1 copy), which is
    what integer weights mean for a likelihood (a Cox model, a forest's bootstrap)."""
    if isinstance(estimator, Pipeline) and has_fit_parameter(estimator.steps[-1][1], "sample_weight"):
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": weights})
    if not isinstance(estimator, Pipeline) and has_fit_parameter(estimator, "sample_weight"):
        return estimator.fit(X, y, sample_weight=weights)
    copies = np.maximum(1, np.rint(weights / weights.min())).astype(int)
    rows = np.repeat(np.arange(len(y)), copies)
    X = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]  # row labels kept: a copy is the same row
    return estimator.fit(X, np.asarray(y)[rows])


class GroupReweighted(MetaEstimatorMixin, BaseEstimator):
    """A model trained with its rows reweighted by group; it predicts as the model does.

    ``groups`` maps the inputs' row labels (``X.index``) to a group. ``strategy``:
    ``"balanced"``: weight ``n / (n_groups * n_g)`` (every group weighs the same);
    ``"worst"``: an inner ``inner_folds``-fold cross-validation of the unweighted model on the
    training rows scores each group with ``group_score(y_true, y_pred, labels)`` (higher = better)
    and the worst group's rows weigh ``factor`` (others 1): the choice never sees a held-out row.
    Weights are scaled to mean 1. After ``fit``: ``estimator_``, ``weights_`` (per group) and
    ``inner_scores_`` (``"worst"`` only). Other attributes (``predict_proba``, ``classes_``,
    ``predict_group``...) are the fitted model's.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"x": np.arange(8.0)}); y = X["x"].to_numpy() * 2
    >>> model = GroupReweighted(LinearRegression(), groups=pd.Series(list("aaaaaabb"))).fit(X, y)
    >>> {k: round(v, 3) for k, v in model.weights_.items()}, model.predict(X.iloc[:2]).round(3).tolist()
    ({'a': 0.667, 'b': 2.0}, [0.0, 2.0])
    """

    def __init__(self, estimator, *, groups: pd.Series | None = None, strategy: str = "balanced", factor: float = 3.0,
                 group_score: Callable | None = None, inner_folds: int = 3, min_group: int = 5,
                 random_state: int = 0) -> None:
        self.estimator = estimator
        self.groups = groups
        self.strategy = strategy
        self.factor = factor
        self.group_score = group_score
        self.inner_folds = inner_folds
        self.min_group = min_group
        self.random_state = random_state

    def _labels(self, X) -> np.ndarray:
        return _group_of(self, X)

    def _inner_scores(self, X, y, labels: np.ndarray) -> dict[str, float]:
        """Each group's score from out-of-fold predictions of the unweighted model on the training rows."""
        if self.group_score is None:
            raise InputError(type(self).__name__, "strategy 'worst' needs group_score", fix="pass group_score=callable")
        prediction = np.full(len(y), np.nan)
        folds = KFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.zeros(len(y))):
            fitted = clone(self.estimator).fit(_rows(X, train), np.asarray(y)[train])
            prediction[test] = np.asarray(fitted.predict(_rows(X, test)), dtype=float)
        scores = {}
        for name in pd.unique(labels):
            rows = np.flatnonzero(labels == name)
            if len(rows) >= self.min_group:
                scores[str(name)] = float(self.group_score(np.asarray(y)[rows], prediction[rows], X.index[rows]))
        return scores

    def fit(self, X, y) -> GroupReweighted:
        """Weights from the training rows' groups, then the model fitted with them."""
        labels = self._labels(X)
        names, counts = np.unique(labels, return_counts=True)
        if self.strategy == "balanced":
            per_group = {str(g): len(labels) / (len(names) * n) for g, n in zip(names, counts)}
        elif self.strategy == "worst":
            self.inner_scores_ = self._inner_scores(X, y, labels)
            finite = {g: s for g, s in self.inner_scores_.items() if np.isfinite(s)}
            worst = min(finite, key=finite.get) if finite else None
            per_group = {str(g): (self.factor if g == worst else 1.0) for g in names}
        else:
            raise UnknownNameError("reweighting strategy", self.strategy, ("balanced", "worst"))
        weights = np.array([per_group[g] for g in labels], dtype=float)
        scale = weights.mean()
        self.weights_ = {g: float(w / scale) for g, w in per_group.items()}
        self.estimator_ = _fit_weighted(clone(self.estimator), X, y, weights / scale)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def __getattr__(self, name: str):
        if name.startswith("_") or "estimator_" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["estimator_"], name)


def _group_of(owner, X) -> np.ndarray:
    """The group of each row of ``X`` from ``owner.groups`` (a Series by row label)."""
    if owner.groups is None or not hasattr(X, "index"):
        raise InputError(type(owner).__name__, "needs groups (a Series by row label) and inputs with an index",
                         fix="pass groups=pd.Series(group, index=inputs.index) and DataFrame inputs")
    labels = owner.groups.reindex(X.index)
    if labels.isna().any():
        raise InputError(type(owner).__name__, f"{int(labels.isna().sum())} rows have no group",
                         fix="give every input row label a group")
    return labels.astype(str).to_numpy()


def _rows(X, index: np.ndarray):
    return X.iloc[index] if hasattr(X, "iloc") else np.asarray(X)[index]


#: Reweighting mitigation -> GroupReweighted strategy.
_REWEIGHT: dict[str, str] = {"group_balanced": "balanced", "upweight_worst": "worst"}


# ---- a binary decision: fairlearn's post-processing and reductions ----------------------------------

#: Constraint -> (the rates whose largest between-group difference it bounds, fairlearn's reductions Moment).
CONSTRAINTS: dict[str, tuple[tuple[str, ...], str]] = {
    "equalized_odds": (("tpr", "fpr"), "EqualizedOdds"),
    "true_positive_rate_parity": (("tpr",), "TruePositiveRateParity"),
    "demographic_parity": (("selection_rate",), "DemographicParity"),
}

#: Per-group rates of a decision, in the order :func:`_group_rates` returns them.
RATES: tuple[str, ...] = ("tpr", "fpr", "selection_rate", "balanced_accuracy")


def _group_rates(truth: np.ndarray, decision: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """:data:`RATES` of each of ``k`` groups in each row of ``codes`` (resamples x rows; ``truth`` and
    ``decision`` aligned with it): shape (resamples, k, 4), NaN where a group has no positive (TPR)
    or no negative (FPR). Counted with one bincount for all resamples: a MetricFrame per resample
    would take ~1,000x longer for the same four ratios (checked against fairlearn in the tests)."""
    codes = np.atleast_2d(codes)
    truth, decision = np.broadcast_to(truth, codes.shape), np.broadcast_to(decision, codes.shape)
    flat = (np.arange(codes.shape[0])[:, None] * k + codes).ravel()

    def count(weights) -> np.ndarray:
        return np.bincount(flat, weights=np.ravel(weights), minlength=codes.shape[0] * k).reshape(-1, k)

    positive, negative, rows = count(truth), count(1 - truth), count(np.ones(codes.shape))
    with np.errstate(all="ignore"):
        tpr = count(truth * decision) / positive
        fpr = count((1 - truth) * decision) / negative
        selected = count(decision) / rows
    return np.stack([tpr, fpr, selected, (tpr + 1 - fpr) / 2], axis=-1)


def decision_metrics(truth, decision, group, *, constraint: str = "equalized_odds", n_boot: int | None = 1000,
                     random_state: int = 0, quantiles: tuple[float, float] = (0.025, 0.975)) -> dict[str, Any]:
    """A yes/no decision per group with fairlearn's ``MetricFrame``: TPR, FPR, selection rate and
    balanced accuracy, and the constraint's difference (``equalized_odds``: the larger of the TPR and
    FPR differences between groups, fairlearn's ``equalized_odds_difference``) with bootstrap intervals.

    The output has :func:`group_metrics`' keys (``overall`` and ``by_group`` = balanced accuracy,
    ``gap`` = the constraint's difference, ``worst``/``best`` = the groups at the two ends of the rate
    that sets it: lowest TPR or selection rate, highest FPR) and ``rates`` / ``rates_ci`` (each rate
    per group), ``overall_rates``, ``gap_rate``, ``n_positive_by_group``. ``n_boot`` seeded resamples
    of the rows give percentile intervals; ``gap_ci`` is that of each resample's own difference
    (biased upward for small groups, as fairlearn's ``difference_ci``). ``gap_samples`` and
    ``overall_samples`` (one per resample, the same resamples for any decision on the same rows and
    seed) are for paired comparisons; pop them before saving.

    Examples
    --------
    >>> out = decision_metrics([1, 0, 1, 0, 1, 0], [1, 0, 1, 1, 0, 0], list("aaabbb"), n_boot=None)
    >>> out["rates"]["tpr"], out["rates"]["fpr"], out["gap"], out["gap_rate"], out["worst"]
    ({'a': 1.0, 'b': 0.0}, {'a': 0.0, 'b': 0.5}, 1.0, 'tpr', 'b')
    """
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import balanced_accuracy_score

    if constraint not in CONSTRAINTS:
        raise UnknownNameError("fairness constraint", constraint, CONSTRAINTS)
    truth, decision = np.asarray(truth, dtype=float), np.asarray(decision, dtype=float)
    group = np.asarray(group, dtype=object).astype(str)
    if not len(truth) == len(decision) == len(group):
        raise InputError("decision_metrics", f"{len(truth)} outcomes, {len(decision)} decisions and {len(group)} group "
                         "labels", fix="pass row-aligned arrays")
    if not (np.isin(truth, (0, 1)).all() and np.isin(decision, (0, 1)).all()):
        raise InputError("decision_metrics", "outcomes and decisions must be 0 or 1", fix="drop unknown outcomes first")
    fns = {"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate,
           "balanced_accuracy": balanced_accuracy_score}
    frame = MetricFrame(metrics=fns, y_true=truth, y_pred=decision, sensitive_features=group)
    by, difference = frame.by_group.astype(float), frame.difference()
    rates = CONSTRAINTS[constraint][0]
    gap_rate = max(rates, key=lambda r: difference[r])
    worst, best = (by[gap_rate].idxmax(), by[gap_rate].idxmin()) if gap_rate == "fpr" else \
        (by[gap_rate].idxmin(), by[gap_rate].idxmax())
    names = [str(n) for n in by.index]
    out: dict[str, Any] = {
        "overall": float(frame.overall["balanced_accuracy"]),
        "by_group": {n: float(v) for n, v in zip(names, by["balanced_accuracy"])},
        "n_by_group": {str(k): int(v) for k, v in pd.Series(group).value_counts().items()},
        "n_positive_by_group": {str(k): int(v) for k, v in pd.Series(truth).groupby(group).sum().items()},
        "gap": float(difference[gap_rate]), "gap_rate": gap_rate, "worst": str(worst), "best": str(best),
        "rates": {r: {n: float(v) for n, v in zip(names, by[r])} for r in RATES[:3]},
        "overall_rates": {r: float(frame.overall[r]) for r in RATES[:3]},
        "n_boot": int(n_boot or 0),
    }
    if not n_boot:
        return out
    codes = pd.Index(names).get_indexer(group)
    draws = np.random.default_rng(random_state).integers(0, len(truth), (n_boot, len(truth)))
    per = _group_rates(truth[draws], decision[draws], codes[draws], len(names))
    pooled = _group_rates(truth[draws], decision[draws], np.zeros_like(draws), 1)[:, 0, :]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group with no positive in a resample: NaN, skipped
        spread = np.nanmax(per, axis=1) - np.nanmin(per, axis=1)
        gaps = np.max(spread[:, [RATES.index(r) for r in rates]], axis=1)
        low, high = np.nanquantile(per, list(quantiles), axis=0)
    q = list(quantiles)
    out["by_group_ci"] = {n: [float(low[j, 3]), float(high[j, 3])] for j, n in enumerate(names)}
    out["rates_ci"] = {r: {n: [float(low[j, i]), float(high[j, i])] for j, n in enumerate(names)}
                       for i, r in enumerate(RATES[:3])}
    out["overall_ci"] = [float(v) for v in np.nanquantile(pooled[:, 3], q)]
    out["gap_ci"] = [float(v) for v in np.nanquantile(gaps, q)]
    out["gap_samples"], out["overall_samples"] = gaps, pooled[:, 3]
    return out


def _score_of(estimator, X) -> np.ndarray:
    """A fitted model's score: P(class 1), a decision function or ``predict`` (a risk)."""
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(X))[:, 1]
    if hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(X), dtype=float)
    return np.asarray(estimator.predict(X), dtype=float)


def _binary(outcome: Callable | None, y) -> np.ndarray:
    """1/0 per row (NaN: unknown) from the target: ``outcome(y)``, or ``y`` itself when it is 0/1."""
    labels = np.asarray(outcome(y) if outcome is not None else y, dtype=float)
    if not np.isin(labels[~np.isnan(labels)], (0, 1)).all():
        raise InputError("binary decision", "the outcome is not 0/1", fix="pass outcome= mapping the target to 0/1/NaN")
    return labels


class _ScoreColumn(BaseEstimator):
    """The one input column as the prediction: lets fairlearn post-process scores computed elsewhere."""

    def fit(self, X, y=None):  # noqa: ARG002
        self.fitted_ = True
        return self

    def predict(self, X) -> np.ndarray:
        return np.asarray(X, dtype=float)[:, 0]


class _TrainingPercentile(MetaEstimatorMixin, BaseEstimator):
    """A model whose score is read as its percentile among the model's own training rows' scores (0-1).

    A refitted model's raw score moves scale with its fit (a ridge Cox model's linear predictor with
    its penalty), so a threshold learnt on one fit's scores means little on another's; a percentile
    of the training cohort keeps its meaning (as the task's own tertile cuts do)."""

    def __init__(self, estimator) -> None:
        self.estimator = estimator

    def fit(self, X, y) -> _TrainingPercentile:
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.reference_ = np.sort(_score_of(self.estimator_, X))
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "reference_")
        score = _score_of(self.estimator_, X)
        below = np.searchsorted(self.reference_, score, side="left")
        at_or_below = np.searchsorted(self.reference_, score, side="right")
        return (below + at_or_below) / (2.0 * len(self.reference_))  # ties: the mid-rank


class ThresholdPostprocessed(MetaEstimatorMixin, BaseEstimator):
    """A model's score turned into a yes/no decision by a threshold per group, chosen by fairlearn's
    ``ThresholdOptimizer`` (Hardt et al. 2016) to maximise ``objective`` under ``constraints``.

    ``fit(X, y)``: ``outcome(y)`` gives each training row 1, 0 or NaN (unknown: used to fit the model,
    not the thresholds); an inner ``inner_folds``-fold cross-validation (stratified on the outcome) gives
    out-of-fold scores of the training rows, on which the thresholds are chosen (the model's in-sample
    scores would be optimistic); then the model is refitted on all training rows. Scores are read as
    percentiles of each fit's own training scores (a refit's raw scale moves). ``predict(X)``: 0/1,
    randomised between two thresholds where the constraint needs it (seeded: ``random_state``).
    ``groups`` maps the inputs' row labels to a group. After fit: ``estimator_``, ``postprocessor_``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0); X = pd.DataFrame({"x": rng.normal(size=200)})
    >>> y = (X["x"] + rng.normal(size=200) > 0).astype(int).to_numpy()
    >>> model = ThresholdPostprocessed(LinearRegression(), groups=pd.Series(np.repeat(["a", "b"], 100))).fit(X, y)
    >>> sorted(set(model.predict(X).tolist()))
    [0, 1]
    """

    def __init__(self, estimator, *, groups: pd.Series | None = None, outcome: Callable | None = None,
                 constraints: str = "equalized_odds", objective: str = "balanced_accuracy_score", inner_folds: int = 5,
                 random_state: int = 0) -> None:
        self.estimator = estimator
        self.groups = groups
        self.outcome = outcome
        self.constraints = constraints
        self.objective = objective
        self.inner_folds = inner_folds
        self.random_state = random_state

    def fit(self, X, y) -> ThresholdPostprocessed:
        from fairlearn.postprocessing import ThresholdOptimizer
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        labels, group = _binary(self.outcome, y), _group_of(self, X)
        strata = np.nan_to_num(labels, nan=0.0)  # folds balanced on the known positives
        folds = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        scorer = _TrainingPercentile(self.estimator)
        score = cross_val_predict(scorer, X, y, cv=list(folds.split(np.zeros(len(strata)), strata)))
        known = ~np.isnan(labels)
        self.postprocessor_ = ThresholdOptimizer(
            estimator=_ScoreColumn().fit(None), constraints=self.constraints, objective=self.objective, prefit=True,
            predict_method="predict").fit(score[known, None], labels[known].astype(int), sensitive_features=group[known])
        self.estimator_ = clone(scorer).fit(X, y)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "postprocessor_")
        score = self.estimator_.predict(X)
        return np.asarray(self.postprocessor_.predict(score[:, None], sensitive_features=_group_of(self, X),
                                                      random_state=self.random_state), dtype=int)


class ReductionClassifier(MetaEstimatorMixin, BaseEstimator):
    """A classifier of the binary outcome trained under a fairness constraint by fairlearn's
    ``ExponentiatedGradient`` (Agarwal et al. 2018): a randomised mix of ``learner`` fits reweighted
    until the constraint holds within ``eps`` on the training rows; ``constraints=None``: the learner
    alone (the unconstrained reference). ``features`` turns the inputs into numbers (fitted on the
    training rows); the objective is the balanced error (false negatives and positives weigh by the
    inverse of their class's size) so both models aim at balanced accuracy as the threshold optimiser
    does. Rows with an unknown outcome (NaN) are left out of training. ``predict`` is seeded.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> rng = np.random.default_rng(0); X = pd.DataFrame({"x": rng.normal(size=200)})
    >>> y = (X["x"] + rng.normal(size=200) > 0).astype(int).to_numpy()
    >>> model = ReductionClassifier(StandardScaler(), groups=pd.Series(np.repeat(["a", "b"], 100))).fit(X, y)
    >>> sorted(set(model.predict(X).tolist())), len(model.model_.predictors_) >= 1
    ([0, 1], True)
    """

    def __init__(self, features, *, groups: pd.Series | None = None, outcome: Callable | None = None,
                 constraints: str | None = "equalized_odds", learner=None, eps: float = 0.01, max_iter: int = 50,
                 random_state: int = 0) -> None:
        self.features = features
        self.groups = groups
        self.outcome = outcome
        self.constraints = constraints
        self.learner = learner
        self.eps = eps
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y) -> ReductionClassifier:
        from fairlearn import reductions
        from sklearn.linear_model import LogisticRegression

        labels, group = _binary(self.outcome, y), _group_of(self, X)
        known = np.flatnonzero(~np.isnan(labels))
        target = labels[known].astype(int)
        self.features_ = clone(self.features).fit(_rows(X, known))
        Z = self.features_.transform(_rows(X, known))
        learner = clone(self.learner) if self.learner is not None else LogisticRegression(C=0.1, max_iter=2000)
        n, positive = len(target), max(int(target.sum()), 1)
        if self.constraints is None:
            weights = np.where(target == 1, n / (2 * positive), n / (2 * max(n - positive, 1)))
            self.model_ = learner.fit(Z, target, sample_weight=weights)
        else:
            if self.constraints not in CONSTRAINTS:
                raise UnknownNameError("fairness constraint", self.constraints, CONSTRAINTS)
            moment = getattr(reductions, CONSTRAINTS[self.constraints][1])()
            balanced = reductions.ErrorRate(costs={"fn": n / (2 * positive), "fp": n / (2 * max(n - positive, 1))})
            self.model_ = reductions.ExponentiatedGradient(
                learner, constraints=moment, objective=balanced, eps=self.eps, max_iter=self.max_iter,
            ).fit(Z, target, sensitive_features=group[known])
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        Z = self.features_.transform(X)
        if self.constraints is None:
            return np.asarray(self.model_.predict(Z), dtype=int)
        return np.asarray(self.model_.predict(Z, random_state=self.random_state), dtype=int)


@dataclass(frozen=True)
class Mitigation:
    """A mitigation: the ``view`` it runs in (``score``: the task's own metric per group; ``decision``:
    a yes/no decision per group) and what it does, in words."""

    view: str
    what: str


#: Every mitigation by name. The ``decision`` ones need a plan with a :class:`Decision`.
MITIGATIONS: dict[str, Mitigation] = {
    "group_balanced": Mitigation("score", "reweighting: every group weighs the same in training (Kamiran & Calders "
                                          "2012)"),
    "upweight_worst": Mitigation("score", "reweighting: the group an inner CV on the training rows finds worst weighs "
                                          "`factor` times more"),
    "threshold_optimizer": Mitigation("decision", "post-processing: a threshold per group on the task model's own "
                                                  "score, fairlearn ThresholdOptimizer under the constraint, maximising "
                                                  "balanced accuracy on inner out-of-fold scores of the training rows "
                                                  "(Hardt et al. 2016)"),
    "exponentiated_gradient": Mitigation("decision", "reductions: a logistic regression (C = 0.1) on the task's "
                                                     "features trained under the constraint, fairlearn "
                                                     "ExponentiatedGradient on the balanced error (Agarwal et al. 2018); "
                                                     "compared with the same logistic regression unconstrained"),
}

#: A mitigation compared with another method than the task's own model (``none``): ExponentiatedGradient
#: against its unconstrained learner, run beside it.
REFERENCES: dict[str, str] = {"exponentiated_gradient": "logistic_regression"}


@dataclass(frozen=True)
class Decision:
    """A yes/no decision the task's users take, scored per group against a binary outcome.

    ``outcome(target)``: 1/0 per row, NaN when unknown (such rows are scored by no one and choose no
    threshold; the models still train on them where they can); ``decide(score, extra)``: the task
    model's own decision (0/1) from its out-of-fold prediction (``extra``: ``Prediction.extra``);
    ``features()``: a fresh transformer of the task's inputs into numbers (the reductions' learner);
    ``what`` / ``baseline``: the outcome and the task's decision in words. Groups with fewer than
    ``min_positive`` positive or negative rows are left out (their TPR or FPR would rest on a few
    patients), listed in the result.
    """

    what: str
    baseline: str
    outcome: Callable[[Any], np.ndarray]
    decide: Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray]
    features: Callable[[], Any]
    mitigations: tuple[str, ...] = ("threshold_optimizer", "exponentiated_gradient")
    min_positive: int = 5
    note: str = ""


class _EventWithin:
    """Survival target -> 1 (event by ``years``), 0 (followed past it event-free), NaN (censored before)."""

    def __init__(self, years: float) -> None:
        self.years = years

    def __call__(self, target) -> np.ndarray:
        event, time = np.asarray(target["event"], dtype=bool), np.asarray(target["time"], dtype=float)
        horizon = self.years * 365.25  # the cohort's times are in days
        return np.where(event & (time <= horizon), 1.0, np.where(time > horizon, 0.0, np.nan))

    def __repr__(self) -> str:
        return f"event within {self.years:g} years"


def _high_risk(score, extra: Mapping[str, np.ndarray]) -> np.ndarray:  # noqa: ARG001
    """The task's own 'high' subgroup (its top tertile of training risk)."""
    from genotx.tasks.clinical.patient_stratification.models import GROUP_LABELS

    high = next(g for g, name in GROUP_LABELS.items() if name == "high")
    return (np.asarray(extra["group"]) == high).astype(int)


def _stratification_features():
    from sklearn.preprocessing import StandardScaler

    from genotx.featurize.transformer import Featurizer
    from genotx.tasks.clinical.patient_stratification.features import encode_all

    return Pipeline([("encode", Featurizer(encode_all, cache=False)), ("scale", StandardScaler())])


# ---- real groups of real tasks --------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """A group column: ``derive(task, dataset) -> labels`` (one per row; None/NaN = unknown: the row is
    left out), or None when the column is already in ``dataset.groups``; ``what`` it is, in words."""

    what: str
    derive: Callable[[Any, Dataset], Any] | None = None


def _age_band(task, data: Dataset) -> np.ndarray:  # noqa: ARG001
    age = pd.to_numeric(data.inputs["age"], errors="coerce")
    return pd.cut(age, [0, 40, 50, 200], right=False, labels=["<40", "40-49", ">=50"]).astype(object).to_numpy()


def _grade(task, data: Dataset) -> np.ndarray:  # noqa: ARG001
    return data.inputs["grade"].astype(object).to_numpy()


def _tissue_rows(task, data: Dataset) -> Dataset:
    """drug_response rows of cell lines with a GDSC tissue (the shift challenge's reading of it)."""
    from genotx.challenges.shift import SHIFTS

    return SHIFTS["drug_response"].prepare(task, data)


def _disease_category(task, data: Dataset) -> np.ndarray:  # noqa: ARG001
    """The HPO organ system (a child of 'Phenotypic abnormality', HP:0000118) holding most of the true
    disease's direct annotations (ties: the first in HPO order)."""
    from genotx.bio.phenotypes import knowledge, namespace_of

    labels = np.full(len(data), None, dtype=object)
    truth = np.asarray(data.target, dtype=object)
    for namespace in pd.unique(pd.Series(truth).str.split(":").str[0]):
        rows = np.flatnonzero(pd.Series(truth).str.startswith(f"{namespace}:").to_numpy())
        kb = knowledge(namespace_of(truth[rows]))
        onto = kb.ontology
        (root,) = onto.encode(["HP:0000118"])
        systems = np.flatnonzero(np.asarray(onto.parents[:, root].todense()).ravel())
        counts = (kb.annotations > 0).astype(np.int32) @ onto.ancestors[:, systems].astype(np.int32)
        best = np.asarray(counts.argmax(axis=1)).ravel()
        names = pd.Series(onto.names[systems[best]]).str.replace("Abnormality of (the )?", "", regex=True).to_numpy()
        index = pd.Index(kb.disease_ids).get_indexer(truth[rows])
        labels[rows[index >= 0]] = names[index[index >= 0]]
    return labels


@dataclass(frozen=True)
class FairnessPlan:
    """How :func:`fairness` runs on one task: the ``model``, the gap ``metric``, ``groupings`` (name ->
    :class:`Grouping`; the first is the default ``--by``), the split (default: the task's first), extra
    per-group ``metrics`` shown beside the gap metric, a row preparation and a seeded subsample of
    whole entities (as the shift challenge's ``prepare`` / ``subsample``), groups smaller than
    ``min_group`` scored rows are left out of the gap (listed), and the ``mitigations`` run by default;
    ``decision``: the task's yes/no decision, when it has one (``fairness(..., decision=True)``)."""

    model: str
    metric: str
    groupings: Mapping[str, Grouping]
    split: str | None = None
    metrics: tuple[str, ...] = ()
    prepare: Callable[[Any, Dataset], Dataset] | None = None
    subsample: tuple[str, int] | None = None
    min_group: int = 10
    mitigations: tuple[str, ...] = ("group_balanced", "upweight_worst")
    note: str = ""
    decision: Decision | None = None


#: Tasks with real groups in their data. Task packages are not edited: the mapping lives here.
FAIRNESS: dict[str, FairnessPlan] = {
    "drug_response": FairnessPlan(
        model="lgbm", metric="rmse", metrics=("rmse", "pearson_per_drug"),
        groupings={"tissue": Grouping("tissue of origin of the cell line (GDSC annotation)")},
        prepare=_tissue_rows, subsample=("drug", 30),
        note="GDSC2 pairs of cell lines with a tissue annotation (69% of cell lines); 30 drugs drawn once (seed 0) to "
             "keep runs short; LightGBM (it takes sample weights). Gap metric: RMSE of ln IC50 over a tissue's held-out "
             "pairs. Pearson within drugs is shown beside it; a tissue holds only a few held-out cell lines per drug, "
             "so its bootstrap is too unstable for the gap.",
    ),
    "patient_stratification": FairnessPlan(
        model="coxph", metric="c_index",
        groupings={"age_band": Grouping("age at diagnosis: <40, 40-49, >=50 years", _age_band),
                   "grade": Grouping("histological grade (well / intermediate / poorly differentiated)", _grade),
                   "er": Grouping("oestrogen-receptor status of the tumour (positive / negative)")},
        note="GSE7390 (198 node-negative breast-cancer patients, 51 distant metastases); out-of-fold risks of stratified "
             "5-fold CV; C-index pooled over folds within each group (groups hold 30-95 patients: wide intervals). The "
             "ridge Cox model takes no sample weights: reweighting replicates rows (integer weights).",
        decision=Decision(
            what="distant metastasis within 5 years of diagnosis",
            baseline="the task model's 'high' risk subgroup (top tertile of its training risk), as `genotx predict` "
                     "reports it",
            outcome=_EventWithin(5.0), decide=_high_risk, features=_stratification_features,
            note="Binary view: outcome = distant metastasis within 5 years (35 of 198 patients); 154 were followed past "
                 "5 years event-free; the 9 censored before 5 years have no known outcome, so they are scored by no "
                 "method and choose no threshold (the Cox model still trains on them). Groups with fewer than 5 "
                 "patients with (or without) the outcome are left out. Only 8-22 patients per group have the outcome: "
                 "per-group TPRs move by 0.1 with one patient, and the intervals say so.",
        ),
    ),
    "rare_disease": FairnessPlan(
        model="resnik", metric="top10_recall", metrics=("top1_recall", "top10_recall"), split="new_patients",
        groupings={"disease_category": Grouping("HPO organ system with most annotations of the true disease",
                                                _disease_category)},
        mitigations=(),
        note="Patients are SIMULATED from the real HPO annotations (the task's data); each category holds the test "
             "patients of a few diseases (5 per disease), and the bootstrap resamples patients, not diseases, so its "
             "intervals are narrow for a category of few diseases. The Resnik ranker learns nothing from training "
             "patients, so there is nothing to reweight: no mitigation.",
    ),
}


# ---- the run ----------------------------------------------------------------------------------------


@dataclass
class FairnessResult:
    """Per-group scores of one model on a task, per seed and mitigation method.

    ``runs``: one dict per (method, seed) with the :func:`group_metrics` output of the gap metric
    (``by_group``, ``gap``, ``gap_ci``...), the other metrics per group (``other``) and the weights
    a mitigation used; :meth:`summary` and :meth:`group_table` give the tables.
    """

    task: str
    by: str
    what: str
    model: str
    split: str
    metric: str
    greater_is_better: bool
    methods: list[str]
    seeds: list[int]
    runs: list[dict]
    n_boot: int = 1000
    excluded: dict = field(default_factory=dict)
    note: str = ""
    ancestry: str = NO_ANCESTRY
    data_kind: str = ""
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    view: str = "score"
    decision: str = ""
    constraint: str | None = None
    references: dict = field(default_factory=dict)

    def reference(self, method: str) -> str | None:
        """The method a mitigation is compared with (:func:`_compared_with`)."""
        return _compared_with(method, self.references)

    def _runs(self, method: str) -> list[dict]:
        return [r for r in self.runs if r["method"] == method]

    def summary(self) -> pd.DataFrame:
        """One row per method: overall score and gap (mean, std over seeds), the gap's bootstrap
        interval (mean of the per-seed bounds), the most frequent worst group, and the change in gap
        and overall score against the method's reference (:meth:`reference`; signed: positive = the
        mitigation helps), with the paired bootstrap interval of each where the runs hold one."""
        sign = 1.0 if self.greater_is_better else -1.0
        rows = []
        for method in ["none", *self.methods]:
            reference = self.reference(method)
            base = {r["seed"]: r for r in self._runs(reference)} if reference else {}
            runs = self._runs(method)
            if not runs:
                continue
            overall = np.array([r["overall"] for r in runs], dtype=float)
            gap = np.array([r["gap"] for r in runs], dtype=float)
            ci = np.array([r.get("gap_ci", [np.nan, np.nan]) for r in runs], dtype=float)
            worst = pd.Series([r["worst"] for r in runs]).mode()
            row = {"method": method, "overall": np.nanmean(overall), "overall_std": np.nanstd(overall),
                   "gap": np.nanmean(gap), "gap_std": np.nanstd(gap), "gap_ci_low": np.nanmean(ci[:, 0]),
                   "gap_ci_high": np.nanmean(ci[:, 1]), "worst_group": worst.iloc[0] if len(worst) else None}
            if method != "none" and base:
                gap_change = np.array([base[r["seed"]]["gap"] - r["gap"] for r in runs if r["seed"] in base], dtype=float)
                score_change = np.array([sign * (r["overall"] - base[r["seed"]]["overall"]) for r in runs
                                         if r["seed"] in base], dtype=float)
                row.update({"compared_with": reference,
                            "gap_reduction": np.nanmean(gap_change), "gap_reduction_std": np.nanstd(gap_change),
                            "overall_change": np.nanmean(score_change), "overall_change_std": np.nanstd(score_change)})
                for key in ("gap_reduction_ci", "overall_change_ci"):
                    if all(key in r for r in runs):
                        bounds = np.array([r[key] for r in runs], dtype=float)
                        row.update({f"{key}_low": np.nanmean(bounds[:, 0]), f"{key}_high": np.nanmean(bounds[:, 1])})
            rows.append(row)
        table = pd.DataFrame(rows)
        table.insert(0, "metric", self.metric)
        return table

    def group_table(self) -> pd.DataFrame:
        """One row per (method, group): the gap metric's mean and std over seeds, its bootstrap
        interval (mean of the per-seed bounds) and the number of scored rows."""
        rows = []
        for method in ["none", *self.methods]:
            runs = self._runs(method)
            for name in (runs[0]["by_group"] if runs else {}):
                values = np.array([r["by_group"].get(name, np.nan) for r in runs], dtype=float)
                ci = np.array([r.get("by_group_ci", {}).get(name, [np.nan, np.nan]) for r in runs], dtype=float)
                rows.append({"method": method, "group": name, "n": runs[0]["n_by_group"].get(name),
                             "mean": np.nanmean(values), "std": np.nanstd(values),
                             "ci_low": np.nanmean(ci[:, 0]), "ci_high": np.nanmean(ci[:, 1])})
        return pd.DataFrame(rows)

    def rate_table(self) -> pd.DataFrame:
        """Decision view: one row per (method, group, rate) with the rate's mean and std over seeds, its
        bootstrap interval (mean of the per-seed bounds), the group's rows and positives; ``group``
        ``all`` holds the overall rates."""
        rows = []
        for method in ["none", *self.methods]:
            runs = self._runs(method)
            if not runs or "rates" not in runs[0]:
                continue
            for rate in RATES:
                for name in _rate_of(runs[0], rate)[0]:
                    values = np.array([_rate_of(r, rate)[0].get(name, np.nan) for r in runs], dtype=float)
                    ci = np.array([_rate_of(r, rate)[1].get(name, [np.nan, np.nan]) for r in runs], dtype=float)
                    rows.append({"method": method, "rate": rate, "group": name, "n": runs[0]["n_by_group"].get(name),
                                 "n_positive": runs[0]["n_positive_by_group"].get(name), "mean": np.nanmean(values),
                                 "std": np.nanstd(values), "ci_low": np.nanmean(ci[:, 0]), "ci_high": np.nanmean(ci[:, 1])})
                overall = np.array([r["overall"] if rate == "balanced_accuracy" else r["overall_rates"][rate]
                                    for r in runs], dtype=float)
                rows.append({"method": method, "rate": rate, "group": "all", "n": sum(runs[0]["n_by_group"].values()),
                             "n_positive": sum(runs[0]["n_positive_by_group"].values()), "mean": np.nanmean(overall),
                             "std": np.nanstd(overall), "ci_low": np.nan, "ci_high": np.nan})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """JSON-serialisable (NaN as None), with ``challenge: fairness`` and the summary tables."""
        payload = asdict(self)
        payload.update({"challenge": "fairness", "kind": "task", "summary": records(self.summary()),
                        "groups": records(self.group_table())})
        if self.view == "decision":
            payload["rates"] = records(self.rate_table())
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> FairnessResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


def _compared_with(method: str, references: Mapping[str, str]) -> str | None:
    """The method a mitigation is compared with: ``none`` (the task's model) unless ``references``
    (:data:`REFERENCES`) says otherwise; None for ``none`` and for a reference itself."""
    if method == "none" or method in references.values():
        return None
    return references.get(method, "none")


def _rate_of(run: Mapping, rate: str) -> tuple[dict, dict]:
    """A decision run's ``rate`` per group and its bootstrap bounds (balanced accuracy: its ``by_group``)."""
    if rate == "balanced_accuracy":
        return run["by_group"], run.get("by_group_ci", {})
    return run["rates"][rate], run.get("rates_ci", {}).get(rate, {})


def _plan(task, plan: FairnessPlan | None) -> FairnessPlan:
    if plan is not None:
        return plan
    if task.name not in FAIRNESS:
        raise UnknownNameError("task with declared groups", task.name, FAIRNESS)
    return FAIRNESS[task.name]


def _with_groups(task, plan: FairnessPlan, data: Dataset, by: str) -> Dataset:
    """``data`` with the ``by`` column in its groups (rows without a group dropped)."""
    grouping = plan.groupings[by]
    if grouping.derive is None:
        if by not in data.groups:
            raise InputError(task.name, f"no group column {by!r}", fix=f"use one of {list(plan.groupings)}")
        labels = data.groups[by].to_numpy(dtype=object)
    else:
        labels = np.asarray(grouping.derive(task, data), dtype=object)
    known = np.flatnonzero(pd.notna(labels))
    part = data.subset(known) if len(known) < len(data) else data
    return Dataset(part.name, part.inputs, part.target, part.groups.assign(**{by: labels[known].astype(str)}),
                   part.meta, part.arrays, part.context)


def _out_of_fold(protocol, task, data: Dataset, folds, *, model, estimator, seed: int
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The protocol's fold loop (``fit_folds``); returns the scored positions, their predictions and
    the predictions' row-aligned extras (``Prediction.extra``, e.g. a subgroup) at those positions."""
    fits = protocol.fit_folds(task, data, folds, model=model, estimator=estimator, seed=seed)
    score = np.full(len(data), np.nan)
    extra: dict[str, np.ndarray] = {}
    for f in fits:
        score[f.fold.test] = np.asarray(f.prediction.score, dtype=float)
        for key, values in f.prediction.extra.items():
            if np.ndim(values) == 1 and len(values) == len(f.fold.test):
                extra.setdefault(key, np.full(len(data), np.nan))[f.fold.test] = values
    tested = np.flatnonzero(~np.isnan(score))
    return tested, score[tested], {k: v[tested] for k, v in extra.items()}


def _group_auc(truth: np.ndarray, score: np.ndarray, group: np.ndarray) -> dict[str, float]:
    """ROC AUC of a score within each group (fairlearn ``MetricFrame``)."""
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import roc_auc_score

    frame = MetricFrame(metrics=roc_auc_score, y_true=truth, y_pred=score, sensitive_features=group)
    return {str(k): float(v) for k, v in frame.by_group.items()}


def _decision_rows(data: Dataset, decision: Decision, by: str, min_group: int) -> tuple[Dataset, np.ndarray, dict]:
    """The rows of groups large enough for a decision view (``min_group`` rows with a known outcome and
    ``decision.min_positive`` with and without it), their outcome (1/0/NaN) and the groups left out."""
    outcome = _binary(decision.outcome, data.target)
    known = ~np.isnan(outcome)
    counts = pd.DataFrame({"group": data.groups[by].to_numpy(), "known": known, "positive": outcome == 1})
    counts = counts.groupby("group").agg(n=("known", "sum"), positive=("positive", "sum"))
    small = counts[(counts["n"] < min_group) | (counts["positive"] < decision.min_positive)
                   | (counts["n"] - counts["positive"] < decision.min_positive)]
    keep = np.flatnonzero(~data.groups[by].isin(small.index).to_numpy())
    return data.subset(keep), outcome[keep], {str(k): int(v) for k, v in small["n"].items()}


def _mitigated(method: str, estimator, *, groups: pd.Series, decision: Decision | None, constraint: str, factor: float,
               group_score: Callable, seed: int):
    """The estimator a method runs through the protocol (None: the task's model as it is)."""
    if method in _REWEIGHT:
        return GroupReweighted(estimator, groups=groups, strategy=_REWEIGHT[method], factor=factor,
                               group_score=group_score, random_state=seed)
    if method == "threshold_optimizer":
        return ThresholdPostprocessed(estimator, groups=groups, outcome=decision.outcome, constraints=constraint,
                                      random_state=seed)
    if method in ("exponentiated_gradient", "logistic_regression"):
        return ReductionClassifier(decision.features(), groups=groups, outcome=decision.outcome, random_state=seed,
                                   constraints=constraint if method == "exponentiated_gradient" else None)
    return None


def _paired(runs: dict[str, dict], references: Mapping[str, str], quantiles=(0.025, 0.975)) -> None:
    """Each mitigated run gets the paired bootstrap interval of its gap reduction and overall change
    against its reference's run (same rows, same resamples); the samples are then dropped."""
    for method, run in runs.items():
        base = runs.get(_compared_with(method, references))
        if base is not None and "gap_samples" in run:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                run["gap_reduction_ci"] = np.nanquantile(base["gap_samples"] - run["gap_samples"], quantiles).tolist()
                run["overall_change_ci"] = np.nanquantile(run["overall_samples"] - base["overall_samples"],
                                                          quantiles).tolist()
    for run in runs.values():
        run.pop("gap_samples", None)
        run.pop("overall_samples", None)


def fairness(
    task,
    *,
    by: str | None = None,
    model: str | None = None,
    split: str | None = None,
    metric: str | None = None,
    mitigations: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    n_boot: int = 1000,
    factor: float = 3.0,
    decision: bool = False,
    constraint: str = "equalized_odds",
    dataset: Dataset | None = None,
    plan: FairnessPlan | None = None,
    subsample: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> FairnessResult:
    """Per-group scores, the largest gap with its bootstrap interval, and what mitigation changes.

    For every seed: the task's protocol fits the model on the folds of ``split`` (``fit_folds``: the
    task's own loop and hooks), then :func:`group_metrics` scores the out-of-fold predictions per group
    of ``by`` (a grouping of the task's plan in :data:`FAIRNESS`) with ``n_boot`` bootstrap resamples
    (seeded with the seed); each mitigation of ``mitigations`` (names in :data:`MITIGATIONS`) reruns the
    same folds with the model inside :class:`GroupReweighted` (``factor``: the worst group's weight).
    ``subsample`` overrides the plan's number of entities (smaller runs for tests).

    ``decision=True`` scores the plan's :class:`Decision` instead: the task model's own yes/no decision
    and the ``decision`` mitigations (fairlearn's :class:`ThresholdPostprocessed` on the task model's
    score, :class:`ReductionClassifier` beside its unconstrained ``logistic_regression`` reference) per
    group with :func:`decision_metrics` under ``constraint`` (a name in :data:`CONSTRAINTS`), each
    mitigation's gap reduction and cost in balanced accuracy with paired bootstrap intervals.

    Examples
    --------
    >>> callable(fairness), sorted(FAIRNESS["patient_stratification"].groupings)
    (True, ['age_band', 'er', 'grade'])
    """
    from genotx.challenges.shift import TaskView, prepare_data
    from genotx.tasks.registry import get_task

    start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    plan = _plan(task, plan)
    by = by or next(iter(plan.groupings))
    if by not in plan.groupings:
        raise UnknownNameError(f"group column of {task.name}", by, plan.groupings)
    if decision and plan.decision is None:
        raise InputError(task.name, "no yes/no decision declared for this task",
                         fix=f"drop --decision, or use a task with one: {[n for n, p in FAIRNESS.items() if p.decision]}")
    view = "decision" if decision else "score"
    default = plan.decision.mitigations if decision else plan.mitigations
    mitigations = tuple(default if mitigations is None else mitigations)
    unknown = [m for m in mitigations if m not in MITIGATIONS]
    if unknown:
        raise UnknownNameError("mitigation", unknown[0], MITIGATIONS)
    elsewhere = [m for m in mitigations if MITIGATIONS[m].view != view]
    if elsewhere:
        raise InputError(task.name, f"mitigation {elsewhere[0]!r} works on a {MITIGATIONS[elsewhere[0]].view}, not on "
                         f"the {view} view", fix=f"use {[m for m, v in MITIGATIONS.items() if v.view == view]}"
                         + (" or drop --decision" if decision else " with --decision"))
    if decision and constraint not in CONSTRAINTS:
        raise UnknownNameError("fairness constraint", constraint, CONSTRAINTS)
    model = model or plan.model
    task.model(model)  # an unknown model fails before any data is loaded
    metric = f"{constraint}_difference" if decision else (metric or plan.metric)
    if not decision:
        Evaluator(metric)
    split = split or plan.split or task.spec.splits[0]
    if split not in task.spec.splits:
        raise UnknownNameError(f"split of {task.name}", split, task.spec.splits)
    protocol = task.protocol
    if not isinstance(protocol, Supervised):
        raise InputError(task.name, f"{type(protocol).__name__} protocol: no per-row predictions to group",
                         fix=f"use one of {sorted(FAIRNESS)}")
    on_ranks = isinstance(protocol, Ranking)
    note = plan.decision.note if decision else plan.note
    if mitigations and on_ranks:
        note = (note + " " if note else "") + "No mitigation: a ranking protocol (reweighting wraps row models)."
        mitigations = ()
    # ExponentiatedGradient trains another model: its unconstrained learner runs beside it, as its reference
    methods = tuple(dict.fromkeys(m for name in mitigations for m in (REFERENCES.get(name), name) if m))
    references = {m: REFERENCES[m] for m in methods if m in REFERENCES}
    data = _with_groups(task, plan, prepare_data(task, plan, dataset, subsample=subsample), by)
    excluded: dict[str, int] = {}
    if decision:
        data, outcome, excluded = _decision_rows(data, plan.decision, by, plan.min_group)
    view_of_task = TaskView(task)
    labels = data.groups[by].to_numpy(dtype=str)
    shown = tuple(dict.fromkeys([metric, *plan.metrics]))
    truth = np.asarray(data.target)
    by_label = pd.Series(labels, index=data.inputs.index) if hasattr(data.inputs, "index") else None
    position_of = pd.Series(np.arange(len(data)), index=data.inputs.index) if by_label is not None else None
    inner_fn = None if decision else _metric_fn(metric, truth, data.groups, on_ranks=on_ranks)
    sign = 1.0 if decision or Evaluator(metric).greater_is_better else -1.0

    def inner_score(y_true, y_pred, row_labels) -> float:  # noqa: ARG001 (the truth is looked up by position)
        return sign * inner_fn(position_of.reindex(row_labels).to_numpy(), y_pred)

    runs: list[dict] = []
    for seed in seeds:
        folds = view_of_task.folds(data, split, random_state=seed)
        by_method: dict[str, dict] = {}
        for method in ("none", *methods):
            t0 = time.perf_counter()
            if progress:
                progress(f"{task.name} by {by}: {method} seed {seed}")
            estimator = _mitigated(method, task.model(model, random_state=seed), groups=by_label,
                                   decision=plan.decision, constraint=constraint, factor=factor,
                                   group_score=inner_score, seed=seed)
            tested, prediction, extra = _out_of_fold(protocol, view_of_task, data, folds,
                                                     model=None if estimator else model, estimator=estimator, seed=seed)
            if decision:
                choice = plan.decision.decide(prediction, extra) if method == "none" else prediction
                scored = ~np.isnan(outcome[tested])
                keep = tested[scored]
                main = decision_metrics(outcome[keep], np.asarray(choice)[scored], labels[keep], constraint=constraint,
                                        n_boot=n_boot, random_state=seed)
                # how well the task's score ranks within each group bounds what any threshold there can do
                other = {"auc": _group_auc(outcome[keep], prediction[scored], labels[keep])} if method == "none" else {}
            else:
                counts = pd.Series(labels[tested]).value_counts()
                small = counts[counts < plan.min_group]
                excluded.update({str(k): int(v) for k, v in small.items()})
                keep = tested[~np.isin(labels[tested], small.index)]
                scored_prediction = prediction[~np.isin(labels[tested], small.index)]
                part_groups = data.groups.iloc[keep].reset_index(drop=True)
                main = group_metrics(metric, truth[keep], scored_prediction, labels[keep], groups=part_groups,
                                     n_boot=n_boot, random_state=seed, on_ranks=on_ranks)
                other = {name: group_metrics(name, truth[keep], scored_prediction, labels[keep], groups=part_groups,
                                             n_boot=None, on_ranks=on_ranks)["by_group"] for name in shown if name != metric}
            by_method[method] = {"method": method, "seed": seed, **main, "other": other, "n_scored": len(keep),
                                 "seconds": round(time.perf_counter() - t0, 2)}
        _paired(by_method, references)
        runs.extend(by_method.values())
    what = plan.decision.what if decision else ""
    return FairnessResult(
        task=task.name, by=by, what=plan.groupings[by].what, model=model, split=split, metric=metric,
        greater_is_better=True if decision else Evaluator(metric).greater_is_better, methods=list(methods),
        seeds=list(seeds), runs=runs, n_boot=n_boot, excluded=excluded, note=note,
        data_kind=str(data.meta.get("data_kind", task.spec.data_kind)),
        settings={"n_rows": len(data), "factor": factor, "min_group": plan.min_group, "metrics": list(shown),
                  "subsample": [plan.subsample[0], subsample or plan.subsample[1]] if plan.subsample else None,
                  **({"n_known_outcome": int((~np.isnan(outcome)).sum()), "baseline": plan.decision.baseline,
                      "min_positive": plan.decision.min_positive,
                      "mitigations": {m: MITIGATIONS[m].what for m in mitigations}} if decision else {})},
        seconds=round(time.perf_counter() - start, 1), view=view, decision=what,
        constraint=constraint if decision else None, references=references)


# ---- ancestry: a polygenic score across simulated populations (Martin et al. 2017) ----------------


def marginal_gwas(genotypes: np.ndarray, phenotype: np.ndarray, *, strata: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One linear regression of the phenotype on each variant's allele count, all at once.

    With ``strata`` (a population per individual) genotypes and phenotype are centred within each
    stratum first: the regression then adjusts for population (as a GWAS with population
    covariates), so allele-frequency differences between populations do not create associations.
    Returns ``(beta, p, standardised)``: the per-allele effect, its two-sided t-test p-value (1 for
    monomorphic variants) and the centred genotypes scaled to unit variance (float32; for clumping).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = rng.binomial(2, 0.4, size=(500, 3)).astype(np.int8)
    >>> beta, p, z = marginal_gwas(g, 0.5 * g[:, 1] + rng.normal(size=500))
    >>> float(beta[1].round(1)), bool(p[1] < 1e-10 < p[0]), z.shape
    (0.5, True, (500, 3))
    """
    from scipy import stats

    centred = np.asarray(genotypes, dtype=np.float32).copy()
    y = np.asarray(phenotype, dtype=np.float64).copy()
    strata = np.zeros(len(y), dtype=int) if strata is None else np.asarray(strata)
    levels = pd.unique(strata)
    for level in levels:
        rows = strata == level
        centred[rows] -= centred[rows].mean(axis=0)
        y[rows] -= y[rows].mean()
    n, dof = len(y), len(y) - len(levels) - 1
    squares = np.einsum("ij,ij->j", centred, centred, dtype=np.float64)
    varies = squares > 1e-8
    safe = np.where(varies, squares, 1.0)
    beta = (centred.T @ y.astype(np.float32)).astype(np.float64) / safe
    residual = np.maximum((y @ y - beta**2 * safe) / dof, 1e-12)
    t = beta / np.sqrt(residual / safe)
    p = np.where(varies, 2 * stats.t.sf(np.abs(t), dof), 1.0)
    centred /= np.sqrt(safe / n).astype(np.float32)
    return np.where(varies, beta, 0.0), p, centred


def clump(p: np.ndarray, standardised: np.ndarray, variants: pd.DataFrame, *, p_max: float = 0.01,
          r2_max: float = 0.1, window: int = 250_000) -> np.ndarray:
    """Greedy LD clumping (as PLINK's ``--clump``): variants with ``p < p_max`` in order of p; each
    kept variant removes the later ones within ``window`` bp on its contig whose squared correlation
    with it (in ``standardised``, the discovery genotypes) exceeds ``r2_max``. Returns the kept
    (index) variants, most significant first. ``variants`` must be sorted by contig and position.

    Examples
    --------
    >>> rng = np.random.default_rng(0); a = rng.normal(size=200)
    >>> z = np.c_[a, a + 0.1 * rng.normal(size=200), rng.normal(size=200)]
    >>> z = (z - z.mean(0)) / z.std(0)
    >>> clump(np.array([1e-9, 1e-8, 1e-3]), z, pd.DataFrame({"contig": 0, "position": [0, 10, 20]})).tolist()
    [0, 2]
    """
    contig = variants["contig"].to_numpy()
    position = variants["position"].to_numpy()
    key = contig.astype(np.int64) * (int(position.max()) + 2 * window + 1) + position
    if np.any(np.diff(key) < 0):
        raise InputError("clump", "variants are not sorted by contig and position", fix="sort the variant table")
    columns = np.ascontiguousarray(standardised.T)  # one variant per row: window slices are views
    n = standardised.shape[0]
    removed = np.zeros(len(p), dtype=bool)
    order = np.argsort(p, kind="stable")
    leads = []
    for j in order[p[order] < p_max]:
        if removed[j]:
            continue
        leads.append(j)
        lo, hi = np.searchsorted(key, [key[j] - window, key[j] + window + 1])
        r2 = (columns[lo:hi] @ columns[j] / n) ** 2
        removed[lo:hi] |= r2 > r2_max
        removed[j] = True
    return np.asarray(leads, dtype=np.int64)


#: p-value thresholds of the clumped score (the best on validation individuals is kept).
THRESHOLDS: tuple[float, ...] = (5e-8, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def _r2(score: np.ndarray, phenotype: np.ndarray) -> float:
    """Squared Pearson correlation (0 for a constant score): the usual PRS accuracy."""
    return float(Evaluator("pearson_r2")(phenotype, score))


def _prs(cohort, discovery: np.ndarray, validation: np.ndarray, *, thresholds, clump_r2: float, window: int) -> dict:
    """GWAS on ``discovery`` (adjusted for population), clumping, and the threshold whose score is most
    accurate on ``validation`` (mean within-population R^2)."""
    population = cohort.population
    beta, p, standardised = marginal_gwas(cohort.genotypes[discovery], cohort.phenotype[discovery],
                                          strata=population[discovery])
    leads = clump(p, standardised, cohort.variants, p_max=max(thresholds), r2_max=clump_r2, window=window)
    best = None
    for threshold in thresholds:
        chosen = leads[p[leads] < threshold]
        if not len(chosen):
            continue
        score = cohort.genotypes[validation][:, chosen] @ beta[chosen]
        values = [_r2(score[population[validation] == q], cohort.phenotype[validation][population[validation] == q])
                  for q in pd.unique(population[validation])]
        if best is None or np.mean(values) > best["validation_r2"]:
            best = {"threshold": threshold, "validation_r2": float(np.mean(values)), "variants": chosen}
    if best is None:  # nothing passed even the loosest threshold: the most significant lead alone
        best = {"threshold": float(p[leads[0]]) if len(leads) else 1.0, "validation_r2": float("nan"),
                "variants": leads[:1]}
    best["beta"] = beta
    return best


@dataclass
class PRSResult:
    """Per-population accuracy of a polygenic score on SIMULATED genotypes, per discovery design and seed.

    ``runs``: one dict per (design, seed): R^2 per test population with bootstrap intervals, the gap
    (best - worst population) with its interval, the chosen threshold and number of variants.
    ``designs`` maps a design to its discovery populations; ``settings`` holds the simulation.
    """

    designs: dict
    populations: list[str]
    seeds: list[int]
    runs: list[dict]
    settings: dict = field(default_factory=dict)
    realised_heritability: list[dict] = field(default_factory=list)
    n_boot: int = 1000
    data_kind: str = "simulated"
    note: str = ""
    seconds: float = 0.0

    def summary(self) -> pd.DataFrame:
        """One row per (design, population): test R^2 mean and std over seeds, its ratio to the
        discovery-population (CEU) R^2 of the CEU-only design, and the mean bootstrap bounds."""
        rows = []
        reference = np.nanmean([r["by_group"].get("CEU", np.nan) for r in self.runs if r["design"] == next(iter(self.designs))])
        for design in self.designs:
            runs = [r for r in self.runs if r["design"] == design]
            for population in self.populations:
                values = np.array([r["by_group"].get(population, np.nan) for r in runs], dtype=float)
                ci = np.array([r.get("by_group_ci", {}).get(population, [np.nan, np.nan]) for r in runs], dtype=float)
                rows.append({"design": design, "population": population, "r2": np.nanmean(values),
                             "r2_std": np.nanstd(values), "relative_to_ceu": np.nanmean(values) / reference,
                             "ci_low": np.nanmean(ci[:, 0]), "ci_high": np.nanmean(ci[:, 1])})
        return pd.DataFrame(rows)

    def gaps(self) -> pd.DataFrame:
        """One row per design: the gap (best - worst population R^2) mean and std over seeds, its
        bootstrap interval (mean of the per-seed bounds), and how much of the first design's gap it closes."""
        rows, first = [], None
        for design in self.designs:
            runs = [r for r in self.runs if r["design"] == design]
            gap = np.array([r["gap"] for r in runs], dtype=float)
            ci = np.array([r.get("gap_ci", [np.nan, np.nan]) for r in runs], dtype=float)
            first = gap.mean() if first is None else first
            rows.append({"design": design, "discovery": "+".join(self.designs[design]), "gap": gap.mean(),
                         "gap_std": gap.std(), "gap_ci_low": np.nanmean(ci[:, 0]), "gap_ci_high": np.nanmean(ci[:, 1]),
                         "gap_closed": (first - gap.mean()) / first if first else np.nan,
                         "worst": pd.Series([r["worst"] for r in runs]).mode().iloc[0]})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        payload = asdict(self)
        payload.update({"challenge": "fairness", "kind": "prs", "summary": records(self.summary()),
                        "gaps": records(self.gaps())})
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> PRSResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


def prs_fairness(
    *,
    seeds: Sequence[int] = (0, 1, 2),
    n_discovery: int = 1500,
    n_validation: int = 210,
    n_test: int = 300,
    n_contigs: int = 5,
    contig_length: int = 1_000_000,
    n_causal: int = 50,
    heritability: float = 0.5,
    thresholds: Sequence[float] = THRESHOLDS,
    clump_r2: float = 0.1,
    window: int = 250_000,
    n_boot: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> PRSResult:
    """Martin et al. (2017) on SIMULATED genotypes: a CEU-discovered polygenic score in CEU, YRI and
    CHB, and multi-ancestry discovery with the same total size as the mitigation.

    Per seed, :func:`genotx.simulate.ancestry.simulate_cohort` simulates CEU
    ``n_discovery + n_validation + n_test`` and YRI, CHB ``n_discovery/3 + n_validation/3 + n_test``
    individuals (``n_contigs`` contigs, ``n_causal`` causal variants with shared effects, the same
    ``heritability`` in each population). Designs: ``CEU`` (GWAS on ``n_discovery`` CEU; the
    p-value threshold chosen on ``n_validation`` CEU) and ``multi_ancestry`` (``n_discovery/3`` of
    each population, adjusted for population; threshold chosen on ``n_validation/3`` of each). Both
    are scored on the same ``n_test`` held-out individuals of each population: R^2 within the
    population, with ``n_boot`` bootstrap resamples of the test individuals (seeded).

    Examples
    --------
    >>> callable(prs_fairness), THRESHOLDS[0]
    (True, 5e-08)
    """
    from genotx.simulate.ancestry import MODEL, POPULATIONS, simulate_cohort

    if n_discovery < 30 or n_validation < 3 or n_test < 10:
        raise InputError("prs_fairness", f"{n_discovery} discovery, {n_validation} validation, {n_test} test individuals",
                         fix="use at least 30 discovery, 3 validation and 10 test individuals")
    start = time.perf_counter()
    third, val_third = n_discovery // 3, n_validation // 3
    samples = {q: (n_discovery + n_validation if q == "CEU" else third + val_third) + n_test for q in POPULATIONS}
    designs = {"CEU": ["CEU"], "multi_ancestry": list(POPULATIONS)}
    runs: list[dict] = []
    heritabilities = []
    for seed in seeds:
        if progress:
            progress(f"prs seed {seed}: simulating {sum(samples.values())} individuals")
        cohort = simulate_cohort(samples, n_contigs=n_contigs, contig_length=contig_length, n_causal=n_causal,
                                 heritability=heritability, random_state=seed)
        heritabilities.append({"seed": seed, **cohort.meta["realised_heritability"]})
        index = {q: np.flatnonzero(cohort.population == q) for q in POPULATIONS}
        test = np.concatenate([index[q][-n_test:] for q in POPULATIONS])
        ceu = index["CEU"]
        splits = {
            "CEU": (ceu[:n_discovery], ceu[n_discovery:n_discovery + n_validation]),
            "multi_ancestry": (
                np.concatenate([ceu[:third], *(index[q][:third] for q in POPULATIONS if q != "CEU")]),
                np.concatenate([ceu[n_discovery:n_discovery + val_third],
                                *(index[q][third:third + val_third] for q in POPULATIONS if q != "CEU")]),
            ),
        }
        for design, (discovery, validation) in splits.items():
            t0 = time.perf_counter()
            fit = _prs(cohort, discovery, validation, thresholds=tuple(thresholds), clump_r2=clump_r2, window=window)
            score = cohort.genotypes[test][:, fit["variants"]] @ fit["beta"][fit["variants"]]
            accuracy = group_metrics("pearson_r2", cohort.phenotype[test], score, cohort.population[test],
                                     n_boot=n_boot, random_state=seed)
            runs.append({"design": design, "seed": seed, **accuracy, "threshold": fit["threshold"],
                         "validation_r2": fit["validation_r2"], "n_variants": len(fit["variants"]),
                         "n_causal_in_score": int(np.isin(fit["variants"], cohort.causal).sum()),
                         "n_discovery": {q: int((cohort.population[discovery] == q).sum()) for q in POPULATIONS},
                         "seconds": round(time.perf_counter() - t0, 2)})
    return PRSResult(
        designs=designs, populations=list(POPULATIONS), seeds=list(seeds), runs=runs, n_boot=n_boot,
        realised_heritability=heritabilities,
        settings={"species": MODEL[0], "demographic_model": MODEL[1], "engine": "msprime", "samples": samples,
                  "n_discovery": n_discovery, "n_validation": n_validation, "n_test": n_test, "n_contigs": n_contigs,
                  "contig_length": contig_length, "n_causal": n_causal, "heritability": heritability,
                  "thresholds": list(thresholds), "clump_r2": clump_r2, "clump_window": window, "min_maf": 0.01},
        note="SIMULATED genotypes and phenotypes (stdpopsim HomSap OutOfAfrica_3G09 via msprime; flat recombination map); "
             "causal effects shared across populations, the same heritability in each. Accuracy: R^2 within each "
             "population's held-out individuals.",
        seconds=round(time.perf_counter() - start, 1))


# ---- figures, files and the report ------------------------------------------------------------------


def _label(method: str) -> str:
    return method.replace("_", "\n")


#: A decision rate in words (axis labels).
_RATE_NAMES = {"tpr": "true positive rate", "fpr": "false positive rate", "selection_rate": "selection rate",
               "balanced_accuracy": "balanced accuracy"}


def _group_bars(ax, table: pd.DataFrame, methods: Sequence[str], names: Sequence[str], colours: Mapping) -> None:
    """Bars of ``table``'s ``mean`` per group (x) and method (colour), bootstrap interval as error bars."""
    width = 0.8 / max(len(methods), 1)
    for i, method in enumerate(methods):
        part = table[table["method"] == method].set_index("group").reindex(names)
        x = np.arange(len(names)) + (i - (len(methods) - 1) / 2) * width
        err = np.vstack([part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]]).clip(min=0)
        ax.bar(x, part["mean"], width=width, yerr=np.nan_to_num(err), capsize=2, label=method,
               color=colours.get(method, f"C{i}"), alpha=0.85)
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names], rotation=35 if len(names) > 4 else 0,
                  ha="right" if len(names) > 4 else "center", fontsize=8)


def fairness_figures(result: FairnessResult | Mapping) -> dict[str, Any]:
    """Matplotlib figures of a task result (or its JSON dict): ``groups`` (the gap metric per group
    and method: mean over seeds, bootstrap 95% interval as the mean of the per-seed bounds; a
    decision view: TPR, FPR, selection rate and balanced accuracy per group, one panel each) and
    ``gap`` (best - worst group per method, mean +- std over seeds, seeds as dots, bootstrap
    interval as a thin bar). Built on ``matplotlib.figure.Figure`` (no pyplot state)."""
    from matplotlib.figure import Figure

    result = result if isinstance(result, FairnessResult) else FairnessResult.from_dict(result)
    methods = ["none", *result.methods]
    colours = {"none": "tab:red", "group_balanced": "tab:green", "upweight_worst": "tab:blue",
               "threshold_optimizer": "tab:green", "logistic_regression": "tab:grey", "exponentiated_gradient": "tab:blue"}
    if result.view == "decision":
        table = result.rate_table()
        names = [n for n in dict.fromkeys(table["group"]) if n != "all"]
        groups = Figure(figsize=(min(12.0, max(8.0, 0.5 * len(names) * len(methods) + 3)), 6.4), layout="constrained")
        for ax, rate in zip(groups.subplots(2, 2).ravel(), RATES):
            _group_bars(ax, table[table["rate"] == rate], methods, names, colours)
            ax.set(ylabel=_RATE_NAMES[rate], ylim=(0, 1.05))
        groups.legend(*groups.axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(methods),
                      fontsize=8)
        groups.suptitle(f"{result.task} ({result.data_kind}): decision for '{result.decision}'\nper {result.by}, "
                        f"{result.model}; mean over seeds, bootstrap 95%", fontsize=9)
    else:
        table = result.group_table()
        names = list(dict.fromkeys(table["group"]))
        groups = Figure(figsize=(min(12.0, max(6.0, 0.3 * len(names) * max(len(methods), 1) + 2)), 3.8),
                        layout="constrained")
        ax = groups.subplots()
        _group_bars(ax, table, methods, names, colours)
        ax.set(ylabel=result.metric, title=f"{result.task} ({result.data_kind}): {result.metric} per {result.by}, "
                                           f"{result.model}, {result.split} split")
        ax.legend(fontsize=8)

    gap = Figure(figsize=(5.5, 3.4), layout="constrained")
    ax = gap.subplots()
    summary = result.summary()
    for i, row in summary.reset_index(drop=True).iterrows():
        ax.bar(i, row["gap"], yerr=row["gap_std"], color=colours.get(row["method"], f"C{i}"), capsize=4, alpha=0.85)
        ax.vlines(i + 0.3, row["gap_ci_low"], row["gap_ci_high"], color="black", lw=1.5)
        seeds = [r["gap"] for r in result.runs if r["method"] == row["method"]]
        ax.scatter(np.full(len(seeds), i + 0.15), seeds, s=10, color="grey", zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(summary)), [_label(m) for m in summary["method"]])
    ylabel = (f"{result.metric.replace('_', ' ')}\n(largest between-{result.by} difference)"
              if result.view == "decision" else f"largest gap in {result.metric}\n(best - worst {result.by})")
    ax.set(ylabel=ylabel,
           title=f"{result.task}: gap before / after mitigation\n(bar: mean ± std over seeds; line: bootstrap 95%)")
    return {"groups": groups, "gap": gap}


def prs_figures(result: PRSResult | Mapping) -> dict[str, Any]:
    """Figures of a PRS result: ``accuracy`` (R^2 per population and discovery design, mean +- std
    over seeds, seeds as dots) and ``gap`` (best - worst population per design)."""
    from matplotlib.figure import Figure

    result = result if isinstance(result, PRSResult) else PRSResult.from_dict(result)
    table = result.summary()
    designs = list(result.designs)
    colours = {"YRI": "tab:orange", "CEU": "tab:blue", "CHB": "tab:green"}
    accuracy = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = accuracy.subplots()
    width = 0.8 / len(result.populations)
    for j, population in enumerate(result.populations):
        part = table[table["population"] == population].set_index("design").reindex(designs)
        x = np.arange(len(designs)) + (j - (len(result.populations) - 1) / 2) * width
        ax.bar(x, part["r2"], width=width, yerr=part["r2_std"], capsize=3, color=colours.get(population, f"C{j}"),
               label=population)
        for i, design in enumerate(designs):
            values = [r["by_group"].get(population) for r in result.runs if r["design"] == design]
            ax.scatter(np.full(len(values), x[i]), values, s=8, color="black", zorder=3)
    ax.set_xticks(range(len(designs)), [f"{d}\n(discovery {'+'.join(result.designs[d])})" for d in designs])
    ax.set(ylabel="R² in held-out individuals", title="SIMULATED (OutOfAfrica_3G09): polygenic score accuracy per population")
    ax.legend(title="test population", fontsize=8)

    gap = Figure(figsize=(4.8, 3.2), layout="constrained")
    ax = gap.subplots()
    gaps = result.gaps()
    ax.bar(range(len(gaps)), gaps["gap"], yerr=gaps["gap_std"], capsize=4, color=["tab:red", "tab:green"][: len(gaps)])
    ax.vlines(np.arange(len(gaps)) + 0.3, gaps["gap_ci_low"], gaps["gap_ci_high"], color="black", lw=1.5)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(gaps)), list(gaps["design"]))
    ax.set(ylabel="R² gap (best - worst population)", title="SIMULATED: gap before / after multi-ancestry discovery")
    return {"accuracy": accuracy, "gap": gap}


def save_fairness(result: FairnessResult | PRSResult, out_dir) -> list:
    """Write ``<out_dir>/challenges/fairness_<task>_<by>.json`` (``..._decision.json`` for a decision
    view, ``fairness_prs.json``) and its PNG figures; return the paths."""
    if isinstance(result, PRSResult):
        return write_result(result.to_dict(), prs_figures(result), out_dir, "fairness_prs")
    stem = f"fairness_{result.task}_{result.by}" + ("_decision" if result.view == "decision" else "")
    return write_result(result.to_dict(), fairness_figures(result), out_dir, stem)


def _fmt(value: float, std: float | None = None, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None and np.isfinite(std) else "")


def report_section(payload: Mapping) -> Section:
    """The report's view of one fairness result (its JSON): a task's per-group table or the PRS
    populations, the figures and the verdict in words."""
    if payload.get("kind") == "prs":
        return _prs_section(PRSResult.from_dict(payload))
    result = FairnessResult.from_dict(payload)
    if result.view == "decision":
        return _decision_section(result)
    summary = result.summary()
    base = summary[summary["method"] == "none"]
    text = (f"{result.model} on {result.task} ({result.data_kind} data), {result.split} split: {result.metric} per "
            f"{result.by} ({result.what}) from out-of-fold predictions, over seeds {result.seeds}.")
    if not base.empty:
        row = base.iloc[0]
        text += (f" Without mitigation the worst group is {row['worst_group']} and the largest gap (best - worst) is "
                 f"{_fmt(row['gap'], row['gap_std'])} (bootstrap 95% interval {_fmt(row['gap_ci_low'])} to "
                 f"{_fmt(row['gap_ci_high'])}, {result.n_boot} resamples).")
    for _, row in summary[summary["method"] != "none"].iterrows():
        verdict = "narrows" if row["gap_reduction"] > row["gap_reduction_std"] else "does not clearly narrow"
        text += (f" {row['method']} {verdict} the gap ({_fmt(row['gap_reduction'], row['gap_reduction_std'])}) and changes "
                 f"the overall score by {_fmt(row['overall_change'], row['overall_change_std'])} (positive = better).")
    text += " " + result.ancestry
    groups = result.group_table().round(4)
    tables = [(f"{result.metric}: overall and largest gap per method (mean ± std over seeds; gap interval = bootstrap "
               "95% of the worst-vs-best difference, mean of the per-seed bounds)", summary.drop(columns=["metric"]).round(4)),
              (f"{result.metric} per {result.by} (mean, std over seeds; bootstrap 95% interval; n scored rows)", groups)]
    note = result.note + (f" Groups left out (fewer than {result.settings.get('min_group')} scored rows): "
                          f"{result.excluded}." if result.excluded else "")
    return Section(title=f"Fairness: {result.task} by {result.by}", data_kind=result.data_kind or "real", summary=text,
                   tables=tables, figures=list(fairness_figures(result).values()), note=note)


def _interval(low: float, high: float) -> str:
    return f"[{_fmt(low)}, {_fmt(high)}]"


def _verdict(low: float, high: float) -> str:
    """A paired interval of a gap reduction in words."""
    if not np.isfinite(low) or not np.isfinite(high):
        return "cannot say (no interval)"
    if low > 0:
        return "narrows (the interval lies above 0)"
    if high < 0:
        return "widens (the interval lies below 0)"
    return "does not narrow beyond chance (the interval holds 0)"


def rate_pivot(result: FairnessResult) -> pd.DataFrame:
    """Decision view: one row per (rate, group) and one column per method, as ``mean [bootstrap 95%]``."""
    table = result.rate_table()
    cell = table.apply(lambda r: _fmt(r["mean"]) + (f" {_interval(r['ci_low'], r['ci_high'])}"
                                                     if np.isfinite(r["ci_low"]) else ""), axis=1)
    pivot = table.assign(cell=cell).pivot_table(index=["rate", "group", "n", "n_positive"], columns="method",
                                                values="cell", aggfunc="first", sort=False)
    return pivot[[m for m in ["none", *result.methods] if m in pivot.columns]].reset_index()


def _decision_section(result: FairnessResult) -> Section:
    summary = result.summary().set_index("method")
    base = summary.loc["none"]
    none = [r for r in result.runs if r["method"] == "none"]
    auc = pd.DataFrame([r["other"].get("auc", {}) for r in none]).mean()
    text = (f"{result.model} on {result.task} ({result.data_kind} data), {result.split} split, seeds {result.seeds}: the "
            f"decision '{result.settings.get('baseline')}' for the outcome '{result.decision}', per {result.by} "
            f"({result.what}), on out-of-fold predictions of the {result.settings.get('n_known_outcome')} patients whose "
            f"outcome is known. Without mitigation: balanced accuracy {_fmt(base['overall'], base['overall_std'])}, "
            f"{result.metric} {_fmt(base['gap'], base['gap_std'])} (bootstrap 95% {_interval(base['gap_ci_low'], base['gap_ci_high'])}"
            f"; worst {result.by}: {base['worst_group']}). The task's score ranks patients with AUC "
            + ", ".join(f"{k} {v:.2f}" for k, v in auc.items()) + f" within each {result.by}: a constraint that equalises "
            "rates can only bring the better-ranked groups down toward the worst-ranked one.")
    for method, row in summary.drop(index="none").iterrows():
        if pd.isna(row.get("compared_with")):
            text += (f" {method} (the reference for {[m for m, r in result.references.items() if r == method]}): "
                     f"{result.metric} {_fmt(row['gap'], row['gap_std'])}, balanced accuracy "
                     f"{_fmt(row['overall'], row['overall_std'])}.")
            continue
        text += (f" {method} (against {row['compared_with']}): {result.metric} {_fmt(row['gap'], row['gap_std'])}; the "
                 f"gap {_verdict(row.get('gap_reduction_ci_low', np.nan), row.get('gap_reduction_ci_high', np.nan))}: "
                 f"reduction {_fmt(row['gap_reduction'], row['gap_reduction_std'])}, paired bootstrap 95% "
                 f"{_interval(row.get('gap_reduction_ci_low', np.nan), row.get('gap_reduction_ci_high', np.nan))}; "
                 f"balanced accuracy changes by {_fmt(row['overall_change'], row['overall_change_std'])} "
                 f"({_interval(row.get('overall_change_ci_low', np.nan), row.get('overall_change_ci_high', np.nan))}).")
    text += " " + result.ancestry
    what = " ".join(f"{m}: {w}." for m, w in result.settings.get("mitigations", {}).items())
    note = " ".join(filter(None, [result.note, what, f"Groups left out (known outcomes): {result.excluded}."
                                  if result.excluded else ""]))
    tables = [(f"balanced accuracy (overall) and {result.metric} (gap) per method: mean ± std over seeds; gap interval = "
               "bootstrap 95% of the rows, reduction and change intervals = paired bootstrap against the method it is "
               "compared with (means of the per-seed bounds)", result.summary().drop(columns=["metric"]).round(4)),
              (f"rates per {result.by} and method (mean over seeds [bootstrap 95%]; group 'all' = every scored patient)",
               rate_pivot(result))]
    return Section(title=f"Fairness: {result.task} decision by {result.by}", data_kind=result.data_kind or "real",
                   summary=text, tables=tables, figures=list(fairness_figures(result).values()), note=note)


def _prs_section(result: PRSResult) -> Section:
    table = result.summary()
    gaps = result.gaps()
    first, second = gaps.iloc[0], gaps.iloc[-1]
    ceu = table[(table["design"] == first["design"])].set_index("population")
    text = (f"SIMULATED genotypes and phenotypes ({result.settings.get('demographic_model')}, msprime; "
            f"{result.settings.get('n_contigs')} x {result.settings.get('contig_length', 0) / 1e6:g} Mb, "
            f"{result.settings.get('n_causal')} causal variants with shared effects, h2 = {result.settings.get('heritability')} "
            f"in each population), seeds {result.seeds}. A polygenic score discovered in {first['discovery']} "
            f"(n = {result.settings.get('n_discovery')}) reaches R² " +
            ", ".join(f"{q} {_fmt(ceu.loc[q, 'r2'], ceu.loc[q, 'r2_std'])}" for q in result.populations if q in ceu.index) +
            f" in held-out individuals (the fall outside the discovery population that Martin et al. 2017 describe): "
            f"the gap is {_fmt(first['gap'], first['gap_std'])}. Discovery in {second['discovery']} with the same total "
            f"size leaves a gap of {_fmt(second['gap'], second['gap_std'])} ({_fmt(100 * second['gap_closed'], digits=0)}% "
            "of it closed), with R² " +
            ", ".join(f"{q} {_fmt(v, s)}" for q, v, s in table[table["design"] == second["design"]][["population", "r2", "r2_std"]]
                      .itertuples(index=False)) + ".")
    return Section(title="Fairness: polygenic score across ancestries (simulated)", data_kind="simulated", summary=text,
                   tables=[("R² per test population and discovery design (mean ± std over seeds; bootstrap 95% of the "
                            "test individuals, mean of per-seed bounds)", table.round(4)),
                           ("Gap (best - worst population) per design", gaps.round(4))],
                   figures=list(prs_figures(result).values()), note=result.note)

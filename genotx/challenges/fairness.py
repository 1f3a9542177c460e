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
(['drug_response', 'patient_stratification', 'rare_disease'], ['group_balanced', 'upweight_worst'])
"""

from __future__ import annotations

import time
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
    gap is ``max - min`` over groups (fairlearn's ``difference``); ``n_boot`` seeded resamples of the
    rows (fairlearn's bootstrap) give ``quantiles`` of every group's metric, of the overall one and of
    the gap (each resample's own ``max - min``). ``n_boot=None``: no intervals.

    Examples
    --------
    >>> out = group_metrics("rmse", [1.0, 2, 3, 4], [1.0, 2, 4, 6], ["a", "a", "b", "b"], n_boot=None)
    >>> out["by_group"], out["gap"], out["worst"], out["best"]
    ({'a': 0.0, 'b': 1.5811388300841898}, 1.5811388300841898, 'b', 'a')
    """
    from fairlearn.metrics import MetricFrame

    truth = np.asarray(truth) if not isinstance(truth, np.ndarray) else truth
    group = np.asarray(group, dtype=object).astype(str)
    if not len(truth) == len(np.asarray(prediction)) == len(group):
        raise InputError("group_metrics", f"{len(truth)} truths, {len(np.asarray(prediction))} predictions and "
                         f"{len(group)} group labels", fix="pass row-aligned arrays")
    groups = groups if groups is not None else pd.DataFrame(index=range(len(truth)))
    fn = _metric_fn(metric, truth, groups.reset_index(drop=True), on_ranks=on_ranks)
    positions = np.arange(len(truth))
    boot = {} if not n_boot else {"n_boot": int(n_boot), "ci_quantiles": list(quantiles), "random_state": int(random_state)}
    frame = MetricFrame(metrics={metric: fn}, y_true=positions, y_pred=np.asarray(prediction), sensitive_features=group,
                        **boot)
    by_group = frame.by_group[metric].astype(float)
    greater = Evaluator(metric).greater_is_better
    finite = by_group.dropna()
    out: dict[str, Any] = {
        "overall": float(frame.overall[metric]),
        "by_group": {str(k): float(v) for k, v in by_group.items()},
        "n_by_group": {str(k): int(v) for k, v in pd.Series(group).value_counts().items()},
        "gap": float(frame.difference()[metric]),
        "worst": str(finite.idxmin() if greater else finite.idxmax()) if len(finite) else None,
        "best": str(finite.idxmax() if greater else finite.idxmin()) if len(finite) else None,
        "n_boot": int(n_boot or 0),
    }
    if n_boot:
        low, high = frame.by_group_ci
        out["by_group_ci"] = {str(k): [float(low[metric][k]), float(high[metric][k])] for k in by_group.index}
        out["overall_ci"] = [float(frame.overall_ci[0][metric]), float(frame.overall_ci[1][metric])]
        out["gap_ci"] = [float(frame.difference_ci()[0][metric]), float(frame.difference_ci()[1][metric])]
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
        if self.groups is None or not hasattr(X, "index"):
            raise InputError(type(self).__name__, "needs groups (a Series by row label) and inputs with an index",
                             fix="pass groups=pd.Series(group, index=inputs.index) and DataFrame inputs")
        labels = self.groups.reindex(X.index)
        if labels.isna().any():
            raise InputError(type(self).__name__, f"{int(labels.isna().sum())} rows have no group",
                             fix="give every input row label a group")
        return labels.astype(str).to_numpy()

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


def _rows(X, index: np.ndarray):
    return X.iloc[index] if hasattr(X, "iloc") else np.asarray(X)[index]


#: Mitigation name -> GroupReweighted strategy.
MITIGATIONS: dict[str, str] = {"group_balanced": "balanced", "upweight_worst": "worst"}


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
    ``min_group`` scored rows are left out of the gap (listed), and the ``mitigations`` run by default."""

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


#: Tasks with real groups in their data. Task packages are not edited: the mapping lives here.
FAIRNESS: dict[str, FairnessPlan] = {
    "drug_response": FairnessPlan(
        model="lgbm", metric="pearson_per_drug", metrics=("pearson_per_drug", "rmse"),
        groupings={"tissue": Grouping("tissue of origin of the cell line (GDSC annotation)")},
        prepare=_tissue_rows, subsample=("drug", 30),
        note="GDSC2 pairs of cell lines with a tissue annotation (69% of cell lines); 30 drugs drawn once (seed 0) to "
             "keep runs short; LightGBM (it takes sample weights). Gap metric: Pearson across a tissue's cell lines "
             "within each drug, averaged over drugs (pooled Pearson is dominated by drug identity).",
    ),
    "patient_stratification": FairnessPlan(
        model="coxph", metric="c_index",
        groupings={"age_band": Grouping("age at diagnosis: <40, 40-49, >=50 years", _age_band),
                   "grade": Grouping("histological grade (well / intermediate / poorly differentiated)", _grade)},
        note="GSE7390 (198 node-negative breast-cancer patients, 51 distant metastases); out-of-fold risks of stratified "
             "5-fold CV; C-index pooled over folds within each group (groups hold 30-95 patients: wide intervals). The "
             "ridge Cox model takes no sample weights: reweighting replicates rows (integer weights).",
    ),
    "rare_disease": FairnessPlan(
        model="resnik", metric="top10_recall", metrics=("top1_recall", "top10_recall"), split="new_patients",
        groupings={"disease_category": Grouping("HPO organ system with most annotations of the true disease",
                                                _disease_category)},
        mitigations=(),
        note="Patients are SIMULATED from the real HPO annotations (the task's data). The Resnik ranker learns nothing "
             "from training patients, so there is nothing to reweight: no mitigation.",
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

    def _runs(self, method: str) -> list[dict]:
        return [r for r in self.runs if r["method"] == method]

    def summary(self) -> pd.DataFrame:
        """One row per method: overall score and gap (mean, std over seeds), the gap's bootstrap
        interval (mean of the per-seed bounds), the most frequent worst group, and the change in gap
        and overall score against no mitigation (signed: positive = the mitigation helps)."""
        sign = 1.0 if self.greater_is_better else -1.0
        base = {r["seed"]: r for r in self._runs("none")}
        rows = []
        for method in ["none", *self.methods]:
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
                row.update({"gap_reduction": np.nanmean(gap_change), "gap_reduction_std": np.nanstd(gap_change),
                            "overall_change": np.nanmean(score_change), "overall_change_std": np.nanstd(score_change)})
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

    def to_dict(self) -> dict:
        """JSON-serialisable (NaN as None), with ``challenge: fairness`` and the summary tables."""
        payload = asdict(self)
        payload.update({"challenge": "fairness", "kind": "task", "summary": records(self.summary()),
                        "groups": records(self.group_table())})
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> FairnessResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


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


def _out_of_fold(protocol, task, data: Dataset, folds, *, model, estimator, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's fold loop (``fit_folds``); returns the scored positions and their predictions."""
    fits = protocol.fit_folds(task, data, folds, model=model, estimator=estimator, seed=seed)
    score = np.full(len(data), np.nan)
    for f in fits:
        score[f.fold.test] = np.asarray(f.prediction.score, dtype=float)
    tested = np.flatnonzero(~np.isnan(score))
    return tested, score[tested]


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
    dataset: Dataset | None = None,
    plan: FairnessPlan | None = None,
    subsample: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> FairnessResult:
    """Per-group scores, the largest gap with its bootstrap interval, and what reweighting changes.

    For every seed: the task's protocol fits the model on the folds of ``split`` (``fit_folds``: the
    task's own loop and hooks), then :func:`group_metrics` scores the out-of-fold predictions per group
    of ``by`` (a grouping of the task's plan in :data:`FAIRNESS`) with ``n_boot`` bootstrap resamples
    (seeded with the seed); each mitigation of ``mitigations`` (names in :data:`MITIGATIONS`) reruns the
    same folds with the model inside :class:`GroupReweighted` (``factor``: the worst group's weight).
    ``subsample`` overrides the plan's number of entities (smaller runs for tests).

    Examples
    --------
    >>> callable(fairness), sorted(FAIRNESS["patient_stratification"].groupings)
    (True, ['age_band', 'grade'])
    """
    from genotx.challenges.shift import TaskView, prepare_data
    from genotx.tasks.registry import get_task

    start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    plan = _plan(task, plan)
    by = by or next(iter(plan.groupings))
    if by not in plan.groupings:
        raise UnknownNameError(f"group column of {task.name}", by, plan.groupings)
    mitigations = tuple(plan.mitigations if mitigations is None else mitigations)
    unknown = [m for m in mitigations if m not in MITIGATIONS]
    if unknown:
        raise UnknownNameError("mitigation", unknown[0], MITIGATIONS)
    model = model or plan.model
    task.model(model)  # an unknown model fails before any data is loaded
    metric = metric or plan.metric
    Evaluator(metric)
    split = split or plan.split or task.spec.splits[0]
    if split not in task.spec.splits:
        raise UnknownNameError(f"split of {task.name}", split, task.spec.splits)
    protocol = task.protocol
    if not isinstance(protocol, Supervised):
        raise InputError(task.name, f"{type(protocol).__name__} protocol: no per-row predictions to group",
                         fix=f"use one of {sorted(FAIRNESS)}")
    on_ranks = isinstance(protocol, Ranking)
    note = plan.note
    if mitigations and on_ranks:
        note = (note + " " if note else "") + "No mitigation: a ranking protocol (reweighting wraps row models)."
        mitigations = ()
    data = _with_groups(task, plan, prepare_data(task, plan, dataset, subsample=subsample), by)
    view = TaskView(task)
    labels = data.groups[by].to_numpy(dtype=str)
    shown = tuple(dict.fromkeys([metric, *plan.metrics]))
    truth = np.asarray(data.target)
    by_label = pd.Series(labels, index=data.inputs.index) if hasattr(data.inputs, "index") else None
    position_of = pd.Series(np.arange(len(data)), index=data.inputs.index) if by_label is not None else None
    inner_fn = _metric_fn(metric, truth, data.groups, on_ranks=on_ranks)
    sign = 1.0 if Evaluator(metric).greater_is_better else -1.0

    def inner_score(y_true, y_pred, row_labels) -> float:  # noqa: ARG001 (the truth is looked up by position)
        return sign * inner_fn(position_of.reindex(row_labels).to_numpy(), y_pred)

    runs: list[dict] = []
    excluded: dict[str, int] = {}
    for seed in seeds:
        folds = view.folds(data, split, random_state=seed)
        for method in ("none", *mitigations):
            t0 = time.perf_counter()
            if progress:
                progress(f"{task.name} by {by}: {method} seed {seed}")
            estimator = None
            if method != "none":
                estimator = GroupReweighted(task.model(model, random_state=seed), groups=by_label,
                                            strategy=MITIGATIONS[method], factor=factor, group_score=inner_score,
                                            random_state=seed)
            tested, prediction = _out_of_fold(protocol, view, data, folds, model=None if estimator else model,
                                              estimator=estimator, seed=seed)
            counts = pd.Series(labels[tested]).value_counts()
            small = counts[counts < plan.min_group]
            excluded.update({str(k): int(v) for k, v in small.items()})
            keep = tested[~np.isin(labels[tested], small.index)]
            scored = prediction[~np.isin(labels[tested], small.index)]
            part_groups = data.groups.iloc[keep].reset_index(drop=True)
            main = group_metrics(metric, truth[keep], scored, labels[keep], groups=part_groups, n_boot=n_boot,
                                 random_state=seed, on_ranks=on_ranks)
            other = {name: group_metrics(name, truth[keep], scored, labels[keep], groups=part_groups, n_boot=None,
                                         on_ranks=on_ranks)["by_group"] for name in shown if name != metric}
            run = {"method": method, "seed": seed, **main, "other": other, "n_scored": len(keep),
                   "seconds": round(time.perf_counter() - t0, 2)}
            runs.append(run)
    return FairnessResult(
        task=task.name, by=by, what=plan.groupings[by].what, model=model, split=split, metric=metric,
        greater_is_better=Evaluator(metric).greater_is_better, methods=list(mitigations), seeds=list(seeds), runs=runs,
        n_boot=n_boot, excluded=excluded, note=note, data_kind=str(data.meta.get("data_kind", task.spec.data_kind)),
        settings={"n_rows": len(data), "factor": factor, "min_group": plan.min_group, "metrics": list(shown),
                  "subsample": [plan.subsample[0], subsample or plan.subsample[1]] if plan.subsample else None},
        seconds=round(time.perf_counter() - start, 1))

"""Protocols: how each kind of task is evaluated. The loops live here, once; a task supplies only
what is particular to it.

A protocol's :meth:`Protocol.evaluate` takes a task (anything with ``spec``, ``folds`` and
``model``), a :class:`~genotx.data.dataset.Dataset`, a split name, a baseline name or any
scikit-learn-style ``estimator``, and a seed, and returns an :class:`Outcome`. A task declares its
kind in ``SPEC.protocol``; when it needs to say more (fit on an extra array, a second prediction
output, metrics of the whole cohort) its package defines ``PROTOCOL``: an instance of one of these
classes or of a small subclass that overrides hooks, never the loop.

=============  ==========================================================  ==========================
kind           in -> out                                                   metrics (registry)
=============  ==========================================================  ==========================
supervised     rows -> label / value / risk, fold by fold                  pearson, auroc, c_index...
ranking        query -> a score for every candidate; rank of the truth     top{k}_recall
link           known links -> held-out links vs sampled non-links          auroc, aupr, top{k}_recall
network        samples x variables -> a score for every directed pair      auroc, aupr vs a reference
estimation     data -> effect with CI; bias/coverage on simulations        estimate, se, bias, coverage
design         oracle + generator -> designs scored by the oracle           oracle_spearman, ...
extraction     documents -> spans / relations                              span_f1, relation_f1...
=============  ==========================================================  ==========================

``n_train`` of an outcome is the mean number of training rows over folds; ``n_test`` is the number of
distinct held-out rows (queries, links, documents) that were scored.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import Ridge
>>> from genotx.data.dataset import Dataset
>>> from genotx.evaluate.splits import ColdSplit
>>> class Toy:  # the few things a protocol asks of a task
...     class spec: metrics = ("pearson",); name = "toy"
...     def folds(self, data, split, *, random_state=0):
...         return ColdSplit("entity", n_folds=3).split(data.groups, random_state=random_state)
>>> rng = np.random.default_rng(0); x = rng.normal(size=(90, 2))
>>> data = Dataset("toy", pd.DataFrame(x, columns=["a", "b"]), x @ [2.0, -1.0],
...                pd.DataFrame({"entity": np.repeat(np.arange(9), 10)}))
>>> outcome = Supervised().evaluate(Toy(), data, split="cold", estimator=Ridge())
>>> round(outcome.metrics["pearson"], 3), len(outcome.fold_metrics), outcome.n_test
(1.0, 3, 90)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier

from genotx._registry import Registry
from genotx.data.dataset import Dataset
from genotx.evaluate.metrics import METRICS, evaluate
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import Fold

__all__ = [
    "PROTOCOLS", "Protocol", "FoldFit", "Prediction", "Supervised", "Ranking", "Link", "Network", "Estimation",
    "Design", "Extraction", "Estimate", "safe_metrics", "rank_of_truth", "documents_array",
]

PROTOCOLS: Registry[type[Protocol]] = Registry("protocol")


@dataclass
class Prediction:
    """What a model said about the rows of one test part: a continuous ``score`` (for ranking
    metrics), hard ``label`` (for label metrics, when the model is a classifier) and any named
    ``extra`` outputs a task's protocol asks for (a risk group, per-line probabilities...)."""

    score: np.ndarray
    label: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FoldFit:
    """One fold: its positions, the fitted estimator, the test part and what the estimator predicted."""

    fold: Fold
    estimator: Any
    test: Dataset
    prediction: Prediction


def safe_metrics(names: Iterable[str], y_true, y_score, *, groups=None, labels=None) -> dict[str, float]:
    """Every metric in ``names`` from the registry; one that is undefined here (one class only) is NaN."""
    out = {}
    for name in names:
        try:
            out.update(evaluate([name], y_true, y_score, groups=groups, labels=labels))
        except ValueError:
            out[name] = float("nan")
    return out


def rank_of_truth(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """1-based rank of each row's true column among all columns of ``scores`` (higher = better);
    ties share the average rank, so a constant scorer ranks the truth in the middle.

    Examples
    --------
    >>> rank_of_truth(np.array([[0.1, 0.9, 0.5], [1.0, 1.0, 1.0]]), np.array([2, 0])).tolist()
    [2.0, 2.0]
    """
    scores = np.asarray(scores)
    own = scores[np.arange(len(scores)), np.asarray(truth)][:, None]
    higher = (scores > own).sum(axis=1)
    ties = (scores == own).sum(axis=1) - 1
    return 1.0 + higher + ties / 2.0


class Protocol:
    """Base of every protocol: how a fresh estimator is made for a run, and the progress tick."""

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            PROTOCOLS.add(cls.name, cls)

    @staticmethod
    def make(task, model: str | None, estimator, seed: int):
        """A fresh estimator: a clone of the user's ``estimator``, else the task's baseline ``model``."""
        if estimator is not None:
            return clone(estimator)
        return task.model(model, random_state=seed)

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> Outcome:
        raise NotImplementedError


# ---- supervised: split, fit, predict, score ------------------------------------------------------


class Supervised(Protocol):
    """Fit a fresh estimator per fold on the training rows, predict the held-out rows, score them.

    Metrics are computed per fold and on the pooled held-out rows; a metric named in ``fold_mean``
    is reported as the mean over folds instead (for folds whose test rows overlap, or a metric that
    is only comparable within a fold). Hooks a task may override: :meth:`fit` (e.g. an extra
    row-aligned array as a fit parameter), :meth:`predict` (an extra output), :meth:`score`,
    :meth:`prediction_table` and :meth:`finish` (metrics or details from the fitted folds).
    """

    name = "supervised"

    def __init__(self, *, fold_mean: Sequence[str] = (), keep_fitted: bool = False) -> None:
        self.fold_mean = tuple(fold_mean)
        self.keep_fitted = keep_fitted

    # hooks ---------------------------------------------------------------------------------------
    def fit(self, estimator, train: Dataset):
        return estimator.fit(train.inputs, train.target)

    def predict(self, estimator, test: Dataset) -> Prediction:
        if is_classifier(estimator) or hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(test.inputs)
            label = np.asarray(estimator.classes_)[proba.argmax(axis=1)]
            score = proba[:, 1] if proba.shape[1] == 2 else proba
            return Prediction(score, _like(label, test.target))
        return Prediction(np.asarray(estimator.predict(test.inputs)))

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        return safe_metrics(task.spec.metrics, part.target, prediction.score, groups=part.groups, labels=prediction.label)

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame | None:
        """Held-out rows for the report's plots: group columns, ``y_true``, ``y_pred``, ``fold``."""
        if np.ndim(part.target) != 1 or np.ndim(prediction.score) != 1 or part.target.dtype.names:
            return None
        return part.groups.reset_index(drop=True).assign(y_true=part.target, y_pred=prediction.score, fold=fold)

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,
               seed: int) -> None:
        """After the folds: the task module's ``details(dataset, outcome, split=, model=, seed=)`` hook."""
        hook = getattr(getattr(task, "module", None), "details", None)
        if callable(hook):
            outcome.fitted = [(f.fold, f.estimator) for f in fits]
            outcome.details.update(hook(dataset, outcome, split=split, model=model, seed=seed))

    # the loop ------------------------------------------------------------------------------------
    def fit_folds(self, task, dataset: Dataset, folds: list[Fold], *, model, estimator, seed: int,
                  progress: Callable[[], None] | None = None) -> list[FoldFit]:
        """The one cross-validation loop: a fresh estimator per fold, fit on train, predict test."""
        fits = []
        for fold in folds:
            fitted = self.fit(self.make(task, model, estimator, seed), dataset.subset(fold.train))
            test = dataset.subset(fold.test)
            fits.append(FoldFit(fold, fitted, test, self.predict(fitted, test)))
            if progress:
                progress()
        return fits

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> Outcome:
        folds = task.folds(dataset, split, random_state=seed)
        fits = self.fit_folds(task, dataset, folds, model=model, estimator=estimator, seed=seed, progress=progress)
        outcome = self.summarize(task, dataset, fits, seed=seed)
        self.finish(task, dataset, outcome, fits, split=split, model=model, seed=seed)
        if not self.keep_fitted:
            outcome.fitted = []  # fitted models can be large; a run record never holds them
        return outcome

    def summarize(self, task, dataset: Dataset, fits: list[FoldFit], *, seed: int) -> Outcome:
        """Per-fold metrics, pooled metrics over every held-out row (the last fold wins where test
        rows repeat), and the prediction table."""
        fold_metrics = [{"fold": f.fold.name, "n_test": len(f.fold.test), **self.score(task, f.test, f.prediction, seed=seed)}
                        for f in fits]
        tested = np.zeros(len(dataset), dtype=bool)
        score = label = None
        extra: dict[str, np.ndarray] = {}
        fold_of = np.empty(len(dataset), dtype=object)
        for f in fits:
            s = np.asarray(f.prediction.score)
            if score is None:
                score = (np.full((len(dataset), *s.shape[1:]), np.nan) if s.dtype != object
                         else np.empty(len(dataset), dtype=object))
            score[f.fold.test] = s
            if f.prediction.label is not None:
                if label is None:
                    label = np.empty(len(dataset), dtype=object)
                label[f.fold.test] = f.prediction.label
            for key, value in f.prediction.extra.items():
                value = np.asarray(value)
                if key not in extra:
                    extra[key] = np.empty((len(dataset), *value.shape[1:]), dtype=value.dtype if value.dtype.kind in "fiub" else object)
                extra[key][f.fold.test] = value
            tested[f.fold.test] = True
            fold_of[f.fold.test] = f.fold.name
        idx = np.flatnonzero(tested)
        pooled = dataset.subset(idx)
        prediction = Prediction(score[idx], None if label is None else _like(label[idx], dataset.target),
                                {k: v[idx] for k, v in extra.items()})
        metrics = self.score(task, pooled, prediction, seed=seed)
        for name in self.fold_mean:
            values = np.array([m.get(name, np.nan) for m in fold_metrics], dtype=float)
            metrics[name] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        table = self.prediction_table(pooled, prediction, fold_of[idx].astype(str))
        if table is not None and len(table) == len(idx) and "row_id" not in table:
            table.insert(0, "row_id", idx)  # the dataset position: `genotx evaluate` matches predictions by it
        n_train = int(np.mean([len(f.fold.train) for f in fits])) if fits else 0
        return Outcome(metrics, n_train, len(idx), fold_metrics, table)


def _like(labels: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Hard labels in the target's dtype: label metrics (accuracy, F1) refuse mixed object/number types."""
    try:
        return np.asarray(labels).astype(np.asarray(target).dtype)
    except (TypeError, ValueError):
        return np.asarray(labels)


# ---- ranking: queries -> every candidate scored -> rank of the truth ------------------------------


class Ranking(Supervised):
    """Each held-out row is a query; the estimator scores every candidate and the metric reads the
    rank of the true one (1 = top; ties share the average rank).

    Estimator contract: ``fit(X, y)`` with ``y`` the true candidate ids, ``decision_function(X)`` ->
    ``(n_queries, n_candidates)`` scores and ``classes_`` -> the candidate ids (as a scikit-learn
    multiclass classifier). Metrics: ``top{k}_recall`` (any registered metric on ranks).
    """

    name = "ranking"

    def predict(self, estimator, test: Dataset) -> Prediction:
        scores = np.asarray(estimator.decision_function(test.inputs))
        index = pd.Index(np.asarray(estimator.classes_, dtype=object)).get_indexer(np.asarray(test.target, dtype=object))
        ranks = np.full(len(test), np.nan)
        known = index >= 0  # a truth that is not a candidate ranks last
        ranks[known] = rank_of_truth(scores[known], index[known])
        ranks[~known] = scores.shape[1] + 1
        return Prediction(ranks, extra={"scores": scores} if self.keep_fitted else {})

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        return safe_metrics(task.spec.metrics, prediction.score, prediction.score, groups=part.groups)

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        return part.groups.reset_index(drop=True).assign(y_true=part.target, rank=prediction.score, fold=fold)


# ---- link: held-out links of a known graph vs sampled non-links -----------------------------------


class Link(Protocol):
    """Rows are the known links (``source``, ``target`` columns of ``inputs``). A split holds out
    links; the estimator is fitted on the training links only and scores the held-out links and as
    many sampled non-links (AUROC, AUPR), and every candidate target of each held-out link's source
    with the other known links filtered out (``top{k}_recall`` = hits@k).

    Estimator contract: ``fit(links)`` (a DataFrame of training links), ``decision_function(pairs)``
    -> one score per (source, target) pair, and optionally ``score_targets(sources)`` -> a
    ``(n_sources, n_targets)`` matrix over ``targets_`` for the ranking metrics. Hooks:
    :meth:`negatives` (how non-links are drawn) and :meth:`finish`.
    """

    name = "link"
    source: str = "source"
    target: str = "target"

    def negatives(self, dataset: Dataset, fold: Fold, rng: np.random.Generator) -> pd.DataFrame:
        """As many uniform random non-links as held-out links, over the graph's sources and targets."""
        links = dataset.inputs
        known = set(zip(links[self.source], links[self.target]))
        sources, targets = links[self.source].unique(), links[self.target].unique()
        rows: list[tuple] = []
        while len(rows) < len(fold.test):
            s, t = rng.choice(sources), rng.choice(targets)
            if (s, t) not in known:
                rows.append((s, t))
        return pd.DataFrame(rows, columns=[self.source, self.target])

    def finish(self, task, dataset, outcome, estimator, fold, *, split, model, seed) -> None:  # noqa: ARG002
        """After scoring: a task adds what its paper reports beside the metrics."""

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> Outcome:
        rng = np.random.default_rng(seed)
        outcome = None
        for fold in task.folds(dataset, split, random_state=seed):
            fitted = self.make(task, model, estimator, seed).fit(dataset.inputs.iloc[fold.train])
            held_out = dataset.inputs.iloc[fold.test][[self.source, self.target]]
            negative = self.negatives(dataset, fold, rng)
            pairs = pd.concat([held_out, negative], ignore_index=True)
            y = np.r_[np.ones(len(held_out)), np.zeros(len(negative))]
            score = np.asarray(fitted.decision_function(pairs))
            names = [m for m in task.spec.metrics if METRICS_KIND.get(m) != "ranking"]
            metrics = safe_metrics(names, y, score)
            ranked = [m for m in task.spec.metrics if m not in names]
            if ranked and hasattr(fitted, "score_targets"):
                ranks = self.filtered_ranks(fitted, dataset, held_out)
                metrics.update(safe_metrics(ranked, ranks, ranks))
            predictions = pairs.assign(y_true=y, y_pred=score)
            outcome = Outcome(metrics, len(fold.train), len(fold.test), [{"fold": fold.name, "n_test": len(y), **metrics}], predictions)
            self.finish(task, dataset, outcome, fitted, fold, split=split, model=model, seed=seed)
            if progress:
                progress()
        return outcome

    def filtered_ranks(self, fitted, dataset: Dataset, held_out: pd.DataFrame) -> np.ndarray:
        """Rank of each held-out link's target among all targets for its source, other known links removed."""
        targets = pd.Index(fitted.targets_)
        known = dataset.inputs.groupby(self.source)[self.target].agg(set)
        ranks = np.empty(len(held_out))
        for lo in range(0, len(held_out), 512):
            part = held_out.iloc[lo: lo + 512]
            rows = np.asarray(fitted.score_targets(part[self.source].to_numpy()), dtype=float)
            truth = targets.get_indexer(part[self.target])
            for i, (s, t) in enumerate(zip(part[self.source], truth)):
                others = targets.get_indexer(list(known.get(s, set()) - {targets[t]}))
                rows[i, others[others >= 0]] = -np.inf
            ranks[lo: lo + len(part)] = rank_of_truth(rows, truth)
        return ranks


METRICS_KIND = {name: metric.kind for name, metric in METRICS.items()}


# ---- network: a score for every directed pair vs a reference network ------------------------------


class Network(Protocol):
    """Samples x variables in, a score for every directed pair of variables out, compared with a
    reference network (``dataset.context["edges"]``: a DataFrame ``source, target``) by AUROC/AUPR
    over all ordered pairs (self-pairs excluded); ``*_undirected`` metrics score max(s_ij, s_ji)
    over the unordered pairs against "an edge either way".

    Beside each AUPR metric its random expectation ``<name>_random`` (the positive fraction: what a
    random scorer gets on average; a random scorer's AUROC is 0.5). A symmetric reference (protein
    complexes: ``dataset.context["directed"] = False``) has no directed metrics (NaN) and is scored
    over the p(p-1)/2 unordered pairs, vectorised, so genome-scale networks (millions of pairs) fit.

    Estimator contract: ``fit(X)`` then ``edge_scores_`` (a ``(n_variables, n_variables)`` array,
    row = regulator/source, column = target) with ``variables_`` naming its rows and columns.
    Splits choose the samples the method sees (all, or subsamples for stability): metrics are the
    mean over folds and, with several folds, ``edge_score_stability`` is the mean Spearman
    correlation of the folds' edge scores over all pairs. The predictions table keeps every pair up
    to ``max_table_rows`` per fold, else the best-scored ones. Hook: :meth:`finish`.
    """

    name = "network"

    def __init__(self, *, max_table_rows: int = 50_000) -> None:
        self.max_table_rows = max_table_rows

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> Outcome:
        folds = task.folds(dataset, split, random_state=seed)
        directed = bool(dataset.context.get("directed", True))
        fold_metrics, tables, fitted, pair_scores = [], [], [], []
        for fold in folds:
            estimator_ = self.make(task, model, estimator, seed).fit(dataset.inputs.iloc[fold.train])
            table = edge_table(estimator_.edge_scores_, estimator_.variables_, dataset.context["edges"], directed=directed)
            fold_metrics.append({"fold": fold.name, "n_test": len(table), **self.score(task, table)})
            column = "y_pred" if directed else "y_pred_undirected"
            pair_scores.append(table[column].to_numpy())
            if len(table) > self.max_table_rows:  # genome scale: keep the best-scored pairs for plots
                table = table.iloc[np.argsort(-table[column].to_numpy(), kind="stable")[: self.max_table_rows]]
            tables.append(table.assign(fold=fold.name))
            fitted.append((fold, estimator_))
            if progress:
                progress()
        names = [k for k in fold_metrics[0] if k not in ("fold", "n_test")]
        metrics = {k: float(np.nanmean([f[k] for f in fold_metrics])) if np.isfinite([f[k] for f in fold_metrics]).any()
                   else float("nan") for k in names}
        if len(pair_scores) > 1:
            metrics["edge_score_stability"] = _mean_rank_correlation(pair_scores)
        outcome = Outcome(metrics, int(np.mean([len(f.train) for f in folds])), fold_metrics[0]["n_test"], fold_metrics,
                          pd.concat(tables, ignore_index=True), fitted=fitted)
        self.finish(task, dataset, outcome, split=split, model=model, seed=seed)
        outcome.fitted = []  # fitted models can be large; a run record never holds them
        return outcome

    def score(self, task, table: pd.DataFrame) -> dict[str, float]:
        """Every SPEC metric on the edge table, and ``<name>_random`` beside each AUPR metric."""
        out = {}
        for name in task.spec.metrics:
            base, _, _ = name.partition("_undirected")
            suffix = "_undirected" if name.endswith("_undirected") else ""
            if f"y_true{suffix}" not in table:  # directed metric of a symmetric reference
                out[name] = float("nan")
                y_true = np.zeros(0)
            else:
                y_true = table[f"y_true{suffix}"].to_numpy()
                out[name] = safe_metrics([base], y_true, table[f"y_pred{suffix}"].to_numpy())[base]
            if base == "aupr":
                out[f"{name}_random"] = float(np.mean(y_true)) if len(y_true) else float("nan")
        return out

    def finish(self, task, dataset: Dataset, outcome: Outcome, *, split: str, model: str | None, seed: int) -> None:  # noqa: ARG002
        """After scoring: a task adds details (``outcome.fitted`` holds ``(fold, estimator)`` pairs)."""


def _mean_rank_correlation(columns: list[np.ndarray]) -> float:
    """Mean Spearman correlation over every two of ``columns`` (equal-length score vectors)."""
    from scipy.stats import rankdata

    ranks = [rankdata(c) for c in columns]
    values = [np.corrcoef(a, b)[0, 1] for k, a in enumerate(ranks) for b in ranks[k + 1:]]
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def edge_table(scores: np.ndarray, variables: Sequence[str], edges: pd.DataFrame, *, directed: bool = True) -> pd.DataFrame:
    """Every ordered pair (i != j) with its score and whether the reference has i -> j (and either way).

    With ``directed=False`` (a symmetric reference) only the unordered pairs i < j, with the
    ``*_undirected`` columns. ``source``/``target`` are categoricals (cheap for millions of pairs);
    reference edges naming variables that were not measured are ignored.

    Examples
    --------
    >>> t = edge_table(np.array([[0, 0.9, 0.1], [0.2, 0, 0.8], [0.3, 0.1, 0]]), ["a", "b", "c"],
    ...                pd.DataFrame({"source": ["a"], "target": ["b"]}))
    >>> t[t.y_true == 1][["source", "target", "y_pred"]].values.tolist()
    [['a', 'b', 0.9]]
    >>> edge_table(np.eye(3), ["a", "b", "c"], pd.DataFrame({"source": ["b"], "target": ["a"]}), directed=False)["y_true_undirected"].tolist()
    [1, 0, 0]
    """
    variables = pd.Index([str(v) for v in variables])
    n = len(variables)
    scores = np.asarray(scores, dtype=float)
    if scores.shape != (n, n):
        raise ValueError(f"edge scores have shape {scores.shape} for {n} variables")
    s = variables.get_indexer(edges["source"].astype(str).to_numpy())
    t = variables.get_indexer(edges["target"].astype(str).to_numpy())
    known = (s >= 0) & (t >= 0) & (s != t)
    truth = np.zeros((n, n), dtype=bool)
    truth[s[known], t[known]] = True
    either = truth | truth.T
    i, j = np.triu_indices(n, 1) if not directed else np.where(~np.eye(n, dtype=bool))
    codes = np.int16 if n < 2**15 else np.int32
    columns = {"source": pd.Categorical.from_codes(i.astype(codes), variables),
               "target": pd.Categorical.from_codes(j.astype(codes), variables)}
    if directed:
        columns.update({"y_true": truth[i, j].astype(np.int8), "y_pred": scores[i, j]})
    columns.update({"y_true_undirected": either[i, j].astype(np.int8), "y_pred_undirected": np.maximum(scores[i, j], scores[j, i])})
    return pd.DataFrame(columns)


# ---- estimation: an effect with a confidence interval ----------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """An effect estimate with its standard error, confidence interval and p-value."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high, "p": self.p, **self.extra}


class Estimation(Protocol):
    """The estimator's effect on the real data (``estimate(inputs) -> Estimate``) and, because a
    real effect has no known truth, its bias, CI coverage and power on simulated replicates with a
    known effect (:meth:`replicates`, from the ``simulate`` layer), summarised per scenario.

    Estimator contract: ``estimate(frame) -> Estimate``. A task subclass supplies
    :meth:`replicates` (scenario name, true effect, data) and may override :meth:`finish`.
    """

    name = "estimation"

    def replicates(self, seed: int) -> Iterable[tuple[str, float, Any]]:  # noqa: ARG002
        return ()

    def simulation_table(self, estimator, seed: int) -> pd.DataFrame:
        """bias, coverage (truth inside the CI), power (p < 0.05) and n per scenario."""
        rows = []
        for scenario, truth, data in self.replicates(seed):
            e = estimator.estimate(data)
            rows.append({"scenario": scenario, "error": e.estimate - truth, "covered": e.ci_low <= truth <= e.ci_high,
                         "significant": e.p < 0.05})
        if not rows:
            return pd.DataFrame(columns=["scenario", "bias", "coverage", "power", "n"])
        frame = pd.DataFrame(rows)
        return frame.groupby("scenario", sort=False).agg(bias=("error", "mean"), coverage=("covered", "mean"),
                                                         power=("significant", "mean"), n=("error", "size")).reset_index()

    def finish(self, task, dataset, outcome, estimator, *, split, model, seed) -> None:  # noqa: ARG002
        """After estimating: a task adds its sensitivity analyses to ``outcome.details``."""

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> Outcome:
        (fold,) = task.folds(dataset, split, random_state=seed)
        fitted = self.make(task, model, estimator, seed)
        result = fitted.estimate(dataset.inputs.iloc[fold.test])
        metrics = {k: float(v) for k, v in result.to_dict().items() if k in ("estimate", "se", "ci_low", "ci_high", "p")}
        table = self.simulation_table(fitted, seed)
        for row in table.to_dict(orient="records"):
            for key in ("bias", "coverage", "power"):
                metrics[f"{key}_{row['scenario']}"] = float(row[key])
        outcome = Outcome(metrics, len(fold.train), len(fold.test), details={"simulation": table.to_dict(orient="records")})
        self.finish(task, dataset, outcome, fitted, split=split, model=model, seed=seed)
        if progress:
            progress()
        return outcome


# ---- design: an oracle and a generator --------------------------------------------------------------


class Design(Protocol):
    """Design = an oracle learned from measured variants + a generator that proposes new ones.

    Per fold, the training variants are split (seeded) into two disjoint halves. The generator (the run's
    model) is fitted on the first half and proposes ``n_designs`` guided by its own fitted ``oracle_``
    when it has one, else by the task's oracle (``task.oracle(random_state)``) fitted on that half.
    Designs are then scored by a **held-out scorer**: the task's oracle fitted on the second half
    only, so a generator that exploits its guide's errors is not rewarded (``heldout=False`` scores
    designs with the guide itself). The task's oracle fitted on all training rows is scored on the
    held-out rows: ``oracle_<m>`` for every SPEC metric ``oracle_<m>`` (``guide_<m>``, ``scorer_<m>``:
    the same metric of the guide and of the scorer).

    Variants are equal-length sequences (``variants="sequence"``, column ``sequence``) or mutation
    lists (``variants="mutations"``, column ``mutations``: space-separated tokens such as
    ``"K444T A522S"``, at most one per slot, the slot being a token without its last letter; ``""`` is
    the wild type). Distances are Hamming distances: the number of slots at which two variants differ.

    Generator contract: ``fit(X, y)``; ``generate(n, *, oracle, random_state, budget)`` -> a DataFrame
    with the variant column (``budget`` is passed when the protocol has one). A design more than
    ``budget`` mutations away from the wild type (``dataset.context["wild_type"]`` for sequences, else
    their per-position consensus; the empty list for mutation lists) is refused.

    Design metrics (mean over folds): ``design_mean_predicted`` and ``design_top10pct_predicted`` (the
    held-out scorer), ``design_guide_mean`` (the guide's own promise), ``design_frac_above_best_train``
    (share the scorer puts above its own prediction for the best measured variant the generator saw),
    ``design_diversity`` (mean pairwise distance), ``design_novelty`` (share never measured in
    training), ``design_distance_to_train`` (mean distance to the nearest measured training variant)
    and ``design_mean_mutations``. When the dataset knows the true fitness (``context["landscape"]``:
    a callable on the designs, as a semi-synthetic landscape does) also ``design_mean_true``,
    ``design_top10pct_true`` and ``design_truth_spearman`` (does the scorer rank designs as the truth does?).

    Examples
    --------
    >>> _mean_hamming([frozenset(), frozenset({"A1C"}), frozenset({"A1G", "K5R"})])
    1.6666666666666667
    """

    name = "design"

    def __init__(self, *, n_designs: int = 200, variants: str = "sequence", budget: int | None = None,
                 heldout: bool = True) -> None:
        if variants not in ("sequence", "mutations"):
            raise ValueError(f"variants must be 'sequence' or 'mutations', got {variants!r}")
        self.n_designs = n_designs
        self.variants = variants
        self.budget = budget
        self.heldout = heldout

    def truth(self, dataset: Dataset, designs: pd.DataFrame) -> np.ndarray | None:
        """True fitness of designs when the dataset knows it (``context["landscape"]``), else None."""
        landscape = dataset.context.get("landscape")
        return None if landscape is None else np.asarray(landscape(designs), dtype=float)

    def variant_sets(self, values, reference: str | None = None) -> list[frozenset[str]]:
        """Each variant as the set of its changes from the wild type (``reference`` for sequences)."""
        from genotx.errors import InputError

        if self.variants == "mutations":
            sets = [frozenset(v.split()) if isinstance(v, str) else frozenset() for v in values]
        else:
            sets = []
            for s in map(str, values):
                if len(s) != len(reference):
                    raise InputError("design", f"sequence of length {len(s)} against a wild type of length {len(reference)}",
                                     fix="give every variant the wild type's length (align insertions as mutation lists)")
                sets.append(frozenset(f"{i}:{c}" for i, (c, r) in enumerate(zip(s, reference)) if c != r))
        for s, v in zip(sets, values):
            if len({t[:-1] for t in s}) < len(s):
                raise InputError("design", f"variant {v!r} changes one position twice", fix="give one change per position")
        return sets

    def _reference(self, dataset: Dataset, train: Dataset) -> str | None:
        if self.variants == "mutations":
            return None
        wild = dataset.context.get("wild_type")
        if isinstance(wild, str):
            return wild
        seqs = np.array([list(s) for s in train.inputs[self.variants].astype(str)])
        return "".join(pd.DataFrame(seqs).mode().iloc[0])  # per-position consensus

    def score_designs(self, dataset: Dataset, designs: pd.DataFrame, *, guide, scorer, seen: Dataset,
                      train: Dataset, reference: str | None) -> tuple[dict[str, float], pd.DataFrame]:
        """Design metrics (see the class docstring) and the designs with their scores."""
        from genotx.errors import InputError

        column = self.variants
        if column not in designs or designs.empty:
            problem = "proposed no designs" if column in designs else f"designs have no {column!r} column"
            raise InputError("generator", problem, fix=f"return a DataFrame of designs with a {column!r} column")
        sets = self.variant_sets(designs[column].tolist(), reference)
        n_mut = np.array([len(s) for s in sets])
        if self.budget is not None and (n_mut > self.budget).any():
            worst = designs[column].iloc[int(np.argmax(n_mut))]
            raise InputError("generator", f"design {worst!r} has {n_mut.max()} mutations, over the budget of {self.budget}",
                             fix="generate designs within the mutation budget")
        predicted = np.asarray(scorer.predict(designs[[column]]), dtype=float)
        promised = np.asarray(guide.predict(designs[[column]]), dtype=float)
        best_seen = seen.inputs[[column]].iloc[[int(np.argmax(seen.target))]]
        measured = self.variant_sets(train.inputs[column].tolist(), reference)
        known = set(measured)
        top = max(1, len(predicted) // 10)
        out = {
            "design_mean_predicted": float(np.mean(predicted)),
            "design_top10pct_predicted": float(np.mean(np.sort(predicted)[-top:])),
            "design_guide_mean": float(np.mean(promised)),
            "design_frac_above_best_train": float(np.mean(predicted > float(scorer.predict(best_seen)[0]))),
            "design_diversity": _mean_hamming(sets),
            "design_novelty": float(np.mean([s not in known for s in sets])),
            "design_distance_to_train": float(np.mean(_nearest_distance(sets, measured))),
            "design_mean_mutations": float(np.mean(n_mut)),
        }
        table = designs.assign(n_mutations=n_mut, predicted=predicted, guide=promised)
        true = self.truth(dataset, designs)
        if true is not None:
            out["design_mean_true"] = float(np.nanmean(true))
            out["design_top10pct_true"] = float(np.nanmean(true[np.argsort(predicted)[-top:]]))
            out["design_truth_spearman"] = safe_metrics(["spearman"], true, predicted)["spearman"]
            table["true"] = true
        return out, table

    def halves(self, train: Dataset, seed: int) -> tuple[Dataset, Dataset]:
        """The generator's and the scorer's training rows: half of the distinct variants each (seeded),
        so replicate rows of one variant never sit on both sides."""
        keys = pd.factorize(train.inputs[self.variants].astype(str).to_numpy())[0]
        chosen = np.random.default_rng(seed).permutation(keys.max() + 1)[: (keys.max() + 1) // 2]
        first = np.isin(keys, chosen)
        return train.subset(np.flatnonzero(first)), train.subset(np.flatnonzero(~first))

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> Outcome:
        folds = task.folds(dataset, split, random_state=seed)
        names = [m.removeprefix("oracle_") for m in task.spec.metrics if m.startswith("oracle_")]
        fold_metrics, tables = [], []
        for fold in folds:
            train, test = dataset.subset(fold.train), dataset.subset(fold.test)
            seen, held = self.halves(train, seed) if self.heldout else (train, train)
            oracle = task.oracle(random_state=seed).fit(train.inputs, train.target)
            generator = self.make(task, model, estimator, seed).fit(seen.inputs, seen.target)
            guide = getattr(generator, "oracle_", None)
            guide = guide if guide is not None else task.oracle(random_state=seed).fit(seen.inputs, seen.target)
            scorer = task.oracle(random_state=seed).fit(held.inputs, held.target) if self.heldout else guide
            metrics = {}
            for prefix, fitted in (("oracle", oracle), ("guide", guide), ("scorer", scorer)):
                values = safe_metrics(names, test.target, fitted.predict(test.inputs)) if len(test) else dict.fromkeys(names, np.nan)
                metrics.update({f"{prefix}_{k}": v for k, v in values.items()})
            budget = {} if self.budget is None else {"budget": self.budget}
            designs = generator.generate(self.n_designs, oracle=guide, random_state=seed, **budget)
            scores, table = self.score_designs(dataset, pd.DataFrame(designs).reset_index(drop=True), guide=guide,
                                               scorer=scorer, seen=seen, train=train, reference=self._reference(dataset, train))
            fold_metrics.append({"fold": fold.name, "n_test": len(fold.test), **metrics, **scores})
            tables.append(table.assign(fold=fold.name))
            if progress:
                progress()
        metrics = {}
        for key in (k for k in fold_metrics[0] if k not in ("fold", "n_test")):
            values = np.array([f[key] for f in fold_metrics], dtype=float)
            metrics[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        details = {"n_designs": self.n_designs, "budget": self.budget, "heldout_scorer": self.heldout}
        return Outcome(metrics, int(np.mean([len(f.train) for f in folds])), int(np.mean([len(f.test) for f in folds])),
                       fold_metrics, pd.concat(tables, ignore_index=True), details=details)


def _distance_blocks(a: list[frozenset[str]], b: list[frozenset[str]]):
    """Token and slot incidence matrices of two variant lists over their joint vocabulary (sparse)."""
    from scipy import sparse

    tokens = {t: k for k, t in enumerate(sorted(set().union(*a, *b)))}
    slots: dict[str, int] = {}
    for t in tokens:
        slots.setdefault(t[:-1], len(slots))

    def matrices(sets):
        rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
        flat = [t for s in sets for t in s]
        ones = np.ones(len(flat))
        shape_t, shape_s = (len(sets), max(len(tokens), 1)), (len(sets), max(len(slots), 1))
        return (sparse.csr_matrix((ones, (rows, [tokens[t] for t in flat])), shape=shape_t),
                sparse.csr_matrix((ones, (rows, [slots[t[:-1]] for t in flat])), shape=shape_s),
                np.array([len(s) for s in sets], dtype=float))

    return matrices(a), matrices(b)


def _hamming(a: list[frozenset[str]], b: list[frozenset[str]]) -> np.ndarray:
    """Pairwise Hamming distances between two lists of variants given as sets of changes.

    A slot changed in one variant only counts 1; changed in both, 1 if to different letters, else 0:
    ``|A| + |B| - shared changes - shared slots``.
    """
    (ta, sa, na), (tb, sb, nb) = _distance_blocks(a, b)
    return na[:, None] + nb[None, :] - (ta @ tb.T).toarray() - (sa @ sb.T).toarray()


def _mean_hamming(variants: list[frozenset[str]]) -> float:
    """Mean Hamming distance over every pair of distinct positions in ``variants`` (sets of changes)."""
    if len(variants) < 2:
        return float("nan")
    d = _hamming(variants, variants)
    return float(d[np.triu_indices(len(variants), 1)].mean())


def _nearest_distance(designs: list[frozenset[str]], measured: list[frozenset[str]], *, cells: int = 2_000_000) -> np.ndarray:
    """Distance from each design to its nearest measured variant (in blocks: bounded memory)."""
    if not measured or not designs:
        return np.full(len(designs), np.nan)
    step = max(1, cells // len(measured))
    return np.concatenate([_hamming(designs[i:i + step], measured).min(axis=1) for i in range(0, len(designs), step)])


# ---- extraction: documents -> spans / relations ----------------------------------------------------


class Extraction(Supervised):
    """Rows are documents; ``target`` holds each document's gold annotations (a list of tuples:
    ``(start, end, label, ...)`` spans or ``(head, tail, relation)`` relations). The estimator's
    ``predict(documents)`` returns the same structure; metrics (``span_f1``, ``span_f1_overlap``,
    ``relation_f1``...) are micro precision/recall/F1 over all held-out documents, in the registry.
    """

    name = "extraction"

    def predict(self, estimator, test: Dataset) -> Prediction:
        return Prediction(documents_array(estimator.predict(test.inputs)))

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        return safe_metrics(task.spec.metrics, documents_array(part.target), prediction.score, groups=part.groups)

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        return part.groups.reset_index(drop=True).assign(n_true=[len(t) for t in part.target],
                                                         n_pred=[len(p) for p in prediction.score], fold=fold)


def documents_array(rows) -> np.ndarray:
    """One entry per document, each a list of annotation tuples, as a 1-d object array (numpy would
    otherwise stack documents that happen to hold equally many annotations into a 3-d array).

    >>> documents_array([[(0, 4, "gene")], [(1, 2, "gene")]]).shape
    (2,)
    """
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = [tuple(a) for a in row]
    return out


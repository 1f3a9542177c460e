"""Standard metrics as plain registered functions, and ``Evaluator(name=...)`` as in TDC.

A metric is ``fn(y_true, y_pred) -> float`` with metadata. Any metric can be averaged within groups
by asking for ``<metric>_per_<group>`` (e.g. ``pearson_per_drug``: the mean over drugs of the Pearson
across cell lines) and passing ``groups``; groups with fewer than 3 examples or a constant truth are
skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

from genotx._registry import Registry
from genotx.errors import InputError

__all__ = ["Metric", "METRICS", "Evaluator", "evaluate"]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool
    needs: str  # "score" (continuous prediction) or "label" (hard class)
    kind: str  # "regression", "classification", "survival", "ranking" or "extraction"
    #: within ``<metric>_per_<group>``: skip groups whose truth is constant (a correlation is undefined
    #: there) and groups smaller than ``min_group``
    needs_variation: bool = True
    min_group: int = 3


METRICS: Registry[Metric] = Registry("metric")


def _add(name: str, fn, *, greater: bool = True, needs: str = "score", kind: str = "regression",
         needs_variation: bool = True, min_group: int = 3) -> None:
    METRICS.add(name, Metric(name, fn, greater, needs, kind, needs_variation, min_group))


def _varies(a: np.ndarray) -> bool:
    return len(a) > 1 and not np.all(a == a[0])


def _pearson(y, p) -> float:
    """Pearson r; 0.0 when either side is constant (a constant predictor carries no ranking)."""
    return float(stats.pearsonr(y, p)[0]) if _varies(p) and _varies(y) else 0.0


def _spearman(y, p) -> float:
    return float(stats.spearmanr(y, p)[0]) if _varies(p) and _varies(y) else 0.0


def _c_index(y, p) -> float:
    """Harrell's C; ``y`` is a structured (event, time) array or a 2-column array [event, time]."""
    from sksurv.metrics import concordance_index_censored

    y = np.asarray(y)
    event, time = (y[y.dtype.names[0]], y[y.dtype.names[1]]) if y.dtype.names else (y[:, 0], y[:, 1])
    return float(concordance_index_censored(event.astype(bool), time.astype(float), np.asarray(p, float))[0])


def _pearson_flat(y, p) -> float:
    """Pearson r over every entry of two equally shaped arrays (e.g. samples x cell-type proportions).

    Examples
    --------
    >>> round(_pearson_flat([[0.2, 0.8], [0.6, 0.4]], [[0.35, 0.65], [0.55, 0.45]]), 6)
    1.0
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"pearson_flat needs arrays of one shape, got {y.shape} and {p.shape}")
    return _pearson(y.ravel(), p.ravel())


_add("pearson", _pearson)
_add("spearman", _spearman)
_add("pearson_flat", _pearson_flat)
_add("rmse", lambda y, p: float(np.sqrt(skm.mean_squared_error(y, p))), greater=False)
_add("mae", lambda y, p: float(skm.mean_absolute_error(y, p)), greater=False)
_add("r2", lambda y, p: float(skm.r2_score(y, p)))


def _pearson_r2(y, p) -> float:
    """Squared Pearson r: the variance a score explains on its own scale (a polygenic score's R^2),
    unlike ``r2``, which scores the predicted values themselves.

    >>> round(_pearson_r2(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 50])), 3)
    0.966
    """
    return _pearson(y, p) ** 2


_add("pearson_r2", _pearson_r2)
_add("auroc", lambda y, p: float(skm.roc_auc_score(y, p)), kind="classification")
_add("aupr", lambda y, p: float(skm.average_precision_score(y, p)), kind="classification")
_add("accuracy", lambda y, p: float(skm.accuracy_score(y, p)), needs="label", kind="classification")
_add("f1", lambda y, p: float(skm.f1_score(y, p, average="binary" if len(np.unique(y)) <= 2 else "macro")), needs="label", kind="classification")
_add("macro_f1", lambda y, p: float(skm.f1_score(y, p, average="macro")), needs="label", kind="classification")
_add("c_index", _c_index, kind="survival")


def _mean_column_pearson(y, p) -> float:
    """Multi-output target (rows x columns, e.g. samples x pathways): the Pearson r of each column
    across rows, averaged over columns; a column where either side is constant counts as 0.

    >>> y = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])
    >>> _mean_column_pearson(y, np.array([[2.0, 3.0, 5.0], [4.0, 2.0, 5.0], [6.0, 1.0, 5.0]]))  # (1 - 1 + 0) / 3
    0.0
    """
    a, b = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    denom = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    return float(np.where(denom > 0, (a * b).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0).mean())


_add("mean_column_pearson", _mean_column_pearson)


def column_pearsons(y, p) -> np.ndarray:
    """Pearson r of each column across rows (rows x columns, e.g. spots x genes), vectorised: NaN
    where the truth is constant (undefined), 0.0 where only the prediction is (as ``pearson``).

    >>> y = np.array([[1.0, 0.0, 1.0], [2.0, 0.0, 3.0], [3.0, 0.0, 2.0]])
    >>> column_pearsons(y, np.array([[1.0, 1.0, 5.0], [2.0, 2.0, 5.0], [4.0, 3.0, 5.0]])).round(3).tolist()
    [0.982, nan, 0.0]
    """
    a, b = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    sa, sb = np.sqrt((a**2).sum(axis=0)), np.sqrt((b**2).sum(axis=0))
    r = (a * b).sum(axis=0) / np.where((sa > 1e-12) & (sb > 1e-12), sa * sb, np.inf)
    return np.where(sa > 1e-12, r, np.nan)


def _median_column_pearson(y, p) -> float:
    """Median over columns of :func:`column_pearsons`, columns with a constant truth left out (NaN
    when every column's truth is constant).

    >>> round(_median_column_pearson(np.array([[1.0, 0.0, 1.0], [2.0, 0.0, 3.0], [3.0, 0.0, 2.0]]),
    ...                              np.array([[1.0, 1.0, 5.0], [2.0, 2.0, 5.0], [4.0, 3.0, 5.0]])), 3)  # of 0.982, 0
    0.491
    """
    r = column_pearsons(y, p)
    return float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan")


_add("median_column_pearson", _median_column_pearson)


def _top_k_recall(k: int):
    def recall(rank_of_truth, _unused=None) -> float:
        """Fraction of queries whose true answer is ranked within the top k (ranks start at 1)."""
        return float(np.mean(np.asarray(rank_of_truth) <= k))

    return recall


for _k in (1, 5, 10, 50, 100):
    _add(f"top{_k}_recall", _top_k_recall(_k), kind="ranking")


def _mean_rank(rank_of_truth, _unused=None) -> float:
    """Mean rank of the true answer over queries (1 = top; lower is better).

    >>> _mean_rank([1.0, 4.0, 2.5])
    2.5
    """
    return float(np.mean(np.asarray(rank_of_truth, dtype=np.float64)))


_add("mean_rank", _mean_rank, greater=False, kind="ranking", needs_variation=False, min_group=1)


def _precision_at_k(k: int):
    def precision(y_true, y_score) -> float:
        """Fraction of positives among the ``k`` top-scored rows (ties in a seeded random order).

        Used per query as ``precision_at_10_per_trial``: the mean over trials.
        """
        order = np.random.default_rng(0).permutation(len(y_true))
        top = order[np.argsort(-np.asarray(y_score, float)[order], kind="stable")[:k]]
        return float(np.mean(np.asarray(y_true)[top]))

    return precision


for _k in (5, 10, 20):
    _add(f"precision_at_{_k}", _precision_at_k(_k), kind="ranking", needs_variation=False, min_group=1)


# -- extraction: documents' annotations as collections of tuples ---------------------------------


def _pairs(y_true, y_pred):
    for doc, (gold, pred) in enumerate(zip(y_true, y_pred)):
        yield doc, {tuple(a) for a in gold}, {tuple(a) for a in pred}


def _prf(tp: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else (1.0 if not n_true else 0.0)
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _exact_counts(y_true, y_pred) -> tuple[int, int, int]:
    tp = n_pred = n_true = 0
    for _, gold, pred in _pairs(y_true, y_pred):
        tp, n_pred, n_true = tp + len(gold & pred), n_pred + len(pred), n_true + len(gold)
    return tp, n_pred, n_true


def _overlap_counts(y_true, y_pred) -> tuple[int, int, int]:
    """Spans ``(start, end, label, ...)`` match when labels (and any further fields) agree and the
    character ranges overlap; each gold span matches at most one prediction (greedy, by start)."""
    tp = n_pred = n_true = 0
    for _, gold, pred in _pairs(y_true, y_pred):
        free = sorted(gold)
        for p in sorted(pred):
            hit = next((g for g in free if g[2:] == p[2:] and g[0] < p[1] and p[0] < g[1]), None)
            if hit is not None:
                free.remove(hit)
                tp += 1
        n_pred, n_true = n_pred + len(pred), n_true + len(gold)
    return tp, n_pred, n_true


for _name, _counts in (("span", _exact_counts), ("span_overlap", _overlap_counts), ("relation", _exact_counts)):
    for _i, _part in enumerate(("precision", "recall", "f1")):
        _add(f"{_name}_{_part}" if _name != "span_overlap" else f"span_{_part}_overlap",
             (lambda counts, i: lambda y, p: _prf(*counts(y, p))[i])(_counts, _i),
             kind="extraction", needs_variation=False, min_group=1)


def _project(y, fields: slice):
    """Each document's annotations reduced to ``fields`` of every tuple (duplicates merged)."""
    return [{tuple(a)[fields] for a in doc} for doc in y]


def _entity_counts(y_true, y_pred) -> tuple[int, int, int]:
    """Spans ``(start, end, type, ...)`` compared on offsets and type only."""
    return _exact_counts(_project(y_true, slice(0, 3)), _project(y_pred, slice(0, 3)))


def _entity_overlap_counts(y_true, y_pred) -> tuple[int, int, int]:
    return _overlap_counts(_project(y_true, slice(0, 3)), _project(y_pred, slice(0, 3)))


def _concept_counts(y_true, y_pred) -> tuple[int, int, int]:
    """Document level: each document's set of annotations without their offsets (type, id, status...)."""
    return _exact_counts(_project(y_true, slice(2, None)), _project(y_pred, slice(2, None)))


for _name, _counts in (("entity", _entity_counts), ("concept", _concept_counts)):
    for _i, _part in enumerate(("precision", "recall", "f1")):
        _add(f"{_name}_{_part}", (lambda counts, i: lambda y, p: _prf(*counts(y, p))[i])(_counts, _i),
             kind="extraction", needs_variation=False, min_group=1)
_add("entity_f1_overlap", lambda y, p: _prf(*_entity_overlap_counts(y, p))[2], kind="extraction", needs_variation=False,
     min_group=1)


def _status_macro_f1(y_true, y_pred) -> float:
    """Macro F1 of the assertion status (the last field of each span) over the gold spans whose
    offsets and type were predicted; NaN when no matched gold span carries a status.

    >>> gold = [[(0, 4, "gene", "EGFR", "negative"), (9, 13, "gene", "KRAS", "positive")]]
    >>> pred = [[(0, 4, "gene", "EGFR", "negative"), (9, 13, "gene", "KRAS", "negative")]]
    >>> round(_status_macro_f1(gold, pred), 3)
    0.333
    """
    truth, said = [], []
    for gold, pred in zip(y_true, y_pred):
        predicted = {tuple(p)[:3]: tuple(p)[-1] for p in pred}
        for g in gold:
            g = tuple(g)
            if g[:3] in predicted and len(g) > 3 and g[-1] not in ("", None):
                truth.append(g[-1])
                said.append(predicted[g[:3]])
    if not truth:
        return float("nan")
    return float(skm.f1_score(truth, said, labels=sorted(set(truth)), average="macro", zero_division=0))


_add("status_macro_f1", _status_macro_f1, kind="extraction", needs_variation=False, min_group=1)


def _resolve(name: str) -> tuple[Metric, str | None]:
    if name in METRICS:
        return METRICS[name], None
    base, sep, group = name.partition("_per_")
    if sep and base in METRICS:
        return METRICS[base], group
    METRICS[name]  # raises UnknownNameError with suggestions
    raise AssertionError("unreachable")


class Evaluator:
    """Score predictions with a named metric, as ``tdc.Evaluator``.

    Examples
    --------
    >>> round(Evaluator(name="spearman")([1, 2, 3, 4], [10, 20, 30, 25]), 3)
    0.8
    >>> ev = Evaluator(name="pearson_per_drug")
    >>> round(ev([1, 2, 3, 1, 2, 3], [1, 2, 3, 3, 2, 1], groups={"drug": list("aaabbb")}), 3)
    0.0
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.metric, self.group = _resolve(name)

    @property
    def greater_is_better(self) -> bool:
        return self.metric.greater_is_better

    def __call__(self, y_true, y_pred, *, groups: Mapping[str, np.ndarray] | pd.DataFrame | None = None) -> float:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if len(y_true) != len(y_pred):
            raise InputError(self.name, f"y_true has {len(y_true)} values but y_pred has {len(y_pred)}", fix="pass aligned arrays")
        if self.group is None:
            return self.metric.fn(y_true, y_pred)
        if groups is None or self.group not in groups:
            raise InputError(self.name, f"needs groups[{self.group!r}]", fix=f"pass groups={{{self.group!r}: array}}")
        keys = np.asarray(groups[self.group])
        values = []
        for idx in pd.Series(np.arange(len(keys))).groupby(keys, sort=True).indices.values():
            if len(idx) >= self.metric.min_group and (not self.metric.needs_variation or _varies(y_true[idx])):
                values.append(self.metric.fn(y_true[idx], y_pred[idx]))
        return float(np.mean(values)) if values else float("nan")


def evaluate(names, y_true, y_pred, *, groups=None, labels=None) -> dict[str, float]:
    """All ``names`` at once; label metrics use ``labels`` (hard predictions) when given."""
    out = {}
    for name in names:
        ev = Evaluator(name)
        pred = labels if (ev.metric.needs == "label" and labels is not None) else y_pred
        out[name] = ev(y_true, pred, groups=groups)
    return out

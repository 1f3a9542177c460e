"""Survival risk models and patient subgroups: risk tertiles, survival-aware clusters, rules, stability.

Every model here follows one small contract beside scikit-learn's: ``fit(X, y)`` with ``y`` a
structured array of ``(event: bool, time: float)`` (:func:`surv_array`), ``predict(X)`` returns a
risk score (higher = earlier event), and ``predict_group(X)`` returns an integer subgroup ordered by
training risk (0 = lowest). :class:`Subgroups` wraps any of them and also learns, on the training
patients, the readable rule (a leaf of a shallow decision tree) that defines each subgroup. Tools:
:func:`cox_score_z` (univariate Cox score tests, vectorised over genes), :func:`logrank_p`,
:func:`kaplan_meier_curves`, :func:`subgroup_rules` (a shallow decision tree as readable rules) and
:func:`bootstrap_stability` (adjusted Rand index over resamples).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, export_text
from sklearn.utils.validation import check_is_fitted
from torch import nn

from genotx.errors import InputError
from genotx.models.nets import mlp, train_network

__all__ = [
    "surv_array",
    "event_time",
    "cox_score_z",
    "ConstantRisk",
    "RiskGroups",
    "ClusterRisk",
    "NeuralCox",
    "logrank_p",
    "kaplan_meier_curves",
    "subgroup_rules",
    "fit_rule_tree",
    "leaf_rules",
    "bootstrap_stability",
    "GROUP_LABELS",
    "group_labels",
    "Subgroups",
]

#: Names of risk-ordered subgroups (0 = lowest risk).
GROUP_LABELS: dict[int, str] = {0: "low", 1: "intermediate", 2: "high"}


def group_labels(groups: np.ndarray) -> dict[int, str]:
    """``{group: name}``: ``all`` when there is one group, else :data:`GROUP_LABELS`."""
    return {0: "all"} if len(np.unique(groups)) == 1 else GROUP_LABELS


def surv_array(event, time) -> np.ndarray:
    """Structured ``(event, time)`` array as scikit-survival expects.

    Examples
    --------
    >>> y = surv_array([1, 0], [5.0, 7.0])
    >>> y.dtype.names, y["event"].tolist()
    (('event', 'time'), [True, False])
    """
    event, time = np.asarray(event), np.asarray(time, dtype=float)
    if len(event) != len(time):
        raise InputError("surv_array", f"{len(event)} events but {len(time)} times", fix="pass aligned arrays")
    out = np.empty(len(time), dtype=[("event", bool), ("time", float)])
    out["event"], out["time"] = event.astype(bool), time
    return out


def event_time(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event, time) of a structured survival array (fields in that order)."""
    names = y.dtype.names
    if names is None or len(names) != 2:
        raise InputError("survival target", "needs a structured array with (event, time) fields", fix="use surv_array(event, time)")
    return y[names[0]].astype(bool), y[names[1]].astype(float)


def cox_score_z(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Univariate Cox score-test z statistic of every column of ``X`` (Breslow ties), vectorised.

    z > 0 means higher values go with earlier events.

    Examples
    --------
    >>> y = surv_array([1, 1, 1, 0], [1.0, 2.0, 3.0, 4.0])
    >>> X = np.array([[3.0, 0.0], [2.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> (cox_score_z(X, y) > 0).tolist()
    [True, False]
    """
    event, time = event_time(y)
    X = np.asarray(X, dtype=float)
    order = np.argsort(time, kind="stable")
    t, xs = time[order], X[order]
    s0 = np.arange(len(t), 0, -1, dtype=float)[:, None]
    s1 = np.cumsum(xs[::-1], axis=0)[::-1]
    s2 = np.cumsum(xs[::-1] ** 2, axis=0)[::-1]
    events = np.flatnonzero(event[order])
    at = np.searchsorted(t, t[events], side="left")  # risk set: everyone with time >= the event time
    mean = s1[at] / s0[at]
    var = np.maximum(s2[at] / s0[at] - mean**2, 0.0)
    u = (xs[events] - mean).sum(axis=0)
    v = var.sum(axis=0)
    return np.divide(u, np.sqrt(v), out=np.zeros_like(u), where=v > 0)


class ConstantRisk(BaseEstimator):
    """The trivial floor: the same risk for everyone (C-index 0.5), one group."""

    def fit(self, X, y):  # noqa: ARG002 - learns nothing
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        return np.zeros(len(X))

    def predict_group(self, X) -> np.ndarray:
        return np.zeros(len(X), dtype=int)


class RiskGroups(BaseEstimator):
    """A risk model whose subgroups are quantile groups (tertiles by default) of its training risk.

    Cut points are learnt on the training data, so held-out patients are grouped without peeking.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.arange(9.0)[:, None]
    >>> m = RiskGroups(LinearRegression()).fit(X, np.arange(9.0))
    >>> m.predict_group(X).tolist()
    [0, 0, 0, 1, 1, 1, 2, 2, 2]
    """

    def __init__(self, estimator, *, n_groups: int = 3) -> None:
        self.estimator = estimator
        self.n_groups = n_groups

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        risk = self.estimator_.predict(X)
        self.cuts_ = np.quantile(risk, np.arange(1, self.n_groups) / self.n_groups)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict(X), dtype=float)

    def predict_group(self, X) -> np.ndarray:
        return np.searchsorted(self.cuts_, self.predict(X), side="left").astype(int)


class ClusterRisk(BaseEstimator):
    """k-means subgroups on standardised features, ordered by training event rate.

    ``columns(X) -> list of column names`` picks the features (e.g. the genes); with ``n_select``,
    only the ``n_select`` features with the largest univariate Cox |z| on the training data are
    clustered (a survival-aware clustering). The risk of a patient is the event rate per unit time
    of their cluster in the training data.
    """

    def __init__(self, *, columns: Callable[[pd.DataFrame], list[str]] | None = None, n_clusters: int = 3,
                 n_select: int | None = None, random_state: int = 0) -> None:
        self.columns = columns
        self.n_clusters = n_clusters
        self.n_select = n_select
        self.random_state = random_state

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.columns_].to_numpy(float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)[:, self.columns_]

    def fit(self, X, y):
        if isinstance(X, pd.DataFrame):
            self.columns_ = list(self.columns(X)) if self.columns else list(X.columns)
        else:
            self.columns_ = list(range(np.asarray(X).shape[1]))
        self.scaler_ = StandardScaler().fit(self._matrix(X))
        Z = self.scaler_.transform(self._matrix(X))
        if self.n_select:
            z = cox_score_z(Z, y)
            self.selected_ = np.sort(np.argsort(-np.abs(z))[: self.n_select])
            self.selected_z_ = z[self.selected_]
        else:
            self.selected_ = np.arange(Z.shape[1])
        self.kmeans_ = KMeans(self.n_clusters, n_init=10, random_state=self.random_state).fit(Z[:, self.selected_])
        event, time = event_time(y)
        labels = self.kmeans_.labels_
        rate = np.array([event[labels == c].sum() / max(time[labels == c].sum(), 1e-12) for c in range(self.n_clusters)])
        self.rank_ = np.argsort(np.argsort(rate, kind="stable"), kind="stable")  # cluster -> group (0 = lowest rate)
        self.group_rate_ = np.sort(rate)
        return self

    @property
    def selected_features_(self) -> list:
        return [self.columns_[i] for i in self.selected_]

    def predict_group(self, X) -> np.ndarray:
        check_is_fitted(self, "kmeans_")
        Z = self.scaler_.transform(self._matrix(X))[:, self.selected_]
        return self.rank_[self.kmeans_.predict(Z)].astype(int)

    def predict(self, X) -> np.ndarray:
        return self.group_rate_[self.predict_group(X)]


class _CoxLoss(nn.Module):
    """Negative Cox partial log-likelihood (Breslow), averaged over events; ``y = [time, event]``."""

    def forward(self, risk: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        risk = risk.reshape(-1)
        time, event = y[:, 0], y[:, 1]
        order = torch.argsort(time, descending=True)
        risk, event = risk[order], event[order]
        log_risk_set = torch.logcumsumexp(risk, dim=0)
        n_events = event.sum().clamp(min=1.0)
        return -((risk - log_risk_set) * event).sum() / n_events


@contextlib.contextmanager
def _one_torch_thread():
    """Tiny networks train fastest on one thread (no oversubscription on a shared machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class NeuralCox(BaseEstimator):
    """A small MLP risk model trained on the Cox partial likelihood (DeepSurv-style), full batch.

    Trains through :func:`genotx.models.nets.train_network`; inputs are standardised inside.
    """

    def __init__(self, *, hidden: tuple[int, ...] = (32,), dropout: float = 0.3, epochs: int = 200, lr: float = 1e-3,
                 weight_decay: float = 1e-2, patience: int = 20, random_state: int = 0) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.random_state = random_state

    def fit(self, X, y):
        event, time = event_time(y)
        self.scaler_ = StandardScaler().fit(np.asarray(X, dtype=float))
        Z = self.scaler_.transform(np.asarray(X, dtype=float)).astype(np.float32)
        torch.manual_seed(self.random_state)
        self.network_ = mlp(Z.shape[1], 1, hidden=self.hidden, dropout=self.dropout)
        target = np.column_stack([time, event]).astype(np.float32)
        with _one_torch_thread():
            self.history_ = train_network(self.network_, Z, target, loss=_CoxLoss(), epochs=self.epochs, batch_size=len(Z),
                                          lr=self.lr, weight_decay=self.weight_decay, validation_fraction=0.2,
                                          patience=self.patience, random_state=self.random_state)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        Z = torch.as_tensor(self.scaler_.transform(np.asarray(X, dtype=float)).astype(np.float32))
        self.network_.eval()
        with torch.no_grad(), _one_torch_thread():
            return self.network_(Z).numpy().reshape(-1).astype(float)


def logrank_p(y: np.ndarray, groups: np.ndarray) -> float:
    """p-value of the log-rank test that all groups share one survival curve (NaN if < 2 groups)."""
    from sksurv.compare import compare_survival

    groups = np.asarray(groups)
    if len(np.unique(groups)) < 2:
        return float("nan")
    return float(compare_survival(y, groups)[1])


def kaplan_meier_curves(y: np.ndarray, groups: np.ndarray, *, labels: dict | None = None) -> dict[str, dict]:
    """Kaplan-Meier step curves per group with 95% log-log bands, as JSON-ready lists."""
    from sksurv.nonparametric import kaplan_meier_estimator

    event, time = event_time(y)
    out = {}
    for g in np.unique(groups):
        mask = np.asarray(groups) == g
        t, s, ci = kaplan_meier_estimator(event[mask], time[mask], conf_type="log-log")
        below = np.flatnonzero(s <= 0.5)
        out[str(labels.get(g, g) if labels else g)] = {
            "n": int(mask.sum()), "events": int(event[mask].sum()),
            "median_time": float(t[below[0]]) if len(below) else None,
            "time": t.tolist(), "survival": s.tolist(), "ci_low": ci[0].tolist(), "ci_high": ci[1].tolist(),
        }
    return out


def fit_rule_tree(X: pd.DataFrame, groups: np.ndarray, *, max_depth: int = 3, min_samples_leaf: int = 8,
                  random_state: int = 0) -> DecisionTreeClassifier:
    """The shallow decision tree whose leaves are the subgroups' readable criteria."""
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=random_state)
    return tree.fit(X.to_numpy(float), np.asarray(groups))


def leaf_rules(tree: DecisionTreeClassifier, names: list[str]) -> dict[int, str]:
    """``{leaf node id: "a <= 1.5 AND b > 2"}`` for a fitted tree.

    Examples
    --------
    >>> X = pd.DataFrame({"gene": [0.0, 1.0, 2.0, 3.0]})
    >>> tree = fit_rule_tree(X, [0, 0, 1, 1], min_samples_leaf=1)
    >>> sorted(leaf_rules(tree, ["gene"]).values())
    ['gene <= 1.5', 'gene > 1.5']
    """
    inner = tree.tree_
    rules: dict[int, str] = {}

    def walk(node: int, conditions: list[str]) -> None:
        if inner.children_left[node] == inner.children_right[node]:  # a leaf
            rules[node] = " AND ".join(conditions) or "everyone"
            return
        name, threshold = names[inner.feature[node]], inner.threshold[node]
        walk(inner.children_left[node], [*conditions, f"{name} <= {threshold:.4g}"])
        walk(inner.children_right[node], [*conditions, f"{name} > {threshold:.4g}"])

    walk(0, [])
    return rules


def subgroup_rules(X: pd.DataFrame, groups: np.ndarray, *, labels: dict | None = None, max_depth: int = 3,
                   min_samples_leaf: int = 8, random_state: int = 0) -> dict:
    """Readable criteria for each subgroup: a shallow decision tree over ``X``'s columns.

    Returns the tree as text, one rule per leaf (conditions joined by AND, with the number of
    patients and the share of them truly in the predicted group) listed under the group the leaf
    predicts, and the tree's fidelity (in-sample and 5-fold cross-validated accuracy at reproducing
    the groups).
    """
    names = [str(c) for c in X.columns]
    groups = np.asarray(groups)
    tree = fit_rule_tree(X, groups, max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=random_state)
    label = (lambda g: str(labels.get(g, g))) if labels else str
    leaf_of = tree.apply(X.to_numpy(float))
    rules: dict[str, list[dict]] = {label(g): [] for g in tree.classes_}
    for node, rule in leaf_rules(tree, names).items():
        predicted = tree.classes_[int(np.argmax(tree.tree_.value[node][0]))]
        members = groups[leaf_of == node]
        rules[label(predicted)].append({
            "rule": rule, "n": int(len(members)),
            "purity": float(np.mean(members == predicted)) if len(members) else float("nan"),
        })
    n_splits = int(min(5, np.bincount(pd.factorize(groups)[0]).min()))
    cv_accuracy = float("nan")
    if n_splits >= 2:
        predicted_cv = cross_val_predict(clone(tree), X.to_numpy(float), groups,
                                         cv=StratifiedKFold(n_splits, shuffle=True, random_state=random_state))
        cv_accuracy = float(np.mean(predicted_cv == groups))
    return {
        "text": export_text(tree, feature_names=names, show_weights=False),
        "rules": rules,
        "accuracy": float(tree.score(X.to_numpy(float), groups)),
        "cv_accuracy": cv_accuracy,
        "max_depth": max_depth,
    }


def bootstrap_stability(model, X: pd.DataFrame, *, y: np.ndarray, reference: np.ndarray, n_boot: int = 20,
                        random_state: int = 0) -> np.ndarray:
    """Adjusted Rand index between ``reference`` groups and those of ``model`` refitted on resamples.

    Each resample draws patients with replacement, refits a clone of ``model`` and regroups every
    patient; returns one ARI per resample (1 = identical partition, ~0 = chance).
    """
    rng = np.random.default_rng(random_state)
    scores = np.empty(n_boot)
    for b in range(n_boot):
        index = rng.integers(0, len(y), len(y))
        fitted = clone(model).fit(X.iloc[index] if hasattr(X, "iloc") else X[index], y[index])
        scores[b] = adjusted_rand_score(reference, fitted.predict_group(X))
    return scores


class Subgroups(BaseEstimator):
    """A subgroup model (``predict`` a risk, ``predict_group`` a subgroup) and the readable rule of each subgroup.

    ``fit`` fits a clone of ``estimator``, then a shallow decision tree (:func:`fit_rule_tree`) over
    ``features(X)`` (readable variables) that reproduces the training subgroups; each leaf's path is
    a rule. :meth:`rules` gives every patient the rule of the leaf they fall in and the subgroup that
    leaf stands for, without refitting anything.

    Examples
    --------
    >>> X = pd.DataFrame({"g": np.arange(30.0)})
    >>> y = surv_array(np.ones(30), 30.0 - np.arange(30.0))
    >>> model = Subgroups(ClusterRisk(n_clusters=2), features=lambda f: f.reset_index(drop=True), min_samples_leaf=2).fit(X, y)
    >>> model.rules(X.iloc[[0, 29]])["rule"].tolist()
    ['g <= 14.5', 'g > 14.5']
    """

    def __init__(self, estimator, *, features: Callable[[pd.DataFrame], pd.DataFrame], max_depth: int = 3,
                 min_samples_leaf: int = 8, random_state: int = 0) -> None:
        self.estimator = estimator
        self.features = features
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        groups = self.estimator_.predict_group(X)
        self.labels_ = group_labels(groups)
        readable = self.features(X)
        self.rule_tree_ = fit_rule_tree(readable, groups, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                                        random_state=self.random_state)
        self.leaf_rules_ = leaf_rules(self.rule_tree_, [str(c) for c in readable.columns])
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict(X), dtype=float)

    def predict_group(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict_group(X), dtype=int)

    def group_names(self, groups: np.ndarray) -> list[str]:
        """The name of each subgroup number (``low`` / ``intermediate`` / ``high``, or ``all``)."""
        return [self.labels_.get(int(g), str(g)) for g in groups]

    def rules(self, X) -> pd.DataFrame:
        """Per patient: ``rule`` (the conditions of their leaf) and ``rule_group`` (the subgroup it predicts)."""
        check_is_fitted(self, "rule_tree_")
        readable = self.features(X).to_numpy(float)
        leaves = self.rule_tree_.apply(readable)
        return pd.DataFrame({"rule": [self.leaf_rules_[int(leaf)] for leaf in leaves],
                             "rule_group": self.group_names(self.rule_tree_.predict(readable))})

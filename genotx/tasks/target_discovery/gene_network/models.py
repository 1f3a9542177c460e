"""Network inference estimators: samples x variables in, a score for every directed pair out.

Every estimator follows the network protocol's contract (:class:`genotx.evaluate.protocols.Network`):
``fit(X)`` with ``X`` a DataFrame (columns = variable names) or a 2-D array, then ``edge_scores_``
(``(p, p)`` float array, row = source/regulator, column = target, diagonal 0) and ``variables_``.

* :class:`CorrelationNetwork`: ``|Pearson r|``, symmetric (the trivial floor);
* :class:`PartialCorrelationNetwork`: ``|partial correlation|`` from a shrunk precision matrix
  (Ledoit-Wolf, or graphical lasso with cross-validated penalty), symmetric;
* :class:`TreeNetwork`: one tree ensemble per target on all other variables, importances as
  scores: GENIE3 (random forest, Huynh-Thu et al. 2010) or GRNBoost2-style (gradient boosting,
  LightGBM; Moerman et al. 2019); asymmetric through the per-target normalisation;
* :class:`SkewOriented`: any of the above as undirected strength ``max(s_ij, s_ji)``, oriented by
  the Hyvarinen-Smith (2013) pairwise likelihood ratio for skewed variables (:func:`skew_orientation`),
  averaged with the inner estimator's own asymmetry ``s_ij / (s_ij + s_ji)``;
* :class:`DirectLiNGAMNetwork`: causal-learn's DirectLiNGAM (optional dependency ``causal-learn``);
  ``|B_ji|`` as the score of i -> j.

``transform="auto"`` takes ``log1p`` of data that are all >= 0 with a maximum above 50 (raw
intensities or counts) and leaves other data (log-scale, centred, gene effects) as they are;
``transform_`` records what was done. Variables are then standardised.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from genotx.errors import InputError
from genotx.settings import settings

__all__ = [
    "CorrelationNetwork", "PartialCorrelationNetwork", "TreeNetwork", "SkewOriented", "DirectLiNGAMNetwork",
    "skew_orientation", "prepare", "causal_learn_available", "TRANSFORMS",
]

log = logging.getLogger(__name__)

TRANSFORMS = ("auto", "log1p", "none")
_LOG_ABOVE = 50.0  # raw intensities / counts reach far above this; log-scale expression rarely exceeds 20


def prepare(X, transform: str = "auto", *, where: str = "expression") -> tuple[np.ndarray, list[str], str]:
    """Validated, transformed and standardised ``(samples, variables)`` float array, variable names
    and the transform applied.

    Examples
    --------
    >>> z, names, how = prepare(pd.DataFrame({"a": [1.0, 100.0, 10.0], "b": [3.0, 2.0, 1.0]}))
    >>> names, how, np.allclose(z.mean(axis=0), 0)
    (['a', 'b'], 'log1p', True)
    """
    if transform not in TRANSFORMS:
        raise InputError(where, f"transform {transform!r} is not one of {list(TRANSFORMS)}", fix="use auto, log1p or none")
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        try:
            values = X.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
            raise InputError(where, f"non-numeric column(s) {bad[:5]}", fix="give numbers only (one column per variable)") from None
    else:
        values = np.asarray(X, dtype=np.float64)
        names = [f"x{i}" for i in range(values.shape[1])] if values.ndim == 2 else []
    if values.ndim != 2:
        raise InputError(where, f"expected a 2-D samples x variables table, got shape {values.shape}", fix="one row per sample")
    if len(set(names)) != len(names):
        dup = pd.Index(names)[pd.Index(names).duplicated()][0]
        raise InputError(where, f"variable {dup!r} occurs twice", fix="give each column a unique name")
    n, p = values.shape
    if n < 3 or p < 2:
        raise InputError(where, f"{n} samples x {p} variables is too small", fix="give at least 3 samples and 2 variables")
    if not np.isfinite(values).all():
        row, col = np.argwhere(~np.isfinite(values))[0]
        raise InputError(where, f"missing or non-finite value for variable {names[col]!r} in sample {row + 1}",
                         fix="fill or drop missing values before inferring a network")
    how = transform
    if transform == "auto":
        how = "log1p" if values.min() >= 0 and values.max() > _LOG_ABOVE else "none"
    if how == "log1p":
        if values.min() < 0:
            raise InputError(where, "log1p needs values >= 0 but some are negative", fix="use transform=none")
        values = np.log1p(values)
    sd = values.std(axis=0)
    if (sd == 0).any():
        const = [names[j] for j in np.flatnonzero(sd == 0)][:5]
        raise InputError(where, f"variable(s) {const} are constant over all samples", fix="drop constant variables")
    return (values - values.mean(axis=0)) / sd, names, how


class _NetworkEstimator(BaseEstimator):
    """Shared bits: ``fit`` validates, ``_scores`` computes; the diagonal is always 0."""

    transform: str = "auto"

    def fit(self, X, y=None):  # noqa: ARG002 - networks are unsupervised; y is accepted for the engine's fit(X, y)
        z, names, how = prepare(X, self.transform, where=type(self).__name__)
        scores = np.asarray(self._scores(z), dtype=np.float64)
        np.fill_diagonal(scores, 0.0)
        self.edge_scores_, self.variables_, self.transform_ = scores, names, how
        self.n_features_in_ = len(names)
        return self

    def _scores(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def edge_list(self) -> pd.DataFrame:
        """Every ordered pair as ``source, target, score``, best first."""
        check_is_fitted(self, "edge_scores_")
        return ranked_edges(self.edge_scores_, self.variables_)


def ranked_edges(scores: np.ndarray, variables: Sequence[str]) -> pd.DataFrame:
    """``rank, source, target, score`` of every ordered pair (i != j), highest score first (ties keep
    row-major order).

    Examples
    --------
    >>> ranked_edges(np.array([[0, 0.2], [0.9, 0]]), ["a", "b"]).values.tolist()
    [[1, 'b', 'a', 0.9], [2, 'a', 'b', 0.2]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    i, j = np.where(~np.eye(len(scores), dtype=bool))
    order = np.argsort(-scores[i, j], kind="stable")
    names = np.asarray(variables, dtype=object)
    return pd.DataFrame({"rank": np.arange(1, len(order) + 1), "source": names[i[order]], "target": names[j[order]],
                         "score": scores[i[order], j[order]]})


class CorrelationNetwork(_NetworkEstimator):
    """``|Pearson r|`` between every two variables (symmetric): the trivial floor.

    Examples
    --------
    >>> rng = np.random.default_rng(0); a = rng.normal(size=200)
    >>> X = pd.DataFrame({"a": a, "b": a + 0.1 * rng.normal(size=200), "c": rng.normal(size=200)})
    >>> net = CorrelationNetwork().fit(X)
    >>> net.edge_list().iloc[0][["source", "target"]].tolist()
    ['a', 'b']
    """

    def __init__(self, *, transform: str = "auto") -> None:
        self.transform = transform

    def _scores(self, z):
        return np.abs(z.T @ z / len(z))


class PartialCorrelationNetwork(_NetworkEstimator):
    """``|partial correlation|`` from a regularised precision matrix (symmetric).

    ``covariance``: ``"ledoit_wolf"`` (analytic shrinkage; works for more variables than samples) or
    ``"graphical_lasso"`` (sparse, penalty chosen by 5-fold cross-validation; small networks only).
    """

    def __init__(self, *, covariance: str = "ledoit_wolf", transform: str = "auto") -> None:
        self.covariance = covariance
        self.transform = transform

    def _scores(self, z):
        from sklearn.covariance import GraphicalLassoCV, LedoitWolf

        if self.covariance not in ("ledoit_wolf", "graphical_lasso"):
            raise InputError("PartialCorrelationNetwork", f"covariance {self.covariance!r} is unknown", fix="use ledoit_wolf or graphical_lasso")
        with threadpool_limits(limits=settings.n_jobs), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # graphical lasso's convergence chatter
            if self.covariance == "ledoit_wolf":
                precision = np.linalg.inv(LedoitWolf(assume_centered=True).fit(z).covariance_)
            else:
                precision = GraphicalLassoCV(cv=5, max_iter=200, assume_centered=True).fit(z).precision_
        d = np.sqrt(np.diag(precision))
        return np.abs(precision / np.outer(d, d))


class TreeNetwork(_NetworkEstimator):
    """One tree ensemble per target, predicting it from all other variables; the target's feature
    importances (normalised to sum 1) score each regulator -> target edge.

    ``learner="random_forest"`` is GENIE3 (``max_features="sqrt"``); ``"lightgbm"`` is GRNBoost2-style
    gradient boosting (shallow trees, small learning rate, each tree sees a random tenth of the
    regulators, gain importances). Cost grows with the number of targets, hence ``max_variables``.
    """

    def __init__(self, *, learner: str = "random_forest", n_estimators: int | None = None, min_samples_leaf: int = 5,
                 max_samples: float = 0.5, transform: str = "auto", max_variables: int = 1000,
                 random_state: int | None = 0, n_jobs: int | None = None) -> None:
        self.learner = learner
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_samples = max_samples
        self.transform = transform
        self.max_variables = max_variables
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _model(self, seed: int):
        n_jobs = self.n_jobs or settings.n_jobs
        if self.learner == "random_forest":
            from sklearn.ensemble import RandomForestRegressor

            return RandomForestRegressor(n_estimators=self.n_estimators or 100, max_features="sqrt", min_samples_leaf=self.min_samples_leaf,
                                         max_samples=self.max_samples, n_jobs=n_jobs, random_state=seed)
        if self.learner == "lightgbm":
            from lightgbm import LGBMRegressor

            return LGBMRegressor(n_estimators=self.n_estimators or 300, learning_rate=0.02, max_depth=3, num_leaves=8,
                                 subsample=self.max_samples, subsample_freq=1, colsample_bytree=0.1,
                                 min_child_samples=self.min_samples_leaf, importance_type="gain", random_state=seed,
                                 n_jobs=n_jobs, verbose=-1)
        raise InputError("TreeNetwork", f"learner {self.learner!r} is unknown", fix="use random_forest or lightgbm")

    def _scores(self, z):
        p = z.shape[1]
        if p > self.max_variables:
            raise InputError("TreeNetwork", f"{p} variables means {p} tree ensembles (hours)",
                             fix="use correlation or partial_correlation for genome-scale data, or raise max_variables")
        rng = np.random.default_rng(self.random_state)
        scores = np.zeros((p, p))
        for j in range(p):
            others = np.r_[0:j, j + 1:p]
            model = self._model(int(rng.integers(2**31 - 1))).fit(z[:, others], z[:, j])
            importance = np.asarray(model.feature_importances_, dtype=np.float64)
            total = importance.sum()
            scores[others, j] = importance / total if total > 0 else 0.0
        return scores


def skew_orientation(z: np.ndarray) -> np.ndarray:
    """Pairwise causal direction from skewness (Hyvarinen & Smith 2013, JMLR 14:111, eq. 25):
    ``R[i, j] = rho_ij * E[x_i^2 x_j - x_i x_j^2]`` on standardised variables whose sign is flipped to
    make each one's skewness positive. ``R[i, j] > 0`` favours i -> j (``R`` is antisymmetric).

    For ``y = rho x + e`` with independent ``x, e``, ``E[x^2 y - x y^2] = rho (1 - rho) E[x^3]``, so the
    sign is right whenever the cause is skewed; the ratio needs non-Gaussian, noisy, roughly linear
    relations, and is unreliable for near-deterministic dynamics.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.exponential(size=5000); y = 0.7 * x + 0.5 * rng.exponential(size=5000)
    >>> z = np.c_[x, y]; z = (z - z.mean(0)) / z.std(0)
    >>> bool(skew_orientation(z)[0, 1] > 0)
    True
    """
    z = np.asarray(z, dtype=np.float64)
    z = z * np.where((z**3).mean(axis=0) < 0, -1.0, 1.0)
    n = len(z)
    rho = z.T @ z / n
    squares = (z**2).T @ z / n  # squares[i, j] = E[x_i^2 x_j]
    return rho * (squares - squares.T)


class SkewOriented(BaseEstimator):
    """Orient an undirected strength: ``score[i, j] = u_ij * (w * own_ij + (1 - w) * skew_ij)``.

    ``u_ij = max(s_ij, s_ji)`` of the inner ``estimator``; ``own_ij = s_ij / (s_ij + s_ji)`` is its own
    direction preference (0.5 for a symmetric one); ``skew_ij = (1 + tanh(R_ij / m)) / 2`` with ``R``
    from :func:`skew_orientation` and ``m`` the median ``|R|`` over pairs (so a pair with a typical
    ratio gets ~0.88 one way and ~0.12 the other, and a weak ratio leaves both near 0.5).
    ``own_weight`` is ``w`` (0 = skew only).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.exponential(size=3000); y = x + rng.exponential(size=3000); w = rng.exponential(size=3000)
    >>> net = SkewOriented(CorrelationNetwork(transform="none"), own_weight=0.0).fit(pd.DataFrame({"x": x, "y": y, "w": w}))
    >>> net.edge_list().iloc[0][["source", "target"]].tolist()
    ['x', 'y']
    """

    def __init__(self, estimator=None, *, own_weight: float = 0.5) -> None:
        self.estimator = estimator
        self.own_weight = own_weight

    def fit(self, X, y=None):  # noqa: ARG002
        if not 0.0 <= self.own_weight <= 1.0:
            raise InputError("SkewOriented", f"own_weight {self.own_weight!r} is outside [0, 1]", fix="use a weight between 0 and 1")
        inner = clone(self.estimator if self.estimator is not None else TreeNetwork())
        inner.fit(X)
        s = np.asarray(inner.edge_scores_, dtype=np.float64)
        z, _, _ = prepare(X, getattr(inner, "transform_", "none"), where="SkewOriented")
        ratio = skew_orientation(z)
        off = ~np.eye(len(s), dtype=bool)
        scale = np.median(np.abs(ratio[off]))
        skew = 0.5 * (1.0 + np.tanh(ratio / scale)) if scale > 0 else np.full_like(s, 0.5)
        both = s + s.T
        own = np.divide(s, both, out=np.full_like(s, 0.5), where=both > 0)
        scores = np.maximum(s, s.T) * (self.own_weight * own + (1.0 - self.own_weight) * skew)
        np.fill_diagonal(scores, 0.0)
        self.estimator_, self.orientation_ = inner, ratio
        self.edge_scores_, self.variables_ = scores, list(inner.variables_)
        self.transform_ = getattr(inner, "transform_", "none")
        self.n_features_in_ = len(self.variables_)
        return self

    def edge_list(self) -> pd.DataFrame:
        """Every ordered pair as ``source, target, score``, best first."""
        check_is_fitted(self, "edge_scores_")
        return ranked_edges(self.edge_scores_, self.variables_)


def causal_learn_available() -> bool:
    """Whether the optional ``causal-learn`` package is importable (``pip install 'genotx[causal]'``)."""
    import importlib.util

    return importlib.util.find_spec("causallearn") is not None


class DirectLiNGAMNetwork(_NetworkEstimator):
    """causal-learn's DirectLiNGAM (Shimizu et al. 2011): a causal order and linear effects; the score
    of i -> j is ``|B[j, i]|`` (0 for pairs it leaves unconnected). Needs ``causal-learn``."""

    def __init__(self, *, transform: str = "auto", random_state: int | None = 0) -> None:
        self.transform = transform
        self.random_state = random_state

    def _scores(self, z):
        if not causal_learn_available():
            raise ImportError("DirectLiNGAMNetwork needs causal-learn: pip install 'genotx[causal]'")
        from causallearn.search.FCMBased.lingam import DirectLiNGAM

        with threadpool_limits(limits=settings.n_jobs):
            model = DirectLiNGAM(random_state=self.random_state).fit(z)
        return np.abs(np.asarray(model.adjacency_matrix_, dtype=np.float64)).T

"""Learn expression -> pathway activity in one species, predict it in another (domain adaptation).

Inputs of :class:`CrossSpeciesRidge` are a DataFrame of samples x genes (one shared gene space,
e.g. human symbols with mouse genes mapped through one-to-one orthologs) plus a ``species`` column
naming each row's domain; the target is a 2-D array (samples x pathways) with NaN rows for samples
whose labels are not given. What ``fit`` uses depends on ``transfer``:

* ``"none"``: ridge on the labelled source rows; target rows are scaled with the source's gene
  scales (no adaptation beyond centering each batch on its own mean);
* ``"coral"``: CORAL (Sun, Feng & Saenko 2016): each domain standardised on its own, the source
  features whitened with the source covariance and re-coloured with the unlabelled target
  covariance (both regularised by ``coral_reg`` * identity, computed in low rank), then ridge;
* ``"latent"``: a shared latent space: PCA fitted on both standardised domains, ridge on the scores;
* ``"target_only"``: ridge on the labelled *target* rows only (the few-shot human model).

Ridge's penalty is chosen by efficient leave-one-out over ``alphas`` on the training rows only.
At ``predict`` every call is one batch: genes are centred on the batch's own mean (as PROGENy
scores are relative across samples) and scaled with the scales learnt at fit time.

:class:`Transductive` runs any such semi-supervised estimator transductively: the rows it is asked
to predict join the fit, unlabelled (how the task evaluates: held-out humans are the target domain).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from genotx.bio.footprints import footprint_scores  # re-exported: the one PROGENy scorer
from genotx.errors import InputError

__all__ = ["CrossSpeciesRidge", "Transductive", "coral_transform", "footprint_scores"]

TRANSFERS = ("none", "coral", "latent", "target_only")


def _spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right singular vectors and covariance eigenvalues of the centred rows of ``x``."""
    centred = x - x.mean(axis=0)
    # Through the n x n Gram matrix (n samples << p genes): much cheaper than an SVD of the data.
    eig, u = np.linalg.eigh(centred @ centred.T)
    keep = eig > eig.max() * 1e-10
    eig, u = eig[keep], u[:, keep]
    vt = (u / np.sqrt(eig)).T @ centred
    return vt, eig / max(len(x) - 1, 1)


def _matrix_power(x: np.ndarray, vt: np.ndarray, eig: np.ndarray, reg: float, power: float) -> np.ndarray:
    """``x @ (C + reg I)^power`` for C = vt.T diag(eig) vt, without forming the p x p matrix."""
    proj = x @ vt.T
    return (proj * (eig + reg) ** power) @ vt + (x - proj @ vt) * reg**power


def coral_transform(source: np.ndarray, target: np.ndarray, *, reg: float = 1.0) -> np.ndarray:
    """Source rows re-coloured to the target covariance: ``Xs (Cs + rI)^-1/2 (Ct + rI)^1/2``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xs = rng.normal(size=(100, 3)) * [1.0, 2.0, 1.0]
    >>> xt = rng.normal(size=(100, 3)) @ [[3.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5]]
    >>> np.allclose(np.cov(coral_transform(xs, xt, reg=1e-9).T), np.cov(xt.T))
    True
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    with threadpool_limits(limits=1):  # small eigensolves: threads only add contention
        vs, es = _spectrum(source)
        vt, et = _spectrum(target)
        white = _matrix_power(source - source.mean(axis=0), vs, es, reg, -0.5)
        return _matrix_power(white, vt, et, reg, 0.5)


class CrossSpeciesRidge(RegressorMixin, BaseEstimator):
    """Ridge from expression to pathway activities with a choice of cross-species transfer."""

    def __init__(self, *, transfer: str = "coral", source: str = "mouse", target: str = "human",
                 alphas: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, 10000.0), coral_reg: float = 1.0,
                 n_components: int = 100, species_column: str = "species") -> None:
        self.transfer = transfer
        self.source = source
        self.target = target
        self.alphas = alphas
        self.coral_reg = coral_reg
        self.n_components = n_components
        self.species_column = species_column

    def _split(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(X, pd.DataFrame) or self.species_column not in X:
            raise InputError("CrossSpeciesRidge", f"X must be a DataFrame with a {self.species_column!r} column",
                             fix="add the species of each row")
        species = X[self.species_column].astype(str).to_numpy()
        values = X.drop(columns=[self.species_column]).to_numpy(np.float64)
        return species, values

    @staticmethod
    def _scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = x.mean(axis=0)
        sd = x.std(axis=0)
        return mean, np.where(sd > 1e-8, sd, 1.0)

    def fit(self, X: pd.DataFrame, y) -> "CrossSpeciesRidge":
        # One BLAS thread: on a busy shared machine multi-threaded small eigensolves are ~30x slower.
        with threadpool_limits(limits=1):
            return self._fit(X, y)

    def _fit(self, X: pd.DataFrame, y) -> "CrossSpeciesRidge":
        if self.transfer not in TRANSFERS:
            raise ValueError(f"The 'transfer' parameter of CrossSpeciesRidge must be one of {TRANSFERS}. "
                             f"Got {self.transfer!r} instead.")
        species, values = self._split(X)
        y = np.asarray(y, dtype=np.float64)
        y = y.reshape(len(y), -1)
        labelled = np.isfinite(y).all(axis=1)
        fit_species = self.target if self.transfer == "target_only" else self.source
        train = labelled & (species == fit_species)
        target_rows = species == self.target
        if train.sum() < 3:
            raise InputError("CrossSpeciesRidge", f"needs at least 3 labelled {fit_species!r} rows, got {int(train.sum())}",
                             fix="give labels for more rows")
        if self.transfer in ("coral", "latent") and target_rows.sum() < 3:
            raise InputError("CrossSpeciesRidge", f"transfer {self.transfer!r} needs at least 3 {self.target!r} rows "
                             f"(labels not needed), got {int(target_rows.sum())}", fix="add unlabelled target rows")
        xs = values[train]
        mean_s, sd_s = self._scale(xs)
        zs = (xs - mean_s) / sd_s
        self.feature_names_in_ = np.asarray(X.drop(columns=[self.species_column]).columns, dtype=object)
        self.n_outputs_ = y.shape[1]
        self.pca_ = None
        if self.transfer in ("none", "target_only"):
            self.scale_ = sd_s
            features = zs
        else:
            xt = values[target_rows]
            _, sd_t = self._scale(xt)
            zt = (xt - xt.mean(axis=0)) / sd_t
            self.scale_ = sd_t
            if self.transfer == "coral":
                features = coral_transform(zs, zt, reg=self.coral_reg)
            else:
                k = int(min(self.n_components, len(zs) + len(zt) - 1, zs.shape[1]))
                self.pca_ = PCA(n_components=k, random_state=0).fit(np.vstack([zs, zt]))
                features = self.pca_.transform(zs)
        self.ridge_ = RidgeCV(alphas=self.alphas).fit(features, y[train])
        self.n_train_ = int(train.sum())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "ridge_")
        if isinstance(X, pd.DataFrame):
            X = X.drop(columns=[self.species_column], errors="ignore")
            if list(X.columns) != list(self.feature_names_in_):
                raise InputError("CrossSpeciesRidge", "X's gene columns differ from those seen in fit",
                                 fix="reindex X to the fitted genes (feature_names_in_)")
        values = np.asarray(X, dtype=np.float64)
        z = (values - values.mean(axis=0)) / self.scale_
        with threadpool_limits(limits=1):
            if self.pca_ is not None:
                z = self.pca_.transform(z)
            return self.ridge_.predict(z)


class Transductive(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """A semi-supervised estimator used transductively: the rows to predict join its fit, unlabelled.

    ``fit(X, y)`` keeps the labelled rows (``X_``, ``y_``; nothing is learnt yet). ``predict(X)``
    fits a clone of ``estimator`` on ``X_`` followed by ``X`` with NaN labels, keeps it as
    ``estimator_`` and returns its predictions for ``X``: a domain-adaptation method sees the
    held-out domain's inputs, never its labels. ``estimator`` must accept NaN rows in ``y`` as
    "unlabelled" (as :class:`CrossSpeciesRidge` does).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(30, 4)), columns=list("abcd")).assign(species=["mouse"] * 20 + ["human"] * 10)
    >>> y = X[["a", "b"]].to_numpy() * 2
    >>> model = Transductive(CrossSpeciesRidge(transfer="coral")).fit(X.iloc[:20], y[:20])
    >>> model.predict(X.iloc[20:]).shape, model.estimator_.n_train_
    ((10, 2), 20)
    """

    def __init__(self, estimator) -> None:
        self.estimator = estimator

    def fit(self, X, y) -> "Transductive":
        self.X_ = X
        self.y_ = np.asarray(y, dtype=np.float64)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "X_")
        hidden = np.full((len(X), *self.y_.shape[1:]), np.nan)
        both = pd.concat([self.X_, X]) if isinstance(X, pd.DataFrame) else np.concatenate([self.X_, X])
        self.estimator_ = clone(self.estimator).fit(both, np.concatenate([self.y_, hidden]))
        return self.estimator_.predict(X)

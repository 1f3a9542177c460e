"""Deconvolution baselines, each a scikit-learn regressor ``fit(X, y)`` -> ``predict(X)``.

``X`` is mixtures x genes of linear-scale expression (counts, CPM, TPM or normalised single-cell
pseudo-bulks; never log values), ``y`` the mixtures' cell-type proportions (rows sum to 1; a
DataFrame's columns name the types, kept in ``types_``). ``predict`` returns proportions (rows sum
to 1, none negative). The labelled single-cell reference reaches a model as training mixtures
simulated from its cells (:func:`genotx.simulate.mixtures.pseudo_bulk`), so every model, and any
estimator of a user's, learns from the same ``(X, y)`` and a test mixture never shares a cell with
them.

* :class:`SignatureNNLS`: the signature matrix (types x genes) is the non-negative least-squares
  fit of the training mixtures on their proportions (for mixtures that are averages of cells this
  is each type's mean profile); a mixture is then deconvolved by NNLS (``scipy.optimize.nnls``) on
  genes weighted by ``1 / sqrt(mean expression)`` (a Poisson-like variance), and the coefficients
  are rescaled to sum to 1. With ``adapt_to_batch`` the signature is then re-estimated on the batch
  of mixtures being predicted (alternating NNLS with a ridge pull toward the reference signature,
  in the spirit of BayesPrism's and CIBERSORTx's reference-to-bulk adaptation): every sample of a
  batch then informs every other, and batches smaller than ``min_batch`` fall back to plain NNLS.
  It can only learn what the batch identifies: a change in the *shape* of a type's profile, found
  from how the mixtures spread between the types (the batch must vary in composition, with some
  samples rich in each type); a change in a type's *total* expression is indistinguishable from a
  change in its proportion, so the prior keeps the reference's. A batch whose compositions hardly
  vary holds too little of that information (adapting then hurts), so it is adapted only when the
  plain-NNLS proportions spread enough (``min_spread``; :meth:`SignatureNNLS.adapts` says whether).
* :class:`NuSVRDeconvolution`: CIBERSORT (Newman et al. 2015): signature and mixture standardised,
  a linear nu-SVR per mixture for nu in 0.25/0.5/0.75, negative weights set to 0, renormalised,
  the nu with the smallest reconstruction error kept.
* :class:`ScadenMLP`: Scaden (Menden et al. 2020): ``log2(x + 1)``, per-sample min-max scaling,
  an ensemble of multilayer perceptrons with a softmax output trained (MSE) on the training
  mixtures through :func:`genotx.models.nets.train_network`.
* :class:`MeanProportions`: the training mean (1/K for Dirichlet-uniform mixtures): the floor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.svm import NuSVR
from sklearn.utils.validation import check_is_fitted, validate_data

from genotx.settings import settings

__all__ = ["SignatureNNLS", "NuSVRDeconvolution", "ScadenMLP", "MeanProportions", "fit_signature", "nnls_proportions"]


def fit_signature(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Types x genes signature: per gene, the non-negative least-squares fit of ``X[:, g]`` on ``y``.

    Examples
    --------
    >>> y = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    >>> S = np.array([[2.0, 0.0, 1.0], [0.0, 4.0, 1.0]])
    >>> fit_signature(y @ S, y).round(6).tolist()
    [[2.0, 0.0, 1.0], [0.0, 4.0, 1.0]]
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.column_stack([nnls(y, X[:, g])[0] for g in range(X.shape[1])])


def _to_proportions(coef: np.ndarray) -> np.ndarray:
    """Non-negative coefficients rescaled to rows summing to 1 (all zero -> uniform)."""
    coef = np.clip(np.asarray(coef, dtype=np.float64), 0.0, None)
    total = coef.sum(axis=1, keepdims=True)
    uniform = np.full_like(coef, 1.0 / coef.shape[1])
    return np.where(total > 0, coef / np.where(total > 0, total, 1.0), uniform)


def nnls_proportions(signature: np.ndarray, X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """NNLS coefficients of each row of ``X`` on the rows of ``signature`` (genes weighted), unscaled.

    Examples
    --------
    >>> S = np.array([[2.0, 0.0, 1.0], [0.0, 4.0, 1.0]])
    >>> nnls_proportions(S, np.array([[0.5, 3.0, 1.0]])).round(6).tolist()
    [[0.25, 0.75]]
    """
    weights = np.ones(signature.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    A = np.asarray(signature, dtype=np.float64).T * weights[:, None]
    X = np.asarray(X, dtype=np.float64)
    return np.vstack([nnls(A, x * weights)[0] for x in X]) if len(X) else np.zeros((0, A.shape[1]))


class _Deconvolver(RegressorMixin, BaseEstimator):
    """Shared input checks: X non-negative and finite, y proportions (one column per type)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def _validate_fit(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        types = [str(c) for c in y.columns] if hasattr(y, "columns") else None
        X, y = validate_data(self, X, y, multi_output=True, dtype=np.float64, y_numeric=True)
        y = y.reshape(len(y), -1)
        if (X < 0).any():
            raise ValueError("X holds negative expression; give linear-scale values (counts, CPM, TPM), not scaled ones")
        if (y < 0).any() or not np.allclose(y.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError("y must be proportions: non-negative, each row summing to 1")
        self.types_ = np.array(types if types is not None else [f"type_{k}" for k in range(y.shape[1])], dtype=object)
        return X, y

    def _validate_predict(self, X) -> np.ndarray:
        """X as float64; a gene that is NaN in every row was not measured (see :meth:`_measured`)."""
        check_is_fitted(self, "types_")
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_min_samples=0, ensure_all_finite="allow-nan")
        if np.isinf(X).any():
            raise ValueError("X holds infinite expression values")
        partly = np.isnan(X).any(axis=0) & ~np.isnan(X).all(axis=0)
        if partly.any():
            raise ValueError(f"{int(partly.sum())} genes are missing in some mixtures only; a gene is either measured "
                             "in every mixture or in none")
        if (np.nan_to_num(X) < 0).any():
            raise ValueError("X holds negative expression; give linear-scale values (counts, CPM, TPM), not scaled ones")
        return X

    @staticmethod
    def _measured(X: np.ndarray) -> np.ndarray:
        """Genes measured in the mixtures (not NaN); a signature model fits on these only."""
        measured = ~np.isnan(X).any(axis=0) if len(X) else np.ones(X.shape[1], dtype=bool)
        if measured.sum() < 2:
            raise ValueError("fewer than 2 genes are measured in the mixtures")
        return measured


def _match_rows(signature: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Row order of ``signature`` that best matches the reference types (Hungarian assignment on the
    correlation of log profiles): an adapted profile keeps the label of the reference type it most
    resembles, so two similar types cannot trade places during adaptation.

    Examples
    --------
    >>> ref = np.array([[9.0, 1.0, 1.0], [1.0, 9.0, 1.0]])
    >>> _match_rows(ref[::-1] * 2, ref).tolist()
    [1, 0]
    """
    from scipy.optimize import linear_sum_assignment

    a, b = np.log1p(signature), np.log1p(reference)
    a = (a - a.mean(axis=1, keepdims=True)) / (a.std(axis=1, keepdims=True) + 1e-12)
    b = (b - b.mean(axis=1, keepdims=True)) / (b.std(axis=1, keepdims=True) + 1e-12)
    rows, cols = linear_sum_assignment(-(b @ a.T))  # reference type i <- adapted row cols[i]
    return cols[np.argsort(rows)]


def _gene_weights(signature: np.ndarray, power: float) -> np.ndarray:
    """``(mean expression / its mean + 1e-3) ** -power``: 0.5 gives Poisson-like variance weights."""
    mean = signature.mean(axis=0)
    return (mean / max(mean.mean(), 1e-12) + 1e-3) ** -power


class SignatureNNLS(_Deconvolver):
    """NNLS on a signature matrix learned from training mixtures; optionally adapted to the batch.

    Parameters
    ----------
    gene_weight_power : float
        Genes are weighted by ``(mean expression) ** -power`` (0: plain NNLS).
    adapt_to_batch : bool
        Re-estimate the signature on the batch being predicted (transductive; see module docs).
    prior_strength : float
        Ridge pull of the adapted signature toward the reference one, relative to the batch's
        mean squared proportion (small: the batch decides).
    n_iter : int
        Alternations of the adaptation.
    min_batch : int
        Smallest batch that is adapted (smaller ones get plain NNLS).
    min_spread : float
        Smallest spread of the batch's plain-NNLS proportions that is adapted: the mean over types
        of their standard deviation, relative to that of uniform Dirichlet(1) proportions over the
        same K types (0.09 for K = 10). 0.5 from simulations on pbmc68k cells with Dirichlet(alpha)
        compositions: adapting helped up to alpha = 2 (relative spread ~0.53) and hurt from alpha = 5
        (~0.37), where the batch tells too little about the profiles.
    match_types : bool
        Keep each adapted profile on the reference type it most resembles (Hungarian matching).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = rng.gamma(1.0, 10.0, size=(3, 40)); y = rng.dirichlet(np.ones(3), size=60)
    >>> model = SignatureNNLS().fit(y @ S, y)
    >>> bool(np.abs(model.predict(y[:5] @ S) - y[:5]).max() < 1e-6)
    True
    """

    def __init__(self, *, gene_weight_power: float = 0.5, adapt_to_batch: bool = False, prior_strength: float = 0.03,
                 n_iter: int = 30, min_batch: int = 20, min_spread: float = 0.5, match_types: bool = True) -> None:
        self.gene_weight_power = gene_weight_power
        self.adapt_to_batch = adapt_to_batch
        self.prior_strength = prior_strength
        self.n_iter = n_iter
        self.min_batch = min_batch
        self.min_spread = min_spread
        self.match_types = match_types

    def fit(self, X, y) -> SignatureNNLS:
        X, y = self._validate_fit(X, y)
        self.signature_ = fit_signature(X, y)
        self.gene_weights_ = _gene_weights(self.signature_, self.gene_weight_power)
        return self

    def _plain(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        X = self._validate_predict(X)
        genes = self._measured(X)
        X, signature, weights = X[:, genes], self.signature_[:, genes], self.gene_weights_[genes]
        return X, nnls_proportions(signature, X, weights), signature, weights

    def _adapts(self, coef: np.ndarray) -> bool:
        if not self.adapt_to_batch or len(coef) < max(self.min_batch, 2):
            return False
        k = coef.shape[1]
        uniform = np.sqrt((1 / k) * (1 - 1 / k) / (k + 1))  # sd of Dirichlet(1) proportions over k types
        return float(_to_proportions(coef).std(axis=0).mean()) / uniform >= self.min_spread

    def adapts(self, X) -> bool:
        """Whether :meth:`predict` adapts the signature to this batch (size and composition spread)."""
        return self._adapts(self._plain(X)[1])

    def predict(self, X) -> np.ndarray:
        X, coef, signature, weights = self._plain(X)
        if not self._adapts(coef):
            return _to_proportions(coef)
        return _to_proportions(self._adapt(X, coef, signature, weights))

    def _adapt(self, X: np.ndarray, coef: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Alternate: proportions given the signature (NNLS), signature given the proportions (ridge
        toward the reference signature, clipped at 0). Samples are first put on the reference's scale."""
        total = coef.sum(axis=1)
        keep = total > 0  # a mixture with no signal keeps its (uniform) plain-NNLS answer
        if keep.sum() < self.min_batch:
            return coef
        X = X[keep] / total[keep, None]
        signature = reference.copy()
        for _ in range(self.n_iter):
            p = _to_proportions(nnls_proportions(signature, X, weights))
            gram = p.T @ p
            ridge = self.prior_strength * float(np.mean(np.diag(gram)))
            signature = np.clip(np.linalg.solve(gram + ridge * np.eye(len(gram)), p.T @ X + ridge * reference), 0.0, None)
            if self.match_types:
                signature = signature[_match_rows(signature, reference)]
        out = coef.copy()
        out[keep] = nnls_proportions(signature, X, weights)
        return out


class NuSVRDeconvolution(_Deconvolver):
    """CIBERSORT-style deconvolution: a linear nu-SVR per mixture on the standardised signature.

    Parameters
    ----------
    nus : tuple of float
        nu values tried per mixture; the one whose weights best reconstruct the mixture is kept.
    C : float
        SVR cost (CIBERSORT: 1).
    n_jobs : int, optional
        Threads over mixtures (libsvm releases the GIL); default ``settings.n_jobs``. About 3 SVR
        fits per mixture make this the slowest baseline.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = rng.gamma(1.0, 10.0, size=(3, 60)); y = rng.dirichlet(np.ones(3), size=40)
    >>> model = NuSVRDeconvolution().fit(y @ S, y)
    >>> bool(np.abs(model.predict(y[:5] @ S) - y[:5]).max() < 0.05)
    True
    """

    def __init__(self, *, nus: tuple[float, ...] = (0.25, 0.5, 0.75), C: float = 1.0, n_jobs: int | None = None) -> None:
        self.nus = nus
        self.C = C
        self.n_jobs = n_jobs

    def fit(self, X, y) -> NuSVRDeconvolution:
        X, y = self._validate_fit(X, y)
        self.signature_ = fit_signature(X, y)
        return self

    def _one(self, S: np.ndarray, x: np.ndarray) -> np.ndarray:
        z = (x - x.mean()) / (x.std() or 1.0)
        best, best_err = None, np.inf
        for nu in self.nus:
            svr = NuSVR(kernel="linear", nu=nu, C=self.C).fit(S, z)
            w = np.clip(svr.coef_.ravel(), 0.0, None)
            if w.sum() <= 0:
                continue
            w = w / w.sum()
            err = float(np.sqrt(np.mean((S @ w - z) ** 2)))
            if err < best_err:
                best, best_err = w, err
        return best if best is not None else np.full(S.shape[1], 1.0 / S.shape[1])

    def predict(self, X) -> np.ndarray:
        X = self._validate_predict(X)
        if not len(X):
            return np.zeros((0, len(self.types_)))
        genes = self._measured(X)
        S = self.signature_[:, genes].T  # genes x types, standardised over all its values (CIBERSORT)
        S = (S - S.mean()) / (S.std() or 1.0)
        from joblib import Parallel, delayed

        n_jobs = self.n_jobs or settings.n_jobs
        rows = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(self._one)(S, x) for x in X[:, genes]) if n_jobs > 1 \
            else [self._one(S, x) for x in X[:, genes]]
        return np.vstack(rows)


def _scaden_scale(X: np.ndarray) -> np.ndarray:
    """Scaden's preprocessing: ``log2(x + 1)``, then each sample min-max scaled to [0, 1]."""
    L = np.log2(np.asarray(X, dtype=np.float64) + 1.0)
    low, high = L.min(axis=1, keepdims=True), L.max(axis=1, keepdims=True)
    return ((L - low) / np.where(high > low, high - low, 1.0)).astype(np.float32)


class ScadenMLP(_Deconvolver):
    """Scaden-style ensemble of softmax MLPs trained on simulated mixtures (one torch training loop).

    Parameters
    ----------
    hidden : tuple of tuple of int
        Hidden layer widths of each ensemble member (Scaden: three architectures).
    dropout : float
        Dropout after each hidden layer.
    epochs, batch_size, lr, patience : training settings of :func:`genotx.models.nets.train_network`
        (early stopping on 10% of the training mixtures).
    random_state : int
        Seed (member ``i`` uses ``random_state + i``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = rng.gamma(1.0, 10.0, size=(3, 30)); y = rng.dirichlet(np.ones(3), size=400)
    >>> model = ScadenMLP(hidden=((32,),), epochs=60, lr=1e-2).fit(y @ S, y)
    >>> p = model.predict(y[:50] @ S); bool(np.allclose(p.sum(axis=1), 1.0, atol=1e-5))
    True
    >>> bool(np.corrcoef(p.ravel(), y[:50].ravel())[0, 1] > 0.9)
    True
    """

    def __init__(self, *, hidden: tuple[tuple[int, ...], ...] = ((256, 128), (512, 256, 64)), dropout: float = 0.1,
                 epochs: int = 40, batch_size: int = 128, lr: float = 1e-3, patience: int = 5, random_state: int = 0) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.random_state = random_state

    def fit(self, X, y) -> ScadenMLP:
        import torch
        from torch import nn

        from genotx.models.nets import mlp, train_network

        X, y = self._validate_fit(X, y)
        Z, target = _scaden_scale(X), y.astype(np.float32)
        self.networks_ = []
        with settings.limit_threads(settings.n_jobs):  # a small net: extra threads only spin
            for i, widths in enumerate(self.hidden):
                torch.manual_seed(self.random_state + i)
                network = nn.Sequential(mlp(Z.shape[1], y.shape[1], hidden=tuple(widths), dropout=self.dropout), nn.Softmax(dim=1))
                train_network(network, Z, target, loss=nn.MSELoss(), epochs=self.epochs, batch_size=self.batch_size,
                              lr=self.lr, weight_decay=0.0, patience=self.patience, random_state=self.random_state + i)
                self.networks_.append(network)
        return self

    def predict(self, X) -> np.ndarray:
        import torch

        X = self._validate_predict(X)
        check_is_fitted(self, "networks_")
        if not len(X):
            return np.zeros((0, len(self.types_)))
        Z = torch.as_tensor(_scaden_scale(np.nan_to_num(X, nan=0.0)))  # an unmeasured gene reads as 0
        with settings.limit_threads(settings.n_jobs), torch.no_grad():
            out = np.mean([net.eval()(Z).numpy() for net in self.networks_], axis=0)
        return _to_proportions(out)


class MeanProportions(_Deconvolver):
    """Every mixture gets the training mean proportions (the trivial floor).

    Examples
    --------
    >>> MeanProportions().fit(np.ones((2, 3)), np.array([[0.2, 0.8], [0.4, 0.6]])).predict(np.ones((1, 3))).round(6).tolist()
    [[0.3, 0.7]]
    """

    def fit(self, X, y) -> MeanProportions:
        X, y = self._validate_fit(X, y)
        self.mean_ = y.mean(axis=0)
        return self

    def predict(self, X) -> np.ndarray:
        X = self._validate_predict(X)
        return np.tile(self.mean_, (len(X), 1))


def proportions_frame(values: np.ndarray, types, index=None) -> pd.DataFrame:
    """Proportions as a DataFrame, one column per type."""
    return pd.DataFrame(np.asarray(values, dtype=np.float64), columns=[str(t) for t in types], index=index)

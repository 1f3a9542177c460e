"""Scorers of guide-site pairs (inputs: a DataFrame with aligned ``guide`` and ``site`` columns, see
:mod:`.features`); each predicts a cleavage likelihood in [0, 1] relative to the on-target site.

* :class:`CFDScore`: the Doench 2016 CFD score from the real table: the product of the single-mismatch
  factors and the PAM factor. CFD has no bulge entries; a 1-nt bulge here multiplies by the mean of
  the 12 mismatch factors at its spacer position (for a DNA bulge, the smaller of its two neighbours'),
  a genotx extension. Fitting reads nothing from the training rows.
* :class:`ProductModel`: the same form learned from data: a ridge regression of ``log(activity + eps)``
  on 0/1 indicators of each (position, mismatch type), non-GG PAM and bulge position
  (:func:`~.features.product_design`), i.e. a learned table of factors whose product is the score.
* :func:`lgbm`: LightGBM on the pair encoding (:func:`~.features.pair_features`), fitted on
  ``log10(activity + eps)``.
* :class:`MismatchCount`: the trivial floor, ``2 ** -(mismatches + bulges)`` (no fitting).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from genotx.featurize.transformer import Featurizer
from genotx.tasks.therapeutics.crispr_off_target.features import (
    PairCodes,
    encode_pairs,
    mismatch_types,
    pair_features,
    product_design,
)
from genotx.tasks.therapeutics.crispr_off_target.tables import CFDTable, cfd_table

__all__ = ["CFDScore", "ProductModel", "MismatchCount", "lgbm", "cfd_scores", "EPS"]

EPS = 1e-3  # activity floor of the log-space fits (the assay background is ~1e-2)


def _pairs(X: pd.DataFrame, where: str) -> PairCodes:
    if not isinstance(X, pd.DataFrame) or not {"guide", "site"} <= set(X.columns):
        raise ValueError(f"{where} needs a DataFrame with columns 'guide' and 'site' (aligned pair); got "
                         f"{list(getattr(X, 'columns', [])) or type(X).__name__}")
    return encode_pairs(X["guide"], X["site"], where=where)


def cfd_scores(codes: PairCodes, table: CFDTable) -> np.ndarray:
    """CFD of each pair (see the module docstring); an N in the site counts as a match, in the PAM as G.

    >>> from genotx.tasks.therapeutics.crispr_off_target.tables import CFDTable
    >>> t = CFDTable(np.full((20, 4, 4), 0.5) + 0.5 * np.eye(4), np.eye(4))
    >>> c = encode_pairs(["A" * 20 + "NGG"], ["C" + "A" * 19 + "TGG"])
    >>> cfd_scores(c, t).tolist()
    [0.5]
    """
    site = np.where(codes.site < 4, codes.site, codes.guide)
    score = table.mismatch[np.arange(20)[None, :], codes.guide, site].prod(axis=1)
    pam = np.where(codes.pam < 4, codes.pam, 2)
    score = score * table.pam[pam[:, 1], pam[:, 2]]
    off = ~np.eye(4, dtype=bool)
    per_position = np.array([table.mismatch[i][off].mean() for i in range(20)])
    rna, dna = codes.rna_bulge >= 0, codes.dna_bulge >= 1
    score[rna] *= per_position[codes.rna_bulge[rna]]
    score[dna] *= np.minimum(per_position[codes.dna_bulge[dna] - 1], per_position[codes.dna_bulge[dna]])
    return score


class CFDScore(RegressorMixin, BaseEstimator):
    """The real CFD table as a scorer; ``fit`` only loads the table (source ``cfd_doench2016``)."""

    def fit(self, X, y=None):  # noqa: ARG002 - a fixed, published scorer
        self.table_ = cfd_table()
        self.n_features_in_ = 2
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "table_")
        return cfd_scores(_pairs(X, "CFDScore"), self.table_)


class MismatchCount(RegressorMixin, BaseEstimator):
    """The trivial floor: ``2 ** -(mismatches + bulges)``; the PAM and positions are ignored."""

    def fit(self, X, y=None):  # noqa: ARG002
        self.n_features_in_ = 2
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        codes = _pairs(X, "MismatchCount")
        edits = (mismatch_types(codes) >= 0).sum(axis=1) + (codes.rna_bulge >= 0) + (codes.dna_bulge >= 0)
        return np.exp2(-edits.astype(float))


class ProductModel(RegressorMixin, BaseEstimator):
    """Learned position x mismatch-type factors: ``activity ~ exp(b + sum of the present factors) - eps``.

    ``factors_`` ``(20, 12)`` are the fitted multiplicative factors of each spacer position (index 0 =
    PAM-distal) and mismatch type (:func:`~.features.mismatch_types`).
    """

    def __init__(self, *, alpha: float = 1.0, eps: float = EPS) -> None:
        self.alpha = alpha
        self.eps = eps

    def fit(self, X, y):
        design = product_design(X)
        y = np.clip(np.asarray(y, float), 0.0, None)
        self.ridge_ = Ridge(alpha=self.alpha).fit(design, np.log(y + self.eps))
        self.factors_ = np.exp(self.ridge_.coef_[: 20 * 12].reshape(20, 12))
        self.n_features_in_ = 2
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "ridge_")
        return np.clip(np.exp(self.ridge_.predict(product_design(X))) - self.eps, 0.0, 1.0)


def _to_log(y: np.ndarray) -> np.ndarray:
    return np.log10(np.clip(y, 0.0, None) + EPS)


def _from_log(z: np.ndarray) -> np.ndarray:
    return np.clip(10.0**z - EPS, 0.0, 1.0)


def lgbm(random_state: int = 0):
    """LightGBM on :func:`~.features.pair_features`, fitted on ``log10(activity + eps)``; one thread."""
    booster = lgb.LGBMRegressor(n_estimators=400, learning_rate=0.05, num_leaves=31, min_child_samples=20,
                                subsample=0.8, subsample_freq=1, colsample_bytree=0.5, reg_lambda=1.0,
                                random_state=random_state, n_jobs=1, verbose=-1)
    return make_pipeline(
        Featurizer(pair_features, cache=False),
        TransformedTargetRegressor(regressor=booster, func=_to_log, inverse_func=_from_log, check_inverse=False),
    )

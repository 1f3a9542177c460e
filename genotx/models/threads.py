"""Run an estimator with few threads: on a busy shared machine, OpenMP/torch spin-waiting makes a
2-thread fit several times slower than a 1-thread one. Thread settings are restored afterwards
(:meth:`genotx.settings.Settings.limit_threads`, the one place threads are limited)."""

from __future__ import annotations

from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from genotx.settings import settings

__all__ = ["FewThreadsRegressor"]


class FewThreadsRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit and predict a regressor (e.g. a ``TorchRegressor``) within ``settings.limit_threads``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.arange(10.0)[:, None]
    >>> FewThreadsRegressor(LinearRegression()).fit(X, 2 * X[:, 0]).predict(X[1:3]).round(6).tolist()
    [2.0, 4.0]
    """

    def __init__(self, estimator: BaseEstimator, *, n_threads: int = 1) -> None:
        self.estimator = estimator
        self.n_threads = n_threads

    def fit(self, X, y):
        with settings.limit_threads(self.n_threads):
            self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        with settings.limit_threads(self.n_threads):
            return self.estimator_.predict(X)

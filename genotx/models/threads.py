"""Run an estimator with few threads: on a busy shared machine, OpenMP/torch spin-waiting makes a
2-thread fit several times slower than a 1-thread one. Thread settings are restored afterwards
(:meth:`genotx.settings.Settings.limit_threads`, the one place threads are limited)."""

from __future__ import annotations

from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from genotx.settings import settings

__all__ = ["FewThreadsRegressor"]


class FewThreadsRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit and predict a regressor (e.g. a ``TorchRegressor``) within ``settings.limit_threads``.

    A thin wrapper, as scikit-learn's meta-estimators are: the wrapped estimator validates the input
    (its dtype conversions stay its own), and ``n_features_in_``, ``feature_names_in_`` and the
    input/target tags are the wrapped estimator's.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.arange(10.0)[:, None]
    >>> model = FewThreadsRegressor(LinearRegression()).fit(X, 2 * X[:, 0])
    >>> model.predict(X[1:3]).round(6).tolist(), model.n_features_in_
    ([2.0, 4.0], 1)
    """

    def __init__(self, estimator: BaseEstimator, *, n_threads: int = 1) -> None:
        self.estimator = estimator
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.target_tags = inner.target_tags
        tags.regressor_tags = inner.regressor_tags
        tags.non_deterministic = inner.non_deterministic
        return tags

    @property
    def n_features_in_(self) -> int:
        """Number of features seen by the wrapped estimator's fit."""
        return self.estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Column names seen by the wrapped estimator's fit (when it was fitted on a DataFrame)."""
        return self.estimator_.feature_names_in_

    def fit(self, X, y) -> "FewThreadsRegressor":
        with settings.limit_threads(self.n_threads):
            self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        with settings.limit_threads(self.n_threads):
            return self.estimator_.predict(X)

"""Run an estimator with few threads: on a busy shared machine, OpenMP/torch spin-waiting makes a
2-thread fit several times slower than a 1-thread one. Thread settings are restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

__all__ = ["few_threads", "FewThreadsRegressor"]


@contextmanager
def few_threads(n_threads: int = 1) -> Iterator[None]:
    """Limit BLAS/OpenMP pools and torch's intra-op threads inside the block, then restore them.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with few_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but keep this usable without it
        torch = None
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=n_threads):
        if torch is not None:
            torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


class FewThreadsRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit and predict a regressor (e.g. a ``TorchRegressor``) within :func:`few_threads`.

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
        with few_threads(self.n_threads):
            self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        with few_threads(self.n_threads):
            return self.estimator_.predict(X)

"""A scikit-learn transformer around any stateless featurizer, cached on disk by content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from genotx.data.cache import cached_array

__all__ = ["Featurizer"]


def _code_hash(fn) -> str:
    """Bytecode and constants of the featurizer: editing its code invalidates its cached arrays."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    return hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()[:16]


def _content_hash(frame: pd.DataFrame) -> str:
    """Hash of a DataFrame's values and column names (vectorised by pandas, no row loop)."""
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return f"{len(frame)}:{list(frame.columns)}:{int(rows.sum(dtype=np.uint64))}:{int((rows * np.arange(1, len(rows) + 1, dtype=np.uint64)).sum(dtype=np.uint64))}"


class Featurizer(TransformerMixin, BaseEstimator):
    """Apply ``fn(frame, **kwargs) -> array`` to the input DataFrame; cache the result by content.

    Stateless (``fit`` learns nothing), so the same path serves training and a user's own file.
    Set ``cache=False`` for tiny inputs where hashing costs more than featurizing.

    Examples
    --------
    >>> from genotx.seq.codes import gc_fraction
    >>> f = Featurizer(lambda df: gc_fraction(df["sequence"])[:, None], cache=False)
    >>> f.fit_transform(pd.DataFrame({"sequence": ["GGCC", "ATAT"]})).ravel().tolist()
    [1.0, 0.0]
    """

    def __init__(self, fn: Callable[..., np.ndarray], *, kwargs: dict | None = None, cache: bool = True) -> None:
        self.fn = fn
        self.kwargs = kwargs
        self.cache = cache

    def fit(self, X, y=None):  # noqa: ARG002 - stateless
        self.n_features_in_ = X.shape[1] if hasattr(X, "shape") and len(X.shape) > 1 else 1
        return self

    def transform(self, X) -> np.ndarray:
        kwargs = self.kwargs or {}
        compute = lambda: np.asarray(self.fn(X, **kwargs))  # noqa: E731
        if not self.cache or not isinstance(X, pd.DataFrame):
            return compute()
        key = (getattr(self.fn, "__module__", ""), getattr(self.fn, "__qualname__", repr(self.fn)), _code_hash(self.fn),
               sorted(kwargs.items()), _content_hash(X))
        return cached_array(key, compute)

"""A scikit-learn transformer around any stateless featurizer, cached on disk by content hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

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

    Stateless (``fit`` learns only the input's shape), so the same path serves training and a user's
    own file. Set ``cache=False`` for tiny inputs where hashing costs more than featurizing.

    Input contract, as scikit-learn's (``validate_data``, ``n_features_in_``, ``check_is_fitted``):

    - a **DataFrame** goes to ``fn`` as it is, because ``fn`` reads its columns by name (strings,
      missing values and all: ``fn`` decides what a missing value means). ``fit`` records
      ``feature_names_in_``; ``transform`` then needs a DataFrame again, but may get extra or reordered
      columns (a user's file with an ``id`` column), as :class:`~sklearn.compose.ColumnTransformer` allows.
    - anything else is validated like a scikit-learn input (dense, 2-D or more, at least one row, the
      fitted number of features at ``transform``) and goes to ``fn`` as an array; NaN and strings pass.

    Examples
    --------
    >>> from genotx.seq.codes import gc_fraction
    >>> f = Featurizer(lambda df: gc_fraction(df["sequence"])[:, None], cache=False)
    >>> f.fit_transform(pd.DataFrame({"sequence": ["GGCC", "ATAT"]})).ravel().tolist()
    [1.0, 0.0]
    >>> f.feature_names_in_.tolist()
    ['sequence']
    >>> f.transform(pd.DataFrame({"id": [7], "sequence": ["GCAT"]})).ravel().tolist()
    [0.5]
    """

    def __init__(self, fn: Callable[..., np.ndarray], *, kwargs: dict | None = None, cache: bool = True) -> None:
        self.fn = fn
        self.kwargs = kwargs
        self.cache = cache

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # sequences and labels: fn encodes them
        tags.input_tags.allow_nan = True  # fn decides what a missing value means
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = []  # the output dtype is fn's
        return tags

    def _validate(self, X, *, reset: bool):
        if reset:
            self._frame_input = isinstance(X, pd.DataFrame)
        if isinstance(X, pd.DataFrame):
            if reset:
                if len(X) == 0:
                    raise ValueError(f"Found a DataFrame with 0 rows while a minimum of 1 is required by {type(self).__name__}.")
                validate_data(self, X, skip_check_array=True, reset=True)  # records n_features_in_, feature_names_in_
            return X
        if getattr(self, "_frame_input", False):  # getattr: a model pickled before this attribute existed
            columns = list(getattr(self, "feature_names_in_", []))
            raise ValueError(f"{type(self).__name__} was fitted on a DataFrame (columns {columns}) and reads its "
                             f"columns by name: transform needs a DataFrame too, got {type(X).__name__}")
        return validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False, allow_nd=True)

    def fit(self, X, y=None) -> "Featurizer":  # noqa: ARG002 - stateless apart from the input's shape
        self._validate(X, reset=True)
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = self._validate(X, reset=False)
        kwargs = self.kwargs or {}
        compute = lambda: np.asarray(self.fn(X, **kwargs))  # noqa: E731
        if not self.cache or not isinstance(X, pd.DataFrame):
            return compute()
        key = (getattr(self.fn, "__module__", ""), getattr(self.fn, "__qualname__", repr(self.fn)), _code_hash(self.fn),
               sorted(kwargs.items()), _content_hash(X))
        return cached_array(key, compute)

"""``Dataset``: what a task's loader returns, and the only thing splits, models and metrics receive.

Four row-aligned parts are sliced together by :meth:`Dataset.subset`, so a train or test part is
always consistent:

* ``inputs``: what a model's ``fit``/``predict`` receive (a DataFrame of raw columns such as
  ``sequence``, ``smiles``, ``cell_line``, or an AnnData); featurization happens inside the model;
* ``target``: one label per row (or a row of several, or a structured survival array);
* ``groups``: the columns splits and grouped metrics need (``gene``, ``drug``, ``trial``...);
* ``arrays``: other row-aligned arrays a model or metric needs (pileup tensors, per-criterion labels).

``context`` holds what is shared by every row and is not a row (a variant truth set keyed by
position, the structured trials behind a text): read-only, never sliced. ``meta`` is provenance
only (source ids, data kind, what was simulated); nothing reads model inputs or truth from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Dataset"]


def _rows(values: Any, index: np.ndarray) -> Any:
    if hasattr(values, "iloc"):  # keeps the original row labels: featurizers and caches see what they saw before
        return values.iloc[index]
    if hasattr(values, "obs_names"):  # AnnData: a view would keep the parent alive; copy the rows
        return values[index].copy()
    return values[index]


@dataclass(frozen=True)
class Dataset:
    """A task's data: row-aligned inputs, target, groups and arrays; shared context; provenance.

    Examples
    --------
    >>> data = Dataset("toy", pd.DataFrame({"x": [1, 2, 3]}), np.array([0.1, 0.2, 0.3]),
    ...                pd.DataFrame({"gene": list("aab")}), arrays={"w": np.eye(3)})
    >>> part = data.subset(np.array([2, 0]))
    >>> part.inputs["x"].tolist(), part.target.tolist(), part.arrays["w"].shape
    ([3, 1], [0.3, 0.1], (2, 3))
    """

    name: str
    inputs: Any
    target: np.ndarray
    groups: pd.DataFrame
    meta: Mapping = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.target)
        sizes = {"inputs": len(self.inputs), "groups": len(self.groups), **{f"arrays[{k!r}]": len(v) for k, v in self.arrays.items()}}
        wrong = {k: v for k, v in sizes.items() if v != n}
        if wrong:
            raise ValueError(f"dataset {self.name!r}: target has {n} rows but " + ", ".join(f"{k} has {v}" for k, v in wrong.items()))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        object.__setattr__(self, "arrays", MappingProxyType(dict(self.arrays)))
        object.__setattr__(self, "context", MappingProxyType(dict(self.context)))

    def __len__(self) -> int:
        return len(self.target)

    def __repr__(self) -> str:
        cols = list(getattr(self.inputs, "columns", []))
        extra = f", arrays={list(self.arrays)}" if self.arrays else ""
        return (
            f"Dataset({self.name!r}, n={len(self)}, inputs={cols}, groups={list(self.groups.columns)}{extra}, "
            f"data_kind={self.meta.get('data_kind')!r})"
        )

    def subset(self, index: np.ndarray) -> Dataset:
        """Rows ``index`` (positions) of every row-aligned part, as a new Dataset (same meta and context)."""
        index = np.asarray(index)
        return Dataset(
            self.name, _rows(self.inputs, index), np.asarray(self.target)[index], self.groups.iloc[index].reset_index(drop=True),
            self.meta, {k: np.asarray(v)[index] if not hasattr(v, "iloc") else _rows(v, index) for k, v in self.arrays.items()},
            self.context,
        )

"""What a task is: its declarative ``TaskSpec`` and the ``Dataset`` its loader returns.

A task module (``genotx/tasks/<stage>/<name>.py``) holds, on one screen:

* ``SPEC``: name, stage, formulation (in -> out), protocol, data kind, sources, split names,
  metric names (first = primary), baseline names (first = default, ``trivial`` = the floor to beat);
* ``load(*, source=None) -> Dataset``;
* ``SPLITS``: {split name: splitter} and ``MODELS``: {baseline name: factory(random_state) -> estimator};
* ``read_input(path) -> pandas.DataFrame`` for ``genotx predict`` on a user's file.

A module with only ``SPEC`` is registered as *not implemented* and says so plainly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["TaskSpec", "Dataset", "STAGES", "PROTOCOLS"]

STAGES: tuple[str, ...] = ("target_discovery", "therapeutics", "clinical", "post_market")
PROTOCOLS: tuple[str, ...] = ("supervised", "ranking", "graph", "estimation", "design", "extraction", "clustering")
DATA_KINDS: tuple[str, ...] = ("real", "semi-synthetic", "simulated")


@dataclass(frozen=True)
class TaskSpec:
    """Everything that defines a task, in one declarative record.

    Examples
    --------
    >>> spec = TaskSpec(name="toy", number=0, stage="therapeutics", title="Toy",
    ...                 formulation="x -> y", protocol="supervised", target="regression",
    ...                 data_kind="real", sources=(), splits=("random",), metrics=("pearson",),
    ...                 baselines=("mean",))
    >>> spec.default_split, spec.primary_metric
    ('random', 'pearson')
    """

    name: str
    number: int
    stage: str
    title: str
    formulation: str
    protocol: str
    target: Literal["regression", "binary", "multiclass", "ranking", "survival", "other"]
    data_kind: str
    sources: tuple[str, ...]
    splits: tuple[str, ...]
    metrics: tuple[str, ...]
    baselines: tuple[str, ...]
    trivial: str | None = None
    data_note: str = ""
    citation: str = ""
    status: str = "implemented"

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"task {self.name!r}: stage must be one of {STAGES}, got {self.stage!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"task {self.name!r}: protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.data_kind not in DATA_KINDS:
            raise ValueError(f"task {self.name!r}: data_kind must be one of {DATA_KINDS}, got {self.data_kind!r}")
        if self.trivial is not None and self.trivial not in self.baselines:
            raise ValueError(f"task {self.name!r}: trivial baseline {self.trivial!r} is not in baselines")

    @property
    def default_split(self) -> str:
        return self.splits[0]

    @property
    def default_model(self) -> str:
        return self.baselines[0]

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]


@dataclass(frozen=True)
class Dataset:
    """A task's loaded data: raw model inputs, target, grouping columns and provenance.

    ``inputs`` is what a model's ``fit``/``predict`` receive (a DataFrame of raw columns such as
    ``sequence``, ``smiles``, ``cell_line``); featurization happens inside the model so that
    ``predict`` on a user's file runs the same path. ``groups`` holds one row per example with the
    columns splits and grouped metrics need (``gene``, ``drug``...). ``meta`` records source ids,
    their sha256 and the data kind.
    """

    name: str
    inputs: Any
    target: np.ndarray
    groups: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.target)
        if len(self.inputs) != n or len(self.groups) != n:
            raise ValueError(
                f"dataset {self.name!r}: inputs ({len(self.inputs)}), target ({n}) and groups "
                f"({len(self.groups)}) must have the same number of rows"
            )

    def __len__(self) -> int:
        return len(self.target)

    def __repr__(self) -> str:
        cols = list(getattr(self.inputs, "columns", []))
        return (
            f"Dataset({self.name!r}, n={len(self)}, inputs={cols}, groups={list(self.groups.columns)}, "
            f"data_kind={self.meta.get('data_kind')!r})"
        )

    def subset(self, index: np.ndarray) -> "Dataset":
        """Rows ``index`` (positions) as a new Dataset."""
        inputs = self.inputs.iloc[index] if hasattr(self.inputs, "iloc") else self.inputs[index]
        return Dataset(self.name, inputs, self.target[index], self.groups.iloc[index].reset_index(drop=True), self.meta)

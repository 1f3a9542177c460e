"""``Outcome``: what one evaluation measured, before the engine wraps it in a run record."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Outcome"]


@dataclass
class Outcome:
    """Pooled metrics, per-fold metrics, sizes, and predictions for plots.

    ``predictions`` (optional) holds one row per held-out example with ``y_true`` and ``y_pred``
    (plus any group columns); ``details`` is free-form JSON-serialisable extra output (per-group
    tables, estimates with confidence intervals, recovered motifs...), kept in the run record.
    ``fitted`` holds ``(fold, estimator)`` pairs when a task's ``details`` hook asks for them (never
    written to the record).
    """

    metrics: dict[str, float]
    n_train: int
    n_test: int
    fold_metrics: list[dict] = field(default_factory=list)
    predictions: pd.DataFrame | None = None
    details: dict = field(default_factory=dict)
    fitted: list = field(default_factory=list, repr=False)

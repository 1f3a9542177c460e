"""Score a user's own file with a task's default model, trained once on the task's default data.

The fitted model is cached under ``$GENOTX_HOME/models`` keyed by task, model and the sha256 of the
training data, so the second ``genotx predict`` call does not retrain. Output is written atomically:
a bad input raises before anything is written.
"""

from __future__ import annotations

import logging
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import joblib
import numpy as np

from genotx.data.cache import atomic_path, genotx_home, sha256_bytes
from genotx.data.source import source_sha256
from genotx.errors import GenotxError
from genotx.tasks.registry import Task, get_task

__all__ = ["fitted_model", "predict_file"]

log = logging.getLogger(__name__)


def _genotx_version() -> str:
    try:
        return version("genotx")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


def fitted_model(task: Task, *, model: str | None = None, random_state: int = 0):
    """The task's model fitted on all of its default data (cached on disk)."""
    model = model or task.spec.default_model
    # Retrain when the data, the model's parameters or genotx itself change.
    estimator = task.model(model, random_state=random_state)
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else vars(estimator)
    params = re.sub(r" at 0x[0-9a-f]+", "", repr(sorted(params.items())))
    data = repr(sorted((s, sorted(source_sha256(s).items())) for s in task.spec.sources[:1]))
    digest = sha256_bytes((data + params + _genotx_version()).encode())[:16]
    path = genotx_home() / "models" / f"{task.name}__{model}__{digest}__seed{random_state}.joblib"
    if path.exists():
        try:
            return joblib.load(path)  # our own file, written by the block below
        except Exception:  # noqa: BLE001 - a damaged cache entry is retrained, never trusted
            path.unlink()
    dataset = task.load()
    estimator.fit(dataset.inputs, dataset.target)
    with atomic_path(path) as tmp:
        joblib.dump(estimator, tmp)
    return estimator


def predict_file(task: str | Task, input_path: str | Path, out_path: str | Path, *, model: str | None = None, **options) -> Path:
    """Read ``input_path`` (validated), predict, write ``out_path`` (CSV) atomically.

    Tasks with their own output format define ``predict_file(input_path, out_path, **options)``;
    tasks that only shape the output table define ``format_predictions(frame, estimator) -> DataFrame``.
    """
    task = get_task(task) if isinstance(task, str) else task
    own = getattr(task.module, "predict_file", None)
    if own is not None:
        return own(input_path, out_path, model=model, **options)
    if options:
        raise GenotxError(f"{task.name} predict takes no options, got {sorted(options)}. Fix: drop them")
    frame = task.read_input(input_path)  # raises with file, line and fix before any output exists
    estimator = fitted_model(task, model=model)
    shape = getattr(task.module, "format_predictions", None)
    if callable(shape):
        out = shape(frame, estimator)
    elif hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(frame)
        out = frame.assign(prediction=proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1))
    else:
        out = frame.assign(prediction=np.asarray(estimator.predict(frame), dtype=float))
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        out.to_csv(tmp, index=False)
    return out_path

"""Score a user's own file with a task's model: one path for every task, and the model trained once.

``predict_file`` runs, for any task:

1. options checked and typed at the boundary (the task's ``PREDICT_OPTIONS``: name -> type or
   tuple of allowed values); an unknown or malformed option is refused before anything runs;
2. ``read_input(path, **input options)``: the user's file validated (errors name file, line, fix);
   it never loads or simulates the task's data;
3. :func:`fitted_model`: the task's model fitted on its default data (the task's
   ``training_data(dataset, **options) -> (X, y)`` hook, default all rows), cached on disk keyed by
   the data's sha256, the model's parameters, the training options and the genotx version; the
   cached file is checked against its recorded sha256 before it is loaded, so a damaged or planted
   file is retrained, never trusted;
4. ``format_predictions(frame, estimator, **options)`` (default: a ``prediction`` column) and an
   atomic write: a DataFrame as CSV, a dict as JSON, or the task's ``write_predictions(result, path)``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from genotx.data.cache import atomic_path, genotx_home, sha256_bytes, sha256_file
from genotx.data.source import source_sha256
from genotx.errors import InputError
from genotx.tasks.registry import Task, get_task

__all__ = ["fitted_model", "predict_file", "check_options"]

log = logging.getLogger(__name__)


def _genotx_version() -> str:
    """The installed version and a hash of genotx's own source: a model is retrained after any code change."""
    try:
        installed = version("genotx")
    except PackageNotFoundError:  # running from a source tree
        installed = "unknown"
    return installed + ":" + _code_hash()


@functools.lru_cache(maxsize=1)
def _code_hash() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def check_options(task: Task, options: Mapping[str, Any]) -> dict[str, Any]:
    """The user's predict options typed by the task's ``PREDICT_OPTIONS`` (refused when unknown or malformed).

    ``PREDICT_OPTIONS`` maps a name to a type (``int``, ``float``, ``str``, ``Path``; numbers >= 0), a
    :class:`~genotx.tasks.spec.PredictOption` (type and range) or a tuple of allowed string values.
    """
    from difflib import get_close_matches

    from genotx.tasks.spec import PredictOption

    allowed: Mapping[str, Any] = getattr(task.module, "PREDICT_OPTIONS", {})
    typed = {}
    for key, value in options.items():
        if key not in allowed:
            close = get_close_matches(key, list(allowed), n=1)
            fix = ((f"did you mean {close[0]!r}? " if close else "") + f"options of {task.name}: {', '.join(sorted(allowed))}"
                   if allowed else f"{task.name} predict takes no options; drop it")
            raise InputError(f"--option {key}", f"unknown option {key!r}", fix=fix)
        kind, low, high = allowed[key], None, None
        if isinstance(kind, PredictOption):
            kind, low, high = kind.kind, kind.low, kind.high
        elif kind in (int, float):
            low = 0
        if value is None:
            continue
        if isinstance(kind, tuple):
            if str(value) not in kind:
                raise InputError(f"--option {key}", f"{value!r} is not one of {list(kind)}", fix=f"write {key}=" + "|".join(kind))
            typed[key] = str(value)
            continue
        try:
            converted = kind(value) if not isinstance(value, kind) else value
        except (TypeError, ValueError):
            raise InputError(f"--option {key}", f"{value!r} is not a valid {kind.__name__}", fix=f"write {key}=<{kind.__name__}>") from None
        if kind in (int, float) or (isinstance(kind, type) and issubclass(kind, int | float)):
            if not np.isfinite(float(converted)):
                raise InputError(f"--option {key}", f"{value!r} is not a finite number", fix=f"write {key}=<a number>")
            if (low is not None and converted < low) or (high is not None and converted > high):
                bounds = f">= {low}" if high is None else f"between {low} and {high}"
                raise InputError(f"--option {key}", f"{value!r} is out of range", fix=f"write {key}=<a number {bounds}>")
        typed[key] = converted
    return typed


def _training_options(task: Task, options: Mapping[str, Any]) -> dict[str, Any]:
    names = getattr(task.module, "TRAIN_OPTIONS", ())
    return {k: options[k] for k in names if k in options}


def fitted_model(task: str | Task, *, model: str | None = None, random_state: int = 0, **train_options):
    """The task's model fitted on its default data (cached on disk; a second call only loads it).

    ``train_options`` are the task's ``TRAIN_OPTIONS`` that change what is trained (e.g. which
    disease namespace a ranker learns); they are part of the cache key.
    """
    import joblib

    task = get_task(task)
    model = model or task.spec.default_model
    estimator = task.model(model, random_state=random_state)
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else vars(estimator)
    params = re.sub(r" at 0x[0-9a-f]+", "", repr(sorted(params.items())))
    data = repr(sorted((s, sorted(source_sha256(s).items())) for s in task.spec.sources[:1]))
    key = data + params + repr(sorted(train_options.items())) + _genotx_version()
    digest = sha256_bytes(key.encode())[:16]
    path = genotx_home() / "models" / f"{task.name}__{model}__{digest}__seed{random_state}.joblib"
    stamp = path.with_suffix(".sha256")
    if path.exists() and stamp.exists() and stamp.read_text().strip() == sha256_file(path):
        try:
            return joblib.load(path)  # our own file, its checksum just verified
        except Exception:  # noqa: BLE001 - an unreadable cache entry is retrained, never trusted
            log.warning("cached model %s is unreadable; retraining", path)
    elif path.exists():
        log.warning("cached model %s does not match its checksum; retraining", path)
    dataset = task.load()
    hook = getattr(task.module, "training_data", None)
    X, y = hook(dataset, **train_options) if callable(hook) else (dataset.inputs, dataset.target)
    estimator.fit(X, y)
    with atomic_path(path) as tmp:
        joblib.dump(estimator, tmp)
    with atomic_path(stamp) as tmp:
        Path(tmp).write_text(sha256_file(path) + "\n")
    return estimator


def _default_format(frame, estimator):
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(frame)
        return frame.assign(prediction=proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1))
    return frame.assign(prediction=np.asarray(estimator.predict(frame), dtype=float))


def _finite(value):
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def predict_file(task: str | Task, input_path: str | Path, out_path: str | Path, *, model: str | None = None, **options) -> Path:
    """Read ``input_path`` (validated), predict with the task's cached model, write ``out_path`` atomically.

    Examples
    --------
    >>> import genotx
    >>> callable(genotx.predict_file)
    True
    """
    task = get_task(task)
    task._require()
    input_path, out_path = Path(input_path), Path(out_path)
    if input_path.exists() and out_path.exists() and input_path.resolve() == out_path.resolve():
        raise InputError(str(out_path), "is the input file", fix="write the predictions to another path")
    own = getattr(task.module, "predict_file", None)
    if callable(own):  # TODO(house): tasks still migrating to read_input/format_predictions
        return own(input_path, out_path, model=model, **options)
    options = check_options(task, options)
    input_names = getattr(task.module, "INPUT_OPTIONS", ())
    frame = task.read_input(input_path, **{k: v for k, v in options.items() if k in input_names})  # raises before any output
    estimator = fitted_model(task, model=model, **_training_options(task, options))
    shape = getattr(task.module, "format_predictions", None)
    rest = {k: v for k, v in options.items() if k not in input_names}
    result = shape(frame, estimator, **rest) if callable(shape) else _default_format(frame, estimator)
    writer = getattr(task.module, "write_predictions", None)
    with atomic_path(out_path) as tmp:
        if callable(writer):
            writer(result, tmp)
        elif isinstance(result, dict):
            Path(tmp).write_text(json.dumps(_finite(result), indent=1))
        else:
            result.to_csv(tmp, index=False)
    return out_path

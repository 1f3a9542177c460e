"""Score a user's own file with a task's model: one path for every task, and the model trained once.

``predict_file`` runs, for any task:

1. options checked and typed at the boundary (the task's ``PREDICT_OPTIONS``: name -> type or
   tuple of allowed values); an unknown or malformed option is refused before anything runs;
2. ``read_input(path, **input options)``: the user's file validated (errors name file, line, fix);
   it never loads or simulates the task's data;
3. :func:`fitted_model`: the task's model fitted on its default data (the task's
   ``training_data(dataset, **options) -> (X, y)`` hook, default all rows), cached on disk keyed by
   the data's sha256, the model's parameters, the training options and the genotx version; saved
   with skops (torch weights as ``state_dict`` bytes) or, where skops cannot, joblib, and opened only
   when its signature (an HMAC under this user's key, kept outside the cache) verifies over the whole
   file, so a damaged, copied or planted file is retrained, never trusted
   (:mod:`genotx.models.persist`);
4. ``format_predictions(frame, estimator, **options)`` (default: a ``prediction`` column) and an
   atomic write: a DataFrame as CSV, a dict as JSON, or the task's ``write_predictions(result, path)``.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import warnings
import zlib
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genotx.data.cache import atomic_path, file_lock, genotx_home, sha256_bytes
from genotx.data.formats.text import MAX_INPUT_BYTES, check_path
from genotx.data.source import source_sha256
from genotx.errors import GenotxError, InputError
from genotx.models.persist import load_model, save_model
from genotx.tasks.registry import Task, get_task

__all__ = ["fitted_model", "predict_file", "read_user_input", "check_options"]

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
        if _is_file_kind(kind):  # a file option is checked like the input: it exists, and is not a folder
            check_path(value, what=f"file (option {key})")
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


def _is_file_kind(kind) -> bool:
    from genotx.tasks.spec import HashedPath

    return isinstance(kind, type) and issubclass(kind, (os.PathLike, HashedPath))


def _training_options(task: Task, options: Mapping[str, Any]) -> dict[str, Any]:
    names = getattr(task.module, "TRAIN_OPTIONS", ())
    return {k: options[k] for k in names if k in options}


def fitted_model(task: str | Task, *, model: str | None = None, random_state: int = 0, **train_options):
    """The task's model fitted on its default data (cached on disk; a second call only loads it).

    ``train_options`` are the task's ``TRAIN_OPTIONS`` that change what is trained (e.g. which
    disease namespace a ranker learns); they are part of the cache key.
    """
    task = get_task(task)
    model = model or task.spec.default_model
    estimator = task.model(model, random_state=random_state)
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else vars(estimator)
    params = re.sub(r" at 0x[0-9a-f]+", "", repr(sorted(params.items())))
    data = repr(sorted((s, sorted(source_sha256(s).items())) for s in task.spec.sources[:1]))
    key = data + params + repr(sorted(train_options.items())) + _genotx_version()
    digest = sha256_bytes(key.encode())[:16]
    stem = genotx_home() / "models" / f"{task.name}__{model}__{digest}__seed{random_state}"
    with file_lock(stem.with_name(stem.name + ".lock")):  # two processes fitting the same model: one fits, the other loads its file
        cached = load_model(stem)  # signature verified over the whole file first; skops types checked
        if cached is not None:
            return cached
        dataset = task.load()
        hook = getattr(task.module, "training_data", None)
        X, y = hook(dataset, **train_options) if callable(hook) else (dataset.inputs, dataset.target)
        estimator.fit(X, y)
        save_model(estimator, stem)
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

    Everything the user gave is checked before a model is touched, and nothing is written unless the
    predictions are complete: options (typed, ranged, file options exist), ``out_path`` (not a folder,
    not the input or an option's file), the input (missing, folder where a file is expected, a
    named pipe such as ``<(zcat x.gz)`` read once into a private copy), then the task's ``read_input``,
    whose library errors (not UTF-8, a damaged gzip, an empty or folder input) are turned into
    :class:`~genotx.errors.InputError` naming the file.

    Examples
    --------
    >>> import genotx
    >>> callable(genotx.predict_file)
    True
    """
    task = get_task(task)
    task._require()
    input_path, out_path = Path(input_path), Path(out_path)
    options = check_options(task, options)
    check_path(input_path, what="input file", folder_ok=True)
    _check_out(out_path, {input_path, *(Path(v) for k, v in options.items() if _is_file_kind(_option_kind(task, k)))})
    with _notes_once(task.name), _reading(task, input_path, options) as (frame, options, user_errors):
        estimator = fitted_model(task, model=model, **_training_options(task, options))
        shape = getattr(task.module, "format_predictions", None)
        input_names = getattr(task.module, "INPUT_OPTIONS", ())
        rest = {k: v for k, v in options.items() if k not in input_names}
        with user_errors():
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


def read_user_input(task: str | Task, input_path: str | Path, **options):
    """What ``genotx predict`` reads from ``input_path``, checked as :func:`predict_file` checks it, with
    no model: options typed, the input read once, library errors in genotx's words.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cpgs.csv"
    >>> _ = path.write_text("position,methylated_reads,coverage\\n100,1,2\\n100,1,2\\n")
    >>> read_user_input("methylation_state", path)
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...cpgs.csv, line 3: this chrom/position appeared on an earlier line. Fix: ...
    """
    task = get_task(task)
    task._require()
    input_path = Path(input_path)
    options = check_options(task, options)
    check_path(input_path, what="input file", folder_ok=True)
    with _reading(task, input_path, options) as (frame, _, _):
        return frame


@contextlib.contextmanager
def _reading(task: Task, input_path: Path, options: dict[str, Any]):
    """Yield ``(read_input's result, options, user_errors)`` with named pipes among the input and the
    file options read once into private copies (kept until the block ends), and errors naming the
    user's own paths."""
    with tempfile.TemporaryDirectory(prefix="genotx-input-") as private:
        renamed: dict[str, str] = {}
        readable = _read_once(input_path, Path(private) / "input", renamed)
        options = dict(options)
        for key, value in options.items():
            if _is_file_kind(_option_kind(task, key)):
                copy = _read_once(Path(value), Path(private) / key, renamed)
                options[key] = type(value)(copy) if isinstance(value, str) else copy
        user_errors = functools.partial(_user_errors, input_path, renamed)
        input_names = getattr(task.module, "INPUT_OPTIONS", ())
        with user_errors():  # raises before any output
            frame = task.read_input(readable, **{k: v for k, v in options.items() if k in input_names})
        yield frame, options, user_errors


@contextlib.contextmanager
def _notes_once(task_name: str):
    """Warnings raised while predicting (a library's note on a small input, say) are collected and each
    logged once, naming the library, instead of being printed once per call with its source line;
    deprecation notes are about genotx's code, not the user's input, and go to the debug log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[tuple[type, str]] = set()
    for note in caught:
        key = (note.category, str(note.message))
        if key in seen:
            continue
        seen.add(key)
        origin = _library_of(note.filename)
        if issubclass(note.category, DeprecationWarning | PendingDeprecationWarning | FutureWarning):
            log.debug("%s (%s) while predicting %s: %s", origin, note.category.__name__, task_name, note.message)
        else:
            log.warning("note from %s while predicting %s: %s", origin, task_name, note.message)


def _library_of(filename: str) -> str:
    """The package a warning came from: the folder under site-packages, or genotx."""
    parts = Path(filename).parts
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].split(".")[0]
    return "genotx" if "genotx" in parts else Path(filename).stem


def _option_kind(task: Task, key: str):
    from genotx.tasks.spec import PredictOption

    kind = getattr(task.module, "PREDICT_OPTIONS", {}).get(key)
    return kind.kind if isinstance(kind, PredictOption) else kind


def _check_out(out_path: Path, files: set[Path]) -> None:
    """``--out`` is a file path that is none of the files read (a symlink or hard link to one included)."""
    if out_path.is_dir():
        raise InputError(str(out_path), "is a folder", fix="give the path of the file to write, e.g. a name inside that folder")
    if out_path.exists():
        for path in files:
            try:
                same = path.exists() and os.path.samefile(path, out_path)
            except OSError:
                same = False
            if same:
                raise InputError(str(out_path), f"is the file being read ({path})", fix="write the predictions to another path")
    if out_path.parent.exists() and not out_path.parent.is_dir():
        raise InputError(str(out_path), f"{out_path.parent} is a file, not a folder", fix="give a path inside a folder")


def _read_once(path: Path, private: Path, renamed: dict[str, str]) -> Path:
    """``path`` itself if it is a regular file or a folder; a named pipe or device (``<(cat file)``) is
    read once into ``private`` (its bytes would be gone after the first read)."""
    info = path.stat()
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        return path
    private.mkdir(parents=True, exist_ok=True)
    copy = private / (path.name or "input")
    with open(path, "rb") as source, open(copy, "wb") as target:
        while block := source.read(1 << 20):
            target.write(block)
            if target.tell() > MAX_INPUT_BYTES:
                raise InputError(str(path), f"is larger than {MAX_INPUT_BYTES} bytes", fix="split the input into smaller files")
    renamed[str(copy)] = str(path)
    return copy


@contextlib.contextmanager
def _user_errors(input_path: Path, renamed: Mapping[str, str]):
    """Errors from reading a user's file, in genotx's words and naming the user's own path.

    A reader's :class:`InputError` is re-raised with the private copy's path replaced by the user's; an
    exception a library raises on malformed bytes (not UTF-8, a damaged gzip, an empty file or a
    folder where a file is read) becomes an :class:`InputError` naming the input."""
    where = str(input_path)

    def own(text: str) -> str:
        for private, original in renamed.items():
            text = text.replace(private, original)
        return text

    try:
        yield
    except InputError as error:
        if not any(private in str(error) for private in renamed):
            raise
        raise InputError(own(error.where), own(error.problem), line=error.line, fix=own(error.fix)) from None
    except GenotxError:
        raise
    except UnicodeDecodeError as error:
        raise InputError(where, f"holds bytes that are not UTF-8 text ({error.reason} at byte {error.start})",
                         fix="save it as UTF-8 text") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise InputError(where, f"is a truncated or damaged compressed file ({error})",
                         fix="compress it again, or check that the copy or download finished") from None
    except IsADirectoryError as error:
        raise InputError(own(error.filename or where), "is a folder, not a file", fix="give the path of a file") from None
    except (FileNotFoundError, PermissionError) as error:
        raise InputError(own(error.filename or where), f"cannot be read ({error.strerror})", fix="check the path") from None
    except pd.errors.EmptyDataError:
        raise InputError(where, "is empty", fix="give a file with a header line and at least one row") from None
    except pd.errors.ParserError as error:
        raise InputError(where, f"cannot be parsed ({' '.join(str(error).split())})", fix="save it as plain UTF-8 CSV/TSV") from None

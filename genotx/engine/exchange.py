"""Official splits out, predictions in: for people who train outside genotx.

``export_split`` writes a fold's train / valid / test rows (inputs, target, groups) with ``row_id``
(the row's position in the task's dataset); ``score_predictions`` reads a CSV of ``row_id`` and
``prediction`` and scores it on the split's official held-out rows (every fold's test rows, pooled,
exactly as ``genotx run`` scores a baseline) with every SPEC metric, through the task's protocol.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.cache import atomic_path
from genotx.errors import InputError
from genotx.evaluate.protocols import Prediction, Supervised
from genotx.tasks.registry import Task, get_task

__all__ = ["export_split", "score_predictions"]


def _table(task: Task, part, rows: np.ndarray) -> pd.DataFrame:
    if not isinstance(part.inputs, pd.DataFrame):
        raise InputError(task.name, "inputs are not a table", fix="use the Python API (task.get_split) for this task")
    frame = part.inputs.reset_index(drop=True).copy()
    target = np.asarray(part.target)
    if target.dtype.names:  # survival: (event, time)
        for name in target.dtype.names:
            frame[f"target_{name}"] = target[name]
    elif target.ndim == 1:
        frame["target"] = target
    else:
        raise InputError(task.name, "the target has several columns", fix="use the Python API (task.get_split) for this task")
    groups = part.groups.reset_index(drop=True).add_prefix("group_")
    return pd.concat([pd.DataFrame({"row_id": rows}), frame, groups], axis=1)


def export_split(task: str | Task, out_dir: str | Path, *, split: str | None = None, seed: int = 0, fold: int = 0) -> list[Path]:
    """Write ``train.csv``, ``valid.csv`` and ``test.csv`` of one fold of ``split`` into ``out_dir``."""
    task = get_task(task)
    dataset = task.load()
    positions = task.split_positions(dataset, split, seed=seed, fold=fold)
    written = []
    for name, rows in positions.items():
        path = Path(out_dir) / f"{name}.csv"
        table = _table(task, dataset.subset(rows), rows)
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
        written.append(path)
    return written


def score_predictions(task: str | Task, predictions: str | Path, *, split: str | None = None, seed: int = 0) -> dict[str, float]:
    """Every SPEC metric of a CSV of ``row_id, prediction`` on the split's official held-out rows."""
    task = get_task(task)
    protocol = task.protocol
    if not isinstance(protocol, Supervised) or type(protocol).predict is not Supervised.predict and protocol.name != "supervised":
        raise InputError(task.name, f"its protocol ({task.spec.protocol}) is not row-wise",
                         fix="score it with genotx.cross_validate(task, your_estimator) instead")
    where = str(predictions)
    try:
        frame = pd.read_csv(predictions)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise InputError(where, f"cannot read it as CSV ({error})", fix="write a CSV with columns row_id,prediction") from None
    missing = {"row_id", "prediction"} - set(frame.columns)
    if missing:
        raise InputError(where, f"has no column {sorted(missing)}", line=1, fix="write a header row_id,prediction")
    ids = pd.to_numeric(frame["row_id"], errors="coerce")
    values = pd.to_numeric(frame["prediction"], errors="coerce")
    for column, parsed in (("row_id", ids), ("prediction", values)):
        bad = ~np.isfinite(parsed.to_numpy(float))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(where, f"{column} {frame[column].iloc[row]!r} is not a finite number", line=row + 2,
                             fix=f"give a number in every {column} cell")
    dataset = task.load()
    folds = task.folds(dataset, split, random_state=seed)
    official = np.unique(np.concatenate([f.test for f in folds]))
    given = ids.to_numpy(np.int64)
    dup = pd.Series(given).duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(where, f"row_id {given[row]} appears twice", line=row + 2, fix="give one prediction per row")
    unknown = ~np.isin(given, official)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise InputError(where, f"row_id {given[row]} is not a held-out row of this split and seed", line=row + 2,
                         fix="predict the rows of test.csv from `genotx export` with the same --split and --seed")
    absent = np.setdiff1d(official, given)
    if len(absent):
        raise InputError(where, f"{len(absent)} held-out row(s) have no prediction (e.g. row_id {absent[0]})",
                         fix="predict every row of test.csv")
    order = np.argsort(given)
    part = dataset.subset(given[order])
    score = values.to_numpy(float)[order]
    labels = None
    if task.spec.target == "binary":
        labels = (score >= 0.5).astype(np.asarray(part.target).dtype)
    return protocol.score(task, part, Prediction(score, labels), seed=seed)

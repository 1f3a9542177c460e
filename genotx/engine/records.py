"""Run records and the results store: one JSON file per finished run, an SQLite index beside them.

A record is written atomically only once its run has finished, so a killed benchmark leaves no
partial record and a restart skips exactly the runs whose records exist.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.cache import atomic_path, atomic_write_text

__all__ = ["RunRecord", "ResultStore", "run_key", "leaderboard"]


def run_key(task: str, model: str, split: str, seed: int) -> str:
    """File-safe identifier of a run.

    Examples
    --------
    >>> run_key("drug_response", "lgbm", "cold_drug", 0)
    'drug_response__lgbm__cold_drug__seed0'
    """
    return f"{task}__{model}__{split}__seed{seed}"


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass(frozen=True)
class RunRecord:
    """The result of one (task, model, split, seed) run: JSON-serialisable, read by CLI and report."""

    task: str
    stage: str
    model: str
    split: str
    seed: int
    metrics: dict[str, float]
    n_train: int
    n_test: int
    data_kind: str
    metrics_std: dict[str, float] = field(default_factory=dict)
    n_folds: int = 1
    fold_metrics: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    wall_time_s: float = 0.0

    @property
    def key(self) -> str:
        return run_key(self.task, self.model, self.split, self.seed)

    def to_dict(self) -> dict:
        return _clean(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> "RunRecord":
        names = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in names}
        data["metrics"] = {k: (np.nan if v is None else v) for k, v in data["metrics"].items()}
        return cls(**data)


class ResultStore:
    """Run records under ``out/runs/*.json``, predictions under ``out/predictions/*.parquet``."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.runs = self.out / "runs"
        self.predictions = self.out / "predictions"

    def has(self, key: str) -> bool:
        """Whether a complete record of run ``key`` exists (an empty or foreign JSON is not one)."""
        path = self.runs / f"{key}.json"
        if not path.exists():
            return False
        try:
            record = RunRecord.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError, ValueError):
            return False
        return record.key == key and bool(record.metrics)

    def write(self, record: RunRecord, predictions: pd.DataFrame | None = None) -> Path:
        if predictions is not None and len(predictions):
            with atomic_path(self.predictions / f"{record.key}.parquet") as tmp:
                predictions.to_parquet(tmp, index=False)
        path = atomic_write_text(self.runs / f"{record.key}.json", json.dumps(record.to_dict(), indent=1))
        self.index()
        return path

    def records(self) -> list[RunRecord]:
        """Every complete record; an empty, partial or foreign file is left out (see :meth:`damaged`)."""
        return [record for _, record in self._read_all() if record is not None]

    def damaged(self) -> list[Path]:
        """Record files that are not complete records (``{}``, a torn write, another program's JSON, a
        record whose name is not its run's key): never counted as done, so a rerun of the benchmark
        redoes them; the CLI names them so that a report never drops a run without a word.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> store = ResultStore(tempfile.mkdtemp())
        >>> store.runs.mkdir(parents=True)
        >>> _ = (store.runs / "t__m__s__seed0.json").write_text("{}")
        >>> [p.name for p in store.damaged()], store.records()
        (['t__m__s__seed0.json'], [])
        """
        return [path for path, record in self._read_all() if record is None]

    def _read_all(self) -> list[tuple[Path, RunRecord | None]]:
        out = []
        for path in sorted(self.runs.glob("*.json")):
            try:
                record = RunRecord.from_dict(json.loads(path.read_text()))
            except (json.JSONDecodeError, TypeError, KeyError, AttributeError, ValueError, UnicodeDecodeError, OSError):
                record = None  # not a finished record; a rerun will redo it
            if record is not None and (not record.metrics or record.key != path.stem):
                record = None
            out.append((path, record))
        return out

    def load_predictions(self, key: str) -> pd.DataFrame | None:
        path = self.predictions / f"{key}.parquet"
        return pd.read_parquet(path) if path.exists() else None

    def index(self) -> Path:
        """Rebuild ``runs.sqlite`` (table ``runs``, one row per run and metric) from the JSON records."""
        rows = [
            (r.key, r.task, r.stage, r.model, r.split, r.seed, r.data_kind, name, value, r.wall_time_s)
            for r in self.records()
            for name, value in r.metrics.items()
        ]
        with atomic_path(self.out / "runs.sqlite") as tmp:
            with sqlite3.connect(tmp) as db:
                db.execute(
                    "CREATE TABLE runs (key TEXT, task TEXT, stage TEXT, model TEXT, split TEXT, seed INT, "
                    "data_kind TEXT, metric TEXT, value REAL, wall_time_s REAL)"
                )
                db.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            db.close()
        return self.out / "runs.sqlite"


def leaderboard(records: list[RunRecord], *, metric: str | None = None) -> pd.DataFrame:
    """Mean and standard deviation over seeds per (task, model, split), as TDC's benchmark groups.

    One row per (task, model, split): ``n_seeds``, ``seeds``, and ``<metric>_mean`` / ``<metric>_std``
    for every metric the runs report (std over seeds, ddof 0; NaN runs are left out of that metric).
    ``metric`` sorts the rows by that metric's mean within each task (best first, by the metric's
    direction).

    Examples
    --------
    >>> r = [RunRecord("t", "s", "m", "x", seed, {"auroc": v}, 1, 1, "real") for seed, v in enumerate([0.7, 0.8, 0.9])]
    >>> row = leaderboard(r).iloc[0]
    >>> int(row["n_seeds"]), round(float(row["auroc_mean"]), 3), round(float(row["auroc_std"]), 4)
    (3, 0.8, 0.0816)
    """
    rows = []
    frame = pd.DataFrame([{"task": r.task, "model": r.model, "split": r.split, "seed": r.seed, **r.metrics} for r in records])
    if frame.empty:
        return frame
    names = [c for c in frame.columns if c not in ("task", "model", "split", "seed")]
    for (task, model, split), part in frame.groupby(["task", "model", "split"], sort=False):
        row = {"task": task, "model": model, "split": split, "n_seeds": int(part["seed"].nunique()),
               "seeds": ",".join(str(s) for s in sorted(part["seed"]))}
        for name in names:
            values = pd.to_numeric(part[name], errors="coerce").to_numpy(float)
            finite = values[np.isfinite(values)]
            row[f"{name}_mean"] = float(finite.mean()) if len(finite) else np.nan
            row[f"{name}_std"] = float(finite.std()) if len(finite) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if metric and f"{metric}_mean" in table:
        from genotx.errors import GenotxError
        from genotx.evaluate.metrics import Evaluator

        try:
            ascending = not Evaluator(metric).greater_is_better
        except GenotxError:  # a reported quantity (an effect estimate), not a score: no "best"
            return table.reset_index(drop=True)
        table = table.sort_values(["task", f"{metric}_mean"], ascending=[True, ascending], kind="stable")
    return table.reset_index(drop=True)

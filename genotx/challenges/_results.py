"""Writing a challenge's result: one JSON file and its figures as PNGs, in ``<out>/challenges/``.

The JSON is what a report reads (``<out>/challenges/*.json``, each with a ``challenge`` key naming
the tool); figures are redrawn from it by the tool's ``*_figures`` function, so a report needs no PNG.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Section", "clean_json", "records", "write_result"]


@dataclass
class Section:
    """What a report shows for one challenge result: every challenge module has
    ``report_section(payload) -> Section``, redrawn from its JSON (the report never reruns anything).

    ``summary`` is one short paragraph in plain words (what ran, on which data, whether the goal held);
    ``tables`` are (caption, table) pairs; ``figures`` matplotlib Figures (the report embeds and closes them).
    """

    title: str
    data_kind: str
    summary: str
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[Any] = field(default_factory=list)
    note: str = ""


def clean_json(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN/inf as None (strict JSON).

    Examples
    --------
    >>> clean_json({"a": np.float64("nan"), "b": [np.int64(2), (1.5, np.inf)]})
    {'a': None, 'b': [2, [1.5, None]]}
    """
    if isinstance(value, Mapping):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(table: pd.DataFrame) -> list[dict]:
    """A table as a list of JSON-ready row dicts."""
    return clean_json(table.to_dict(orient="records"))


def write_result(payload: Mapping, figures: Mapping[str, Any], out_dir: str | os.PathLike, stem: str) -> list[Path]:
    """Write ``<out_dir>/challenges/<stem>.json`` (atomically) and ``<stem>_<name>.png`` per figure; return the paths."""
    folder = Path(out_dir) / "challenges"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = folder / f"{stem}_{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        paths.append(path)
    path = folder / f"{stem}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({**clean_json(payload), "figures": [p.name for p in paths]}, indent=1, allow_nan=False))
    partial.replace(path)
    return [path, *paths]

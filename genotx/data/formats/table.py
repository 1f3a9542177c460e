"""User files as tables (CSV, TSV or FASTA, plain or gzip): required columns, types and values checked, errors name the line.

The file is read once through :mod:`genotx.data.formats.text` (missing, folder, empty, not UTF-8, damaged gzip
and malformed lines are refused there)."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.fasta import fasta_records
from genotx.data.formats.text import delimiter, parse_delimited, read_text
from genotx.errors import InputError

__all__ = ["read_table", "check_values"]


def read_table(
    path: str | Path,
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    numeric: tuple[str, ...] = (),
    aliases: Mapping[str, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Read a CSV (or TSV by extension, or FASTA), check columns, and coerce ``numeric`` columns.

    ``aliases`` maps a canonical column to other accepted spellings. Line numbers in errors count the
    header as line 1, as a text editor shows them. A FASTA file (first character ``>``) reads as
    columns ``id`` and ``sequence``; errors then name the record's header line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("a,b\\n1,2\\nthree,4\\n")
    >>> read_table(p, required=("a",), numeric=("a",))
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...x.csv, line 3: column 'a' has non-numeric value 'three'. Fix: write a number there
    """
    path = Path(path)
    text = read_text(path, what="CSV, TSV or FASTA file")  # read once: a named pipe works; gzip by content
    if text.lstrip().startswith(">"):
        frame = _read_fasta_as_table(text, str(path))
    else:
        frame = parse_delimited(text, str(path), sep=delimiter(path, text))
    frame.columns = [c.strip() for c in frame.columns]
    for canonical, names in (aliases or {}).items():
        if canonical not in frame:
            for name in names:
                if name in frame:
                    frame = frame.rename(columns={name: canonical})
                    break
    missing = [c for c in required if c not in frame]
    if missing:
        raise InputError(
            str(path), f"missing column(s) {missing}; found {list(frame.columns)}",
            line=1, fix=f"add a header line with columns {list(required)}",
        )
    if frame.empty:
        raise InputError(str(path), "no data rows", fix="add at least one row below the header")
    for column in numeric:
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
        bad = values.isna() & (frame[column].str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(str(path), f"column {column!r} has non-numeric value {frame[column].iloc[row]!r}", line=_line(frame, row),
                             fix="write a number there")
        infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
        if infinite.any():  # inf and 1e400 are numbers to pandas, never to a model
            row = int(np.flatnonzero(infinite)[0])
            raise InputError(str(path), f"column {column!r} has non-finite value {frame[column].iloc[row]!r}", line=_line(frame, row),
                             fix="write a finite number there")
        frame[column] = values
    return frame[[c for c in frame.columns if c in required or c in optional]]


def _line(frame: pd.DataFrame, row: int) -> int:
    """The file line of row ``row`` (the header is line 1; blank lines counted)."""
    lines = frame.attrs.get("lines")
    return lines[row] if lines else row + 2


def _read_fasta_as_table(text: str, where: str) -> pd.DataFrame:
    """Columns ``id`` and ``sequence``; letters are left to the task's own check."""
    records = list(fasta_records(enumerate(text.splitlines(), start=1), where, alphabet=string.ascii_uppercase + "*-"))
    frame = pd.DataFrame({"id": [r[0] for r in records], "sequence": [r[1] for r in records]})
    frame.attrs["lines"] = [r[2] for r in records]  # so that check_values names the record's header line
    return frame


def check_values(frame: pd.DataFrame, column: str, ok: Callable[[pd.Series], pd.Series], *, path: str, problem: str, fix: str) -> None:
    """Raise naming the first line whose ``column`` value fails the vectorised check ``ok``."""
    good = ok(frame[column]).to_numpy()
    if not good.all():
        row = int(np.flatnonzero(~good)[0])
        value = frame[column].iloc[row]
        shown = repr(value.item() if isinstance(value, np.generic) else value)  # 1.5, not np.float64(1.5)
        record = int(frame.index[row]) if pd.api.types.is_integer_dtype(frame.index) else row  # read_table's own numbering
        lines = frame.attrs.get("lines")
        line = lines[record] if lines is not None else record + 2
        raise InputError(path, f"column {column!r} value {shown} {problem}", line=line, fix=fix)

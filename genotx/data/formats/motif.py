"""Motif matrices: position x base tables and JASPAR profiles (SQLite), as ``(length, 4)`` arrays.

* :func:`read_matrix_table` reads a whitespace/tab table with ``#`` comments, a header naming the
  bases (``A C G T``, optionally a first ``pos`` column) and one row per position (energy, counts,
  probabilities or weights);
* :func:`read_jaspar` reads one profile's counts from a JASPAR SQLite database (the schema pyJASPAR
  ships: tables ``MATRIX`` and ``MATRIX_DATA``), opened read-only with the standard library.
Columns are always returned in ACGT order.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.text import read_text
from genotx.errors import InputError

__all__ = ["read_matrix_table", "read_jaspar"]

BASES = ("A", "C", "G", "T")


def read_matrix_table(path: str | Path) -> np.ndarray:
    """A ``(length, 4)`` float matrix from a text table with columns A, C, G, T (any order).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.txt"
    >>> _ = p.write_text("# energy\\npos\\tT\\tG\\tC\\tA\\n0\\t1\\t2\\t3\\t4\\n")
    >>> read_matrix_table(p).tolist()
    [[4.0, 3.0, 2.0, 1.0]]
    """
    path = Path(path)
    text = read_text(path, what="motif matrix table")  # missing, folder, empty, not UTF-8, damaged gzip: named there
    try:
        frame = pd.read_csv(io.StringIO(text), sep=r"\s+", comment="#", engine="python")
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise InputError(str(path), f"cannot be read as a whitespace-separated table ({' '.join(str(err).split())})",
                         fix="give a header line with A C G T and one row of numbers per position") from None
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    missing = [b for b in BASES if b not in frame]
    if missing:
        raise InputError(str(path), f"has no column(s) {missing}; found {list(frame.columns)}", fix="give a header line with A C G T")
    values = frame[list(BASES)].apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise InputError(str(path), f"row {row + 1} of the matrix has a non-numeric or infinite value", fix="write numbers in every A/C/G/T cell")
    if values.empty:
        raise InputError(str(path), "has a header but no rows", fix="give one row per motif position")
    return values.to_numpy(float)


def read_jaspar(path: str | Path, base_id: str, *, version: int | None = None) -> tuple[np.ndarray, str]:
    """Counts ``(length, 4)`` and TF name of JASPAR profile ``base_id`` (latest version by default).

    Raises :class:`~genotx.errors.InputError` when the profile is not in the database.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found", fix="fetch the jaspar2024 source (genotx fetch jaspar2024)")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT ID, VERSION, NAME FROM MATRIX WHERE BASE_ID = ? ORDER BY VERSION", (base_id,)).fetchall()
        if version is not None:
            rows = [r for r in rows if r[1] == version]
        if not rows:
            raise InputError(str(path), f"has no JASPAR profile {base_id}" + (f" version {version}" if version else ""), fix="check the matrix id (e.g. MA0496)")
        matrix_id, _, name = rows[-1]
        data = db.execute("SELECT row, col, val FROM MATRIX_DATA WHERE ID = ?", (matrix_id,)).fetchall()
    table = pd.DataFrame(data, columns=["base", "col", "val"]).pivot(index="col", columns="base", values="val")
    return table.sort_index()[list(BASES)].to_numpy(float), str(name)

"""A user's human expression matrix for ``genotx predict cross_species_translation``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.text import delimiter, parse_delimited, read_text
from genotx.errors import InputError
from genotx.tasks.clinical.cross_species_translation.footprints import panel_genes

__all__ = ["read_input", "MIN_GENES"]

MIN_GENES = 100  # panel genes a user's file must cover


def _orientation(frame: pd.DataFrame, panel: set[str]) -> pd.DataFrame:
    """Samples x genes: the side (first column or header) that names more panel genes is the genes."""
    in_header = len(panel & set(map(str, frame.columns[1:])))
    in_rows = len(panel & set(frame.iloc[:, 0].astype(str)))
    return frame.set_index(frame.columns[0]).T if in_rows > in_header else frame.set_index(frame.columns[0])


def read_input(path: str | Path, *, panel: list[str] | None = None) -> pd.DataFrame:
    """A user's human log-expression matrix -> samples x panel genes (+ ``species`` = human).

    Accepted: a CSV (TSV by extension ``.tsv``/``.txt``) of log-scale expression (log2 CPM, TPM or
    normalised counts) with human gene symbols, in either orientation: genes x samples (first column
    gene symbols, one column per sample, as PROGENy's ``human_input.csv``) or samples x genes (first
    column sample ids, one column per gene). At least 2 samples (scores are relative across the
    samples of a file) and ``MIN_GENES`` = 100 of the panel's genes; missing panel genes are set to
    a constant, so that after centring across the file's samples they carry no information.
    ``panel`` defaults to the task's gene panel (:func:`~.footprints.panel_genes`, a cached list).
    """
    path = Path(path)
    where = str(path)
    text = read_text(path, what="CSV or TSV file")  # missing, folder, empty, not UTF-8, damaged gzip: named
    raw = parse_delimited(text, where, sep=delimiter(path, text))
    lines = raw.attrs.get("lines") or list(range(2, len(raw) + 2))
    if raw.shape[1] < 2 or len(raw) < 1:
        raise InputError(where, "needs a first column of names and at least one more column", line=1,
                         fix="genes x samples with gene symbols in the first column, or samples x genes")
    values = raw.iloc[:, 1:].apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = ~np.isfinite(values.to_numpy(np.float64))
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        raise InputError(where, f"value {raw.iloc[row, col + 1]!r} in column {raw.columns[col + 1]!r} is not a finite number",
                         line=lines[row], fix="write a log-expression number there (0 for not detected)")
    names = raw.iloc[:, 0].str.strip()
    dup = names.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(where, f"name {names.iloc[row]!r} appeared on an earlier line", line=lines[row],
                         fix="give each gene (or sample) once; average duplicated genes first")
    panel = panel_genes() if panel is None else panel
    frame = _orientation(pd.concat([names.rename("name"), values], axis=1), set(panel))
    frame.columns = frame.columns.astype(str)
    frame = frame.T.groupby(level=0).mean().T if frame.columns.duplicated().any() else frame
    found = [g for g in panel if g in frame.columns]
    if len(found) < MIN_GENES:
        raise InputError(where, f"names only {len(found)} of the {len(panel)} panel genes (need {MIN_GENES})", line=1,
                         fix="use human gene symbols (HGNC), genes x samples or samples x genes")
    if len(frame) < 2:
        raise InputError(where, "has one sample; scores are relative across samples", fix="give at least 2 samples")
    values = frame.reindex(columns=panel).to_numpy(np.float64)
    values = np.nan_to_num(values, nan=0.0)  # a missing gene is constant: centred away, it carries no information
    out = pd.DataFrame(values, columns=panel, index=pd.Index(frame.index.astype(str), name="sample"))
    return pd.concat([pd.DataFrame({"species": "human"}, index=out.index), out], axis=1)

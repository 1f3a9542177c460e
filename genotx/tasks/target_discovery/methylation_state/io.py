"""methylation_state files: the bsseq counts of the source, and a user's region of CpGs to score.

A user's file is read and validated here (every error names the file, the line and the fix) and
turned into model inputs: the raw columns plus the neighbourhood features of every CpG, computed
from its neighbours' reads only (:func:`~.features.neighbourhood_features`). The task's own data are
never read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import read_table
from genotx.data.formats.text import parse_delimited, read_text
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.tasks.target_discovery.methylation_state.features import neighbourhood_features

__all__ = ["read_counts", "read_input", "MAX_READS"]

#: more reads than any sequencer gives one CpG: a larger count is a typo (1e30 overflowed int64 and
#: shifted the neighbours' predictions)
MAX_READS = 10**9


def read_counts(source: str) -> pd.DataFrame:
    """Per CpG: ``position``, ``m1, cov1, m2, cov2`` (methylated and total reads of the two replicates)."""
    files = source_files(source)
    if "counts" in files:
        return pd.read_parquet(files["counts"])
    from genotx.data.sources.methylation import bsseq_counts  # a local override pointing at the .rda

    return bsseq_counts(files["rda"])


_ALIASES = {
    "position": ("pos", "start", "coordinate"),
    "methylated_reads": ("methylated", "m", "M", "count_methylated", "meth"),
    "coverage": ("cov", "Cov", "total_reads", "total", "depth"),
    "chrom": ("chr", "chromosome", "seqnames", "region"),
}
_OPTIONAL = ("chrom", "methylated_reads_2", "coverage_2")


def _read_bismark(text: str, where: str) -> pd.DataFrame:
    """A Bismark coverage file: chrom, start, end, % methylated, count methylated, count unmethylated."""
    raw = parse_delimited(text, where, sep="\t", header=False)
    if raw.shape[1] != 6:
        raise InputError(where, f"a Bismark coverage file has 6 tab-separated columns, found {raw.shape[1]}", line=1,
                         fix="give chrom, start, end, percent, count_methylated, count_unmethylated, or a CSV with a header")
    values = raw[[1, 4, 5]].apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = (values.isna() | ~np.isfinite(values)).any(axis=1).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        lines = raw.attrs.get("lines")
        raise InputError(where, f"non-numeric or infinite start or counts {raw.iloc[row, [1, 4, 5]].tolist()}",
                         line=lines[row] if lines else row + 1, fix="write integers there")
    frame = pd.DataFrame({"chrom": raw[0].str.strip(), "position": values[1], "methylated_reads": values[4],
                          "coverage": values[4] + values[5]})
    frame.attrs["lines"] = raw.attrs.get("lines")
    return frame


def _refuse(bad: pd.Series, where: str, line_offset: int | list[int], problem: str, fix: str) -> None:
    """Raise naming the first line where the vectorised check ``bad`` is true (``line_offset``: the
    rows' line numbers, or the line of row 0)."""
    bad = bad.to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        line = line_offset[row] if isinstance(line_offset, list) else row + line_offset
        raise InputError(where, problem, line=line, fix=fix)


def _is_headerless(text: str) -> bool:
    first = text.lstrip("\n").split("\n", 1)[0].rstrip("\r").split("\t")
    return len(first) == 6 and all(f.strip().lstrip("-").replace(".", "", 1).isdigit() for f in first[1:])


def read_input(path: str | Path) -> pd.DataFrame:
    """A region's CpGs -> model inputs (the raw columns plus neighbourhood features).

    Accepted: a CSV (or TSV by extension) with a header and columns ``position``,
    ``methylated_reads``, ``coverage`` (aliases ``pos``/``start``, ``m``/``methylated``,
    ``cov``/``total_reads``), optional ``chrom`` (neighbours never cross chromosomes) and optional
    ``methylated_reads_2``/``coverage_2`` for a second replicate (reads are pooled, as in training);
    or a Bismark ``.cov`` file (no header, 6 tab-separated columns). Every CpG gets a prediction
    from its neighbours' reads only; its own reads are never used. Give all CpGs of the region, also
    those with no reads (coverage 0), so that CpG spacing is right.
    """
    path = Path(path)
    where = str(path)
    text = read_text(path, what="CSV or Bismark .cov file")  # missing, folder, empty, not UTF-8, damaged gzip
    headerless = _is_headerless(text)
    if headerless:
        frame = _read_bismark(text, where)
    else:
        numeric = ("position", "methylated_reads", "coverage", "methylated_reads_2", "coverage_2")
        frame = read_table(path, required=("position", "methylated_reads", "coverage"), optional=_OPTIONAL,
                           numeric=numeric, aliases=_ALIASES)
    has_second = "methylated_reads_2" in frame and "coverage_2" in frame
    if ("methylated_reads_2" in frame) != ("coverage_2" in frame):
        raise InputError(where, "gives only one of methylated_reads_2 / coverage_2", line=1, fix="give both or neither")
    counts = ["methylated_reads", "coverage"] + (["methylated_reads_2", "coverage_2"] if has_second else [])
    line_offset = frame.attrs.get("lines") or (1 if headerless else 2)  # a header occupies line 1
    for column in ["position", *counts]:
        values = frame[column]
        bad = ~(values.notna() & (values >= 0) & (values == np.floor(values)))
        first = frame.loc[bad.to_numpy(), column].head(1).tolist()
        _refuse(bad, where, line_offset, f"column {column!r} value {first[0] if first else ''!r} is not a non-negative integer",
                "write a whole number of bp / reads (0 for a CpG without reads)")
    _refuse(frame["position"] >= 2**32, where, line_offset, "position is too large", "give a bp coordinate")
    for column in counts:
        too_many = frame[column] > MAX_READS
        first = frame.loc[too_many.to_numpy(), column].head(1).tolist()
        _refuse(too_many, where, line_offset, f"column {column!r} value {first[0] if first else ''!r} is more reads than "
                f"a CpG can have (at most {MAX_READS:.0e})", "give the number of reads covering this CpG")
    pairs = [("methylated_reads", "coverage")] + ([("methylated_reads_2", "coverage_2")] if has_second else [])
    for m_col, cov_col in pairs:
        _refuse(frame[m_col] > frame[cov_col], where, line_offset, f"{m_col} exceeds {cov_col}",
                "methylated reads cannot exceed the total reads")
    if "chrom" not in frame:
        frame.insert(0, "chrom", "region")
    frame["chrom"] = frame["chrom"].astype(str).str.strip()
    _refuse(frame.duplicated(["chrom", "position"]), where, line_offset, "this chrom/position appeared on an earlier line",
            "give each CpG once (combine the two strands into one row per CpG)")
    frame[["position", *counts]] = frame[["position", *counts]].astype(np.int64)
    samples = [(frame["methylated_reads"], frame["coverage"])]
    if has_second:
        samples.append((frame["methylated_reads_2"], frame["coverage_2"]))
    features = neighbourhood_features(frame["position"].to_numpy(), samples, region=frame["chrom"].to_numpy())
    raw = frame[["chrom", "position", *counts]].reset_index(drop=True)
    return pd.concat([raw, features], axis=1)



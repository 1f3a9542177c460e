"""A user's summary statistics for ``genotx predict mendelian_randomization``: read, check, shape the output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import check_values, read_table
from genotx.errors import InputError
from genotx.simulate.mr import HARMONISED_COLUMNS

__all__ = ["read_input", "MIN_VARIANTS"]

MIN_VARIANTS = 3  # MR-Egger, weighted median and mode need three variants


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV/TSV of harmonised summary statistics (TwoSampleMR's ``harmonise_data`` output works).

    Columns ``beta_exposure, se_exposure, beta_outcome, se_outcome`` (required), ``SNP`` (optional;
    aliases ``variant``, ``rsid``), ``mr_keep`` (optional; FALSE rows are skipped). Each line is checked:
    numbers present, standard errors > 0, ``beta_exposure`` != 0, no duplicated SNP.
    """
    frame = read_table(path, required=HARMONISED_COLUMNS, optional=("SNP", "mr_keep", "id.exposure", "id.outcome"),
                       numeric=HARMONISED_COLUMNS, aliases={"SNP": ("snp", "variant", "rsid", "rsID")})
    where = str(path)
    for column in HARMONISED_COLUMNS:
        _check_numbers(frame, column, lambda s: s.notna() & np.isfinite(s), path=where, problem="is missing",
                       fix="fill in the value or remove the line")
    for column in ("se_exposure", "se_outcome"):
        _check_numbers(frame, column, lambda s: s > 0, path=where, problem="is not > 0", fix="standard errors must be positive")
    _check_numbers(frame, "beta_exposure", lambda s: s != 0, path=where, problem="is 0: the variant is not an instrument",
                   fix="remove the line")
    if "SNP" not in frame:
        frame.insert(0, "SNP", [f"variant_{i + 1}" for i in range(len(frame))])
    frame["SNP"] = frame["SNP"].astype(str).str.strip()
    check_values(frame, "SNP", lambda s: ~s.duplicated(), path=where, problem="is duplicated",
                 fix="keep one line per variant (harmonise first, one exposure-outcome pair per file)")
    for column in ("id.exposure", "id.outcome"):
        if column in frame and frame[column].nunique() > 1:
            check_values(frame, column, lambda s: s == s.iloc[0], path=where, problem="differs from the first line's",
                         fix="give one exposure-outcome pair per file")
    if "mr_keep" in frame:
        keep = frame["mr_keep"].str.strip().str.upper()
        check_values(frame.assign(mr_keep=keep), "mr_keep", lambda s: s.isin(["TRUE", "FALSE", "T", "F", "1", "0", ""]),
                     path=where, problem="is not TRUE/FALSE", fix="write TRUE or FALSE")
        frame = frame[keep.isin(["TRUE", "T", "1", ""]).to_numpy()]
    if len(frame) < MIN_VARIANTS:
        raise InputError(where, f"{len(frame)} usable variant(s); MR-Egger, weighted median and mode need >= {MIN_VARIANTS}",
                         fix="add variants (independent instruments) to the file")
    return frame[["SNP", *HARMONISED_COLUMNS]].reset_index(drop=True)


def _check_numbers(frame: pd.DataFrame, column: str, ok, **message) -> None:
    """``check_values`` on a numeric column, quoting the offending value as the user wrote it."""
    shown = frame.assign(**{column: frame[column].astype(object)})
    check_values(shown, column, lambda s: ok(s.astype(float)).astype(bool), **message)

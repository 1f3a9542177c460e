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
    _check_scale(frame, where)
    _check_distinct(frame, where)
    return frame[["SNP", *HARMONISED_COLUMNS]].reset_index(drop=True)


#: largest magnitude of a per-variant quantity the estimators form (ratios, z-scores, inverse standard
#: errors): its square summed over variants stays finite in float64 (se 1e-320 or beta 1e200 once gave null)
MAX_TERM = 1e100


def _check_scale(frame: pd.DataFrame, where: str) -> None:
    """Refuse the first line whose statistics overflow the estimators' arithmetic."""
    bx, sx, bo, so = (frame[c].to_numpy(float) for c in HARMONISED_COLUMNS)
    with np.errstate(all="ignore"):
        terms = {"beta_exposure": bx, "beta_outcome": bo, "1 / se_exposure": 1 / sx, "1 / se_outcome": 1 / so,
                 "beta_outcome / beta_exposure": bo / bx, "se_outcome / beta_exposure": so / bx,
                 "beta_exposure / se_outcome": bx / so, "beta_outcome / se_outcome": bo / so, "beta_exposure / se_exposure": bx / sx}
        bad = ~(np.abs(np.vstack(list(terms.values()))) <= MAX_TERM)  # terms x variants
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=0))[0])  # the first line with a problem, then its first term
        name = list(terms)[int(np.flatnonzero(bad[:, row])[0])]
        raise InputError(where, f"variant {frame['SNP'].iloc[row]!r}: {name} is {terms[name][row]:.3g}, beyond what the estimators "
                         f"can compute with (|value| <= {MAX_TERM:.0e})", line=_lines(frame)[row],
                         fix="check the value (a typo? standard errors are > 0 and not vanishingly small); give effects on a usual scale")


def _check_distinct(frame: pd.DataFrame, where: str) -> None:
    """The same statistics twice (a variant repeated under two names), or one |beta_exposure| for every
    variant, leave MR-Egger's regression without a slope to fit (a singular matrix)."""
    repeated = frame.duplicated(list(HARMONISED_COLUMNS)).to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        first = int(np.flatnonzero(frame.duplicated(list(HARMONISED_COLUMNS), keep=False).to_numpy())[0])
        raise InputError(where, f"variant {frame['SNP'].iloc[row]!r} repeats the statistics of {frame['SNP'].iloc[first]!r} "
                         f"(line {_lines(frame)[first]})", line=_lines(frame)[row],
                         fix="give each independent variant once (clump variants in LD first)")
    if np.unique(np.abs(frame["beta_exposure"].to_numpy(float))).size < 2:
        raise InputError(where, "every variant has the same |beta_exposure|: MR-Egger's slope cannot be estimated",
                         fix="give variants with different effects on the exposure")


def _lines(frame: pd.DataFrame) -> list[int]:
    lines = frame.attrs.get("lines")
    return [lines[i] for i in frame.index] if lines else [int(i) + 2 for i in frame.index]


def _check_numbers(frame: pd.DataFrame, column: str, ok, **message) -> None:
    """``check_values`` on a numeric column, quoting the offending value as the user wrote it."""
    shown = frame.assign(**{column: frame[column].astype(object)})
    check_values(shown, column, lambda s: ok(s.astype(float)).astype(bool), **message)

"""Measured synergy screens in their published formats -> rows of (drug A, drug B, cell line, score).

Each reader returns columns ``drug_a, drug_b, smiles_a, smiles_b, cell_line, score`` (plus what the
format adds: ``fold`` for O'Neil/DeepSynergy, ``study`` for DrugComb); ``cell_line`` is keyed as the
GDSC2 profiles are (:func:`~.io.cell_line_key`). Rows whose drug has no structure or whose cell line
has no GDSC2 mutation/CNV profile are dropped (the count is logged and returned in ``attrs``).

* :func:`read_oneil`: DeepSynergy's ``labels.csv`` (``,drug_a_name,drug_b_name,cell_line,synergy,fold``;
  Loewe scores from Combenefit) and an optional ``drug,smiles`` table;
* :func:`read_drugcomb`: DrugComb's summary table (``drug_row, drug_col, cell_line_name,
  synergy_zip|loewe|hsa|bliss``, optional ``study_name``; ``\\N`` or empty = missing) and its drug
  table (``dname, smiles``);
* :func:`read_almanac`: NCI-ALMANAC's ``ComboDrugGrowth`` wells (``NSC1, CONC1, NSC2, CONC2, SCORE,
  CELLNAME``): the ComboScore of a pair in a cell line is the sum over its dose grid of the well
  ``SCORE`` (replicate plates averaged; a pair read in either drug order is one pair), and an
  ``NSC, SMILES`` table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import read_table
from genotx.errors import InputError
from genotx.tasks.therapeutics.drug_combination.io import cell_line_key, cell_line_names, smiles_table

__all__ = ["read_oneil", "read_drugcomb", "read_almanac", "DRUGCOMB_SCORES"]

log = logging.getLogger(__name__)

DRUGCOMB_SCORES = ("zip", "loewe", "hsa", "bliss")
_COLUMNS = ["drug_a", "drug_b", "smiles_a", "smiles_b", "cell_line", "score"]


def _header(path: Path, required: tuple[str, ...], sep: str = ",") -> list[str]:
    """The file's column names, refusing a missing file or a header without ``required``."""
    if not Path(path).exists():
        raise InputError(str(path), "file not found", fix="check the path given to use_local / GENOTX_SOURCE_<ID>")
    columns = [c.strip() for c in pd.read_csv(path, sep=sep, nrows=0).columns]
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(str(path), f"missing column(s) {missing}; found {columns[:12]}", line=1,
                         fix=f"give the published file (its header names {list(required)})")
    return columns


def _numeric(frame: pd.DataFrame, column: str, path: Path, *, missing: tuple[str, ...] = ("", "\\N", "NA", "NaN", "nan")) -> pd.Series:
    """``column`` as numbers; a value that is neither a number nor a missing marker is refused with its line."""
    text = frame[column].astype(str).str.strip()
    values = pd.to_numeric(text.where(~text.isin(missing)), errors="coerce")
    bad = values.isna() & ~text.isin(missing)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])  # the frame keeps the file's row numbers (header = line 1)
        raise InputError(str(path), f"column {column!r} has non-numeric value {text.iloc[row]!r}", line=int(frame.index[row]) + 2,
                         fix="write a number there (or leave it empty when missing)")
    return values


def _structures(names: pd.Series, table: pd.Series | None) -> pd.Series:
    """SMILES of each drug name: the source's own table, else the GDSC2 table (names compared upper-case)."""
    lookup = {}
    for source in ((table,) if table is not None else ()) + (smiles_table(),):
        keys = source.index.astype(str).str.strip().str.upper()
        for key, smiles in zip(keys, source.to_numpy()):
            lookup.setdefault(key, smiles)
    return names.astype(str).str.strip().str.upper().map(lookup)


def _finish(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Key cell lines, drop rows without a structure or a GDSC2 profile (counted), refuse an empty result."""
    frame = frame.assign(cell_line=cell_line_key(frame["cell_line"]))
    has_structure = frame["smiles_a"].notna() & frame["smiles_b"].notna()
    has_profile = frame["cell_line"].isin(cell_line_names())
    kept = frame[has_structure & has_profile & frame["score"].notna()].reset_index(drop=True)
    dropped = {"no_structure": int((~has_structure).sum()), "no_profile": int((has_structure & ~has_profile).sum()),
               "no_score": int((has_structure & has_profile & frame["score"].isna()).sum())}
    if kept.empty:
        raise InputError(where, f"no usable row ({dropped})", fix="give SMILES for the drugs (the source's smiles/drugs "
                         "file) and cell lines that have a GDSC2 mutation/CNV profile")
    if any(dropped.values()):
        log.info("%s: kept %d rows, dropped %s", where, len(kept), dropped)
    kept.attrs["dropped"] = dropped
    return kept


def _smiles_file(path: Path | None, *, name: tuple[str, ...], smiles: tuple[str, ...]) -> pd.Series | None:
    if path is None:
        return None
    table = read_table(path, required=("name", "smiles"), aliases={"name": name, "smiles": smiles})
    return table.set_index(table["name"].str.strip())["smiles"].str.strip()


def read_oneil(labels: str | Path, smiles: str | Path | None = None) -> pd.DataFrame:
    """O'Neil 2016 as DeepSynergy distributes it (Loewe synergy; DeepSynergy's ``fold`` kept).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = p.write_text(",drug_a_name,drug_b_name,cell_line,synergy,fold\\n"
    ...                  "x_y_A2058,Gemcitabine,Sorafenib,A2058,7.69,2\\n")
    >>> read_oneil(p)[["drug_a", "drug_b", "cell_line", "score", "fold"]].to_dict("records")
    [{'drug_a': 'Gemcitabine', 'drug_b': 'Sorafenib', 'cell_line': 'A2058', 'score': 7.69, 'fold': 2}]
    """
    labels = Path(labels)
    _header(labels, ("drug_a_name", "drug_b_name", "cell_line", "synergy"))
    raw = read_table(labels, required=("drug_a_name", "drug_b_name", "cell_line", "synergy"), optional=("fold",),
                     numeric=("synergy", "fold"))
    table = _smiles_file(Path(smiles) if smiles else None, name=("drug", "dname", "drug_name"), smiles=("SMILES", "smiles"))
    frame = pd.DataFrame({"drug_a": raw["drug_a_name"].str.strip(), "drug_b": raw["drug_b_name"].str.strip(),
                          "cell_line": raw["cell_line"], "score": raw["synergy"].astype(float)})
    frame["smiles_a"], frame["smiles_b"] = _structures(frame["drug_a"], table), _structures(frame["drug_b"], table)
    extra = ["fold"] if "fold" in raw else []
    if extra:
        frame["fold"] = raw["fold"].astype(int)
    return _finish(frame[_COLUMNS + extra], str(labels))


def read_drugcomb(summary: str | Path, drugs: str | Path, *, score: str = "loewe") -> pd.DataFrame:
    """DrugComb's summary table, one score (``zip``, ``loewe``, ``hsa`` or ``bliss``) per combination block.

    Blocks of one (pair, cell line) are averaged over replicates and studies; the first study name is kept.
    """
    if score not in DRUGCOMB_SCORES:
        raise InputError("score", f"{score!r} is not a DrugComb synergy score", fix=f"use one of {list(DRUGCOMB_SCORES)}")
    summary = Path(summary)
    column = f"synergy_{score}"
    columns = _header(summary, ("drug_row", "drug_col", "cell_line_name", column))
    use = ["drug_row", "drug_col", "cell_line_name", column] + [c for c in ("study_name",) if c in columns]
    raw = pd.read_csv(summary, usecols=use, dtype=str, keep_default_na=False)
    raw = raw[(raw["drug_col"].str.strip() != "") & (raw["drug_col"].str.strip() != "\\N")]  # monotherapy blocks
    table = _smiles_file(Path(drugs), name=("dname", "drug", "drug_name"), smiles=("SMILES", "smiles"))
    frame = pd.DataFrame({"drug_a": raw["drug_row"].str.strip(), "drug_b": raw["drug_col"].str.strip(),
                          "cell_line": raw["cell_line_name"].str.strip(), "score": _numeric(raw, column, summary),
                          "study": raw["study_name"] if "study_name" in raw else ""})
    frame["smiles_a"], frame["smiles_b"] = _structures(frame["drug_a"], table), _structures(frame["drug_b"], table)
    frame = _merge_orders(frame)
    return _finish(frame[_COLUMNS + ["study"]], str(summary))


def _merge_orders(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (unordered pair, cell line): scores averaged, the first-seen order and study kept."""
    first = frame["drug_a"] <= frame["drug_b"]
    key = pd.DataFrame({"x": frame["drug_a"].where(first, frame["drug_b"]), "y": frame["drug_b"].where(first, frame["drug_a"]),
                        "cell": frame["cell_line"]})
    group = key.groupby(["x", "y", "cell"], sort=False).ngroup()
    out = frame.groupby(group.to_numpy(), sort=True).agg(
        {**{c: "first" for c in frame.columns if c != "score"}, "score": "mean"})
    return out.reset_index(drop=True)


def read_almanac(growth: str | Path, smiles: str | Path) -> pd.DataFrame:
    """NCI-ALMANAC ComboScores (sum of the well SCORE over a pair's dose grid; replicate wells averaged)."""
    growth = Path(growth)
    required = ("NSC1", "CONC1", "NSC2", "CONC2", "SCORE", "CELLNAME")
    _header(growth, required)
    raw = pd.read_csv(growth, usecols=list(required), dtype=str, keep_default_na=False)
    raw = raw[raw["NSC2"].str.strip() != ""]  # monotherapy wells
    values = {c: _numeric(raw, c, growth) for c in ("NSC1", "CONC1", "NSC2", "CONC2", "SCORE")}
    first = values["NSC1"] <= values["NSC2"]
    wells = pd.DataFrame({
        "nsc_a": values["NSC1"].where(first, values["NSC2"]).astype("Int64"),
        "nsc_b": values["NSC2"].where(first, values["NSC1"]).astype("Int64"),
        "conc_a": values["CONC1"].where(first, values["CONC2"]), "conc_b": values["CONC2"].where(first, values["CONC1"]),
        "cell_line": raw["CELLNAME"].str.strip(), "score": values["SCORE"]}).dropna(subset=["score"])
    per_dose = wells.groupby(["nsc_a", "nsc_b", "cell_line", "conc_a", "conc_b"], as_index=False)["score"].mean()
    combo = per_dose.groupby(["nsc_a", "nsc_b", "cell_line"], as_index=False)["score"].sum()
    table = _smiles_file(Path(smiles), name=("NSC", "nsc"), smiles=("SMILES", "smiles"))
    frame = pd.DataFrame({"drug_a": "NSC" + combo["nsc_a"].astype(str), "drug_b": "NSC" + combo["nsc_b"].astype(str),
                          "cell_line": combo["cell_line"], "score": combo["score"].astype(float)})
    lookup = table.copy()
    lookup.index = "NSC" + lookup.index.astype(str).str.replace(r"^NSC", "", regex=True, case=False)
    frame["smiles_a"], frame["smiles_b"] = frame["drug_a"].map(lookup), frame["drug_b"].map(lookup)
    return _finish(frame[_COLUMNS], str(growth))

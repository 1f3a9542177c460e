"""Variant effect: a protein variant (full sequence) -> its measured effect in a deep mutational scan.

Real DMS data shipped with MAVE-NN: TDP-43 aa 290-373 toxicity (default; 1,266 single and 56,730
double mutants), amyloid-beta 42 nucleation (499 singles, 15,567 doubles) and GB1 IgG binding
(530,737 double mutants only; a seeded 60,000-row subsample is loaded). No file has a wild-type row:
the wild type is the per-position consensus of all variants, and each variant's number of
mutations is counted against it (it equals the files' own ``dist`` column).

Splits: ``random`` (20% of variants held out), ``singles_to_doubles`` (train on every single mutant,
test on every double mutant: a distribution shift that only an additive-plus-nonlinearity model can
bridge; not available for GB1, which has no singles) and ``predefined`` (the files' ``set`` column).

Every run (:mod:`.protocol`) also reports, in its details, the noise ceiling of the test rows: the expected Pearson
between noise-free effects and the measurements, ``sqrt(1 - mean(dy**2) / var(y))``, where ``dy`` is
the shipped standard error (GB1: the Poisson count error ``sqrt(1/(sel+1) + 1/(in+1)) / ln 2``, a
lower bound on the noise, so its ceiling is an upper bound). No model can exceed it in expectation.

A second, simulated view ranks causal positions: phenotypes are simulated from the real
single-mutant effects at a few hidden causal positions (see :func:`simulate_causal_ranking`), the
same baseline is fitted, positions are ranked by in-silico-mutagenesis attribution and the recall of
the causal positions in the top k is reported (``details['causal_ranking_simulated']``, :mod:`.ranking`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline

from genotx.data.source import source_files
from genotx.evaluate.splits import PredefinedSplit, RandomSplit
from genotx.featurize.transformer import Featurizer
from genotx.tasks.spec import Dataset, TaskSpec
from genotx.tasks.target_discovery.variant_pathogenicity.features import (
    MutationCounter, consensus, mutation_counts, variant_one_hot,
)
from genotx.tasks.target_discovery.variant_pathogenicity.io import DEFAULT_SOURCE, LENGTHS, WILD_TYPES, read_input
from genotx.tasks.target_discovery.variant_pathogenicity.protocol import VariantEffect, noise_ceiling
from genotx.tasks.target_discovery.variant_pathogenicity.ranking import ism_attribution, simulate_causal_ranking, top_k_recall
from genotx.tasks.target_discovery.variant_pathogenicity.splits import MutationOrderSplit

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "read_input", "format_predictions", "GB1_ROWS", "LENGTHS",
           "WILD_TYPES", "MutationOrderSplit", "noise_ceiling", "ism_attribution", "top_k_recall", "simulate_causal_ranking"]

SPEC = TaskSpec(
    name="variant_pathogenicity",
    number=8,
    stage="target_discovery",
    title="Variant effect / pathogenicity",
    formulation="protein variant (full-length sequence, single or double mutant) -> measured variant effect; "
    "ranking of causal positions by attribution (simulated view)",
    protocol="supervised",
    target="regression",
    data_kind="real",
    sources=("mavenn_tdp43", "mavenn_abeta", "mavenn_gb1"),
    splits=("random", "singles_to_doubles", "predefined"),
    metrics=("pearson", "spearman", "rmse"),
    baselines=("global_epistasis", "additive", "mutation_count", "mean"),
    trivial="mean",
    reference='additive',
    data_note="Real deep mutational scans (MAVE-NN datasets). Wild type = per-position consensus. GB1: seeded "
    "60,000-row subsample of 530,737 doubles. details['noise_ceiling'] = sqrt(1 - mean(dy^2)/var(y)) on the test rows. "
    "details['causal_ranking_simulated'] is SIMULATED: phenotypes built from real single-mutant effects at hidden "
    "causal positions plus Gaussian noise.",
    citation="Bolognesi et al. (2019) Nat Commun 10:4183; Seuma et al. (2021) Nat Commun 12:7345; "
    "Olson et al. (2014) Curr Biol 24:2643; Tareen et al. (2022) Genome Biol 23:98",
)

GB1_ROWS = 60_000


def load(*, source: str = DEFAULT_SOURCE) -> Dataset:
    """One DMS as variant sequences, effects ``y``, standard errors and mutation counts (wild type in ``context``)."""
    raw = pd.read_csv(source_files(source)["data"])
    if source == "mavenn_gb1":
        keep = np.sort(np.random.default_rng(0).choice(len(raw), size=min(GB1_ROWS, len(raw)), replace=False))
        # Poisson error of y = log2((sel+1)/(in+1)) + const: a lower bound on the measurement noise
        dy_all = np.sqrt(1 / (raw["selected_ct"] + 1) + 1 / (raw["input_ct"] + 1)) / np.log(2)
        raw = raw.iloc[keep].assign(dy=dy_all.iloc[keep]).reset_index(drop=True)
    sequences = raw["x"].str.upper()
    wild_type = consensus(sequences)
    groups = pd.DataFrame(
        {
            "n_mutations": mutation_counts(sequences, wild_type),
            "set": raw["set"].to_numpy(),
            "dy": raw["dy"].to_numpy(float),
        }
    )
    meta = {"sources": (source,), "data_kind": SPEC.data_kind}
    if source == "mavenn_gb1":
        meta["subsample"] = f"{len(raw)} of 530,737 rows, numpy default_rng(0) without replacement"
    return Dataset("variant_pathogenicity", pd.DataFrame({"sequence": sequences}), raw["y"].to_numpy(float), groups, meta,
                   context={"wild_type": wild_type})


SPLITS = {
    "random": RandomSplit(test_size=0.2),
    "singles_to_doubles": MutationOrderSplit(train=1, test=2),
    "predefined": PredefinedSplit(column="set", train=("training", "validation"), test=("test",)),
}


def _global_epistasis(random_state: int = 0):
    from genotx.models.epistasis import GlobalEpistasisRegressor  # torch, only for the model that uses it

    return make_pipeline(Featurizer(variant_one_hot), GlobalEpistasisRegressor(
        hidden_nodes=20, alpha=0.01, epochs=100, batch_size=512, lr=3e-3, patience=5, random_state=random_state))


MODELS = {
    "global_epistasis": _global_epistasis,
    # alpha 0.01: with singles only each mutation is seen once, and a stronger penalty shrinks its effect
    "additive": lambda random_state=0: make_pipeline(Featurizer(variant_one_hot), Ridge(alpha=0.01)),
    "mutation_count": lambda random_state=0: make_pipeline(MutationCounter(), LinearRegression()),
    "mean": lambda random_state=0: DummyRegressor(),
}

PROTOCOL = VariantEffect()


def format_predictions(frame: pd.DataFrame, estimator) -> pd.DataFrame:
    """``genotx predict`` output: ``sequence``, ``n_mutations`` (against the wild type: the model
    saw 1 and 2, more is extrapolation) and the predicted effect ``prediction``."""
    return frame[["sequence", "n_mutations"]].assign(prediction=np.asarray(estimator.predict(frame[["sequence"]]), dtype=float))

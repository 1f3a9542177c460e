"""Variant effect: a protein variant (full sequence) -> its measured effect in a deep mutational scan.

Real DMS data shipped with MAVE-NN: TDP-43 aa 290-373 toxicity (default; 1,266 single and 56,730
double mutants), amyloid-beta 42 nucleation (499 singles, 15,567 doubles) and GB1 IgG binding
(530,737 double mutants only; a seeded 60,000-row subsample is loaded). No file has a wild-type row:
the wild type is the per-position consensus of all variants, and each variant's number of
mutations is counted against it (it equals the files' own ``dist`` column).

Splits: ``random`` (20% of variants held out), ``singles_to_doubles`` (train on every single mutant,
test on every double mutant: a distribution shift that only an additive-plus-nonlinearity model can
bridge; not available for GB1, which has no singles) and ``predefined`` (the files' ``set`` column).

Every run also reports, in its details, the noise ceiling of the test rows: the expected Pearson
between noise-free effects and the measurements, ``sqrt(1 - mean(dy**2) / var(y))``, where ``dy`` is
the shipped standard error (GB1: the Poisson count error ``sqrt(1/(sel+1) + 1/(in+1)) / ln 2``, a
lower bound on the noise, so its ceiling is an upper bound). No model can exceed it in expectation.

A second, simulated view ranks causal positions: phenotypes are simulated from the real
single-mutant effects at a few hidden causal positions (see :func:`simulate_causal_ranking`), the
same baseline is fitted, positions are ranked by in-silico-mutagenesis attribution and the recall of
the causal positions in the top k is reported (``details['causal_ranking_simulated']``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline

from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.metrics import evaluate as score
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import Fold, PredefinedSplit, RandomSplit
from genotx.tasks.target_discovery.variant_pathogenicity.features import (
    PROTEIN_STOP_ALPHABET,
    STOP_LETTER,
    MutationCounter,
    consensus,
    mutation_counts,
    variant_indices,
    variant_one_hot,
)
from genotx.featurize.transformer import Featurizer
from genotx.models.epistasis import GlobalEpistasisRegressor
from genotx.tasks.spec import Dataset, TaskSpec

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
    data_note="Real deep mutational scans (MAVE-NN datasets). Wild type = per-position consensus. GB1: seeded "
    "60,000-row subsample of 530,737 doubles. details['noise_ceiling'] = sqrt(1 - mean(dy^2)/var(y)) on the test rows. "
    "details['causal_ranking_simulated'] is SIMULATED: phenotypes built from real single-mutant effects at hidden "
    "causal positions plus Gaussian noise.",
    citation="Bolognesi et al. (2019) Nat Commun 10:4183; Seuma et al. (2021) Nat Commun 12:7345; "
    "Olson et al. (2014) Curr Biol 24:2643; Tareen et al. (2022) Genome Biol 23:98",
)

GB1_ROWS = 60_000
# lengths of the wild types, checked against the data in the tests; user files must match the default
LENGTHS = {"mavenn_tdp43": 84, "mavenn_abeta": 42, "mavenn_gb1": 55}
_RESIDUES = PROTEIN_STOP_ALPHABET.replace(STOP_LETTER, "") + "X*"  # what a user may write


def load(*, source: str = "mavenn_tdp43") -> Dataset:
    """One DMS as variant sequences, effects ``y``, standard errors and mutation counts."""
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
    meta = {"sources": (source,), "data_kind": SPEC.data_kind, "wild_type": wild_type}
    if source == "mavenn_gb1":
        meta["subsample"] = f"{len(raw)} of 530,737 rows, numpy default_rng(0) without replacement"
    return Dataset("variant_pathogenicity", pd.DataFrame({"sequence": sequences}), raw["y"].to_numpy(float), groups, meta)


@dataclass(frozen=True)
class MutationOrderSplit:
    """Train on variants with ``train`` mutations, test on those with ``test`` (e.g. singles -> doubles)."""

    train: int = 1
    test: int = 2

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        order = groups["n_mutations"].to_numpy()
        train, test = np.flatnonzero(order == self.train), np.flatnonzero(order == self.test)
        if len(train) == 0 or len(test) == 0:
            present = sorted(int(v) for v in np.unique(order))
            raise InputError(
                "split singles_to_doubles", f"needs variants with {self.train} and with {self.test} mutations; "
                f"this scan has only {present} (e.g. GB1 ships double mutants only)", fix="use split 'random' or 'predefined'",
            )
        return [Fold(train, test, f"{self.train}_to_{self.test}_mutations")]


SPLITS = {
    "random": RandomSplit(test_size=0.2),
    "singles_to_doubles": MutationOrderSplit(train=1, test=2),
    "predefined": PredefinedSplit(column="set", train=("training", "validation"), test=("test",)),
}

MODELS = {
    "global_epistasis": lambda random_state=0: make_pipeline(
        Featurizer(variant_one_hot),
        GlobalEpistasisRegressor(hidden_nodes=20, alpha=0.01, epochs=100, batch_size=512, lr=3e-3, patience=5,
                                 random_state=random_state),
    ),
    # alpha 0.01: with singles only each mutation is seen once, and a stronger penalty shrinks its effect
    "additive": lambda random_state=0: make_pipeline(Featurizer(variant_one_hot), Ridge(alpha=0.01)),
    "mutation_count": lambda random_state=0: make_pipeline(MutationCounter(), LinearRegression()),
    "mean": lambda random_state=0: DummyRegressor(),
}


def noise_ceiling(y: np.ndarray, dy: np.ndarray) -> float:
    """Expected Pearson of noise-free effects with measurements ``y`` of standard error ``dy``.

    ``var(y) = var(true) + mean(dy**2)`` for independent noise, so the ceiling is
    ``sqrt(1 - mean(dy**2) / var(y))`` (0 when the noise explains all the variance).

    Examples
    --------
    >>> round(noise_ceiling(np.array([0.0, 1.0, 2.0, 3.0]), np.full(4, 0.5)), 3)
    0.922
    """
    var = float(np.var(y, ddof=1)) if len(y) > 1 else 0.0
    if var <= 0:
        return float("nan")
    return float(np.sqrt(max(0.0, 1.0 - float(np.mean(np.square(dy))) / var)))


def _strings(idx: np.ndarray) -> np.ndarray:
    """Protein strings from ``variant_indices`` codes (vectorised through a fixed-width bytes view)."""
    letters = np.frombuffer((PROTEIN_STOP_ALPHABET.replace(STOP_LETTER, "*") + "X").encode(), dtype=np.uint8)
    raw = np.ascontiguousarray(letters[idx])
    return raw.view(f"S{idx.shape[1]}").ravel().astype(str)


def ism_attribution(model, wild_type: str) -> np.ndarray:
    """Per-position attribution: mean over substitutions of |f(mutant) - f(wild type)| (in silico mutagenesis)."""
    wt = variant_indices([wild_type])[0]
    length, size = len(wt), len(PROTEIN_STOP_ALPHABET)
    pos, aa = np.divmod(np.arange(length * size), size)
    keep = aa != wt[pos]
    pos, aa = pos[keep], aa[keep]
    idx = np.tile(wt, (len(pos) + 1, 1))
    idx[np.arange(len(pos)), pos] = aa  # last row stays wild type
    pred = np.asarray(model.predict(pd.DataFrame({"sequence": _strings(idx)})), dtype=float)
    effect = np.abs(pred[:-1] - pred[-1])
    return np.bincount(pos, weights=effect, minlength=length) / np.maximum(np.bincount(pos, minlength=length), 1)


def top_k_recall(attribution: np.ndarray, causal: np.ndarray, k: int) -> float:
    """Expected fraction of ``causal`` positions among the ``k`` highest attributions, ties shared.

    Positions tied at the cut-off each count for the share of the remaining slots, so a constant
    attribution scores exactly the random expectation ``k / n_positions``.

    Examples
    --------
    >>> top_k_recall(np.array([3.0, 2.0, 1.0, 0.0]), np.array([0, 2]), 2)
    0.5
    >>> top_k_recall(np.zeros(4), np.array([0, 2]), 2)
    0.5
    """
    k = min(k, len(attribution))
    cut = np.sort(attribution)[::-1][k - 1]
    above = attribution > cut
    tied = attribution == cut
    weight = above.astype(float)
    weight[tied] = (k - above.sum()) / tied.sum()
    return float(weight[causal].sum() / len(causal))


def simulate_causal_ranking(
    dataset: Dataset,
    model_factory,
    *,
    seed: int = 0,
    n_causal: int = 10,
    n_genotypes: int = 2000,
    heritability: float = 0.3,
    n_repeats: int = 3,
) -> dict:
    """SIMULATED genotype -> phenotype sets from real single-mutant effects; recall of causal positions.

    Design (each repeat seeded ``seed + repeat``): effects ``e(pos, aa) = y(single) - median(y(singles))``
    of the real single mutants; ``n_causal`` positions (at most a quarter) drawn among those with
    measured singles are causal, all others have no effect. Each of ``n_genotypes`` genotypes carries ``1 + Poisson(2)``
    substitutions at distinct positions, each drawn among that position's measured singles. Phenotype
    = sum of the effects at causal positions + Gaussian noise giving the stated heritability. The
    model is fitted on all genotypes; positions are ranked by :func:`ism_attribution` and scored with
    :func:`top_k_recall` (ties shared, so a constant model scores the random expectation).
    """
    wild_type = dataset.meta["wild_type"]
    is_single = dataset.groups["n_mutations"].to_numpy() == 1
    if is_single.sum() < 10:
        return {"skipped": "this source has no single mutants to build effects from"}
    wt = variant_indices([wild_type])[0].astype(np.int64)
    idx = variant_indices(dataset.inputs["sequence"].to_numpy()[is_single]).astype(np.int64)
    s_pos = (idx != wt).argmax(axis=1)
    s_aa = idx[np.arange(len(idx)), s_pos]
    s_eff = dataset.target[is_single] - np.median(dataset.target[is_single])
    order = np.argsort(s_pos, kind="stable")
    s_pos, s_aa, s_eff = s_pos[order], s_aa[order], s_eff[order]
    positions, start, count = np.unique(s_pos, return_index=True, return_counts=True)
    length = len(wt)
    n_causal = min(n_causal, max(1, len(positions) // 4))  # small proteins: keep most positions non-causal
    ks = sorted({n_causal, 2 * n_causal})
    recalls: dict[int, list[float]] = {k: [] for k in ks}
    for repeat in range(n_repeats):
        rng = np.random.default_rng(seed + repeat)
        causal = rng.choice(positions, size=n_causal, replace=False)
        n_mut = np.minimum(1 + rng.poisson(2.0, size=n_genotypes), len(positions))
        slot = rng.random((n_genotypes, len(positions))).argsort(axis=1)[:, : n_mut.max()]  # distinct positions
        used = np.arange(slot.shape[1])[None, :] < n_mut[:, None]
        pick = start[slot] + (rng.random(slot.shape) * count[slot]).astype(np.int64)  # a measured single there
        rows = np.broadcast_to(np.arange(n_genotypes)[:, None], slot.shape)
        genotypes = np.tile(wt, (n_genotypes, 1))
        genotypes[rows[used], s_pos[pick[used]]] = s_aa[pick[used]]
        signal = np.where(used & np.isin(s_pos[pick], causal), s_eff[pick], 0.0).sum(axis=1)
        noise_sd = float(np.sqrt(np.var(signal) * (1 - heritability) / heritability)) or 1.0
        phenotype = signal + rng.normal(scale=noise_sd, size=n_genotypes)
        model = model_factory(random_state=seed + repeat).fit(pd.DataFrame({"sequence": _strings(genotypes)}), phenotype)
        attribution = ism_attribution(model, wild_type)
        for k in ks:
            recalls[k].append(top_k_recall(attribution, causal, k))
    out: dict = {f"top{k}_recall": float(np.mean(v)) for k, v in recalls.items()}
    out.update(
        kind="simulated", n_causal=n_causal, n_positions=length, n_genotypes=n_genotypes,
        heritability=heritability, n_repeats=n_repeats, per_repeat={f"top{k}_recall": v for k, v in recalls.items()},
        random_expectation={f"top{k}_recall": k / length for k in ks},
    )
    return out


def details(dataset: Dataset, outcome: Outcome, *, split: str, model: str, seed: int) -> dict:
    """Beside the supervised metrics: the noise ceiling, metrics per mutation order, and the
    simulated causal-position ranking."""
    test = outcome.predictions
    y_true, y_pred = test["y_true"].to_numpy(float), test["y_pred"].to_numpy(float)
    ceiling = noise_ceiling(y_true, test["dy"].to_numpy())
    per_order = {}
    for n_mut, part in test.groupby("n_mutations").indices.items():
        if len(part) >= 3:
            per_order[f"{int(n_mut)}_mutations"] = {"n": len(part), **score(("pearson", "spearman"), y_true[part], y_pred[part])}
    return {
        "noise_ceiling": {
            "pearson": ceiling,
            "pearson_fraction_of_ceiling": outcome.metrics["pearson"] / ceiling if ceiling else float("nan"),
            "formula": "sqrt(1 - mean(dy^2) / var(y)) over the test rows",
        },
        "per_n_mutations": per_order,
        "wild_type": dataset.meta.get("wild_type"),
        "causal_ranking_simulated": simulate_causal_ranking(dataset, MODELS[model], seed=seed),
    }


def read_input(path: str | Path) -> pd.DataFrame:
    """A FASTA, or a CSV with a ``sequence`` column (alias ``x``, ``seq``, ``variant``): full-length variants of
    the default protein (TDP-43 aa 290-373, 84 residues), one-letter amino acids, ``*`` for stop."""
    frame = read_table(path, required=("sequence",), aliases={"sequence": ("x", "seq", "variant")})
    frame["sequence"] = frame["sequence"].str.strip().str.upper()
    length = LENGTHS[SPEC.sources[0]]
    check_values(
        frame, "sequence", lambda s: s.str.fullmatch(f"[{_RESIDUES}]+").fillna(False), path=str(path),
        problem="has characters other than the 20 amino acids, '*' (stop) and 'X' (unknown)",
        fix="write one-letter amino-acid codes",
    )
    check_values(
        frame, "sequence", lambda s: s.str.len() == length, path=str(path),
        problem=f"is not {length} residues long", fix=f"give the full {length}-residue variant of TDP-43 aa 290-373 "
        "(the default model's protein), mutations substituted in place",
    )
    return frame[["sequence"]]

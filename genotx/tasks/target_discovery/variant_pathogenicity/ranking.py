"""variant_pathogenicity's SIMULATED second view: rank the causal positions of a protein by attribution.

Phenotypes are simulated from the real single-mutant effects of a scan at a few hidden causal
positions (:func:`simulate_causal_ranking`, seeded); the task's model is fitted on them, positions are
ranked by in-silico-mutagenesis attribution (:func:`ism_attribution`) and the recall of the causal
positions among the top k is reported (:func:`top_k_recall`, ties shared).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.tasks.target_discovery.variant_pathogenicity.features import (
    PROTEIN_STOP_ALPHABET, consensus, variant_indices, variant_strings,
)

__all__ = ["ism_attribution", "top_k_recall", "simulate_causal_ranking"]


def ism_attribution(model, wild_type: str) -> np.ndarray:
    """Per-position attribution: mean over substitutions of |f(mutant) - f(wild type)| (in silico mutagenesis)."""
    wt = variant_indices([wild_type])[0]
    length, size = len(wt), len(PROTEIN_STOP_ALPHABET)
    pos, aa = np.divmod(np.arange(length * size), size)
    keep = aa != wt[pos]
    pos, aa = pos[keep], aa[keep]
    idx = np.tile(wt, (len(pos) + 1, 1))
    idx[np.arange(len(pos)), pos] = aa  # last row stays wild type
    pred = np.asarray(model.predict(pd.DataFrame({"sequence": variant_strings(idx)})), dtype=float)
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
    model_factory: Callable[..., object],
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
    wild_type = dataset.context.get("wild_type") or consensus(dataset.inputs["sequence"])
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
        model = model_factory(random_state=seed + repeat).fit(pd.DataFrame({"sequence": variant_strings(genotypes)}), phenotype)
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

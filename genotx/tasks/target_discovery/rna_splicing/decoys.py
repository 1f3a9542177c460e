"""rna_splicing's SEMI-SYNTHETIC second view: real hg38 5' splice sites vs matched decoys, scored by a
fitted PSI model (:func:`site_vs_decoy`).

The fitted model scores real hg38 5' splice sites (logomaker's GENCODE-derived list) against decoys,
both restricted to 9-mers the model never saw in training; decoys are drawn (seeded) from all
NNNGYNNNN 9-mers (:func:`all_candidate_sites`) that are not annotated sites, matched to the sites in
number and in the +2 letter (GU vs GC). The headline AUROC/AUPR weights each site 9-mer by its hg38
occurrence count (a random genomic site, not a random distinct 9-mer): a third of all NNNGYNNNN
9-mers occur as a site somewhere, about half of those only once, and these rare ones splice no
better than non-sites in the MPSA, so per distinct 9-mer even the measured PSI separates sites from
decoys at AUROC ~0.6 (reported as ``unique_9mers`` and ``measured_psi_reference``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from genotx.data.source import source_files
from genotx.evaluate.metrics import evaluate
from genotx.tasks.target_discovery.rna_splicing.features import LENGTH, RNA
from genotx.tasks.target_discovery.rna_splicing.io import SITES_SOURCE, read_sites

__all__ = ["all_candidate_sites", "site_vs_decoy"]


def all_candidate_sites() -> np.ndarray:
    """Every NNNGYNNNN 9-mer (32,768), as str, built from base-4 digits (no per-row loop).

    Examples
    --------
    >>> sites = all_candidate_sites()
    >>> len(sites), str(sites[0]), str(sites[-1])
    (32768, 'AAAGCAAAA', 'UUUGUUUUU')
    """
    free = [0, 1, 2, 5, 6, 7, 8]  # the 7 free positions; 3 is G, 4 is C or U
    codes = np.arange(4 ** len(free) * 2)
    digits = np.zeros((len(codes), LENGTH), dtype=np.uint8)
    digits[:, 4] = np.where(codes // 4 ** len(free) == 0, 1, 3)  # C, then U
    digits[:, 3] = 2  # G
    rest = codes % 4 ** len(free)
    for k, pos in enumerate(reversed(free)):  # 7 columns, each vectorised over all 9-mers
        digits[:, pos] = (rest // 4**k) % 4
    letters = np.frombuffer(RNA.encode(), dtype=np.uint8)[digits]
    return np.ascontiguousarray(letters).view(f"S{LENGTH}").ravel().astype(str)


def _auc(labels: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> dict:
    """AUROC and AUPR, optionally weighted; NaN when one class is missing."""
    if labels.min() == labels.max():
        return {"auroc": float("nan"), "aupr": float("nan")}
    if weight is None:
        return evaluate(["auroc", "aupr"], labels, pred)
    # the registry's metrics take no sample weights: the occurrence-weighted view asks scikit-learn with them
    return {
        "auroc": float(roc_auc_score(labels, pred, sample_weight=weight)),
        "aupr": float(average_precision_score(labels, pred, sample_weight=weight)),
    }


def site_vs_decoy(
    model, *, train_sequences: np.ndarray, seed: int = 0, sites: pd.DataFrame | None = None,
    measured: pd.Series | None = None,
) -> dict:
    """How well ``model``'s predicted PSI separates real hg38 5' splice sites from decoys (SEMI-SYNTHETIC).

    Only 9-mers absent from ``train_sequences`` are scored. Positives: the annotated site 9-mers,
    each weighted by its genomic ``count`` (so every annotated hg38 site counts once, as when sites
    are drawn from the genome). Decoys: non-site NNNGYNNNN 9-mers drawn without replacement (numpy
    ``default_rng(seed)``), as many as there are site 9-mers with GU and with GC at +1/+2, weighted so
    that both sides weigh the same and share the sites' GU/GC mix. ``auroc``/``aupr`` are these
    weighted scores. ``unique_9mers`` gives each distinct 9-mer weight one instead: about half of the
    distinct site 9-mers occur once in hg38 and splice no better than non-sites in the MPSA (even
    the measured PSI scores ~0.6 there), so that view is dominated by label noise; ``by_min_count``
    keeps only sites seen at least k times. ``measured`` (9-mer -> measured ``y``) adds, on the
    scored 9-mers that were measured, the same scores for the measurement itself: the view's ceiling.
    """
    if sites is None:
        sites = read_sites(source_files(SITES_SOURCE)["sites"])
    counts = sites.groupby("sequence")["count"].sum() if "count" in sites else pd.Series(1.0, index=pd.unique(sites["sequence"]))
    candidates_all = pd.Series(all_candidate_sites())
    pool = candidates_all[~candidates_all.isin(pd.unique(np.asarray(train_sequences)))].to_numpy(str)  # hashed, not O(n*m)
    pool_count = counts.reindex(pool).fillna(0).to_numpy(float)
    rng = np.random.default_rng(seed)
    chosen_sites, chosen_decoys, decoy_weight = [], [], []
    for letter in ("U", "C"):
        in_class = np.char.startswith(pool, "G" + letter, 3)
        positives = np.flatnonzero(in_class & (pool_count > 0))
        negatives = np.flatnonzero(in_class & (pool_count == 0))
        decoys = rng.choice(negatives, size=min(len(positives), len(negatives)), replace=False)
        chosen_sites.append(positives)
        chosen_decoys.append(decoys)
        decoy_weight.append(pool_count[positives].sum() / len(decoys) if len(decoys) else 0.0)  # class share
    n_sites, n_decoys = sum(map(len, chosen_sites)), sum(map(len, chosen_decoys))
    if n_sites == 0 or n_decoys == 0:
        return {"skipped": "no unseen sites or no decoys"}
    rows = np.concatenate(chosen_sites + chosen_decoys)
    labels = np.r_[np.ones(n_sites), np.zeros(n_decoys)]
    occurrences = pool_count[rows] * labels
    weight = np.r_[occurrences[:n_sites], np.repeat(decoy_weight, list(map(len, chosen_decoys)))]
    weight = weight * (n_decoys / occurrences.sum())  # both sides sum to n_decoys
    sequences = pool[rows]
    pred = np.asarray(model.predict(pd.DataFrame({"sequence": sequences})), dtype=float)
    out = {
        "kind": "semi-synthetic",
        **_auc(labels, pred, weight),
        "n_sites": n_sites, "n_decoys": n_decoys, "n_site_occurrences": int(occurrences.sum()),
        "unique_9mers": _auc(labels, pred),
        "by_min_count": {  # sites seen >= k times in hg38 vs all decoys, unweighted
            str(k): _auc(labels[(labels == 0) | (occurrences >= k)], pred[(labels == 0) | (occurrences >= k)])
            for k in (2, 10) if (occurrences >= k).any()
        },
        "decoys": "non-site NNNGYNNNN 9-mers absent from training, as many as the site 9-mers per +2 letter (GU/GC), "
        "seeded; weighted: sites by hg38 occurrence count, decoys to the same total and GU/GC mix",
    }
    if measured is not None:
        y = pd.Series(measured).reindex(sequences).to_numpy(float)
        ok = ~np.isnan(y)
        out["measured_psi_reference"] = {
            "n": int(ok.sum()),
            "model": _auc(labels[ok], pred[ok], weight[ok]),
            "measured_psi": _auc(labels[ok], y[ok], weight[ok]),
            "model_unique_9mers": _auc(labels[ok], pred[ok]),
            "measured_psi_unique_9mers": _auc(labels[ok], y[ok]),
        }
    return out

"""CpG methylation state: a CpG's neighbours' states and distances (+ CpG spacing) -> methylated or not.

Data: real whole-genome bisulfite sequencing of IMR90 fibroblasts (Lister et al. 2009), chromosome 22
(hg18), 494,728 CpGs x 2 replicates, as shipped in Bioconductor's ``bsseq`` (``BS.chr22``).

Label (replicate 1): a CpG with at least ``COVERAGE_FLOOR`` = 5 reads in replicate 1 is *methylated*
if its beta = M / Cov > 0.5 and *unmethylated* if beta < 0.5; CpGs with beta exactly 0.5 (2.5% of
covered CpGs) are undecidable and left out, as are CpGs below the coverage floor.

Inputs (imputation, never the CpG's own reads): the reads of its neighbours pooled over both
replicates (the CpG's own reads are excluded in *both* replicates): the 10 nearest observed CpGs on
each side (distance, beta, coverage), means of the k nearest, coverage- and distance-weighted betas,
read-pooled betas, coverage and fraction of low-beta CpGs in windows of 100 bp to 50 kb, and the
CpG spacing (distance to the nearest CpG sites, CpG counts in the windows). No hg18 reference ships
offline, so the spacing of CpG sites is the only "sequence context" available; no base-level
sequence is used. Neighbour features are computed within 1-Mb blocks of chr22.

Split: ``region_blocks`` holds out 20% of the 36 1-Mb blocks (whole blocks, seeded); neighbours never
cross a block, so no held-out read ever informs a training row. ``region_blocks_5fold`` tests every
block once. Because features are computed within a block, no gap between blocks is needed: a CpG
at a block edge simply has fewer neighbours. The protocol (:mod:`.protocol`) adds the replicate-
agreement ceiling to the details: the AUROC of replicate 2's own beta at the same CpG for replicate
1's label, on held-out CpGs covered in both replicates (an upper reference, not a model: it reads
the CpG's own state).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

from genotx.data.source import source_sha256
from genotx.evaluate.splits import ColdSplit
from genotx.featurize.transformer import Featurizer
from genotx.tasks.spec import Dataset, TaskSpec
from genotx.tasks.target_discovery.methylation_state.features import (
    KERNELS, NEIGHBOURS, PREFIX, TRIVIAL_K, WINDOWS, cached_neighbourhood_features, feature_columns, nearest10,
    neighbourhood_features,
)
from genotx.tasks.target_discovery.methylation_state.io import read_counts, read_input
from genotx.tasks.target_discovery.methylation_state.models import NeighbourMeanClassifier, lgbm_classifier
from genotx.tasks.target_discovery.methylation_state.protocol import MethylationState, replicate_ceiling

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "read_input", "format_predictions", "methylation_labels",
           "neighbourhood_features", "NeighbourMeanClassifier", "replicate_ceiling", "COVERAGE_FLOOR", "BLOCK_BP",
           "NEIGHBOURS", "WINDOWS", "KERNELS", "TRIVIAL_K", "PREFIX"]

SPEC = TaskSpec(
    name="methylation_state",
    number=2,
    stage="target_discovery",
    title="CpG methylation state",
    formulation="a CpG's neighbours' reads (beta, coverage, distance; both replicates, own reads excluded) "
    "+ CpG spacing -> methylated (beta > 0.5 at >= 5 reads) or not",
    protocol="supervised",
    target="binary",
    data_kind="real",
    sources=("bsseq_chr22_imr90",),
    splits=("region_blocks", "region_blocks_5fold"),
    metrics=("auroc", "aupr", "accuracy"),
    baselines=("lgbm", "lgbm_nearest10", "neighbour_mean"),
    trivial="neighbour_mean",
    data_note="Real WGBS (IMR90, chr22, hg18, 2 replicates). Labels derived from replicate 1 counts "
    "(>= 5 reads; beta > 0.5 methylated, < 0.5 unmethylated, = 0.5 dropped); ~85% of labelled CpGs "
    "are methylated, so accuracy is inflated. No reference sequence: 'context' is CpG spacing only.",
    citation="Lister et al. (2009) Nature 462:315; Angermueller et al. (2017) Genome Biol 18:67 (DeepCpG)",
)

BLOCK_BP = 1_000_000
COVERAGE_FLOOR = 5


def methylation_labels(m: np.ndarray, cov: np.ndarray, *, floor: int = COVERAGE_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Which CpGs get a label (>= ``floor`` reads, beta != 0.5) and the label (beta > 0.5) of those.

    Examples
    --------
    >>> keep, y = methylation_labels(np.array([5, 1, 3, 4, 9]), np.array([6, 6, 6, 4, 10]))
    >>> keep.tolist(), y.tolist()
    ([True, True, False, False, True], [1, 0, 1])
    """
    m, cov = np.asarray(m), np.asarray(cov)
    keep = (cov >= floor) & (2 * m != cov)
    return keep, (2 * m[keep] > cov[keep]).astype(np.int64)


def load(*, source: str = "bsseq_chr22_imr90") -> Dataset:
    """Labelled CpGs of replicate 1 with their neighbourhood features (cached by data content)."""
    counts = read_counts(source)
    position = counts["position"].to_numpy(np.int64)
    block = position // BLOCK_BP
    samples = [(counts["m1"], counts["cov1"]), (counts["m2"], counts["cov2"])]  # both replicates, own reads excluded
    data_id = sorted(source_sha256(source).items())
    matrix, names = cached_neighbourhood_features(position, samples, region=block, data_id=data_id)
    m1, cov1 = counts["m1"].to_numpy(), counts["cov1"].to_numpy()
    keep, target = methylation_labels(m1, cov1)
    inputs = pd.DataFrame(matrix[keep], columns=names)
    m2, cov2 = counts["m2"].to_numpy()[keep], counts["cov2"].to_numpy()[keep]
    groups = pd.DataFrame({
        "block": [f"chr22:{b}-{b + 1}Mb" for b in block[keep]],
        "position": position[keep],
        "coverage": cov1[keep],
        "replicate2_beta": np.where(cov2 > 0, m2 / np.maximum(cov2, 1), np.nan),
        "replicate2_coverage": cov2,
    })
    return Dataset("methylation_state", inputs, target, groups, meta={"sources": (source,), "data_kind": SPEC.data_kind},
                   context={"n_cpgs": len(counts)})


SPLITS = {
    "region_blocks": ColdSplit("block", test_size=0.2),
    "region_blocks_5fold": ColdSplit("block", n_folds=5),
}

MODELS = {
    "lgbm": lambda random_state=0: make_pipeline(Featurizer(feature_columns, cache=False), lgbm_classifier(random_state)),
    "lgbm_nearest10": lambda random_state=0: make_pipeline(Featurizer(nearest10, cache=False), lgbm_classifier(random_state)),
    "neighbour_mean": lambda random_state=0: NeighbourMeanClassifier(),
}

PROTOCOL = MethylationState(coverage_floor=COVERAGE_FLOOR)


# --- genotx predict: read_input (io.py) -> the cached model -> format_predictions ------------------
def format_predictions(frame: pd.DataFrame, estimator) -> pd.DataFrame:
    """``genotx predict`` output: chrom, position, methylated_reads, coverage, observed_beta (the
    CpG's own reads, for comparison only; never a model input) and ``probability_methylated``.

    The engine fits the model once on all labelled chr22 CpGs and caches it.
    """
    probability = estimator.predict_proba(frame)[:, 1]
    return frame[["chrom", "position", "methylated_reads", "coverage"]].assign(
        observed_beta=np.where(frame["coverage"] > 0, frame["methylated_reads"] / frame["coverage"].clip(lower=1), np.nan),
        probability_methylated=np.round(probability, 6),
    )

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
at a block edge simply has fewer neighbours. The ``details`` hook adds the replicate-agreement
ceiling: the AUROC of replicate 2's own beta at the same CpG for replicate 1's label, on held-out
CpGs covered in both replicates (an upper reference, not a model: it reads the CpG's own state).

Tried without gain on the ``region_blocks`` hold-out (AUROC of the default 0.899): separate
replicate-1 and replicate-2 neighbour sets beside the pooled one (0.899), 30/60 bp and 200 kb
windows, 20-neighbour means, 10 bp to 10 kb kernels and the spread of neighbour betas (0.898),
the k nearest regardless of side and the min/max of the two flanking betas (0.899), training on the
pooled-replicate beta of training CpGs as a soft target (0.898), 600 trees (0.898) and a more
regularised LightGBM (0.899). Read depth is not what limits it: the AUROC is no higher on CpGs
labelled from >= 20 reads (``auroc_by_label_coverage`` in the details). Without a reference
sequence the neighbours seem to be used up near 0.90.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from genotx.data.cache import cached_array
from genotx.data.formats.table import read_table
from genotx.data.source import source_files, source_sha256
from genotx.errors import InputError
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import ColdSplit
from genotx.tasks.target_discovery.methylation_state.features import cpg_neighbourhood
from genotx.featurize.transformer import Featurizer
from genotx.tasks.spec import Dataset, TaskSpec

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
NEIGHBOURS = 10  # observed CpGs kept on each side
WINDOWS = (100, 300, 1000, 3000, 10000, 50000)
KERNELS = (30, 100, 300, 1000)
TRIVIAL_K = 4  # neighbour_mean: mean beta of the 4 nearest observed CpGs
PREFIX = "n"  # neighbour features from reads pooled over the samples given
_FEATURE_VERSION = 1


def neighbourhood_features(position: np.ndarray, samples: list[tuple[np.ndarray, np.ndarray]], *, region: np.ndarray) -> pd.DataFrame:
    """Task features: the neighbourhood of each CpG from reads pooled over ``samples`` (own reads excluded)."""
    m = np.sum([np.asarray(s[0], dtype=np.int64) for s in samples], axis=0)
    cov = np.sum([np.asarray(s[1], dtype=np.int64) for s in samples], axis=0)
    return cpg_neighbourhood(position, {PREFIX: (m, cov)}, region=region, k=NEIGHBOURS, windows=WINDOWS, kernels=KERNELS)


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


def _counts(source: str) -> pd.DataFrame:
    files = source_files(source)
    if "counts" in files:
        return pd.read_parquet(files["counts"])
    from genotx.data.sources.methylation import bsseq_counts  # a local override pointing at the .rda

    return bsseq_counts(files["rda"])


def load(*, source: str = "bsseq_chr22_imr90") -> Dataset:
    """Labelled CpGs of replicate 1 with their neighbourhood features (cached by data content)."""
    counts = _counts(source)
    position = counts["position"].to_numpy(np.int64)
    block = position // BLOCK_BP
    digest = sorted(source_sha256(source).items())

    def compute() -> np.ndarray:
        frame = neighbourhood_features(position, [(counts["m1"], counts["cov1"]), (counts["m2"], counts["cov2"])], region=block)
        return frame.to_numpy(np.float32)

    names = list(neighbourhood_features(np.arange(3) * 10, [(np.ones(3), np.ones(3))], region=np.zeros(3)).columns)
    matrix = cached_array(("methylation_state", _FEATURE_VERSION, digest, NEIGHBOURS, WINDOWS, KERNELS, names), compute)
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
    return Dataset("methylation_state", inputs, target, groups,
                   meta={"sources": (source,), "data_kind": SPEC.data_kind, "n_cpgs": len(counts)})


def _feature_columns(frame: pd.DataFrame, *, nearest: int | None = None) -> np.ndarray:
    """All neighbourhood features, or only the ``nearest`` observed CpGs' distance/beta/coverage."""
    if nearest is None:
        columns = [c for c in frame.columns if c.startswith((f"{PREFIX}_", "site_"))]
    else:
        per_side = nearest // 2
        columns = [f"{PREFIX}_{side}{j}_{what}" for side in "ud" for j in range(1, per_side + 1) for what in ("dist", "beta", "cov")]
    return frame[columns].to_numpy(np.float32)


def _nearest10(frame: pd.DataFrame) -> np.ndarray:
    return _feature_columns(frame, nearest=10)


class NeighbourMeanClassifier(ClassifierMixin, BaseEstimator):
    """Score = a precomputed neighbour-mean column (mean beta of the k nearest observed CpGs).

    Nothing is learned but the training base rate, used where a CpG has no observed neighbour.
    """

    def __init__(self, *, column: str = f"{PREFIX}_mean{TRIVIAL_K}") -> None:
        self.column = column

    def fit(self, X: pd.DataFrame, y):
        y = np.asarray(y)
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(np.mean(y == 1))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "base_rate_")
        if self.column not in X:
            raise InputError("NeighbourMeanClassifier", f"input has no column {self.column!r}", fix="pass neighbourhood features")
        p = np.nan_to_num(X[self.column].to_numpy(np.float64), nan=self.base_rate_)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)


def _lgbm(random_state: int, *, n_estimators: int = 300) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        n_estimators=n_estimators, learning_rate=0.05, num_leaves=63, min_child_samples=50, subsample=0.5,
        subsample_freq=1, colsample_bytree=0.5, max_bin=63, random_state=random_state, n_jobs=2, verbose=-1,
    )


SPLITS = {
    "region_blocks": ColdSplit("block", test_size=0.2),
    "region_blocks_5fold": ColdSplit("block", n_folds=5),
}

MODELS = {
    "lgbm": lambda random_state=0: make_pipeline(Featurizer(_feature_columns, cache=False), _lgbm(random_state)),
    "lgbm_nearest10": lambda random_state=0: make_pipeline(Featurizer(_nearest10, cache=False), _lgbm(random_state)),
    "neighbour_mean": lambda random_state=0: NeighbourMeanClassifier(),
}


def replicate_ceiling(groups: pd.DataFrame, target: np.ndarray, *, min_coverage: int = 1) -> dict[str, float]:
    """AUROC of replicate 2's own beta for replicate 1's label, on CpGs with replicate-2 reads."""
    both = groups["replicate2_coverage"].to_numpy() >= min_coverage
    if both.sum() == 0 or len(np.unique(target[both])) < 2:
        return {"auroc": float("nan"), "n": int(both.sum())}
    return {"auroc": float(roc_auc_score(target[both], groups["replicate2_beta"].to_numpy()[both])), "n": int(both.sum())}


def _auroc_by_coverage(tested: pd.DataFrame, target: np.ndarray) -> dict[str, dict[str, float]]:
    """Model AUROC on held-out CpGs by replicate-1 read depth: deeper labels are less noisy."""
    depth = tested["coverage"].to_numpy()
    score = tested["y_pred"].to_numpy()
    out = {}
    for name, rows in (("5-9", depth < 10), ("10-19", (depth >= 10) & (depth < 20)), (">=20", depth >= 20)):
        ok = rows.sum() > 0 and len(np.unique(target[rows])) == 2
        out[name] = {"auroc": float(roc_auc_score(target[rows], score[rows])) if ok else float("nan"), "n": int(rows.sum())}
    return out


def details(dataset: Dataset, outcome: Outcome, *, split: str, model: str, seed: int, **_) -> dict:  # noqa: ARG001 - hook signature
    """The replicate-agreement ceiling on the same held-out CpGs (the engine's ``details`` hook).

    The supervised protocol's ``outcome.predictions`` carries the ``groups`` columns of every tested
    CpG (replicate 2's beta and coverage among them), so no refit is needed.
    """
    tested = outcome.predictions
    target = tested["y_true"].to_numpy().astype(np.int64)
    everywhere = replicate_ceiling(tested, target)
    return {
        "replicate_ceiling_auroc": everywhere["auroc"],
        "replicate_ceiling_auroc_rep2_cov5": replicate_ceiling(tested, target, min_coverage=COVERAGE_FLOOR)["auroc"],
        "replicate_ceiling_n": everywhere["n"],
        "replicate_ceiling_auroc_per_fold": {
            str(name): replicate_ceiling(part, part["y_true"].to_numpy().astype(np.int64))["auroc"]
            for name, part in tested.groupby("fold", sort=True)
        },
        "auroc_by_label_coverage": _auroc_by_coverage(tested, target),
        "methylated_fraction_test": float(target.mean()),
        "n_test_blocks": int(tested["block"].nunique()),
        "label": f"replicate 1, >= {COVERAGE_FLOOR} reads, beta > 0.5 vs < 0.5 (0.5 dropped)",
    }


# --- a user's file --------------------------------------------------------------------------------

_ALIASES = {
    "position": ("pos", "start", "coordinate"),
    "methylated_reads": ("methylated", "m", "M", "count_methylated", "meth"),
    "coverage": ("cov", "Cov", "total_reads", "total", "depth"),
    "chrom": ("chr", "chromosome", "seqnames", "region"),
}
_OPTIONAL = ("chrom", "methylated_reads_2", "coverage_2")


def _read_bismark(path: Path) -> pd.DataFrame:
    """A Bismark coverage file: chrom, start, end, % methylated, count methylated, count unmethylated."""
    try:
        raw = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"cannot parse as a Bismark coverage file ({err})", fix="save it as tab-separated text") from None
    if raw.shape[1] != 6:
        raise InputError(str(path), f"a Bismark coverage file has 6 tab-separated columns, found {raw.shape[1]}", line=1,
                         fix="give chrom, start, end, percent, count_methylated, count_unmethylated, or a CSV with a header")
    values = raw[[1, 4, 5]].apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = values.isna().any(axis=1).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(str(path), f"non-numeric start or counts {raw.iloc[row, [1, 4, 5]].tolist()}", line=row + 1, fix="write integers there")
    return pd.DataFrame({"chrom": raw[0].str.strip(), "position": values[1], "methylated_reads": values[4],
                         "coverage": values[4] + values[5]})


def _refuse(bad: pd.Series, where: str, line_offset: int, problem: str, fix: str) -> None:
    """Raise naming the first line where the vectorised check ``bad`` is true."""
    bad = bad.to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(where, problem, line=row + line_offset, fix=fix)


def _is_headerless(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline().rstrip("\n").split("\t")
    return len(first) == 6 and all(f.strip().lstrip("-").replace(".", "", 1).isdigit() for f in first[1:])


def read_input(path: str | Path) -> pd.DataFrame:
    """A region's CpGs -> model inputs (the raw columns plus neighbourhood features).

    Accepted: a CSV (or TSV by extension) with a header and columns ``position``,
    ``methylated_reads``, ``coverage`` (aliases ``pos``/``start``, ``m``/``methylated``,
    ``cov``/``total_reads``), optional ``chrom`` (neighbours never cross chromosomes) and optional
    ``methylated_reads_2``/``coverage_2`` for a second replicate (reads are pooled, as in training);
    or a Bismark ``.cov`` file (no header, 6 tab-separated columns). Every CpG gets a prediction
    from its neighbours' reads only; its own reads are never used. Give all CpGs of the region, also
    those with no reads (coverage 0), so that CpG spacing is right.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError(where, "file not found", fix="check the path")
    headerless = _is_headerless(path)
    if headerless:
        frame = _read_bismark(path)
    else:
        numeric = ("position", "methylated_reads", "coverage", "methylated_reads_2", "coverage_2")
        frame = read_table(path, required=("position", "methylated_reads", "coverage"), optional=_OPTIONAL,
                           numeric=numeric, aliases=_ALIASES)
    has_second = "methylated_reads_2" in frame and "coverage_2" in frame
    if ("methylated_reads_2" in frame) != ("coverage_2" in frame):
        raise InputError(where, "gives only one of methylated_reads_2 / coverage_2", line=1, fix="give both or neither")
    counts = ["methylated_reads", "coverage"] + (["methylated_reads_2", "coverage_2"] if has_second else [])
    line_offset = 1 if headerless else 2  # a header occupies line 1
    for column in ["position", *counts]:
        values = frame[column]
        bad = ~(values.notna() & (values >= 0) & (values == np.floor(values)))
        first = frame.loc[bad.to_numpy(), column].head(1).tolist()
        _refuse(bad, where, line_offset, f"column {column!r} value {first[0] if first else ''!r} is not a non-negative integer",
                "write a whole number of bp / reads (0 for a CpG without reads)")
    _refuse(frame["position"] >= 2**32, where, line_offset, "position is too large", "give a bp coordinate")
    pairs = [("methylated_reads", "coverage")] + ([("methylated_reads_2", "coverage_2")] if has_second else [])
    for m_col, cov_col in pairs:
        _refuse(frame[m_col] > frame[cov_col], where, line_offset, f"{m_col} exceeds {cov_col}",
                "methylated reads cannot exceed the total reads")
    if "chrom" not in frame:
        frame.insert(0, "chrom", "region")
    frame["chrom"] = frame["chrom"].astype(str).str.strip()
    _refuse(frame.duplicated(["chrom", "position"]), where, line_offset, "this chrom/position appeared on an earlier line",
            "give each CpG once (combine the two strands into one row per CpG)")
    frame[["position", *counts]] = frame[["position", *counts]].astype(np.int64)
    samples = [(frame["methylated_reads"], frame["coverage"])]
    if has_second:
        samples.append((frame["methylated_reads_2"], frame["coverage_2"]))
    features = neighbourhood_features(frame["position"].to_numpy(), samples, region=frame["chrom"].to_numpy())
    raw = frame[["chrom", "position", *counts]].reset_index(drop=True)
    return pd.concat([raw, features], axis=1)


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

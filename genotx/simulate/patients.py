"""Simulated rare-disease patients: HPO terms drawn from a disease's real annotations, seeded.

Two simulators: :func:`simulate_patients` (Koehler et al. 2009: terms drawn by annotated frequency,
some replaced by a parent, random noise terms) and :func:`simulate_clinical_patients` (harder,
clinician-style: few terms, no frequencies, ancestors, siblings, a related disease's terms, and
common findings the annotations do not reach).

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

__all__ = ["simulate_patients", "simulate_clinical_patients", "SAMPLINGS", "NOISE_BRANCHES"]

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


#: where clinician-style noise terms come from besides the whole phenotypic-abnormality subtree:
#: biochemical findings (abnormality of metabolism/homeostasis) and hair findings, the kinds of terms
#: a clinician records that disease annotations often lack
NOISE_BRANCHES = ("HP:0001939", "HP:0001595")


def _neighbours(kb: DiseaseKnowledge, diseases: np.ndarray) -> np.ndarray:
    """For each disease, its closest other disease: among the diseases sharing a gene with it when
    there are some (allelic disorders, contiguous deletions), else among all; closeness = cosine of
    IC-weighted propagated annotations."""
    from scipy import sparse

    weighted = (kb.propagated.tocsr().astype(np.float32) @ sparse.diags(kb.ic.astype(np.float32))).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    sim = (weighted[diseases] @ weighted.T).toarray() / np.maximum(norms[diseases, None] * norms[None, :], 1e-12)
    sim[np.arange(len(diseases)), diseases] = -np.inf
    genes = kb.genes.astype(np.float32)
    shares = (genes[diseases] @ genes.T).toarray() > 0
    shares[np.arange(len(diseases)), diseases] = False
    sim = np.where(shares.any(axis=1, keepdims=True) & ~shares, sim - 10.0, sim)  # gene-sharing diseases first
    return sim.argmax(axis=1)


def simulate_clinical_patients(
    kb: DiseaseKnowledge,
    diseases: np.ndarray,
    *,
    n_per_disease: int,
    n_terms: tuple[int, int] = (3, 6),
    ancestor: float = 0.25,
    sibling: float = 0.2,
    neighbour: float = 0.1,
    noise: tuple[int, int] = (1, 2),
    noise_branches: tuple[str, ...] = NOISE_BRANCHES,
    random_state: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Clinician-style patients of ``diseases``: few terms, vaguer or related terms, findings the
    annotations do not reach. Returns (term indices per patient, disease index per patient).

    Per patient: ``n_terms`` (uniform between the two bounds, at most the disease's number of
    annotations) of the disease's direct annotations drawn uniformly: annotated frequencies are NOT
    used, so a frequency-aware ranker gets no help from the simulator. Each term is then, with these
    probabilities: taken instead from the disease's closest neighbour (``neighbour``: a disease
    sharing a gene, else the most similar one; how textbook presentations blend related syndromes);
    replaced by an ancestor one or two levels up (``ancestor``), never as vague as an organ system
    or the phenotypic-abnormality root; or replaced by a sibling (``sibling``: another child of one
    of its parents). Then ``noise`` terms (uniform between the bounds) the disease's annotations do
    not reach (neither an annotation, its ancestor nor its descendant) are added, half from
    ``noise_branches`` (biochemical and hair findings) and half from the whole
    phenotypic-abnormality subtree, each drawn in proportion to how many diseases are annotated
    with it (the terms clinicians commonly use). Seeded; nothing is written.

    Examples
    --------
    >>> import pandas as pd
    >>> from genotx.bio.phenotypes import DiseaseKnowledge
    >>> from genotx.data.formats.hpo import parse_obo
    >>> onto = parse_obo("[Term]\\nid: HP:0000118\\n\\n[Term]\\nid: HP:9\\nis_a: HP:0000118\\n\\n[Term]\\nid: HP:1\\n"
    ...     "is_a: HP:9\\n\\n[Term]\\nid: HP:2\\nis_a: HP:9\\n\\n[Term]\\nid: HP:3\\nis_a: HP:9\\n")
    >>> kb = DiseaseKnowledge.build(onto, pd.DataFrame({"disease_id": ["OMIM:1", "OMIM:1", "OMIM:2"], "disease_name": "a",
    ...     "hpo_id": ["HP:1", "HP:2", "HP:3"], "negated": False, "frequency": [1.0, 0.01, 1.0], "aspect": "P"}))
    >>> patients, disease = simulate_clinical_patients(kb, [0], n_per_disease=2, n_terms=(2, 2), ancestor=0, sibling=0,
    ...                                                neighbour=0, noise=(1, 1), noise_branches=(), random_state=0)
    >>> [onto.ids[p].tolist() for p in patients], disease.tolist()  # a 1% annotation is as likely as a 100% one
    ([['HP:1', 'HP:2', 'HP:3'], ['HP:1', 'HP:2', 'HP:3']], [0, 0])
    """
    low, high = n_terms
    if not 1 <= low <= high or min(ancestor, sibling, neighbour) < 0 or ancestor + sibling + neighbour > 1 or not 0 <= noise[0] <= noise[1]:
        raise InputError("simulate_clinical_patients", f"n_terms={n_terms}, ancestor={ancestor}, sibling={sibling}, "
                         f"neighbour={neighbour}, noise={noise}", fix="1 <= n_terms[0] <= n_terms[1]; probabilities >= 0 summing to <= 1")
    rng = np.random.default_rng(random_state)
    onto = kb.ontology
    diseases = np.asarray(diseases, dtype=np.int64)
    parents, children = onto.parents.tocsr(), onto.parents.T.tocsr()
    pa = onto.encode([PHENOTYPIC_ABNORMALITY])
    too_general = np.zeros(len(onto), bool)
    too_general[np.flatnonzero(np.diff(parents.indptr) == 0)] = True  # roots
    too_general[pa] = True
    too_general[children[pa].indices] = True  # organ-system level
    prevalence = np.bincount(kb.annotations.indices, minlength=len(onto)).astype(float)
    in_pa = np.zeros(len(onto), bool)
    in_pa[onto.descendants(PHENOTYPIC_ABNORMALITY)] = True
    usable = in_pa & ~too_general & (prevalence > 0)
    pools = [np.flatnonzero(usable)] if usable.any() else []
    branch = np.zeros(len(onto), bool)
    for term in noise_branches:
        if onto.index([term])[0] >= 0:  # a branch the ontology lacks adds nothing
            branch[onto.descendants(term)] = True
    if (branch & usable).any():
        pools.append(np.flatnonzero(branch & usable))
    weights = [prevalence[p] / prevalence[p].sum() for p in pools]
    near = _neighbours(kb, diseases) if neighbour > 0 else diseases
    ancestors = onto.ancestors
    propagated = kb.propagated.tocsr()
    patients, disease_of = [], []
    for d, nb in zip(diseases, near):
        own = kb.annotations[d].indices
        reached = set(propagated[d].indices)
        other = kb.annotations[nb].indices
        for _ in range(n_per_disease):
            k = min(int(rng.integers(low, high + 1)), len(own))
            terms = []
            for term in rng.choice(own, size=k, replace=False):
                u = rng.random()
                if u < neighbour and len(other):
                    term = int(rng.choice(other))
                elif u < neighbour + ancestor:
                    for _step in range(int(rng.integers(1, 3))):
                        up = parents[term].indices
                        up = up[~too_general[up]]
                        if not len(up):
                            break
                        term = int(rng.choice(up))
                elif u < neighbour + ancestor + sibling:
                    up = parents[term].indices
                    up = up[~too_general[up]]
                    if len(up):
                        kin = children[int(rng.choice(up))].indices
                        kin = kin[kin != term]
                        term = int(rng.choice(kin)) if len(kin) else term
                terms.append(int(term))
            for i in range(int(rng.integers(noise[0], noise[1] + 1)) if pools else 0):
                pool, weight = pools[i % len(pools)], weights[i % len(pools)]
                for _try in range(50):  # a term the disease's annotations do not reach, up or down
                    pick = int(rng.choice(pool, p=weight))
                    if pick not in reached and not np.isin(ancestors[pick].indices, own).any():
                        terms.append(pick)
                        break
            patients.append(np.unique(np.asarray(terms, dtype=np.int64)))
            disease_of.append(d)
    return patients, np.asarray(disease_of, dtype=np.int64)

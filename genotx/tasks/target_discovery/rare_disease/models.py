"""Phenotype-driven disease ranking: ontology semantic similarity and a learned re-ranker.

Inputs
------
* patients as a DataFrame with a column ``hpo_terms`` (HPO ids joined by ``;``), or as a list of
  integer term-index arrays;
* the diseases to rank: a :class:`~genotx.bio.phenotypes.DiseaseKnowledge` named by the
  estimators' ``knowledge`` parameter (``"auto"``: the namespace of the disease ids in ``y``;
  ``"OMIM"`` / ``"ORPHA"``; or a knowledge base object), resolved at ``fit`` and cached in memory.

Every ranker follows the ranking protocol's contract: ``fit(X, y)`` (``y`` = true disease ids),
``decision_function(X)`` -> a dense ``(n_patients, n_diseases)`` float32 array and ``classes_`` = the
disease ids of its columns. Scores are computed with sparse matrix operations over all diseases at once:

* ``resnik``: Resnik similarity (information content of the most informative common ancestor),
  best match from each patient term to the disease, averaged over patient terms (Phenomizer's
  patient -> disease direction);
* ``bma``: the symmetric best-match average of both directions;
* ``robust``: the patient -> disease direction with the worst-matching third of the patient's terms
  left out, plus half the disease -> patient direction, ties broken by the cosine (:func:`robust_scores`);
* ``tfidf``: cosine of IC-weighted, ancestor-propagated term vectors;
* ``likelihood``: mean log annotated frequency of the patient's terms in the disease (frequency-aware);
* ``random``: a seeded random ranker (the floor).

:class:`LearnedRanker` re-ranks the top candidates (of Resnik + cosine + likelihood, or of ``robust``
with ``features="robust"``) with a LightGBM LambdaRank model over per-(patient, disease) features,
trained on patients with known diagnoses. Every score reads annotations through the true-path rule
(a disease annotated with a term has all its ancestors: ``DiseaseKnowledge.propagated``); ``merged=True``
adds the annotations of the disease's mapped ORPHA/OMIM counterpart. Ties: the task's metrics and
predict's ``rank`` column give tied diseases the average of their ranks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from genotx.bio.phenotypes import NAMESPACES, DiseaseKnowledge, encode_patients, knowledge, namespace_of, patient_term_matrix
from genotx.data.formats.hpo import Ontology
from genotx.errors import InputError

__all__ = ["best_match", "resnik_scores", "robust_scores", "robust_parts", "cosine_scores", "likelihood_scores",
           "SimilarityRanker", "LearnedRanker", "SCORERS"]


def _as_patients(X, ontology: Ontology) -> list[np.ndarray]:
    if isinstance(X, pd.DataFrame):
        if "hpo_terms" not in X:
            raise InputError("patients", "needs a column 'hpo_terms'", fix="give HPO ids joined by ';' per patient")
        return encode_patients(X["hpo_terms"], ontology)
    return [np.asarray(p, dtype=np.int64) for p in X]


def _padded_max(indicator: np.ndarray, column: np.ndarray, kb: DiseaseKnowledge, terms: np.ndarray, *, batch: int = 256) -> np.ndarray:
    """For each term: max over its ancestors a of IC(a) * indicator[:, column[a]] -> (len(terms), rows).

    ``indicator`` is a Fortran-ordered bool matrix whose last column is all False (``column`` maps
    terms without a column there). Terms are batched by their number of ancestors; each step is
    one column gather over all rows.
    """
    terms = np.asarray(terms, dtype=np.int64)
    sub = kb.ontology.ancestors[terms]
    n_anc = np.diff(sub.indptr)
    out = np.zeros((len(terms), indicator.shape[0]), np.float32)
    order = np.argsort(n_anc, kind="stable")
    dummy = indicator.shape[1] - 1
    for start in range(0, len(terms), batch):
        rows = order[start : start + batch]
        width = int(n_anc[rows].max()) if len(rows) else 0
        pos = np.arange(width)[None, :] < n_anc[rows][:, None]
        starts = np.repeat(sub.indptr[rows], n_anc[rows])
        flat = starts + (np.arange(pos.sum()) - np.repeat(np.cumsum(n_anc[rows]) - n_anc[rows], n_anc[rows]))
        cols = np.full((len(rows), width), dummy, np.int64)
        weight = np.zeros((len(rows), width), np.float32)
        cols[pos] = column[sub.indices[flat]]
        weight[pos] = kb.ic[sub.indices[flat]]
        acc = np.zeros((indicator.shape[0], len(rows)), np.float32)
        for j in range(width):
            np.maximum(acc, indicator[:, cols[:, j]] * weight[:, j], out=acc)
        out[rows] = acc.T
    return out


def best_match(kb: DiseaseKnowledge, terms: np.ndarray) -> np.ndarray:
    """Resnik best match of each term against each disease: (len(terms), n_diseases) float32.

    ``out[i, d]`` = max over the ancestors ``a`` of ``terms[i]`` annotated (with propagation) to ``d``
    of IC(a), i.e. the similarity of the term's most informative common ancestor with the disease.
    Read from the ancestors' sparse columns of the propagated annotations (no dense disease x term
    matrix: faster for one patient and for a chunk of hundreds of terms alike).
    """
    terms = np.asarray(terms, dtype=np.int64)
    out = np.zeros((len(terms), len(kb.disease_ids)), np.float32)
    columns, ancestors = kb.propagated, kb.ontology.ancestors
    for i, term in enumerate(terms):
        for a in ancestors.indices[ancestors.indptr[term] : ancestors.indptr[term + 1]]:
            rows = columns.indices[columns.indptr[a] : columns.indptr[a + 1]]
            out[i, rows] = np.maximum(out[i, rows], np.float32(kb.ic[a]))
    return out


def _disease_to_patient(kb: DiseaseKnowledge) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(D x used-terms matrix of 1/n annotations of each disease's direct annotations, the used terms)."""
    used = np.unique(kb.annotations.indices)
    direct = kb.annotations[:, used].astype(bool).astype(np.float32)
    return (sparse.diags(1.0 / np.maximum(np.diff(direct.indptr), 1)) @ direct).tocsr(), used


def _d2p_chunk(kb: DiseaseKnowledge, part: list[np.ndarray], direct: sparse.csr_matrix, used: np.ndarray) -> np.ndarray:
    """Disease -> patient direction for a chunk: mean over each disease's direct annotations of their
    best match (IC of the most informative common ancestor) among the patient's terms: (len(part), D)."""
    indicator = np.zeros((len(part), len(kb.ic) + 1), dtype=bool, order="F")
    indicator[:, :-1] = patient_term_matrix(kb, part).toarray().astype(bool)
    s = _padded_max(indicator, np.arange(len(kb.ic)), kb, used)  # (n_used_terms, n_part)
    return (direct @ s).T


def resnik_scores(kb: DiseaseKnowledge, patients: list[np.ndarray], *, symmetric: bool = False, chunk: int = 128) -> np.ndarray:
    """Resnik best-match scores of every disease for each patient: (n_patients, n_diseases).

    Patient -> disease: mean over patient terms q of max over ancestors a of q annotated (with
    propagation) to the disease of IC(a) (Phenomizer's direction). ``symmetric`` averages it with
    the disease -> patient direction (mean over the disease's direct annotations of their best match
    among the patient's terms). Terms shared by the patients of a chunk are scored once.
    """
    out = np.zeros((len(patients), len(kb.disease_ids)), dtype=np.float32)
    if symmetric:
        direct, used = _disease_to_patient(kb)
    for start in range(0, len(patients), chunk):
        part = patients[start : start + chunk]
        mean, unique = _mean_matrix(part)
        score = mean @ best_match(kb, unique)
        if symmetric:
            score = 0.5 * (score + _d2p_chunk(kb, part, direct, used))
        out[start : start + chunk] = score
    return out


def robust_parts(kb: DiseaseKnowledge, patients: list[np.ndarray], *, trim: float = 1 / 3,
                 chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(trimmed patient -> disease Resnik, disease -> patient Resnik), each (n_patients, n_diseases).

    Trimmed: for each disease, the patient's ``round(trim * n_terms)`` worst-matching terms are
    left out of the mean (patients with 3 terms or more): a finding the disease's annotations do
    not reach (a biochemical or hair finding, a term of another organ) then costs the true disease
    nothing, instead of handing a boost to every disease that happens to explain it.
    Disease -> patient: how much of the disease's own annotations the patient shows, which tells
    a disease from a larger neighbour (a contiguous deletion, a broader syndrome) matching the same terms.
    """
    trimmed = np.zeros((len(patients), len(kb.disease_ids)), dtype=np.float32)
    d2p = np.zeros_like(trimmed)
    direct, used = _disease_to_patient(kb)
    for start in range(0, len(patients), chunk):
        part = patients[start : start + chunk]
        unique, inverse = np.unique(np.concatenate(part), return_inverse=True)
        matches = best_match(kb, unique)
        ends = np.cumsum([len(p) for p in part])
        for i, (stop, terms) in enumerate(zip(ends, part)):
            k = len(terms)
            keep = k - int(np.floor(trim * k + 0.5)) if k >= 3 else k
            rows = matches[inverse[stop - k : stop]]
            trimmed[start + i] = -np.sort(-rows, axis=0)[:keep].mean(axis=0) if keep < k else rows.mean(axis=0)
        d2p[start : start + chunk] = _d2p_chunk(kb, part, direct, used)
    return trimmed, d2p


def robust_scores(kb: DiseaseKnowledge, patients: list[np.ndarray], *, trim: float = 1 / 3, d2p_weight: float = 0.5,
                  tie_break: float = 1e-4) -> np.ndarray:
    """Trimmed patient -> disease Resnik + ``d2p_weight`` x disease -> patient Resnik (:func:`robust_parts`),
    ties broken by the TF-IDF cosine (``tie_break`` x a value in [0, 1]: only near-equal scores are reordered).

    The weights (trim a third, half the disease -> patient direction) were chosen on a pilot
    clinician-style simulation (another patient seed) among trimming 1/5, 1/4, 1/3 and weights 0.5 and 1.
    """
    trimmed, d2p = robust_parts(kb, patients, trim=trim)
    return trimmed + d2p_weight * d2p + tie_break * cosine_scores(kb, patients)


def _frequency_propagated(kb: DiseaseKnowledge) -> sparse.csc_matrix:
    """D x T: summed frequency of each term's annotated descendants (itself included), capped at 1."""
    cached = kb.__dict__.get("_freq_cache")
    if cached is None:
        cached = (kb.annotations @ kb.ontology.ancestors.astype(np.float32)).tocsc()
        cached.data = np.minimum(cached.data, 1.0)
        object.__setattr__(kb, "_freq_cache", cached)
    return cached


def _mean_matrix(part: list[np.ndarray]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(patients x unique terms matrix of 1/n_terms, unique terms) for a chunk of patients."""
    unique, inverse = np.unique(np.concatenate(part), return_inverse=True)
    rows = np.repeat(np.arange(len(part)), [len(p) for p in part])
    weights = np.concatenate([np.full(len(p), 1.0 / len(p), np.float32) for p in part])
    return sparse.csr_matrix((weights, (rows, inverse)), shape=(len(part), len(unique))), unique


def likelihood_scores(kb: DiseaseKnowledge, patients: list[np.ndarray], *, floor: float = 0.01, chunk: int = 128) -> np.ndarray:
    """Mean over patient terms of log(frequency of the term in the disease + ``floor``).

    A term's frequency in a disease is the summed frequency of its annotated descendants (capped at
    1); terms the disease lacks get ``log(floor)``. Frequency-aware, unlike the similarity scores.
    """
    freq = _frequency_propagated(kb)
    out = np.zeros((len(patients), len(kb.disease_ids)), dtype=np.float32)
    for start in range(0, len(patients), chunk):
        mean, unique = _mean_matrix(patients[start : start + chunk])
        out[start : start + chunk] = mean @ np.log(freq[:, unique].toarray().T + floor)
    return out


def _l2_rows(m: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ m


def cosine_scores(kb: DiseaseKnowledge, patients: list[np.ndarray], *, chunk: int = 512) -> np.ndarray:
    """Cosine of IC-weighted (TF-IDF-like), ancestor-propagated term vectors: (n_patients, n_diseases)."""
    weight = sparse.diags(kb.ic.astype(np.float32))
    diseases = kb.__dict__.get("_cosine_cache")
    if diseases is None:
        diseases = _l2_rows((kb.propagated.tocsr().astype(np.float32) @ weight).tocsr())
        object.__setattr__(kb, "_cosine_cache", diseases)
    queries = _l2_rows((patient_term_matrix(kb, patients) @ weight).tocsr())
    out = np.zeros((len(patients), len(kb.disease_ids)), dtype=np.float32)
    for start in range(0, len(patients), chunk):
        out[start : start + chunk] = (diseases @ queries[start : start + chunk].T.toarray()).T
    return out


def _random_scores(kb: DiseaseKnowledge, patients: list[np.ndarray], *, random_state: int) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    return rng.random((len(patients), len(kb.disease_ids)), dtype=np.float32)


SCORERS = {
    "resnik": lambda kb, p, rs: resnik_scores(kb, p),
    "bma": lambda kb, p, rs: resnik_scores(kb, p, symmetric=True),
    "robust": lambda kb, p, rs: robust_scores(kb, p),
    "tfidf": lambda kb, p, rs: cosine_scores(kb, p),
    "likelihood": lambda kb, p, rs: likelihood_scores(kb, p),
    "random": lambda kb, p, rs: _random_scores(kb, p, random_state=rs),
}


class _RankerMixin:
    """What every ranker shares: its knowledge base (the ``knowledge`` parameter, resolved at
    ``fit``) and ``classes_``."""

    def _fit_knowledge(self, y) -> DiseaseKnowledge:
        """Resolve ``self.knowledge`` into ``namespace_`` (None for a knowledge base object) and ``classes_``."""
        spec = self.knowledge
        if isinstance(spec, DiseaseKnowledge):
            self.namespace_ = None
        elif spec == "auto":
            if y is None:
                raise InputError(type(self).__name__, "knowledge='auto' reads the disease namespace from y, and y is None",
                                 fix=f"pass y (disease ids) or knowledge= one of {list(NAMESPACES)}")
            self.namespace_ = namespace_of(y, where=f"{type(self).__name__}.fit(y)")
        elif spec in NAMESPACES:
            self.namespace_ = spec
        else:
            raise InputError(type(self).__name__, f"knowledge={spec!r} is not a disease knowledge base",
                             fix=f"use 'auto', one of {list(NAMESPACES)} or a DiseaseKnowledge")
        return self.knowledge_

    @property
    def classes_(self) -> np.ndarray:
        """The candidate disease ids (the knowledge base's; never stored in the fitted model's file)."""
        return self.knowledge_.disease_ids

    @property
    def knowledge_(self) -> DiseaseKnowledge:
        """The fitted knowledge base (built once per process per namespace, never pickled with the model)."""
        check_is_fitted(self, "namespace_")
        if self.namespace_ is None:
            return self.knowledge
        return knowledge(self.namespace_, merged=True) if getattr(self, "merged", False) else knowledge(self.namespace_)


class SimilarityRanker(_RankerMixin, BaseEstimator):
    """Rank diseases by a semantic-similarity score (no training beyond the knowledge base).

    Parameters
    ----------
    method : {"resnik", "bma", "robust", "tfidf", "likelihood", "random"}
    knowledge : "auto" (the namespace of ``y``), "OMIM", "ORPHA" or a DiseaseKnowledge.
    merged : bool, each disease also carries the annotations of the disease of the other namespace
        it maps to (OMIM <-> ORPHA, :func:`genotx.bio.phenotypes.namespace_map`); a named namespace only.
    random_state : int, used by ``random`` only.
    """

    def __init__(self, *, method: str = "resnik", knowledge: str | DiseaseKnowledge = "auto", merged: bool = False,
                 random_state: int = 0) -> None:
        self.method = method
        self.knowledge = knowledge
        self.merged = merged
        self.random_state = random_state

    def fit(self, X=None, y=None):  # noqa: ARG002 - nothing to learn from patients beyond the namespace of y
        if self.method not in SCORERS:
            raise InputError("SimilarityRanker", f"unknown method {self.method!r}", fix=f"use one of {sorted(SCORERS)}")
        self._fit_knowledge(y)
        return self

    def decision_function(self, X) -> np.ndarray:
        kb = self.knowledge_
        return SCORERS[self.method](kb, _as_patients(X, kb.ontology), self.random_state)


def _pair_features(kb: DiseaseKnowledge, patients: list[np.ndarray], candidates: np.ndarray,
                   p2d_all: np.ndarray, cos_all: np.ndarray, extra: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """Features of (patient, candidate disease) pairs: (n_patients, n_candidates, n_features).

    ``extra``: more (n_patients, n_diseases) scores, each added raw and relative to the best candidate."""
    n, c = candidates.shape
    cos = np.take_along_axis(cos_all, candidates, axis=1)
    p2d = np.take_along_axis(p2d_all, candidates, axis=1)
    bma = _bma_of(kb, patients, candidates, p2d)
    n_terms = np.diff(kb.annotations.indptr)[candidates]
    # frequency of each patient term in each candidate (sum of its annotated descendants' frequencies, capped at 1)
    freq_prop = _frequency_propagated(kb).tocsr()
    sizes = np.array([len(p) for p in patients])
    pair_rows = np.repeat(candidates.ravel(), np.repeat(sizes, c))
    pair_terms = np.concatenate([np.tile(p, c) for p in patients])
    f = np.asarray(freq_prop[pair_rows, pair_terms]).ravel()
    owner = np.repeat(np.arange(n * c), np.repeat(sizes, c))
    count = np.repeat(sizes, c).astype(np.float32)
    matched = np.bincount(owner, weights=f > 0, minlength=n * c).reshape(n, c) / count.reshape(n, c)
    loglik = np.bincount(owner, weights=np.log(f + 0.01), minlength=n * c).reshape(n, c) / count.reshape(n, c)
    mean_ic = np.array([kb.ic[p].mean() for p in patients], np.float32)[:, None]
    rank = np.tile(np.log1p(np.arange(c, dtype=np.float32)), (n, 1))
    return np.stack([
        p2d, p2d / np.maximum(mean_ic, 1e-6), p2d - p2d.max(axis=1, keepdims=True), bma, cos,
        cos - cos.max(axis=1, keepdims=True), matched, loglik, np.log1p(n_terms), rank,
        np.broadcast_to(sizes[:, None].astype(np.float32), (n, c)),
        *[f for e in extra for g in [np.take_along_axis(e, candidates, axis=1)] for f in (g, g - g.max(axis=1, keepdims=True))],
    ], axis=2).astype(np.float32)


def _bma_of(kb: DiseaseKnowledge, patients: list[np.ndarray], candidates: np.ndarray, p2d: np.ndarray) -> np.ndarray:
    """Symmetric BMA of the candidate diseases only: (n_patients, n_candidates)."""
    out = np.zeros(candidates.shape, np.float32)
    identity = np.arange(len(kb.ic))
    for start in range(0, len(patients), 128):
        part = patients[start : start + 128]
        indicator = np.zeros((len(part), len(kb.ic) + 1), dtype=bool, order="F")
        indicator[:, :-1] = patient_term_matrix(kb, part).toarray().astype(bool)
        cand = candidates[start : start + 128]
        terms_needed = np.unique(kb.annotations[np.unique(cand)].indices)
        s = _padded_max(indicator, identity, kb, terms_needed)  # (n_terms_needed, n_part)
        position = np.full(len(kb.ic), -1)
        position[terms_needed] = np.arange(len(terms_needed))
        for i in range(len(part)):
            rows = kb.annotations[cand[i]]
            vals = s[position[rows.indices], i]
            sums = np.add.reduceat(vals, rows.indptr[:-1])  # every disease has >= 1 annotation
            out[start + i] = 0.5 * (p2d[start + i] + sums / np.diff(rows.indptr))
    return out


class LearnedRanker(_RankerMixin, BaseEstimator):
    """Re-rank the top ``n_candidates`` diseases with LightGBM LambdaRank.

    ``features="standard"``: candidates by Resnik + cosine + likelihood; features per (patient,
    disease): Resnik score (raw, relative to the best candidate and to the patient's mean IC),
    symmetric BMA, TF-IDF cosine (raw and relative), fraction of patient terms annotated to the
    disease (with propagation), a frequency-based log-likelihood, the disease's number of
    annotations, the Resnik rank and the patient's number of terms. ``features="robust"``:
    candidates by :func:`robust_scores`, and its parts (trimmed patient -> disease, disease ->
    patient, the robust score; raw and relative) added to the features. Trained on patients with
    known diseases on their top ``n_train_candidates`` (the true disease is added when missing).
    ``knowledge`` and ``merged``: as :class:`SimilarityRanker`'s.
    """

    def __init__(self, *, knowledge: str | DiseaseKnowledge = "auto", features: str = "standard", merged: bool = False,
                 n_candidates: int = 100, n_train_candidates: int = 30, n_estimators: int = 150, learning_rate: float = 0.05,
                 random_state: int = 0, n_jobs: int = 2) -> None:
        self.knowledge = knowledge
        self.features = features
        self.merged = merged
        self.n_candidates = n_candidates
        self.n_train_candidates = n_train_candidates
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _candidates(self, scores: tuple[np.ndarray, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` candidates by the sum of the row-wise min-max scaled ``scores`` (and that sum)."""
        base = sum((s - s.min(axis=1, keepdims=True)) / np.maximum(np.ptp(s, axis=1, keepdims=True), 1e-9) for s in scores)
        c = min(n, base.shape[1])
        top = np.argpartition(-base, c - 1, axis=1)[:, :c]
        order = np.argsort(-np.take_along_axis(base, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), base

    def _features(self, kb: DiseaseKnowledge, patients: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(candidates, base score of every disease, features of the candidates)."""
        if self.features not in ("standard", "robust"):
            raise InputError("LearnedRanker", f"features={self.features!r}", fix="use 'standard' or 'robust'")
        p2d, cos = resnik_scores(kb, patients), cosine_scores(kb, patients)
        if self.features == "robust":
            trimmed, d2p = robust_parts(kb, patients)
            robust = trimmed + 0.5 * d2p + 1e-4 * cos
            cand, base = self._candidates((robust,), n)
            extra = (trimmed, d2p, robust)
        else:
            cand, base = self._candidates((p2d, cos, likelihood_scores(kb, patients)), n)
            extra = ()
        return cand, base, lambda c: _pair_features(kb, patients, c, p2d, cos, extra)

    def fit(self, X, y):
        import lightgbm as lgb  # imported here: predicting with a similarity ranker never loads it

        kb = self._fit_knowledge(y)
        patients = _as_patients(X, kb.ontology)
        truth = pd.Index(kb.disease_ids).get_indexer(np.asarray(y, dtype=object))
        if (truth < 0).any():
            raise InputError("LearnedRanker.fit", "a training disease is not in the knowledge base", fix="check y")
        cand, _, features = self._features(kb, patients, self.n_train_candidates)
        missing = ~(cand == truth[:, None]).any(axis=1)
        cand[missing, -1] = truth[missing]  # keep the true disease among the training candidates
        feats = features(cand)
        labels = (cand == truth[:, None]).astype(int)
        self.model_ = lgb.LGBMRanker(
            objective="lambdarank", n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=15, min_child_samples=20, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
            random_state=self.random_state, n_jobs=self.n_jobs, verbose=-1,
        )
        n, c, f = feats.shape
        self.model_.fit(feats.reshape(n * c, f), labels.ravel(), group=np.full(n, c))
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        kb = self.knowledge_
        patients = _as_patients(X, kb.ontology)
        cand, base, features = self._features(kb, patients, self.n_candidates)
        feats = features(cand)
        n, c, f = feats.shape
        rerank = self.model_.predict(feats.reshape(n * c, f)).reshape(n, c)
        # outside the candidates keep the base order, below every candidate
        out = base - base.max() - 1.0
        out[np.repeat(np.arange(n), c), cand.ravel()] = (rerank - rerank.min()).ravel()
        return out.astype(np.float32)

"""rare_disease's protocol: the ranking protocol, plus what the task reports beside top-k recall.

Per test patient (row-aligned, from the scores the ranker gave every disease): the rank of the
best-ranked true gene when genes are scored by their best disease (:func:`gene_ranks`) and the
"has a disease of the group" margin of the binary view (:func:`group_margin`). After the folds,
``details`` holds the cohort and how it was simulated, other recalls, gene-level recalls and the
binary view (the ranker's margin, and a logistic regression on the patients' terms).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.bio.phenotypes import DiseaseKnowledge, encode_patients, knowledge, namespace_of, patient_term_matrix
from genotx.data.dataset import Dataset
from genotx.errors import InputError
from genotx.evaluate.protocols import FoldFit, Prediction, Ranking, safe_metrics

__all__ = ["RareDiseaseRanking", "DISEASE_GROUP", "gene_scores", "gene_ranks", "group_margin", "disease_group", "binary_view"]

#: the disease group of the binary view: (name, case-insensitive regular expression on disease names)
DISEASE_GROUP = ("neurodevelopmental", r"intellectual|epilep|encephalopathy|neurodevelopmental")


def gene_scores(kb: DiseaseKnowledge, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gene-level aggregation: each gene scored by its best disease (max over the gene's diseases).

    ``scores`` is (patients x ``kb``'s diseases); returns (patients x genes) scores (-inf for a gene
    of no disease) and the index of the disease that gave each gene its score (the first on ties).
    """
    genes = kb.genes.tocsc()
    has = np.flatnonzero(np.diff(genes.indptr))
    best = np.full((len(scores), genes.shape[1]), -np.inf, dtype=np.float32)
    which = np.zeros((len(scores), genes.shape[1]), dtype=np.int64)
    if len(has):
        values = scores[:, genes.indices]
        best[:, has] = np.maximum.reduceat(values, genes.indptr[:-1][has], axis=1)
        owner = np.repeat(np.arange(genes.shape[1]), np.diff(genes.indptr))
        position = np.where(values == best[:, owner], np.arange(len(owner)), len(owner))
        which[:, has] = genes.indices[np.minimum.reduceat(position, genes.indptr[:-1][has], axis=1)]
    return best, which


def gene_ranks(kb: DiseaseKnowledge, scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank of the best-ranked true gene when genes are scored by their best disease (NaN: no gene).

    ``scores`` is (patients x ``kb``'s diseases), ``truth`` each patient's disease index (-1: none).
    """
    truth = np.asarray(truth)
    best, _ = gene_scores(kb, scores)
    true_genes = kb.genes[np.maximum(truth, 0)].toarray() & (truth >= 0)[:, None]
    own = np.where(true_genes, best, -np.inf).max(axis=1)[:, None]
    others = ~true_genes  # ties with another true gene cost nothing: either one is a right answer
    ranks = 1 + ((best > own) & others).sum(axis=1) + ((best == own) & others).sum(axis=1) / 2
    return np.where(true_genes.any(axis=1), ranks, np.nan)


def disease_group(kb: DiseaseKnowledge, pattern: str = DISEASE_GROUP[1]) -> np.ndarray:
    """Boolean mask over ``kb``'s diseases whose name matches ``pattern`` (case-insensitive)."""
    return pd.Series(kb.disease_names, dtype=object).fillna("").str.contains(pattern, case=False, regex=True).to_numpy(bool)


def group_margin(scores: np.ndarray, in_group: np.ndarray) -> np.ndarray:
    """"Has a disease of the group" score: best score inside the group minus best score outside.

    Examples
    --------
    >>> group_margin(np.array([[0.9, 0.2, 0.5], [0.1, 0.8, 0.3]]), np.array([True, False, False])).round(2).tolist()
    [0.4, -0.7]
    """
    in_group = np.asarray(in_group, dtype=bool)
    if in_group.all() or not in_group.any():
        raise InputError("group_margin", "the group must hold some but not all diseases", fix="choose another disease group")
    return scores[:, in_group].max(axis=1) - scores[:, ~in_group].max(axis=1)


def _in_group(kb: DiseaseKnowledge, pattern: str, diseases: np.ndarray) -> np.ndarray:
    index = pd.Index(kb.disease_ids).get_indexer(np.asarray(diseases, dtype=object))
    return np.where(index >= 0, disease_group(kb, pattern)[np.maximum(index, 0)], False).astype(int)


def binary_view(kb: DiseaseKnowledge, margin: np.ndarray, train: list[Dataset], test: list[Dataset], *,
                group: tuple[str, str] = DISEASE_GROUP, random_state: int = 0) -> dict:
    """"Has a disease of ``group``" as binary classification of the test patients.

    ``margin`` (pooled over ``test`` parts) is the ranker's :func:`group_margin`; a logistic
    regression on the IC-weighted propagated terms is trained on each ``train`` part and scores the
    matching ``test`` part. AUROC and AUPR against the simulated truth.
    """
    from sklearn.linear_model import LogisticRegression

    mask = disease_group(kb, group[1])
    y_test = np.concatenate([_in_group(kb, group[1], part.target) for part in test])
    out = {"group": group[0], "pattern": group[1], "n_group_diseases": int(mask.sum()),
           "n_test_positive": int(y_test.sum()), "n_test": int(len(y_test)), "prevalence": round(float(y_test.mean()), 4)}
    if y_test.min() == y_test.max() or not np.isfinite(margin).all():
        return {**out, "note": "the test patients are all of one class (or the group is empty): no binary metrics"}
    out["ranker_margin"] = {k: round(v, 4) for k, v in safe_metrics(("auroc", "aupr"), y_test, margin).items()}
    weight = kb.ic.astype(np.float32)
    decision = []
    for tr, te in zip(train, test):
        y_train = _in_group(kb, group[1], tr.target)
        if y_train.min() == y_train.max():
            return out
        x_train = patient_term_matrix(kb, encode_patients(tr.inputs["hpo_terms"], kb.ontology)).multiply(weight).tocsr()
        x_test = patient_term_matrix(kb, encode_patients(te.inputs["hpo_terms"], kb.ontology)).multiply(weight).tocsr()
        clf = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000, random_state=random_state).fit(x_train, y_train)
        decision.append(clf.decision_function(x_test))
    out["logistic_on_terms"] = {k: round(v, 4) for k, v in safe_metrics(("auroc", "aupr"), y_test, np.concatenate(decision)).items()}
    return out


def _knowledge_of(estimator) -> DiseaseKnowledge:
    """The knowledge base of the estimator's candidates: its own, else the namespace of its ``classes_``."""
    kb = getattr(estimator, "knowledge_", None)
    if isinstance(kb, DiseaseKnowledge):
        return kb
    return knowledge(namespace_of(np.asarray(estimator.classes_, dtype=object), where="the estimator's classes_"))


def _aligned(kb: DiseaseKnowledge, classes, scores: np.ndarray) -> np.ndarray:
    """``scores`` (columns = ``classes``) as columns of ``kb``'s diseases; diseases that are not candidates get -inf."""
    columns = pd.Index(kb.disease_ids).get_indexer(np.asarray(classes, dtype=object))
    if len(columns) == len(kb.disease_ids) and (columns == np.arange(len(columns))).all():
        return scores
    aligned = np.full((len(scores), len(kb.disease_ids)), -np.inf, dtype=np.float32)
    aligned[:, columns[columns >= 0]] = scores[:, columns >= 0]
    return aligned


class RareDiseaseRanking(Ranking):
    """:class:`~genotx.evaluate.protocols.Ranking` of every disease of the patients' namespace,
    with per-patient gene ranks and group margins, and the task's details after the folds."""

    def __init__(self, *, group: tuple[str, str] = DISEASE_GROUP) -> None:
        super().__init__(keep_fitted=True)  # Ranking then returns every candidate's score in Prediction.extra
        self.group = group

    def predict(self, estimator, test: Dataset) -> Prediction:
        prediction = super().predict(estimator, test)
        kb = _knowledge_of(estimator)
        scores = _aligned(kb, estimator.classes_, prediction.extra.pop("scores"))  # popped: never pooled over the folds
        truth = pd.Index(kb.disease_ids).get_indexer(np.asarray(test.target, dtype=object))
        prediction.extra["gene_rank"] = gene_ranks(kb, scores, truth)
        mask = disease_group(kb, self.group[1])
        prediction.extra["group_margin"] = group_margin(scores, mask) if 0 < mask.sum() < len(mask) else np.full(len(test), np.nan)
        return prediction

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        return super().prediction_table(part, prediction, fold).assign(gene_rank=prediction.extra["gene_rank"])

    def finish(self, task, dataset: Dataset, outcome, fits: list[FoldFit], *, split: str, model: str | None, seed: int) -> None:  # noqa: ARG002
        kb = _knowledge_of(fits[0].estimator)
        ranks = np.concatenate([f.prediction.score for f in fits])
        genes = np.concatenate([f.prediction.extra["gene_rank"] for f in fits])
        has_gene = ~np.isnan(genes)
        tests = [f.test for f in fits]
        cohort = ", ".join(pd.unique(np.concatenate([t.groups["cohort"].to_numpy() for t in tests])).astype(str)) \
            if "cohort" in tests[0].groups else ""
        outcome.details.update({
            "cohort": cohort,
            "n_candidate_diseases": int(len(kb.disease_ids)),
            "n_test_diseases": int(len(pd.unique(np.concatenate([t.target for t in tests])))),
            "simulation": dict(dataset.meta.get("cohorts", {}).get(cohort, {})),
            "other_recalls": safe_metrics(("top5_recall", "top100_recall"), ranks, ranks),
            "median_rank": float(np.median(ranks)),
            "gene_level": {
                "n_patients_with_gene": int(has_gene.sum()),
                "n_candidate_genes": int(kb.genes.shape[1]),
                **{f"gene_{k}": round(v, 4) for k, v in
                   safe_metrics(("top1_recall", "top10_recall", "top50_recall"), genes[has_gene], genes[has_gene]).items()},
            },
            "binary_view": binary_view(kb, np.concatenate([f.prediction.extra["group_margin"] for f in fits]),
                                       [dataset.subset(f.fold.train) for f in fits], tests, group=self.group, random_state=seed),
        })

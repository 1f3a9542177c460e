"""gene_disease_association's protocol: the link protocol with the task's negatives and details.

* negatives (seeded, as many as test links): uniform random non-links over the graph's genes and
  diseases; on a cold split (no test gene has a training link) each test link's gene with a random
  disease it is not linked to, so that negatives are as cold as the positives;
* a baseline with a ``cold`` parameter is told when the split is cold (it then builds its
  out-of-fold training features by gene);
* details: sizes, other recalls of the filtered ranks, the learned coefficients, and the AUROC of the
  same test links against degree-matched negatives (the test links' diseases shuffled among their
  genes, drawn from the same seeded stream after the evaluation's negatives).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from genotx.data.dataset import Dataset
from genotx.evaluate.protocols import Link, safe_metrics
from genotx.evaluate.splits import Fold
from genotx.tasks.target_discovery.gene_disease_association.features import side_information
from genotx.tasks.target_discovery.gene_disease_association.models import adjacency, sample_negatives

__all__ = ["GeneDiseaseLinks"]


class GeneDiseaseLinks(Link):
    """:class:`~genotx.evaluate.protocols.Link` over (``gene_id``, ``disease_id``) rows."""

    source = "gene_id"
    target = "disease_id"

    def _graph(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, sparse.csr_matrix]:
        """(gene ids, disease ids, gene code and disease code of each link, known-link adjacency)."""
        gene_ids, g = np.unique(dataset.inputs[self.source].to_numpy(), return_inverse=True)
        disease_ids, d = np.unique(dataset.inputs[self.target].to_numpy(object), return_inverse=True)
        return gene_ids, disease_ids, g, d, adjacency(g, d, (len(gene_ids), len(disease_ids)))

    def is_cold(self, dataset: Dataset, fold: Fold) -> bool:
        """True when no test link's gene has a training link."""
        genes = dataset.inputs[self.source].to_numpy()
        return not np.isin(genes[fold.test], genes[fold.train]).any()

    def negatives(self, dataset: Dataset, fold: Fold, rng: np.random.Generator) -> pd.DataFrame:
        gene_ids, disease_ids, g, _, known = self._graph(dataset)
        cold = self.is_cold(dataset, fold)
        neg_g, neg_d = sample_negatives(len(fold.test), genes=g[fold.test], n_diseases=len(disease_ids), exclude=known,
                                        gene_pool=None if cold else np.arange(len(gene_ids)), rng=rng)
        return pd.DataFrame({self.source: gene_ids[neg_g], self.target: disease_ids[neg_d]})

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress=None):
        """:meth:`Link.evaluate`, after telling a baseline with a ``cold`` parameter whether the split is cold."""
        if estimator is None:
            estimator = task.model(model, random_state=seed)
            if "cold" in estimator.get_params() and all(self.is_cold(dataset, f) for f in task.folds(dataset, split, random_state=seed)):
                estimator.set_params(cold=True)
        return super().evaluate(task, dataset, split=split, model=model, estimator=estimator, seed=seed, progress=progress)

    def finish(self, task, dataset: Dataset, outcome, estimator, fold: Fold, *, split: str, model: str | None,  # noqa: ARG002
               seed: int) -> None:
        gene_ids, disease_ids, g, d, known = self._graph(dataset)
        held_out = dataset.inputs.iloc[fold.test][[self.source, self.target]]
        y, score = outcome.predictions["y_true"].to_numpy(), outcome.predictions["y_pred"].to_numpy()
        side = estimator.side_ if hasattr(estimator, "side_") else side_information()[0]
        details = {
            "n_train_links": int(len(fold.train)), "n_test_links": int(len(fold.test)), "n_negatives": int((y == 0).sum()),
            "n_genes": int(len(gene_ids)), "n_diseases": int(len(disease_ids)),
            "test_links_whose_gene_has_training_links": float(np.isin(g[fold.test], g[fold.train]).mean()),
            "test_genes_with_go": float(np.mean(side.gene_go[side.gene_index(held_out[self.source])].getnnz(axis=1) > 0)),
        }
        if hasattr(estimator, "score_targets"):
            ranks = self.filtered_ranks(estimator, dataset, held_out)
            details.update(safe_metrics(("top1_recall", "top50_recall"), ranks, ranks))
            details["mean_reciprocal_rank"] = float(np.mean(1.0 / ranks))
        details["negatives"] = "test gene x random non-linked disease" if self.is_cold(dataset, fold) else "uniform random non-links"
        if hasattr(estimator, "combiner_"):
            details["standardised_coefficients"] = estimator.coefficients_
        # the same test links against degree-matched negatives: gene and disease degrees are then
        # equal in positives and negatives, so popularity alone scores 0.5
        rng = np.random.default_rng(seed)
        self.negatives(dataset, fold, rng)  # the evaluation's draw: the matched negatives come after it in the stream
        match_g, match_d = _shuffled_negatives(g[fold.test], d[fold.test], known, rng)
        matched = np.asarray(estimator.decision_function(pd.DataFrame({self.source: gene_ids[match_g],
                                                                       self.target: disease_ids[match_d]})))
        details["auroc_degree_matched_negatives"] = safe_metrics(
            ["auroc"], np.r_[np.ones(len(held_out)), np.zeros(len(match_g))], np.r_[score[y == 1], matched])["auroc"]
        outcome.details.update(details)


def _shuffled_negatives(genes: np.ndarray, diseases: np.ndarray, known: sparse.csr_matrix, rng: np.random.Generator):
    """Non-links pairing each test gene with another test link's disease (degree-preserving)."""
    d = rng.permutation(diseases)
    for _ in range(100):
        bad = np.flatnonzero(np.asarray(known[genes, d]).ravel() > 0)
        if len(bad) == 0:
            break
        d[bad] = rng.choice(diseases, size=len(bad))
    keep = np.asarray(known[genes, d]).ravel() == 0
    return genes[keep], d[keep]

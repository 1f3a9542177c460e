"""``PathwayScorer``: one method on one collection, as a scikit-learn-style ranking estimator.

Nothing is learned from training rows: ``fit`` resolves the collection (its sets become
``classes_``, the candidates), so the same estimator scores any contrast. ``decision_function(X)``
takes contrasts x genes (a per-gene statistic; NaN = not measured) and returns contrasts x
``classes_`` signed scores (> 0 = up), NaN for a set that is not testable in that contrast (too few
or too many measured members). ``results(statistic)`` gives one contrast's full table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from genotx.errors import InputError, UnknownNameError
from genotx.tasks.target_discovery.pathway_analysis.genesets import COLLECTIONS, KIND, network, set_names
from genotx.tasks.target_discovery.pathway_analysis.methods import METHODS, score_sets

__all__ = ["PathwayScorer", "SIZE_LIMITS"]

#: (min, max) measured members of a testable set, per collection kind (decoupler's tmin=5 for regulons;
#: 15-500 is GSEA's usual range for GO / KEGG)
SIZE_LIMITS = {"tf": (5, 100_000), "progeny": (5, 100_000), "go": (15, 500), "kegg": (15, 500)}


class PathwayScorer(BaseEstimator):
    """Score every set of ``collection`` with ``method`` (see :mod:`.methods` and :mod:`.genesets`).

    Examples
    --------
    >>> PathwayScorer(method="gsea", collection="go").kind
    'go'
    """

    def __init__(self, *, method: str = "ulm", collection: str = "collectri", organism: str = "human",
                 n_top: int = 300, n_perm: int = 1000, random_state: int = 0) -> None:
        self.method = method
        self.collection = collection
        self.organism = organism
        self.n_top = n_top
        self.n_perm = n_perm
        self.random_state = random_state

    @property
    def kind(self) -> str:
        if self.collection not in COLLECTIONS:
            raise UnknownNameError("collection", self.collection, COLLECTIONS)
        return KIND[self.collection]

    def fit(self, X=None, y=None):  # noqa: ARG002 - nothing is learned from rows
        if self.method not in METHODS:
            raise UnknownNameError("method", self.method, METHODS)
        net = network(self.collection, self.organism)
        self.classes_ = np.array(sorted(net["source"].astype(str).unique()), dtype=object)
        self.n_classes_ = len(self.classes_)
        return self

    def results(self, statistic: pd.Series, *, random_state: int | None = None) -> pd.DataFrame:
        """One contrast: every testable set with score, p_value, fdr, n_genes, drivers (and ``name``)."""
        check_is_fitted(self, "classes_")
        low, high = SIZE_LIMITS[self.kind]
        table = score_sets(statistic, network(self.collection, self.organism), method=self.method, min_size=low,
                           max_size=high, n_top=self.n_top, n_perm=self.n_perm,
                           random_state=self.random_state if random_state is None else random_state)
        names = set_names(self.collection)
        table.insert(0, "name", [names.get(s, s) for s in table.index])
        return table

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "classes_")
        if not isinstance(X, pd.DataFrame):
            raise InputError("PathwayScorer", "X must be a DataFrame of contrasts x genes", fix="name the genes as columns")
        out = np.full((len(X), len(self.classes_)), np.nan)
        columns = pd.Index(self.classes_)
        for i, (_, row) in enumerate(X.iterrows()):
            table = self.results(row.dropna(), random_state=self.random_state + i)
            out[i, columns.get_indexer(table.index)] = table["score"].to_numpy()
        return out

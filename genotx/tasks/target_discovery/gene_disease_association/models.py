"""Gene-disease link prediction over a bipartite graph with gene and disease side information.

Estimator contract (the ``link`` protocol's): ``fit(links)`` with a DataFrame of training links
(columns ``gene_id``, ``disease_id``; ``y`` is accepted and ignored: every row is a known link),
``decision_function(pairs)`` -> one score per (gene_id, disease_id) row, ``score_targets(gene_ids)``
-> ``(n_genes, n_diseases)`` scores over ``targets_`` (the disease ids). The side information
(:class:`~.features.LinkSideInfo`) is the ``side`` parameter: None for the task's own (built once per
process, never pickled with the model) or a LinkSideInfo object.

Every model scores whole rows (genes x all diseases) with sparse/dense matrix operations, so that
ranking metrics (hits@k over all diseases) and pair scores come from the same computation:

* ``degree``: a logistic regression on log(1 + gene degree) and log(1 + disease degree) in the
  training graph (popularity; its sign is learned, see below);
* ``shared_phenotypes``: max HPO-profile cosine between the disease and the gene's training diseases;
* ``go_neighbours``: the training diseases of the gene's nearest GO neighbours (cosine, top k),
  smoothed over phenotypically similar diseases; works for genes without any training link;
* ``svd``: truncated SVD of the training adjacency; a gene without training links gets its embedding
  predicted by ridge regression from a 64-d SVD of its GO profile (inductive);
* ``learned``: logistic regression over all of the above, trained on out-of-fold features (features
  of a training edge are computed with that edge's fold removed, by gene when ``cold=True``, as the
  task's protocol sets for the cold-gene split) so that training features look like test features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import svds
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from genotx.errors import InputError
from genotx.tasks.target_discovery.gene_disease_association.features import LinkSideInfo, side_information

__all__ = ["LinkScorer", "FEATURES", "COLUMNS", "adjacency", "sample_negatives"]

FEATURES = ("degree", "shared_phenotypes", "go_neighbours", "svd")


def adjacency(genes: np.ndarray, diseases: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Binary gene x disease adjacency of the given edges."""
    m = sparse.csr_matrix((np.ones(len(genes), np.float32), (genes, diseases)), shape=shape)
    m.data[:] = 1.0
    return m


def sample_negatives(n: int, *, genes: np.ndarray, n_diseases: int, exclude: sparse.csr_matrix,
                     gene_pool: np.ndarray | None = None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random non-edges: genes taken in order from ``genes`` (corrupt the disease) or, when
    ``gene_pool`` is given, uniform from it; diseases uniform; pairs in ``exclude`` redrawn."""
    g = np.asarray(genes)[:n].copy() if gene_pool is None else rng.choice(gene_pool, size=n)
    d = rng.integers(0, n_diseases, size=n)
    for _ in range(100):
        bad = np.asarray(exclude[g, d]).ravel() > 0
        if not bad.any():
            return g, d
        d[bad] = rng.integers(0, n_diseases, size=int(bad.sum()))
        if gene_pool is not None:
            g[bad] = rng.choice(gene_pool, size=int(bad.sum()))
    raise InputError("sample_negatives", "could not find enough non-edges", fix="the graph is too dense for this sampling")


class _GraphState:
    """Everything computed from one training graph, to score rows of genes (the side information
    is passed to each call, never kept: a fitted model pickles without it)."""

    def __init__(self, side: LinkSideInfo, adj: sparse.csr_matrix, *, n_components: int, alpha: float, random_state: int) -> None:
        self.adj = adj
        self.gene_degree = np.diff(adj.indptr)
        self.disease_degree = np.bincount(adj.indices, minlength=adj.shape[1])
        linked = np.flatnonzero(self.gene_degree)
        self.linked = linked
        k = int(max(1, min(n_components, min(adj.shape) - 1, len(linked) - 1)))
        # ARPACK on the linked rows only: the adjacency is tiny and very sparse
        v0 = np.random.default_rng(random_state).random(min(len(linked), adj.shape[1]))
        _, _, vt = svds(adj[linked].astype(np.float64), k=k, v0=v0)
        self.disease_emb = vt[::-1].T.astype(np.float32)  # D x k, by decreasing singular value
        gene_emb = np.asarray(adj @ self.disease_emb)  # G x k (zero for genes without links)
        has_go = np.asarray(side.gene_go[linked].getnnz(axis=1)) > 0
        self.ridge = Ridge(alpha=alpha).fit(side.gene_go_embedding[linked[has_go]], gene_emb[linked[has_go]]) if has_go.sum() > 1 else None
        self.gene_emb = gene_emb.astype(np.float32)

    def _go_links(self, side: LinkSideInfo, genes: np.ndarray) -> sparse.csr_matrix:
        """len(genes) x D: training diseases of each gene's GO neighbours, weighted by GO cosine."""
        return (side.gene_neighbours(genes, self.linked) @ self.adj).tocsr()

    def _gene_embedding(self, side: LinkSideInfo, genes: np.ndarray) -> np.ndarray:
        emb = self.gene_emb[genes].copy()
        cold = self.gene_degree[genes] == 0
        if cold.any() and self.ridge is not None:
            emb[cold] = self.ridge.predict(side.gene_go_embedding[genes[cold]])
        return emb

    def pairs(self, side: LinkSideInfo, genes: np.ndarray, diseases: np.ndarray) -> np.ndarray:
        """Features of (gene, disease) pairs: (n_pairs, 6) = FEATURES + log gene / disease degree.

        The same values as :meth:`rows` gathered at the pairs, computed without whole rows.
        """
        adj = self.adj
        genes, diseases = np.asarray(genes), np.asarray(diseases)
        log_g, log_d = np.log1p(self.gene_degree[genes]), np.log1p(self.disease_degree[diseases])
        sub = adj[genes]
        owner = np.repeat(np.arange(len(genes)), np.diff(sub.indptr))
        cos = np.asarray(side.disease_hpo[diseases[owner]].multiply(side.disease_hpo[sub.indices]).sum(axis=1)).ravel()
        shared = np.zeros(len(genes), np.float32)
        np.maximum.at(shared, owner, cos.astype(np.float32))
        unique, inverse = np.unique(genes, return_inverse=True)
        links = self._go_links(side, unique)[inverse]
        smooth = side.disease_neighbours.T.tocsr()[diseases]  # column d of the disease-neighbour matrix
        go = np.asarray(links.multiply(smooth).sum(axis=1)).ravel()
        svd = (self._gene_embedding(side, genes) * self.disease_emb[diseases]).sum(axis=1)
        return np.column_stack([log_g + log_d, shared, go, svd, log_g, log_d]).astype(np.float32)

    def rows(self, side: LinkSideInfo, genes: np.ndarray) -> dict[str, np.ndarray]:
        """Feature matrices (len(genes) x D) for ``genes``."""
        adj = self.adj
        genes = np.asarray(genes)
        n_d = adj.shape[1]
        degree = np.log1p(self.gene_degree[genes])[:, None] + np.log1p(self.disease_degree)[None, :]
        # shared phenotypes: best HPO cosine between each disease and the gene's training diseases
        sub = adj[genes]
        shared = np.zeros((len(genes), n_d), np.float32)
        has = np.flatnonzero(np.diff(sub.indptr))
        if len(has):
            pair_d = sub.indices
            sims = (side.disease_hpo[pair_d] @ side.disease_hpo.T).toarray()
            starts = sub.indptr[:-1][has]
            shared[has] = np.maximum.reduceat(sims, starts, axis=0)
        # GO neighbours' diseases, smoothed over similar diseases
        go = np.asarray((self._go_links(side, genes) @ side.disease_neighbours).todense(), dtype=np.float32)
        # SVD embedding, inductive for genes without training links
        svd = self._gene_embedding(side, genes) @ self.disease_emb.T
        return {"degree": degree.astype(np.float32), "shared_phenotypes": shared, "go_neighbours": go, "svd": svd.astype(np.float32),
                "log_gene_degree": np.broadcast_to(np.log1p(self.gene_degree[genes])[:, None], (len(genes), n_d)),
                "log_disease_degree": np.broadcast_to(np.log1p(self.disease_degree)[None, :], (len(genes), n_d))}


COLUMNS = (*FEATURES, "log_gene_degree", "log_disease_degree")
_COMBINED = {"learned": COLUMNS, "degree": ("log_gene_degree", "log_disease_degree")}


class LinkScorer(BaseEstimator):
    """Score gene-disease pairs with one feature or a learned logistic combination of features.

    Parameters
    ----------
    method : {"learned", "degree", "shared_phenotypes", "go_neighbours", "svd"}
        ``learned`` combines all features; ``degree`` combines only the log gene and disease degrees
        (so that its sign is learned: in a sparse graph a held-out link's nodes lose degree);
        the others score with the raw feature.
    cold : bool, for the combined methods: build out-of-fold training features by gene
        (cold-gene evaluation) instead of by link.
    n_components, alpha : SVD rank and ridge penalty of the inductive gene embedding.
    side : None (the task's side information, resolved lazily and cached in memory) or a LinkSideInfo.
    """

    def __init__(self, *, method: str = "learned", cold: bool = False, n_folds: int = 5, n_components: int = 32,
                 alpha: float = 1.0, C: float = 1.0, random_state: int = 0,  # noqa: N803 - sklearn's name
                 side: LinkSideInfo | None = None) -> None:
        self.method = method
        self.cold = cold
        self.n_folds = n_folds
        self.n_components = n_components
        self.alpha = alpha
        self.C = C
        self.random_state = random_state
        self.side = side

    @property
    def side_(self) -> LinkSideInfo:
        """The side information in use (the task's own is built once per process, never pickled)."""
        return self.side if self.side is not None else side_information()[0]

    def fit(self, links: pd.DataFrame, y=None):  # noqa: ARG002 - every row is a known link
        """Learn from the training links (a DataFrame with ``gene_id`` and ``disease_id``)."""
        if self.method not in ("learned", *FEATURES):
            raise InputError("LinkScorer", f"unknown method {self.method!r}", fix=f"use one of {['learned', *FEATURES]}")
        side = self.side_
        genes, diseases = side.index(links, where="LinkScorer.fit(links)")
        shape = (len(side.gene_ids), len(side.disease_ids))
        self.targets_ = side.disease_ids
        self.state_ = self._state(adjacency(genes, diseases, shape))
        if self.method in _COMBINED:
            self._fit_combiner(genes, diseases, shape)
        return self

    def _state(self, adj: sparse.csr_matrix) -> _GraphState:
        return _GraphState(self.side_, adj, n_components=self.n_components, alpha=self.alpha, random_state=self.random_state)

    def _fit_combiner(self, genes: np.ndarray, diseases: np.ndarray, shape: tuple[int, int]) -> None:
        """Logistic regression on out-of-fold features: each fold's links (and as many sampled
        non-links) are described by a graph without that fold."""
        rng = np.random.default_rng(self.random_state)
        if self.cold:
            unique = np.unique(genes)
            fold = (rng.permutation(len(unique)) % self.n_folds)[np.searchsorted(unique, genes)]
        else:
            fold = rng.permutation(len(genes)) % self.n_folds
        full = adjacency(genes, diseases, shape)
        pool = np.unique(genes)
        columns = [COLUMNS.index(c) for c in _COMBINED[self.method]]
        X, y = [], []
        for k in range(self.n_folds):
            held = fold == k
            adj = adjacency(genes[~held], diseases[~held], shape)
            neg_g, neg_d = sample_negatives(int(held.sum()), genes=genes[held], n_diseases=shape[1], exclude=full,
                                            gene_pool=None if self.cold else pool, rng=rng)
            pair_g, pair_d = np.concatenate([genes[held], neg_g]), np.concatenate([diseases[held], neg_d])
            if self.method == "degree":  # only degrees: no need for the whole graph state
                X.append(np.column_stack([np.log1p(np.diff(adj.indptr)[pair_g]),
                                          np.log1p(np.bincount(adj.indices, minlength=shape[1])[pair_d])]))
            else:
                X.append(self._state(adj).pairs(self.side_, pair_g, pair_d)[:, columns])
            y.append(np.r_[np.ones(held.sum()), np.zeros(len(neg_g))])
        X = np.vstack(X)
        self.scaler_ = StandardScaler().fit(X)
        self.combiner_ = LogisticRegression(C=self.C, max_iter=1000).fit(self.scaler_.transform(X), np.concatenate(y))

    def _weights(self) -> tuple[np.ndarray, float]:
        """Logistic weights on the raw (unscaled) columns and the intercept."""
        w = self.combiner_.coef_.ravel() / self.scaler_.scale_
        return w, float(self.combiner_.intercept_[0] - (w * self.scaler_.mean_).sum())

    @property
    def coefficients_(self) -> dict[str, float]:
        """Standardised logistic coefficients of a combined method."""
        check_is_fitted(self, "combiner_")
        return dict(zip(_COMBINED[self.method], self.combiner_.coef_.ravel().round(4).tolist()))

    def score_rows(self, genes: np.ndarray) -> np.ndarray:
        """Scores of ``genes`` (indices into the side information) against every disease: (len(genes), n_diseases)."""
        check_is_fitted(self, "state_")
        side, genes = self.side_, np.asarray(genes)
        out = np.zeros((len(genes), len(side.disease_ids)), np.float32)
        for start in range(0, len(genes), 512):
            rows = self.state_.rows(side, genes[start : start + 512])
            if self.method in _COMBINED:
                w, b = self._weights()
                out[start : start + 512] = b + sum(wi * rows[c] for wi, c in zip(w, _COMBINED[self.method]))
            else:
                out[start : start + 512] = rows[self.method]
        return out

    def score_pairs(self, genes: np.ndarray, diseases: np.ndarray) -> np.ndarray:
        """Scores of (gene, disease) index pairs (the logit for combined methods)."""
        check_is_fitted(self, "state_")
        X = self.state_.pairs(self.side_, np.asarray(genes), np.asarray(diseases))
        if self.method in _COMBINED:
            w, b = self._weights()
            return (X[:, [COLUMNS.index(c) for c in _COMBINED[self.method]]] @ w + b).astype(np.float32)
        return X[:, COLUMNS.index(self.method)]

    # the link protocol's contract: ids in, ids out -------------------------------------------------
    def decision_function(self, pairs: pd.DataFrame) -> np.ndarray:
        """Score of each (``gene_id``, ``disease_id``) row of ``pairs``."""
        check_is_fitted(self, "state_")
        return self.score_pairs(*self.side_.index(pairs, where="LinkScorer.decision_function(pairs)"))

    def score_targets(self, sources) -> np.ndarray:
        """Scores of the genes ``sources`` (NCBI ids) against every disease of ``targets_``."""
        check_is_fitted(self, "state_")
        return self.score_rows(self.side_.gene_index(sources, where="LinkScorer.score_targets(sources)"))

    def is_known(self, pairs: pd.DataFrame) -> np.ndarray:
        """Whether each (``gene_id``, ``disease_id``) row of ``pairs`` is one of the training links."""
        check_is_fitted(self, "state_")
        genes, diseases = self.side_.index(pairs, where="LinkScorer.is_known(pairs)")
        return np.asarray(self.state_.adj[genes, diseases]).ravel() > 0

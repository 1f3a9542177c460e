"""Gene-disease link prediction over a bipartite graph with gene and disease side information.

Inputs
------
* :class:`LinkSideInfo`: gene ids (G) with an L2-normalised TF-IDF matrix of their GO terms
  (``scipy.sparse.csr_matrix``, G x n_GO, zero rows for genes without GO), disease ids (D) with an
  L2-normalised IC-weighted, ancestor-propagated HPO profile (csr, D x n_HPO);
* training edges as two integer arrays (gene index, disease index).

Every model returns scores for whole rows (genes x all diseases) with sparse/dense matrix operations,
so that ranking metrics (hits@k over all diseases) and pair scores come from the same computation:

* ``degree``: a logistic regression on log(1 + gene degree) and log(1 + disease degree) in the
  training graph (popularity; its sign is learned, see below);
* ``shared_phenotypes``: max HPO-profile cosine between the disease and the gene's training diseases;
* ``go_neighbours``: the training diseases of the gene's nearest GO neighbours (cosine, top k),
  smoothed over phenotypically similar diseases; works for genes without any training link;
* ``svd``: truncated SVD of the training adjacency; a gene without training links gets its embedding
  predicted by ridge regression from a 64-d SVD of its GO profile (inductive);
* ``learned``: logistic regression over all of the above, trained on out-of-fold features (features
  of a training edge are computed with that edge's fold removed, by gene when the evaluation is
  cold-gene) so that training features look like test features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import svds
from sklearn.base import BaseEstimator
from sklearn.decomposition import TruncatedSVD
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from genotx.errors import InputError

__all__ = ["LinkSideInfo", "LinkScorer", "FEATURES", "COLUMNS", "adjacency", "filtered_ranks", "sample_negatives"]

FEATURES = ("degree", "shared_phenotypes", "go_neighbours", "svd")


def _l2_rows(m: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return (sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ m).tocsr().astype(np.float32)


def _top_k_sparse(dense: np.ndarray, k: int, row_offset: int = 0) -> sparse.csr_matrix:
    """Keep the ``k`` largest positive entries of each row of ``dense`` as a sparse matrix."""
    k = min(k, dense.shape[1])
    top = np.argpartition(-dense, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(dense, top, axis=1)
    rows = np.repeat(np.arange(dense.shape[0]), k)
    keep = vals.ravel() > 0
    return sparse.csr_matrix((vals.ravel()[keep], (rows[keep], top.ravel()[keep])), shape=dense.shape)


@dataclass(frozen=True, eq=False)
class LinkSideInfo:
    """Gene and disease side information shared by all models (no gene-disease links inside)."""

    gene_ids: np.ndarray
    gene_go: sparse.csr_matrix  # G x n_GO, L2-normalised TF-IDF
    disease_ids: np.ndarray
    disease_hpo: sparse.csr_matrix  # D x n_HPO, L2-normalised
    svd_genes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    k_genes: int = 20
    k_diseases: int = 20

    @classmethod
    def build(cls, gene_ids, gene_go_binary: sparse.csr_matrix, disease_ids, disease_hpo: sparse.csr_matrix, *,
              max_df: float = 0.05, **kw) -> "LinkSideInfo":
        """TF-IDF (IDF over genes) and L2 normalisation of a binary gene x GO matrix; GO terms on more
        than ``max_df`` of the annotated genes are dropped (generic terms carry little signal and
        make the gene-gene products dense)."""
        go = sparse.csr_matrix(gene_go_binary, dtype=np.float32)
        df = np.asarray((go > 0).sum(axis=0)).ravel()
        n_annotated = max(int((go.getnnz(axis=1) > 0).sum()), 1)
        idf = np.log((1 + n_annotated) / (1 + df)).astype(np.float32)
        idf[df > max_df * n_annotated] = 0.0
        go = go @ sparse.diags(idf)
        go.eliminate_zeros()
        return cls(np.asarray(gene_ids), _l2_rows(go.tocsr()), np.asarray(disease_ids), _l2_rows(disease_hpo), **kw)

    def _cache(self, name: str, compute):
        value = self.__dict__.get(name)
        if value is None:
            value = compute()
            object.__setattr__(self, name, value)
        return value

    @property
    def disease_neighbours(self) -> sparse.csr_matrix:
        """D x D: each disease's ``k_diseases`` most similar diseases by HPO cosine (itself included)."""
        def compute():
            parts = []
            for start in range(0, len(self.disease_ids), 1024):
                block = (self.disease_hpo[start : start + 1024] @ self.disease_hpo.T).toarray()
                parts.append(_top_k_sparse(block, self.k_diseases))
            return sparse.vstack(parts).tocsr()
        return self._cache("_dn", compute)

    @property
    def gene_go_embedding(self) -> np.ndarray:
        """G x 64 projection of the GO TF-IDF matrix on its top singular vectors, fitted on the
        ``svd_genes`` rows (e.g. the graph's genes; all genes when empty). Input of the inductive
        gene embedding."""
        def compute():
            rows = self.svd_genes if len(self.svd_genes) else np.arange(len(self.gene_ids))
            k = int(min(64, len(rows) - 1, self.gene_go.shape[1] - 1))
            svd = TruncatedSVD(n_components=max(k, 1), n_iter=4, random_state=0).fit(self.gene_go[rows])
            return svd.transform(self.gene_go).astype(np.float32)
        return self._cache("_ge", compute)

    def gene_neighbours(self, genes: np.ndarray, among: np.ndarray) -> sparse.csr_matrix:
        """len(genes) x G: GO cosine to the ``k_genes`` most similar genes of ``among`` (never itself)."""
        out = []
        among = np.asarray(among)
        target = self.gene_go[among].T.tocsc()
        for start in range(0, len(genes), 1024):
            chunk = np.asarray(genes[start : start + 1024])
            sim = (self.gene_go[chunk] @ target).toarray()
            sim[chunk[:, None] == among[None, :]] = 0.0
            top = _top_k_sparse(sim, self.k_genes)
            out.append(sparse.csr_matrix((top.data, among[top.indices], top.indptr), shape=(len(chunk), len(self.gene_ids))))
        return sparse.vstack(out).tocsr() if out else sparse.csr_matrix((0, len(self.gene_ids)))


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


def filtered_ranks(scores: np.ndarray, truth: np.ndarray, known: sparse.csr_matrix) -> np.ndarray:
    """1-based rank of disease ``truth[i]`` in row ``i`` among diseases not otherwise known for that
    gene (``known`` rows align with ``scores``); ties share the average rank."""
    scores = scores.astype(np.float64, copy=True)
    own = scores[np.arange(len(truth)), truth].copy()
    rows, cols = known.nonzero()
    scores[rows, cols] = -np.inf
    scores[np.arange(len(truth)), truth] = own
    greater = (scores > own[:, None]).sum(axis=1)
    ties = (scores == own[:, None]).sum(axis=1) - 1
    return 1.0 + greater + ties / 2.0


class _GraphState:
    """Everything computed from one training graph, to score rows of genes."""

    def __init__(self, side: LinkSideInfo, adj: sparse.csr_matrix, *, n_components: int, alpha: float, random_state: int) -> None:
        self.side, self.adj = side, adj
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

    def _go_links(self, genes: np.ndarray) -> sparse.csr_matrix:
        """len(genes) x D: training diseases of each gene's GO neighbours, weighted by GO cosine."""
        return (self.side.gene_neighbours(genes, self.linked) @ self.adj).tocsr()

    def _gene_embedding(self, genes: np.ndarray) -> np.ndarray:
        emb = self.gene_emb[genes].copy()
        cold = self.gene_degree[genes] == 0
        if cold.any() and self.ridge is not None:
            emb[cold] = self.ridge.predict(self.side.gene_go_embedding[genes[cold]])
        return emb

    def pairs(self, genes: np.ndarray, diseases: np.ndarray) -> np.ndarray:
        """Features of (gene, disease) pairs: (n_pairs, 6) = FEATURES + log gene / disease degree.

        The same values as :meth:`rows` gathered at the pairs, computed without whole rows.
        """
        side, adj = self.side, self.adj
        genes, diseases = np.asarray(genes), np.asarray(diseases)
        log_g, log_d = np.log1p(self.gene_degree[genes]), np.log1p(self.disease_degree[diseases])
        sub = adj[genes]
        owner = np.repeat(np.arange(len(genes)), np.diff(sub.indptr))
        cos = np.asarray(side.disease_hpo[diseases[owner]].multiply(side.disease_hpo[sub.indices]).sum(axis=1)).ravel()
        shared = np.zeros(len(genes), np.float32)
        np.maximum.at(shared, owner, cos.astype(np.float32))
        unique, inverse = np.unique(genes, return_inverse=True)
        links = self._go_links(unique)[inverse]
        smooth = side.disease_neighbours.T.tocsr()[diseases]  # column d of the disease-neighbour matrix
        go = np.asarray(links.multiply(smooth).sum(axis=1)).ravel()
        svd = (self._gene_embedding(genes) * self.disease_emb[diseases]).sum(axis=1)
        return np.column_stack([log_g + log_d, shared, go, svd, log_g, log_d]).astype(np.float32)

    def rows(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """Feature matrices (len(genes) x D) for ``genes``."""
        side, adj = self.side, self.adj
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
        go = np.asarray((self._go_links(genes) @ side.disease_neighbours).todense(), dtype=np.float32)
        # SVD embedding, inductive for genes without training links
        svd = self._gene_embedding(genes) @ self.disease_emb.T
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
    """

    def __init__(self, *, method: str = "learned", cold: bool = False, n_folds: int = 5, n_components: int = 32,
                 alpha: float = 1.0, C: float = 1.0, random_state: int = 0) -> None:  # noqa: N803 - sklearn's name
        self.method = method
        self.cold = cold
        self.n_folds = n_folds
        self.n_components = n_components
        self.alpha = alpha
        self.C = C
        self.random_state = random_state

    def fit(self, genes: np.ndarray, diseases: np.ndarray, *, side: LinkSideInfo):
        """Learn from training links (gene index, disease index) with side information ``side``."""
        if self.method not in ("learned", *FEATURES):
            raise InputError("LinkScorer", f"unknown method {self.method!r}", fix=f"use one of {['learned', *FEATURES]}")
        genes, diseases = np.asarray(genes), np.asarray(diseases)
        shape = (len(side.gene_ids), len(side.disease_ids))
        self.side_ = side
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
                X.append(self._state(adj).pairs(pair_g, pair_d)[:, columns])
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
        """Scores of ``genes`` (indices) against every disease: (len(genes), n_diseases)."""
        check_is_fitted(self, "state_")
        genes = np.asarray(genes)
        out = np.zeros((len(genes), len(self.side_.disease_ids)), np.float32)
        for start in range(0, len(genes), 512):
            rows = self.state_.rows(genes[start : start + 512])
            if self.method in _COMBINED:
                w, b = self._weights()
                out[start : start + 512] = b + sum(wi * rows[c] for wi, c in zip(w, _COMBINED[self.method]))
            else:
                out[start : start + 512] = rows[self.method]
        return out

    def score_pairs(self, genes: np.ndarray, diseases: np.ndarray) -> np.ndarray:
        """Scores of (gene, disease) index pairs (the logit for combined methods)."""
        check_is_fitted(self, "state_")
        X = self.state_.pairs(np.asarray(genes), np.asarray(diseases))
        if self.method in _COMBINED:
            w, b = self._weights()
            return (X[:, [COLUMNS.index(c) for c in _COMBINED[self.method]]] @ w + b).astype(np.float32)
        return X[:, COLUMNS.index(self.method)]

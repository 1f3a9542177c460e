"""The protocol layer on toy tasks: one loop per kind, any estimator, the notebook path and the predict cache."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge

import genotx
from genotx.data.dataset import Dataset
from genotx.evaluate.metrics import evaluate
from genotx.evaluate.protocols import (
    Design, Estimate, Estimation, Extraction, Link, Network, Ranking, Supervised, edge_table, rank_of_truth,
)
from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.tasks.spec import TaskSpec


def _spec(**fields) -> TaskSpec:
    base = dict(name="toy_kind", number=98, stage="therapeutics", title="Toy", formulation="x -> y", protocol="supervised",
                target="regression", data_kind="simulated", sources=(), splits=("random",), metrics=("pearson",),
                baselines=("m",))
    return TaskSpec(**{**base, **fields})


class _Task:
    """The few things a protocol asks of a task."""

    def __init__(self, spec, splitter, models=None, oracle=None):
        self.spec, self.splitter, self.models, self._oracle = spec, splitter, models or {}, oracle
        self.name = spec.name

    def folds(self, dataset, split, *, random_state=0):
        return self.splitter.split(dataset.groups, random_state=random_state)

    def model(self, name, *, random_state=0):
        return self.models[name](random_state=random_state)

    def oracle(self, *, random_state=0):
        return self._oracle(random_state=random_state)


def _regression(n=120, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = 2 * x[:, 0] - x[:, 1] + rng.normal(scale=0.3, size=n)
    return Dataset("toy", pd.DataFrame(x, columns=list("abc")), y, pd.DataFrame({"entity": np.repeat(np.arange(12), n // 12)}),
                   arrays={"weight": np.arange(n, dtype=float)})


def test_supervised_pools_held_out_rows_and_matches_a_manual_loop():
    data = _regression()
    task = _Task(_spec(metrics=("pearson", "rmse")), ColdSplit("entity", n_folds=3))
    outcome = Supervised().evaluate(task, data, split="cold", estimator=Ridge())
    pred = np.empty(len(data))
    for fold in task.folds(data, "cold"):
        pred[fold.test] = Ridge().fit(data.inputs.iloc[fold.train], data.target[fold.train]).predict(data.inputs.iloc[fold.test])
    assert outcome.metrics == pytest.approx(evaluate(["pearson", "rmse"], data.target, pred))
    assert outcome.n_test == len(data) and len(outcome.fold_metrics) == 3
    mean = Supervised(fold_mean=("pearson",)).evaluate(task, data, split="cold", estimator=Ridge()).metrics["pearson"]
    assert mean == pytest.approx(np.mean([f["pearson"] for f in outcome.fold_metrics]))


def test_subset_slices_every_row_aligned_part_together():
    data = _regression()
    part = data.subset(np.array([5, 1]))
    assert part.arrays["weight"].tolist() == [5.0, 1.0] and part.target.tolist() == data.target[[5, 1]].tolist()
    with pytest.raises(ValueError, match="arrays"):
        Dataset("bad", data.inputs, data.target, data.groups, arrays={"w": np.zeros(3)})
    with pytest.raises(TypeError):
        data.meta["x"] = 1  # provenance is read-only


def test_ranking_reads_the_rank_of_the_truth_with_average_ties():
    assert rank_of_truth(np.array([[3.0, 1.0, 3.0]]), np.array([0])).tolist() == [1.5]

    class Ranker(BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.array(sorted(set(y)))
            return self

        def decision_function(self, X):  # scores the candidate named in column "hint" highest
            return (X["hint"].to_numpy()[:, None] == self.classes_[None, :]).astype(float)

    y = np.array(list("abcd") * 10, dtype=object)
    data = Dataset("rank", pd.DataFrame({"hint": np.where(np.arange(40) % 2 == 0, y, "a")}), y, pd.DataFrame({"q": np.arange(40)}))
    task = _Task(_spec(protocol="ranking", metrics=("top1_recall", "top5_recall")), RandomSplit(0.5))
    out = Ranking().evaluate(task, data, split="random", estimator=Ranker())
    assert 0.5 < out.metrics["top1_recall"] < 1.0 and out.metrics["top5_recall"] == 1.0


def test_link_scores_held_out_links_against_non_links():
    rng = np.random.default_rng(0)
    community = np.repeat([0, 1], 10)
    pairs = [(f"s{i}", f"t{j}") for i in range(20) for j in range(20) if community[i] == community[j] and rng.random() < 0.6]
    links = pd.DataFrame(pairs, columns=["source", "target"])

    class SameCommunity(BaseEstimator):
        def fit(self, links):
            self.targets_ = np.array([f"t{j}" for j in range(20)])
            return self

        def decision_function(self, pairs):
            return np.array([float(community[int(s[1:])] == community[int(t[1:])]) for s, t in zip(pairs["source"], pairs["target"])])

        def score_targets(self, sources):
            return np.array([[float(community[int(s[1:])] == community[j]) for j in range(20)] for s in sources])

    data = Dataset("link", links, np.ones(len(links)), pd.DataFrame({"source": links["source"]}))
    task = _Task(_spec(protocol="link", metrics=("auroc", "aupr", "top10_recall")), RandomSplit(0.2))
    out = Link().evaluate(task, data, split="random", estimator=SameCommunity())
    assert out.metrics["auroc"] > 0.75 and out.metrics["top10_recall"] > 0.5


def test_network_compares_edge_scores_with_the_reference():
    table = edge_table(np.array([[0, 0.9, 0.1], [0.2, 0, 0.8], [0.3, 0.1, 0]]), ["a", "b", "c"],
                       pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"]}))
    assert len(table) == 6 and table["y_true"].sum() == 2 and table["y_true_undirected"].sum() == 4

    class Corr(BaseEstimator):
        def fit(self, X):
            self.variables_ = list(X.columns)
            self.edge_scores_ = np.abs(np.corrcoef(X.to_numpy().T))
            return self

    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    X = pd.DataFrame({"a": a, "b": a + 0.3 * rng.normal(size=300), "c": rng.normal(size=300)})
    data = Dataset("net", X, np.zeros(300), pd.DataFrame({"cell": np.arange(300)}),
                   context={"edges": pd.DataFrame({"source": ["a"], "target": ["b"]})})
    task = _Task(_spec(protocol="network", metrics=("auroc", "auroc_undirected")), RandomSplit(0.0001))
    out = Network().evaluate(task, data, split="all", estimator=Corr())
    assert out.metrics["auroc_undirected"] == 1.0


def test_estimation_reports_coverage_on_simulated_replicates():
    class Mean(BaseEstimator):
        def estimate(self, frame):
            x = np.asarray(frame["x"], float)
            se = x.std(ddof=1) / np.sqrt(len(x))
            return Estimate(x.mean(), se, x.mean() - 1.96 * se, x.mean() + 1.96 * se, float(abs(x.mean() / se) > 1.96) * 0.01)

    class Sim(Estimation):
        def replicates(self, seed):
            rng = np.random.default_rng(seed)
            for _ in range(200):
                yield "valid", 1.0, pd.DataFrame({"x": rng.normal(1.0, 1.0, 50)})

    data = Dataset("est", pd.DataFrame({"x": np.random.default_rng(1).normal(2.0, 1.0, 40)}), np.zeros(40), pd.DataFrame({"i": range(40)}))
    task = _Task(_spec(protocol="estimation"), RandomSplit(0.0001))
    task.folds = lambda d, s, random_state=0: [types.SimpleNamespace(train=np.arange(40), test=np.arange(40), name="all")]
    out = Sim().evaluate(task, data, split="all", estimator=Mean())
    assert abs(out.metrics["estimate"] - 2.0) < 0.5 and 0.9 < out.metrics["coverage_valid"] <= 1.0


def test_design_scores_generated_designs_with_the_oracle():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("AC"), 8)) for _ in range(200)]
    fitness = np.array([s.count("A") for s in seqs], float)

    class CountA(BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.array([s.count("A") for s in X["sequence"]], float)

    class Greedy(BaseEstimator):
        def fit(self, X, y):
            self.best_ = X["sequence"].to_numpy()[np.argmax(y)]
            return self

        def generate(self, n, *, oracle, random_state=0):
            r = np.random.default_rng(random_state)
            out = ["".join("A" if r.random() < 0.9 else "C" for _ in range(8)) for _ in range(n)]
            return pd.DataFrame({"sequence": out})

    data = Dataset("design", pd.DataFrame({"sequence": seqs}), fitness, pd.DataFrame({"i": range(200)}))
    task = _Task(_spec(protocol="design", metrics=("oracle_spearman",)), RandomSplit(0.2), oracle=lambda random_state=0: CountA())
    out = Design(n_designs=50).evaluate(task, data, split="random", estimator=Greedy())
    assert out.metrics["oracle_spearman"] == 1.0 and out.metrics["design_mean_predicted"] > fitness.mean()


def test_extraction_scores_spans_over_documents():
    docs = pd.DataFrame({"text": ["EGFR is mutated", "no KRAS change", "TP53 and EGFR"] * 4})
    gold = np.empty(len(docs), dtype=object)
    for i, text in enumerate(docs["text"]):
        gold[i] = [(text.index(g), text.index(g) + len(g), "GENE") for g in ("EGFR", "KRAS", "TP53") if g in text]

    class Dictionary(BaseEstimator):
        def fit(self, X, y):
            self.words_ = {t[len("")]: None for t in ()}
            return self

        def predict(self, X):
            out = np.empty(len(X), dtype=object)
            for i, text in enumerate(X["text"]):
                out[i] = [(text.index(g), text.index(g) + len(g), "GENE") for g in ("EGFR", "TP53") if g in text]
            return out

    data = Dataset("ext", docs, gold, pd.DataFrame({"doc": range(len(docs))}))
    task = _Task(_spec(protocol="extraction", metrics=("span_f1", "span_precision", "span_recall")), RandomSplit(0.5))
    out = Extraction().evaluate(task, data, split="random", estimator=Dictionary())
    assert out.metrics["span_precision"] == 1.0 and out.metrics["span_recall"] < 1.0


def test_notebook_path_on_a_registered_task(toy_task):
    parts = toy_task.get_split("cold_entity")
    entities = [set(parts[k].groups["entity"]) for k in ("train", "valid", "test")]
    assert not (entities[0] & entities[1]) and not (entities[0] & entities[2]) and not (entities[1] & entities[2])
    assert len(toy_task.get_folds("cold_entity")) == 3
    model = toy_task.model("ridge").fit(parts["train"].inputs, parts["train"].target)
    scores = toy_task.evaluate(model.predict(parts["test"].inputs), parts["test"])
    assert set(scores) == {"pearson", "rmse"} and scores["pearson"] > 0.8
    from sklearn.model_selection import cross_val_score

    data = toy_task.load()
    assert len(cross_val_score(Ridge(), data.inputs, data.target, cv=toy_task.cv(data, "cold_entity"))) == 3


def test_any_estimator_runs_under_the_official_protocol(toy_task):
    mine = genotx.cross_validate(toy_task, Ridge(), split="cold_entity")
    baseline, _ = genotx.run(toy_task, model="ridge", split="cold_entity")
    assert mine.metrics == baseline.metrics and mine.model.endswith("Ridge")
    summary = genotx.evaluate_many(toy_task, estimator=DummyRegressor(), seeds=(0, 1, 2), split="random")
    assert summary["rmse"][0] > 0 and summary["rmse"][1] >= 0


def test_second_predict_reuses_the_cached_model_and_a_tampered_file_is_retrained(toy_task, tmp_path, monkeypatch):
    from genotx.engine.predict import fitted_model

    monkeypatch.setenv("GENOTX_HOME", str(tmp_path))
    first = fitted_model(toy_task, model="ridge")
    again = fitted_model(toy_task, model="ridge")
    assert np.allclose(first.coef_, again.coef_) and again is not first
    (path,) = (tmp_path / "models").glob("*.skops")
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")  # a flipped tail: checksum differs
    fits = []
    original = Ridge.fit
    monkeypatch.setattr(Ridge, "fit", lambda self, X, y: fits.append(1) or original(self, X, y))
    fitted_model(toy_task, model="ridge")
    assert fits == [1]

"""genotx fairness: per-group metrics and bootstrap gaps, group reweighting under a task's protocol, the JSON,
figures, report section and CLI; a yes/no decision per group with fairlearn's ThresholdOptimizer and
ExponentiatedGradient; the simulated multi-ancestry polygenic score (GWAS, clumping, accuracy per population).
Fast tests use toy or tiny simulated data; slow ones run real tasks and the full simulation.
"""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from typer.testing import CliRunner

from genotx.challenges import fairness as fairness_module
from genotx.challenges.fairness import (
    Decision, FairnessPlan, FairnessResult, Grouping, GroupReweighted, PRSResult, ThresholdPostprocessed, clump,
    decision_metrics, fairness, group_metrics, marginal_gwas, prs_fairness, report_section, save_fairness,
)
from genotx.cli import app
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.splits import ColdSplit
from genotx.simulate.ancestry import plant_phenotype, simulate_cohort
from genotx.tasks.registry import TASKS, Task, _discover
from genotx.tasks.spec import TaskSpec

# ---- per-group metrics and the bootstrap --------------------------------------------------------


def _toy_frame():
    rng = np.random.default_rng(3)
    group = np.repeat(["a", "b", "c"], [40, 30, 20])
    truth = rng.normal(size=90)
    noise = np.select([group == "a", group == "b"], [0.2, 0.6], 1.2)
    return truth, truth + rng.normal(size=90) * noise, group


def test_per_group_metrics_equal_a_hand_computation():
    truth, prediction, group = _toy_frame()
    out = group_metrics("rmse", truth, prediction, group, n_boot=None)
    by_hand = {g: float(np.sqrt(np.mean((truth[group == g] - prediction[group == g]) ** 2))) for g in "abc"}
    assert out["by_group"] == pytest.approx(by_hand, rel=1e-12)
    assert out["overall"] == pytest.approx(np.sqrt(np.mean((truth - prediction) ** 2)))
    assert out["gap"] == pytest.approx(max(by_hand.values()) - min(by_hand.values()))
    assert (out["worst"], out["best"]) == ("c", "a")  # rmse: lower is better
    assert out["n_by_group"] == {"a": 40, "b": 30, "c": 20}
    pearson = group_metrics("pearson", truth, prediction, group, n_boot=None)
    assert pearson["by_group"]["b"] == pytest.approx(stats.pearsonr(truth[group == "b"], prediction[group == "b"])[0])
    assert (pearson["worst"], pearson["best"]) == ("c", "a")  # pearson: higher is better


def test_a_per_entity_metric_reads_its_groups_by_position():
    truth, prediction, group = _toy_frame()
    drug = np.tile(["x", "y", "z"], 30)
    out = group_metrics("pearson_per_drug", truth, prediction, group, groups=pd.DataFrame({"drug": drug}), n_boot=None)
    rows = group == "b"
    by_hand = np.mean([stats.pearsonr(truth[rows & (drug == d)], prediction[rows & (drug == d)])[0] for d in "xyz"])
    assert out["by_group"]["b"] == pytest.approx(by_hand)


def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    truth, prediction, group = _toy_frame()
    out = group_metrics("rmse", truth, prediction, group, n_boot=150, random_state=7)
    for name, (low, high) in out["by_group_ci"].items():
        assert low <= out["by_group"][name] <= high and high - low > 0
    assert out["overall_ci"][0] <= out["overall"] <= out["overall_ci"][1]
    assert out["gap_ci"][0] <= out["gap"] <= out["gap_ci"][1]
    assert out["gap_ci"][0] > 0  # noise 0.2 vs 1.2: the gap is real at this size
    assert group_metrics("rmse", truth, prediction, group, n_boot=150, random_state=7) == out
    assert group_metrics("rmse", truth, prediction, group, n_boot=150, random_state=8)["gap_ci"] != out["gap_ci"]


def test_group_metrics_refuse_misaligned_inputs():
    with pytest.raises(InputError, match="row-aligned"):
        group_metrics("rmse", [1.0, 2.0], [1.0], ["a", "b"], n_boot=None)


# ---- reweighting --------------------------------------------------------------------------------


def _two_slopes(n_a: int = 300, n_b: int = 60, seed: int = 0):
    """Group b (few rows) has another slope: one line fitted to all rows serves it badly."""
    rng = np.random.default_rng(seed)
    group = np.repeat(["a", "b"], [n_a, n_b])
    x = rng.normal(size=n_a + n_b)
    y = np.where(group == "a", 2.0, 0.5) * x + rng.normal(scale=0.1, size=len(x))
    return pd.DataFrame({"x": x}), y, group


def _linear():
    return make_pipeline(FunctionTransformer(lambda f: f[["x"]].to_numpy(float)), LinearRegression())


def test_balanced_weights_are_inverse_group_frequency():
    X, y, group = _two_slopes()
    model = GroupReweighted(_linear(), groups=pd.Series(group, index=X.index)).fit(X, y)
    assert model.weights_["a"] * 300 == pytest.approx(model.weights_["b"] * 60)  # each group weighs the same
    assert np.mean([model.weights_[g] for g in group]) == pytest.approx(1.0)
    weights = np.where(group == "a", 360 / 600, 360 / 120)
    by_hand = LinearRegression().fit(X[["x"]].to_numpy(), y, sample_weight=weights)
    assert model.estimator_[-1].coef_[0] == pytest.approx(by_hand.coef_[0])
    # the slope moves from the rows' average (about 1.75) toward the groups' average (1.25)
    assert abs(model.estimator_[-1].coef_[0] - 1.25) < abs(LinearRegression().fit(X, y).coef_[0] - 1.25) - 0.3


def test_worst_group_is_chosen_on_training_rows_and_upweighted():
    X, y, group = _two_slopes()
    seen = []

    def score(y_true, y_pred, labels):
        seen.append(labels)
        return -float(np.sqrt(np.mean((y_true - y_pred) ** 2)))

    model = GroupReweighted(_linear(), groups=pd.Series(group, index=X.index), strategy="worst", factor=4.0,
                            group_score=score).fit(X.iloc[:330], y[:330])
    assert model.inner_scores_["b"] < model.inner_scores_["a"]
    assert model.weights_["b"] / model.weights_["a"] == pytest.approx(4.0)
    assert max(max(labels) for labels in seen) < 330  # rows outside the training part are never scored


def test_a_learner_without_sample_weight_sees_replicated_rows():
    class Counter(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            self.n_rows_ = len(X)
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(len(X), self.mean_)

    X, y, group = _two_slopes(n_a=30, n_b=10)
    model = GroupReweighted(Counter(), groups=pd.Series(group, index=X.index)).fit(X, y)
    assert model.estimator_.n_rows_ == 30 + 3 * 10  # b weighs 3x a: three copies of each b row
    assert model.n_rows_ == model.estimator_.n_rows_  # attributes are the fitted model's


def test_reweighting_refuses_rows_without_a_group():
    X, y, group = _two_slopes(n_a=20, n_b=5)
    with pytest.raises(InputError, match="no group"):
        GroupReweighted(_linear(), groups=pd.Series(group[:10], index=X.index[:10])).fit(X, y)
    with pytest.raises(UnknownNameError):
        GroupReweighted(_linear(), groups=pd.Series(group, index=X.index), strategy="fair").fit(X, y)


# ---- a toy task through the protocol ------------------------------------------------------------


def _toy_task_module(name: str, number: int, target: str, metrics: tuple, data, model: tuple) -> types.ModuleType:
    """A supervised toy task over ``data`` = (X, y, group) with one baseline ``model`` = (name, factory)."""
    X, y, group = data
    module = types.ModuleType(name)
    module.SPEC = TaskSpec(
        name=name, number=number, stage="clinical", title=name.replace("_", " "), formulation="x -> y",
        protocol="supervised", target=target, data_kind="simulated", sources=(), splits=("cv5",), metrics=metrics,
        baselines=(model[0],), trivial=model[0],
    )
    module.load = lambda: Dataset(name, X, y, pd.DataFrame({"row": np.arange(len(y)), "group": group}),
                                  {"data_kind": "simulated"})
    module.SPLITS = {"cv5": ColdSplit("row", n_folds=5)}
    module.MODELS = {model[0]: lambda random_state=0: model[1]()}
    return module


def _toy_module() -> types.ModuleType:
    return _toy_task_module("toy_fair", 97, "regression", ("rmse", "pearson"), _two_slopes(), ("linear", _linear))


PLAN = FairnessPlan(model="linear", metric="rmse", metrics=("rmse", "pearson"),
                    groupings={"group": Grouping("the toy's two groups")}, note="toy")


def _register(monkeypatch, module: types.ModuleType, plan: FairnessPlan) -> Task:
    """A toy task in the registry and its plan in FAIRNESS, for one test."""
    _discover()
    task = Task.from_module(module)
    monkeypatch.setitem(TASKS._items, task.name, task)
    monkeypatch.setitem(fairness_module.FAIRNESS, task.name, plan)
    return task


@pytest.fixture
def toy_task(monkeypatch):
    return _register(monkeypatch, _toy_module(), PLAN)


def test_fairness_measures_the_gap_and_reweighting_narrows_it(toy_task):
    result = fairness("toy_fair", seeds=(0, 1), n_boot=50)
    table = result.summary().set_index("method")
    assert list(table.index) == ["none", "group_balanced", "upweight_worst"]
    assert table.loc["none", "worst_group"] == "b"
    assert table.loc["none", "gap"] > 0.5  # slope 2 vs 0.5: b is served far worse
    assert table.loc["none", "gap_ci_low"] <= table.loc["none", "gap"] <= table.loc["none", "gap_ci_high"]
    for method in ("group_balanced", "upweight_worst"):
        assert table.loc[method, "gap"] < 0.6 * table.loc["none", "gap"]
        assert table.loc[method, "gap_reduction"] > 0
    # every out-of-fold row is scored once, and the per-group numbers are the runs' own
    run = next(r for r in result.runs if r["method"] == "none" and r["seed"] == 0)
    assert run["n_scored"] == 360 and run["n_by_group"] == {"a": 300, "b": 60}
    assert table.loc["none", "overall"] == pytest.approx(np.mean([r["overall"] for r in result.runs if r["method"] == "none"]))
    assert set(run["other"]) == {"pearson"}


def test_the_folds_and_model_are_the_tasks_own(toy_task):
    """The baseline's out-of-fold rmse per group equals cross_val_predict on the task's own folds."""
    data = toy_task.load()
    result = fairness("toy_fair", seeds=(0,), n_boot=None, mitigations=())
    prediction = np.full(len(data), np.nan)
    for fold in toy_task.folds(data, "cv5", random_state=0):
        prediction[fold.test] = _linear().fit(data.inputs.iloc[fold.train], data.target[fold.train]).predict(
            data.inputs.iloc[fold.test])
    b = data.groups["group"].to_numpy() == "b"
    assert result.runs[0]["by_group"]["b"] == pytest.approx(np.sqrt(np.mean((prediction[b] - data.target[b]) ** 2)))


def test_json_round_trip_report_section_and_figures(toy_task, tmp_path):
    result = fairness("toy_fair", seeds=(0, 1), n_boot=20, mitigations=("group_balanced",))
    paths = save_fairness(result, tmp_path)
    payload = json.loads(paths[0].read_text())
    assert payload["challenge"] == "fairness" and payload["kind"] == "task"
    assert paths[0].name == "fairness_toy_fair_group.json" and all(p.stat().st_size > 1000 for p in paths[1:])
    again = FairnessResult.from_dict(payload)
    pd.testing.assert_frame_equal(again.summary(), result.summary())
    section = report_section(payload)
    assert "b" in section.summary and "No ancestry" in section.summary and len(section.figures) == 2
    assert [len(t) for _, t in section.tables] == [2, 4]


def test_unknown_names_fail_before_any_work(toy_task):
    with pytest.raises(UnknownNameError, match="group column"):
        fairness("toy_fair", by="ancestry")
    with pytest.raises(UnknownNameError, match="mitigation"):
        fairness("toy_fair", mitigations=("fair_magic",))
    with pytest.raises(UnknownNameError, match="declared groups"):
        fairness("crispr_on_target")


def test_cli_writes_json_and_prints_the_gap(toy_task, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["fairness", "toy_fair", "--by", "group", "--quick", "--mitigations", "group_balanced",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "largest gap" in result.output and "group_balanced" in result.output
    written = json.loads((tmp_path / "challenges" / "fairness_toy_fair_group.json").read_text())
    assert written["seeds"] == [0] and written["n_boot"] == 200 and written["methods"] == ["group_balanced"]
    bad = runner.invoke(app, ["fairness", "toy_fair", "--by", "ancestry", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "group column" in bad.output


# ---- a yes/no decision: fairlearn's ThresholdOptimizer and ExponentiatedGradient -----------------


def test_decision_rates_and_gap_are_fairlearns_and_the_bootstrap_counts_agree():
    from fairlearn.metrics import (
        MetricFrame, demographic_parity_difference, equalized_odds_difference, true_positive_rate,
    )

    rng = np.random.default_rng(5)
    group = rng.choice(["a", "b", "c"], 300)
    truth = rng.integers(0, 2, 300)
    decision = np.where(group == "c", rng.random(300) < 0.7, rng.random(300) < 0.4).astype(int)
    out = decision_metrics(truth, decision, group, n_boot=200, random_state=1)
    assert out["gap"] == pytest.approx(equalized_odds_difference(truth, decision, sensitive_features=group))
    tpr = MetricFrame(metrics=true_positive_rate, y_true=truth, y_pred=decision, sensitive_features=group).by_group
    assert out["rates"]["tpr"] == pytest.approx(tpr.to_dict())
    assert out["n_positive_by_group"] == {g: int(truth[group == g].sum()) for g in "abc"}
    parity = decision_metrics(truth, decision, group, constraint="demographic_parity", n_boot=None)
    assert parity["gap"] == pytest.approx(demographic_parity_difference(truth, decision, sensitive_features=group))
    # the bincount rates of one "resample" that is the data itself equal fairlearn's, group by group
    codes = pd.Index(sorted("abc")).get_indexer(group)
    rates = fairness_module._group_rates(truth.astype(float), decision.astype(float), codes[None, :], 3)[0]
    assert rates[:, 0] == pytest.approx(tpr.to_numpy()) and rates[:, 3] == pytest.approx(list(out["by_group"].values()))
    assert out["gap_ci"][0] <= out["gap"] <= out["gap_ci"][1] and len(out["gap_samples"]) == 200
    assert out["worst"] == "c" or out["gap_rate"] == "tpr"  # c is selected most: its FPR is the highest
    with pytest.raises(InputError, match="0 or 1"):
        decision_metrics([0, 1, 2], [0, 1, 1], list("aab"), n_boot=None)
    with pytest.raises(UnknownNameError, match="constraint"):
        decision_metrics(truth, decision, group, constraint="fair")


def _biased_scores(n_a: int = 500, n_b: int = 300, seed: int = 0):
    """The same risk in both groups, but group b's measured feature reads 1.0 too high: one threshold
    selects b's patients, with or without the outcome, far more often (unequal TPR and FPR)."""
    rng = np.random.default_rng(seed)
    group = np.repeat(["a", "b"], [n_a, n_b])
    latent = rng.normal(size=n_a + n_b)
    y = (latent + rng.normal(scale=0.7, size=len(latent)) > 0.8).astype(int)
    return pd.DataFrame({"x": latent + np.where(group == "b", 1.0, 0.0)}), y, group


def _logistic():
    return make_pipeline(FunctionTransformer(lambda f: f[["x"]].to_numpy(float)), LogisticRegression())


def _toy_binary_module() -> types.ModuleType:
    return _toy_task_module("toy_decision", 96, "binary", ("auroc",), _biased_scores(), ("logistic", _logistic))


DECISION_PLAN = FairnessPlan(
    model="logistic", metric="auroc", groupings={"group": Grouping("the toy's two groups")}, note="toy",
    decision=Decision(what="y = 1", baseline="P(y = 1) >= 0.5", outcome=lambda y: np.asarray(y, dtype=float),
                      decide=lambda score, extra: (score >= 0.5).astype(int),
                      features=lambda: make_pipeline(FunctionTransformer(lambda f: f[["x"]].to_numpy(float)),
                                                     StandardScaler())),
)


@pytest.fixture
def toy_decision(monkeypatch):
    return _register(monkeypatch, _toy_binary_module(), DECISION_PLAN)


def test_threshold_optimizer_shrinks_the_equalised_odds_difference_on_held_out_rows(toy_decision):
    result = fairness("toy_decision", decision=True, seeds=(0,), n_boot=200)
    table = result.summary().set_index("method")
    assert list(table.index) == ["none", "threshold_optimizer", "logistic_regression", "exponentiated_gradient"]
    assert result.metric == "equalized_odds_difference" and result.view == "decision"
    none, after = table.loc["none"], table.loc["threshold_optimizer"]
    assert none["gap"] > 0.3 and none["worst_group"] in {"a", "b"}  # the biased feature: a real gap
    assert after["gap"] < 0.5 * none["gap"]
    assert after["gap_reduction_ci_low"] > 0  # paired bootstrap: narrower beyond chance
    assert after["compared_with"] == "none" and table.loc["exponentiated_gradient", "compared_with"] == "logistic_regression"
    assert table.loc["exponentiated_gradient", "gap"] < table.loc["logistic_regression", "gap"]
    for seed in result.seeds:  # held out: every row scored once, the group's rates from its own rows
        run = next(r for r in result.runs if r["method"] == "none" and r["seed"] == seed)
        assert run["n_scored"] == 800 and run["n_by_group"] == {"a": 500, "b": 300}
        assert run["rates"]["tpr"]["b"] > run["rates"]["tpr"]["a"] and run["rates"]["fpr"]["b"] > run["rates"]["fpr"]["a"]
        assert "gap_samples" not in run and set(run["other"]["auc"]) == {"a", "b"}


def test_thresholds_are_chosen_on_training_rows_only():
    X, y, group = _biased_scores(200, 120)
    groups = pd.Series(group, index=X.index)
    train, test = np.arange(0, 320, 2), np.arange(1, 320, 2)
    fitted = ThresholdPostprocessed(_logistic(), groups=groups, random_state=3).fit(X.iloc[train], y[train])
    flipped = y.copy()
    flipped[test] = 1 - flipped[test]  # the held-out outcomes change: nothing the fit saw
    again = ThresholdPostprocessed(_logistic(), groups=groups, random_state=3).fit(X.iloc[train], flipped[train])
    assert np.array_equal(fitted.predict(X.iloc[test]), again.predict(X.iloc[test]))
    unknown = ThresholdPostprocessed(_logistic(), groups=groups, outcome=lambda t: np.where(np.arange(len(t)) % 7 == 0,
                                                                                             np.nan, t))
    assert set(unknown.fit(X.iloc[train], y[train]).predict(X.iloc[test])) <= {0, 1}  # unknown outcomes: no threshold


def test_decision_json_report_cli_and_refusals(toy_decision, tmp_path):
    result = fairness("toy_decision", decision=True, seeds=(0,), n_boot=50, mitigations=("threshold_optimizer",))
    paths = save_fairness(result, tmp_path)
    assert paths[0].name == "fairness_toy_decision_group_decision.json" and all(p.stat().st_size > 1000 for p in paths[1:])
    payload = json.loads(paths[0].read_text())
    assert payload["view"] == "decision" and {r["rate"] for r in payload["rates"]} == {
        "tpr", "fpr", "selection_rate", "balanced_accuracy"}
    pd.testing.assert_frame_equal(FairnessResult.from_dict(payload).rate_table(), result.rate_table())
    section = report_section(payload)
    assert "threshold_optimizer" in section.summary and "paired bootstrap" in section.summary
    assert len(section.figures) == 2 and len(section.tables[1][1]) == 4 * 3  # 4 rates x (a, b, all)
    with pytest.raises(InputError, match="decision"):
        fairness("toy_decision", mitigations=("threshold_optimizer",))  # a decision mitigation on the score view
    with pytest.raises(InputError, match="no yes/no decision"):
        fairness("rare_disease", decision=True)
    runner = CliRunner()
    out = runner.invoke(app, ["fairness", "toy_decision", "--by", "group", "--decision", "--quick", "--mitigations",
                              "threshold_optimizer", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "equalized_odds_difference" in out.output and "threshold_optimizer" in out.output
    bad = runner.invoke(app, ["fairness", "toy_decision", "--decision", "--constraint", "fair", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "constraint" in bad.output


# ---- the simulated multi-ancestry polygenic score ------------------------------------------------


def test_simulated_cohort_is_seeded_labelled_and_has_the_chosen_heritability():
    kwargs = {"n_contigs": 1, "contig_length": 200_000, "n_causal": 20, "heritability": 0.6}
    cohort = simulate_cohort({"YRI": 100, "CEU": 100, "CHB": 100}, random_state=4, **kwargs)
    again = simulate_cohort({"YRI": 100, "CEU": 100, "CHB": 100}, random_state=4, **kwargs)
    other = simulate_cohort({"YRI": 100, "CEU": 100, "CHB": 100}, random_state=5, **kwargs)
    assert np.array_equal(cohort.genotypes, again.genotypes) and np.array_equal(cohort.phenotype, again.phenotype)
    assert cohort.genotypes.shape != other.genotypes.shape or not np.array_equal(cohort.genotypes, other.genotypes)
    assert list(pd.unique(cohort.population)) == ["YRI", "CEU", "CHB"] and cohort.meta["data_kind"] == "simulated"
    assert set(np.unique(cohort.genotypes)) <= {0, 1, 2}
    maf = np.minimum(cohort.variants["frequency"], 1 - cohort.variants["frequency"])
    assert maf.min() >= 0.01 and cohort.variants["position"].is_monotonic_increasing
    for population, h2 in cohort.meta["realised_heritability"].items():
        assert h2 == pytest.approx(0.6, abs=0.15), population  # the same heritability in each population
    # YRI carries more diversity than the bottlenecked CEU and CHB (the demographic model's signature)
    polymorphic = {q: int((cohort.genotypes[cohort.population == q].std(axis=0) > 0).sum()) for q in ("YRI", "CEU", "CHB")}
    assert polymorphic["YRI"] > polymorphic["CEU"] and polymorphic["YRI"] > polymorphic["CHB"]


def test_phenotype_effects_are_shared_and_refuse_bad_settings():
    g = np.random.default_rng(0).binomial(2, 0.3, size=(600, 40)).astype(np.int8)
    population = np.repeat(["YRI", "CEU", "CHB"], 200)
    y, genetic, causal, effects = plant_phenotype(g, population=population, n_causal=8, heritability=0.5, random_state=2)
    p = g.mean(axis=0)[causal] / 2
    implied = ((g[:, causal] - 2 * p) / np.sqrt(2 * p * (1 - p))) @ effects
    assert abs(np.corrcoef(implied, genetic)[0, 1]) == pytest.approx(1.0)  # one effect vector for everyone
    with pytest.raises(InputError, match="heritability"):
        plant_phenotype(g, heritability=1.0)
    with pytest.raises(InputError, match="causal"):
        plant_phenotype(g, n_causal=100)


def test_marginal_gwas_equals_one_regression_per_variant():
    rng = np.random.default_rng(1)
    g = rng.binomial(2, 0.3, size=(300, 6)).astype(np.int8)
    y = 0.4 * g[:, 2] + rng.normal(size=300)
    beta, p, z = marginal_gwas(g, y)
    for j in range(6):
        fit = stats.linregress(g[:, j].astype(float), y)
        assert beta[j] == pytest.approx(fit.slope, rel=1e-5) and p[j] == pytest.approx(fit.pvalue, rel=1e-4)
    assert np.allclose(z.std(axis=0), 1.0, atol=1e-5) and p.argmin() == 2
    # adjusting for population removes an association made only by a difference in frequency and mean
    strata = np.repeat([0, 1], 150)
    g2 = np.r_[rng.binomial(2, 0.1, 150), rng.binomial(2, 0.7, 150)][:, None].astype(np.int8)
    y2 = strata * 2.0 + rng.normal(size=300)
    assert marginal_gwas(g2, y2)[1][0] < 1e-10 and marginal_gwas(g2, y2, strata=strata)[1][0] > 1e-3


def test_clumping_keeps_one_variant_per_ld_block_within_the_window():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(size=500)
    z = np.c_[a, a + 0.05 * rng.normal(size=500), b, a + 0.05 * rng.normal(size=500)]
    z = (z - z.mean(0)) / z.std(0)
    variants = pd.DataFrame({"contig": [0, 0, 0, 1], "position": [100, 200, 300, 150]})
    p = np.array([1e-6, 1e-9, 1e-4, 1e-5])
    # 1 (the best) removes its copy 0; 2 is independent; 3 is a copy of 0 on another contig: kept
    assert clump(p, z, variants, r2_max=0.1).tolist() == [1, 3, 2]
    assert clump(p, z, variants, p_max=1e-5).tolist() == [1]
    with pytest.raises(InputError, match="sorted"):
        clump(p, z, variants.iloc[::-1].reset_index(drop=True))


# ---- real data and the full simulation ------------------------------------------------------------


@pytest.mark.slow
def test_prs_accuracy_falls_outside_the_discovery_population_and_multi_ancestry_narrows_the_gap(tmp_path):
    result = prs_fairness(seeds=(0, 1), n_boot=200)
    for seed in result.seeds:
        runs = {r["design"]: r for r in result.runs if r["seed"] == seed}
        ceu = runs["CEU"]["by_group"]
        assert ceu["CEU"] > ceu["YRI"] + 0.05 and ceu["CEU"] > ceu["CHB"] + 0.05, (seed, ceu)
        assert runs["multi_ancestry"]["gap"] < runs["CEU"]["gap"], seed
        assert runs["multi_ancestry"]["n_discovery"] == {"YRI": 500, "CEU": 500, "CHB": 500}  # same total size
    gaps = result.gaps().set_index("design")
    assert gaps.loc["multi_ancestry", "gap_closed"] > 0.3
    paths = save_fairness(result, tmp_path)
    payload = json.loads(paths[0].read_text())
    assert payload["kind"] == "prs" and payload["data_kind"] == "simulated"
    section = report_section(payload)
    assert "SIMULATED" in section.summary and len(section.figures) == 2
    assert PRSResult.from_dict(payload).gaps()["gap"].tolist() == pytest.approx(gaps["gap"].tolist())


@pytest.mark.slow
def test_fairness_on_drug_response_by_tissue_from_the_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["fairness", "drug_response", "--by", "tissue", "--quick", "--mitigations",
                                 "group_balanced", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "challenges" / "fairness_drug_response_tissue.json").read_text())
    run = next(r for r in payload["runs"] if r["method"] == "none")
    assert len(run["by_group"]) >= 8 and "lung" in run["by_group"]  # real GDSC tissues
    assert all(0.3 < v < 3.0 for v in run["by_group"].values())  # ln IC50 RMSE per tissue
    assert run["gap_ci"][0] <= run["gap"] <= run["gap_ci"][1]
    assert payload["data_kind"] == "real" and "No ancestry" in report_section(payload).summary


@pytest.mark.slow
def test_fairness_on_patient_stratification_by_age_band():
    result = fairness("patient_stratification", by="age_band", seeds=(0,), n_boot=200, mitigations=("group_balanced",))
    run = next(r for r in result.runs if r["method"] == "none")
    assert set(run["by_group"]) == {"<40", "40-49", ">=50"} and sum(run["n_by_group"].values()) == 198
    assert all(0.3 < v < 1.0 for v in run["by_group"].values())  # C-index per age band
    assert run["gap_ci"][0] <= run["gap"] <= run["gap_ci"][1]
    table = result.summary().set_index("method")
    assert np.isfinite(table.loc["group_balanced", ["gap", "overall"]].astype(float)).all()


@pytest.mark.slow
def test_decision_on_patient_stratification_by_grade_from_the_cli(tmp_path):
    """The 'high' risk subgroup against metastasis within 5 years, per histological grade (seed 0). What holds
    here: the subgroup flags poorly differentiated tumours far more often than intermediate ones, with or without
    metastasis; the threshold optimiser's measured equalised-odds difference is below the task model's, but on 160
    patients (33 metastases) the paired bootstrap interval of the reduction holds 0: not narrower beyond chance."""
    runner = CliRunner()
    out = runner.invoke(app, ["fairness", "patient_stratification", "--by", "grade", "--decision", "--quick", "--out",
                              str(tmp_path)])
    assert out.exit_code == 0, out.output
    payload = json.loads((tmp_path / "challenges" / "fairness_patient_stratification_grade_decision.json").read_text())
    result = FairnessResult.from_dict(payload)
    assert result.excluded == {"unknown": 2, "well differentiated": 27}  # 2 and 2 metastases: no TPR to compare
    runs = {r["method"]: r for r in result.runs}
    none = runs["none"]
    assert none["n_scored"] == 160 and sum(none["n_positive_by_group"].values()) == 33
    assert 0.25 < none["overall_rates"]["selection_rate"] < 0.45  # the top tertile of training risk
    poorly, intermediate = "poorly differentiated", "intermediate"
    assert none["rates"]["tpr"][poorly] > none["rates"]["tpr"][intermediate] + 0.2
    assert none["rates"]["fpr"][poorly] > none["rates"]["fpr"][intermediate]
    table = result.summary().set_index("method")
    after = table.loc["threshold_optimizer"]
    assert after["gap"] < table.loc["none", "gap"]
    assert after["gap_reduction_ci_low"] < 0 < after["gap_reduction_ci_high"]
    assert table.loc["exponentiated_gradient", "gap"] <= table.loc["logistic_regression", "gap"]
    assert 0.5 < table.loc["none", "overall"] < 0.75  # balanced accuracy of the task's own decision
    section = report_section(payload)
    assert "does not narrow beyond chance" in section.summary and len(section.figures) == 2

"""genotx shift: adapters (meta-estimators under the protocol), the shift run, its JSON, figures and CLI.

Fast tests use small simulated data; the slow one runs the real default data of two tasks.
"""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner

from genotx.challenges import shift as shift_module
from genotx.challenges.shift import (
    CoralAligned, DomainReweighted, Shift, ShiftPlan, ShiftResult, TaskView, TestTimeStandardized, coral_align,
    domain_weights, shift, shift_figures,
)
from genotx.cli import app
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.protocols import Supervised
from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.tasks.registry import TASKS, Task, _discover
from genotx.tasks.spec import TaskSpec


def _mse(a, b) -> float:
    return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


# ---- adapters on simulated shifts ---------------------------------------------------------------


def test_importance_weighting_corrects_a_misspecified_model_under_covariate_shift():
    # Shimodaira's setting: a straight line fitted to a curve is right only where the training mass is;
    # reweighting the source toward the target region fits the line where it will be used
    rng = np.random.default_rng(0)
    xs, xt = rng.normal(0.0, 1.0, size=(2000, 1)), rng.normal(1.5, 0.5, size=(500, 1))
    f = lambda x: x[:, 0] ** 2  # noqa: E731
    ys = f(xs) + rng.normal(scale=0.1, size=len(xs))
    plain = LinearRegression().fit(xs, ys).predict(xt)
    weighted = DomainReweighted(LinearRegression()).fit(xs, ys)
    adapted = weighted.predict(xt)
    assert _mse(adapted, f(xt)) < 0.5 * _mse(plain, f(xt))
    assert 0.7 < weighted.diagnostics_["domain_auroc"] <= 1.0
    assert weighted.diagnostics_["effective_sample_size"] < len(xs)  # weights that do something


def test_domain_weights_are_uniform_when_the_domains_match():
    rng = np.random.default_rng(1)
    weights, info = domain_weights(rng.normal(size=(600, 3)), rng.normal(size=(300, 3)))
    assert info["domain_auroc"] < 0.6
    assert info["effective_sample_size"] > 0.95 * 600
    assert weights.mean() == pytest.approx(1.0)


def test_coral_matches_the_closed_form():
    from scipy.linalg import sqrtm
    from sklearn.covariance import ledoit_wolf

    def shrunk(x):  # Ledoit-Wolf on standardised columns, scaled back (skada's reg="auto")
        scale = x.std(axis=0)
        return scale[:, None] * ledoit_wolf((x - x.mean(0)) / scale)[0] * scale[None, :]

    rng = np.random.default_rng(2)
    xs = rng.normal(size=(300, 4)) * [1.0, 10.0, 0.1, 1.0]
    xt = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4)) + 5.0
    cs, ct = shrunk(xs), shrunk(xt)
    expected = (xs - xs.mean(0)) @ np.linalg.inv(np.real(sqrtm(cs))) @ np.real(sqrtm(ct)) + xt.mean(0)
    assert np.allclose(coral_align(xs, xt), expected, atol=1e-8)


@pytest.mark.parametrize("adapter", [CoralAligned, TestTimeStandardized])
def test_alignment_recovers_a_change_of_units(adapter):
    # the target measures the same latent features in other units (x3, shifted by 2): a model fitted
    # in source units is wrong there; aligning the domains' statistics puts it right
    rng = np.random.default_rng(3)
    latent_s, latent_t = rng.normal(size=(1000, 3)), rng.normal(size=(400, 3))
    w = np.array([1.0, -2.0, 0.5])
    xs, xt = latent_s, 3.0 * latent_t + 2.0
    plain = Ridge(alpha=1e-3).fit(xs, latent_s @ w).predict(xt)
    adapted = adapter(Ridge(alpha=1e-3)).fit(xs, latent_s @ w).predict(xt)
    assert _mse(adapted, latent_t @ w) < 0.05 * _mse(plain, latent_t @ w)


def test_adapters_work_between_a_pipelines_featurizer_and_learner_and_keep_its_kind():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (X["a"] > 0).astype(int).to_numpy()
    featurize = FunctionTransformer(lambda f: f.to_numpy() * 10.0)
    model = DomainReweighted(make_pipeline(featurize, LogisticRegression()))
    assert is_classifier(model) and not is_classifier(DomainReweighted(Ridge()))
    proba = clone(model).fit(X.iloc[:150], y[:150]).predict_proba(X.iloc[150:])
    assert proba.shape == (50, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert not hasattr(CoralAligned(KNeighborsRegressor()), "predict_proba")


def test_importance_weighting_refuses_a_learner_without_sample_weight():
    X = np.random.default_rng(5).normal(size=(60, 2))
    with pytest.raises(InputError, match="sample_weight"):
        DomainReweighted(KNeighborsRegressor()).fit(X[:40], X[:40, 0]).predict(X[40:])


# ---- a simulated task with a real shift ---------------------------------------------------------


def _shifted_module() -> types.ModuleType:
    """Entities sit apart on a curved response: a tree fitted on some entities predicts a held-out
    one from its neighbours' level (a cold split costs), random rows interpolate (no cost)."""
    rng = np.random.default_rng(0)
    entity = np.repeat(np.arange(10), 40)
    x = rng.normal(loc=entity - 4.5, scale=0.25)[:, None]
    y = x[:, 0] ** 2 + rng.normal(scale=0.2, size=len(x))
    module = types.ModuleType("toy_shifted")
    module.SPEC = TaskSpec(
        name="toy_shifted", number=98, stage="therapeutics", title="Toy shift", formulation="x -> y",
        protocol="supervised", target="regression", data_kind="simulated", sources=(),
        splits=("random", "cold_entity"), metrics=("rmse", "pearson"), baselines=("tree", "mean"), trivial="mean",
    )
    module.load = lambda: Dataset("toy_shifted", pd.DataFrame({"x": x[:, 0]}), y, pd.DataFrame({"entity": entity}),
                                  {"data_kind": "simulated"})
    module.SPLITS = {"random": RandomSplit(0.25), "cold_entity": ColdSplit("entity", test_size=0.3)}
    module.MODELS = {"tree": lambda random_state=0: make_pipeline(FunctionTransformer(lambda f: f.to_numpy(float)),
                                                                  DecisionTreeRegressor(max_depth=6, random_state=random_state)),
                     "mean": lambda random_state=0: make_pipeline(FunctionTransformer(lambda f: f.to_numpy(float)), Ridge(alpha=1e9))}
    return module


PLAN = ShiftPlan(model="tree", shifts=(Shift("cold_entity", "random", "held-out entities vs random rows"),),
                 splits={"cold_entity_3fold": ColdSplit("entity", n_folds=3)})


@pytest.fixture
def shifted_task(monkeypatch):
    _discover()
    task = Task.from_module(_shifted_module())
    monkeypatch.setitem(TASKS._items, "toy_shifted", task)
    monkeypatch.setitem(shift_module.SHIFTS, "toy_shifted", PLAN)
    return task


def test_shift_measures_the_gap_and_each_method_under_the_tasks_protocol(shifted_task):
    result = shift("toy_shifted", seeds=(0, 1, 2))
    table = result.summary().set_index("method")
    assert result.metric == "rmse" and not result.greater_is_better
    shifted = table[table["role"] == "shifted"]
    assert list(shifted.index) == ["none", "importance_weighting", "coral", "test_time_standardization"]
    # the cold split costs (rmse up several-fold), measured per seed, with a spread over seeds
    assert shifted.loc["none", "gap"] > 2 * table.iloc[0]["mean"] and shifted.loc["none", "gap_std"] > 0
    # every number in the table is the runs' own: recompute the unadapted gap by hand
    ref = [r["metrics"]["rmse"] for r in result.runs if r["role"] == "reference"]
    cold = [r["metrics"]["rmse"] for r in result.runs if r["role"] == "shifted" and r["method"] == "none"]
    assert shifted.loc["none", "gap"] == pytest.approx(np.mean(np.array(cold) - np.array(ref)))
    # each adapter changed the model (its effect on this toy is not asserted: trees do not extrapolate)
    assert (shifted["change"].iloc[1:].abs() > 0).all()
    assert {d["method"] for d in result.diagnostics} == {"DomainReweighted", "CoralAligned", "TestTimeStandardized"}
    assert all(r["n_test"] > 0 and r["n_train"] > 0 for r in result.runs)


def test_the_adapters_score_the_same_through_cross_validate(shifted_task):
    import genotx

    record = genotx.cross_validate("toy_shifted", DomainReweighted(shifted_task.model("tree")), split="cold_entity", seed=0)
    result = shift("toy_shifted", seeds=(0,), methods=("importance_weighting",))
    run = next(r for r in result.runs if r["method"] == "importance_weighting")
    assert record.metrics["rmse"] == pytest.approx(run["metrics"]["rmse"])


def test_a_split_built_by_the_challenge_holds_out_whole_entities(shifted_task):
    view = TaskView(shifted_task, PLAN.splits)
    data = shifted_task.load()
    folds = view.folds(data, "cold_entity_3fold", random_state=0)
    entity = data.groups["entity"].to_numpy()
    assert len(folds) == 3
    for fold in folds:
        assert not set(entity[fold.train]) & set(entity[fold.test])
    assert len(TaskView(shifted_task, PLAN.splits, max_folds=2).folds(data, "cold_entity_3fold", random_state=1)) == 2
    result = shift("toy_shifted", seeds=(0,), methods=(), plan=ShiftPlan(
        model="tree", shifts=(Shift("cold_entity_3fold", "random", "3-fold cold"),), splits=PLAN.splits))
    assert result.settings["n_folds"] == {"random": 1, "cold_entity_3fold": 3}


def test_tissue_rows_derive_the_group_and_drop_unannotated_lines():
    profiles = pd.DataFrame({"mut_A": [0, 1, 0, 1], "tissue_lung": [1, 0, 0, 0], "tissue_skin": [0, 1, 0, 1]},
                            index=["c1", "c2", "c3", "c4"])
    task = types.SimpleNamespace(name="drug_response", module=types.SimpleNamespace(
        cell_profiles=lambda frame: profiles.reindex(pd.unique(frame["cell_line"]))))
    inputs = pd.DataFrame({"cell_line": ["c1", "c2", "c3", "c4", "c1"], "drug": list("aaabb")})
    data = Dataset("dr", inputs, np.arange(5.0), inputs[["cell_line", "drug"]].copy())
    part = shift_module._tissue_rows(task, data)
    assert part.groups["tissue"].tolist() == ["lung", "skin", "skin", "lung"]  # c3 has no tissue: dropped
    assert part.inputs["cell_line"].tolist() == ["c1", "c2", "c4", "c1"]


def test_json_round_trip_and_figures(shifted_task, tmp_path):
    result = shift("toy_shifted", seeds=(0, 1), methods=("coral",))
    payload = json.loads(json.dumps(result.to_dict()))
    again = ShiftResult.from_dict(payload)
    pd.testing.assert_frame_equal(again.summary(), result.summary())
    figures = shift_figures(payload)
    assert set(figures) == {"scores", "gap"} and all(f.axes for f in figures.values())
    paths = shift_module.save_shift(result, tmp_path)
    assert paths[0].name == "shift_toy_shifted_cold_entity.json" and all(p.exists() for p in paths)
    assert json.loads(paths[0].read_text())["challenge"] == "shift"


def test_unknown_names_fail_before_any_work(shifted_task):
    with pytest.raises(UnknownNameError, match="adaptation method"):
        shift("toy_shifted", methods=("corral",))
    with pytest.raises(UnknownNameError, match="shifted split"):
        shift("toy_shifted", split="random")
    with pytest.raises(UnknownNameError, match="did you mean|Valid"):
        shift("protein_binding")


def test_cli_writes_json_and_plots_and_prints_the_gap(shifted_task, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["shift", "toy_shifted", "--seeds", "0-2", "--quick", "--methods", "coral", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "cold_entity" in result.output and "gap" in result.output
    written = json.loads((tmp_path / "challenges" / "shift_toy_shifted_cold_entity.json").read_text())
    assert written["seeds"] == [0, 1] and written["methods"] == ["coral"]  # --quick: two seeds
    assert (tmp_path / "challenges" / "shift_toy_shifted_cold_entity_gap.png").stat().st_size > 1000
    bad = runner.invoke(app, ["shift", "toy_shifted", "--methods", "mmd", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "adaptation method" in bad.output


# ---- real data ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["drug_response", "crispr_on_target"])
def test_shift_on_real_data(name):
    from genotx.tasks.registry import get_task

    task = get_task(name)
    result = shift(name, seeds=(0, 1), methods=("importance_weighting",), subsample=8, max_folds=2)
    table = result.summary().set_index("method")
    assert np.isfinite(table["mean"]).all()
    # the splits are honest: no held-out entity (tissue / gene) appears in training
    plan = shift_module.SHIFTS[name]
    data = shift_module.prepare_data(task, plan, subsample=8)
    group = {"drug_response": "tissue", "crispr_on_target": "gene"}[name]
    for fold in TaskView(task, plan.splits, max_folds=2).folds(data, result.split, random_state=0):
        assert not set(data.groups[group].iloc[fold.train]) & set(data.groups[group].iloc[fold.test])
    assert all(0.5 <= d["domain_auroc"] <= 1.0 for d in result.diagnostics)
    shifted = table[table["role"] == "shifted"]  # "none" is also the reference row's method
    if name == "drug_response":  # new tissues cost: within-drug Pearson falls (0.39 -> 0.14 at 30 drugs, seed 0)
        assert shifted.loc["none", "gap"] > 0.05
    else:  # the sequence model carries over to new genes: far above the GC-content floor (~0.1)
        assert shifted.loc["none", "mean"] > 0.4

"""genotx fewshot: episodes, methods, the hyperparameter choice on source entities, JSON, figures, CLI.

Fast tests use a small simulated task; the slow one runs the real default data of two tasks.
"""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner

from genotx.challenges import fewshot as fewshot_module
from genotx.challenges.fewshot import FewShotPlan, FewShotResult, fewshot, fewshot_figures
from genotx.cli import app
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.splits import ColdSplit
from genotx.tasks.registry import TASKS, Task, _discover
from genotx.tasks.spec import TaskSpec


def _entity_module() -> types.ModuleType:
    """y = f(x) + an offset and a slope on column c per entity: the other entities teach f, only the
    entity's own rows tell its offset and slope; a 30-mer-like ``unit`` column repeats rows within an entity."""
    rng = np.random.default_rng(0)
    n_entities, per = 14, 70
    entity = np.repeat([f"e{i:02d}" for i in range(n_entities)], per)
    x = rng.normal(size=(len(entity), 4))
    offset = dict(zip(np.unique(entity), rng.normal(scale=2.0, size=n_entities)))
    slope = dict(zip(np.unique(entity), rng.normal(scale=1.5, size=n_entities)))
    y = (3 * np.sin(x[:, 0]) + 2 * x[:, 1] + np.vectorize(offset.get)(entity) + np.vectorize(slope.get)(entity) * x[:, 2]
         + rng.normal(scale=0.3, size=len(entity)))
    unit = np.char.add(entity, (np.arange(len(entity)) // 2 % per).astype(str))  # pairs of rows share a unit
    module = types.ModuleType("toy_entities")
    module.SPEC = TaskSpec(
        name="toy_entities", number=97, stage="therapeutics", title="Toy entities", formulation="x -> y",
        protocol="supervised", target="regression", data_kind="simulated", sources=(),
        splits=("cold_entity",), metrics=("rmse", "pearson"), baselines=("lgbm",),
    )
    module.load = lambda: Dataset("toy_entities", pd.DataFrame(x, columns=list("abcd")), y,
                                  pd.DataFrame({"entity": entity, "unit": unit}), {"data_kind": "simulated"})
    module.SPLITS = {"cold_entity": ColdSplit("entity", n_folds=3)}
    module.MODELS = {"lgbm": lambda random_state=0: make_pipeline(
        FunctionTransformer(lambda f: f.to_numpy(float)),
        LGBMRegressor(n_estimators=60, num_leaves=8, min_child_samples=5, random_state=random_state, n_jobs=1, verbose=-1))}
    return module


PLAN = FewShotPlan(entity="entity", model="lgbm", metrics=("rmse", "pearson"), within="unit", min_query=15, local=("c",))


@pytest.fixture
def entity_task(monkeypatch):
    _discover()
    task = Task.from_module(_entity_module())
    monkeypatch.setitem(TASKS._items, "toy_entities", task)
    monkeypatch.setitem(fewshot_module.FEWSHOT, "toy_entities", PLAN)
    return task


def test_support_and_query_never_share_a_unit():
    groups = pd.DataFrame({"unit": ["a", "a", "b", "b", "c", "d", "d", "e", "f", "f"]})
    rows = np.arange(10)
    support, query = fewshot_module._draw(groups, rows, "unit", 3, np.random.default_rng(0))
    units_s, units_q = set(groups["unit"][support]), set(groups["unit"][query])
    assert len(support) == 3 and len(units_s) == 3  # one row per unit
    assert not units_s & units_q and units_s | units_q == set("abcdef")


def test_adapted_methods_beat_scratch_and_no_adaptation_at_k5_on_entity_offsets(entity_task):
    result = fewshot("toy_entities", ks=(0, 1, 5, 10), n_entities=4, seeds=(0, 1, 2))
    frame = result.frame()
    assert set(frame["method"]) == set(fewshot_module.METHODS)
    assert not ((frame["k"] == 0) & (frame["method"] == "scratch")).any()  # no data, no model
    # with no labels every adapted method is the pretrained model
    zero = frame[frame["k"] == 0].pivot_table(index=["seed", "entity"], columns="method", values="rmse")
    for method in fewshot_module.ADAPTED:
        np.testing.assert_allclose(zero[method], zero["pretrained"])
    goal = result.goal(metric="rmse").set_index(["method", "versus"])
    # the offsets are what pretraining cannot know and 5 rows estimate: a residual correction wins
    assert goal.loc[("finetune_residual", "pretrained"), "beats"]
    assert goal.loc[("finetune_residual", "scratch"), "beats"]
    assert goal.loc[("nearest_neighbours", "pretrained"), "gain"] > 0
    # the per-entity slope on the local column c reorders rows within an entity: finetune_local learns it
    pearson = result.goal(k=10, metric="pearson").set_index(["method", "versus"])
    assert pearson.loc[("finetune_local", "pretrained"), "beats"]
    assert result.verdict(metric="rmse").startswith("Goal") and "met by" in result.verdict(metric="rmse")
    summary = result.summary("rmse")
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
    assert len(result.entities) == 4 and summary["n"].max() == 12  # 4 entities x 3 seeds


def test_hyperparameters_are_chosen_on_source_entities_only(entity_task, monkeypatch):
    seen: list[list[str]] = []
    original = fewshot_module._episodes

    def spy(pre, scaler, data, entity, names, *args, **kwargs):
        seen.append([str(n) for n in names])
        return original(pre, scaler, data, entity, names, *args, **kwargs)

    monkeypatch.setattr(fewshot_module, "_episodes", spy)
    result = fewshot("toy_entities", ks=(0, 5), n_entities=3, seeds=(0,))
    inner, outer = seen
    assert sorted(outer) == sorted(result.entities)
    assert inner and not set(inner) & set(result.entities)
    assert set(result.tuned["0"]) == set(fewshot_module.GRIDS)
    for method, params in result.tuned["0"].items():
        if method == "finetune_local":  # estimated on the source episodes, not searched
            assert 0 < params["shrink"] < 1e6
        else:
            assert params in fewshot_module.GRIDS[method]


def _local_episode(slope: float, n: int, rng: np.random.Generator, noise: float = 1.0):
    x = rng.normal(size=(n, 1))
    residual = slope * x[:, 0] + rng.normal(scale=noise, size=n)
    query = Dataset("q", pd.DataFrame({"c": x[20:, 0]}), residual[20:], pd.DataFrame({"g": np.zeros(n - 20)}))
    return fewshot_module._Episode("e", x[:20], residual[:20], residual[:20], query, x[20:], np.zeros(n - 20),
                                   np.zeros((n - 20, 20)), support_local=x[:20], query_local=x[20:])


def test_prior_shrink_is_noise_over_slope_variance():
    rng = np.random.default_rng(0)
    # slopes with variance 0.25 and unit noise: the posterior-mean ridge penalty is 1 / 0.25 = 4
    episodes = [_local_episode(s, 2000, rng) for s in rng.normal(scale=0.5, size=60)]
    assert 3.0 < fewshot_module._prior_shrink(episodes)["shrink"] < 5.5
    # no slope in any entity: a penalty so large that the correction vanishes
    assert fewshot_module._prior_shrink([_local_episode(0.0, 2000, rng) for _ in range(10)])["shrink"] > 50
    # the fitted correction: at k = 0 none, with many rows close to the entity's slope
    ep = _local_episode(2.0, 400, rng, noise=0.1)
    np.testing.assert_allclose(fewshot_module._finetune_local(None, None, ep, 0, seed=0), 0.0)
    pred = fewshot_module._finetune_local(None, None, ep, 20, seed=0, shrink=1.0)
    assert np.corrcoef(pred, ep.query.target)[0, 1] > 0.99


def test_entities_can_be_named_and_bad_requests_say_how_to_fix(entity_task):
    result = fewshot("toy_entities", ks=(0, 1), entities=["e01", "e05"], seeds=(0,), methods=("pretrained", "scratch"), tune=False)
    assert result.entities == ["e01", "e05"]
    with pytest.raises(InputError, match="e99"):
        fewshot("toy_entities", entities=["e99"])
    with pytest.raises(InputError, match="lower n_entities"):
        fewshot("toy_entities", n_entities=14)
    with pytest.raises(UnknownNameError, match="few-shot method"):
        fewshot("toy_entities", methods=("maml",))
    with pytest.raises(UnknownNameError, match="few-shot entity"):
        fewshot("protein_binding")


def test_json_round_trip_figures_and_cli(entity_task, tmp_path):
    result = fewshot("toy_entities", ks=(0, 1, 5), n_entities=2, seeds=(0, 1), tune=False)
    payload = json.loads(json.dumps(result.to_dict()))
    pd.testing.assert_frame_equal(FewShotResult.from_dict(payload).summary("rmse"), result.summary("rmse"))
    assert payload["challenge"] == "fewshot" and set(payload["goal"]) == {"rmse", "pearson"}
    figures = fewshot_figures(payload)
    assert set(figures) == {"curve_rmse", "curve_pearson"}
    lines = figures["curve_rmse"].axes[0].get_lines()
    assert {line.get_label() for line in lines} == set(fewshot_module.METHODS)

    runner = CliRunner()
    out = runner.invoke(app, ["fewshot", "toy_entities", "--quick", "--ks", "0,1,5,10", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "finetune_residual" in out.output and "seed spread" in out.output
    written = json.loads((tmp_path / "challenges" / "fewshot_toy_entities.json").read_text())
    assert written["ks"] == [0, 1, 5] and written["seeds"] == [0, 1] and len(written["entities"]) == 2  # --quick
    assert (tmp_path / "challenges" / "fewshot_toy_entities_curve_rmse.png").stat().st_size > 1000
    bad = runner.invoke(app, ["fewshot", "toy_entities", "--ks", "1,five", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--ks" in bad.output


@pytest.mark.slow
def test_fewshot_on_real_drug_response():
    result = fewshot("drug_response", ks=(0, 1, 5), n_entities=2, seeds=(0, 1), n_source=12)
    frame = result.frame()
    assert np.isfinite(frame["rmse"]).all() and len(result.entities) == 2
    assert "finetune_local" not in result.methods  # the plan names no local input
    at5 = frame[frame["k"] == 5].groupby("method")["rmse"].mean()
    # a new drug's level is what few labels fix: rmse falls far below the pretrained one
    assert at5["finetune_residual"] < 0.8 * at5["pretrained"]


@pytest.mark.slow
def test_fewshot_on_real_crispr_on_target():
    """A new gene: the within-gene ranking carries over from other genes, 5 guides alone rank poorly,
    and no adaptation from 5 guides moves the ranking by much (the measured reason the k = 5 goal is
    not met there); the position-in-protein slope's prior is estimated from the source genes."""
    result = fewshot("crispr_on_target", ks=(0, 5, 20), n_entities=5, seeds=(0, 1))
    frame = result.frame()
    assert np.isfinite(frame["spearman"]).all() and len(result.entities) == 5
    mean = frame.groupby(["method", "k"])["spearman"].mean()
    assert mean["pretrained", 5] > 0.45 and mean["scratch", 5] < mean["pretrained", 5] - 0.3
    for method in fewshot_module.ADAPTED:  # none harms the ranking much at k = 5 (a penalty near 0 does: ~-0.04)
        assert abs(mean[method, 5] - mean["pretrained", 5]) < 0.03, method
    assert mean["finetune_local", 20] > mean["pretrained", 20] - 0.01
    # genes differ in the slope on % peptide: a finite, moderate penalty, not "no slope variance" (1e6)
    assert all(3.0 < params["finetune_local"]["shrink"] < 100.0 for params in result.tuned.values())
    verdict = result.verdict()
    assert "finetune_" in verdict or "nearest_neighbours" in verdict
    assert "vs pretrained (seed spread 0.0" in verdict

"""genotx privacy: DP-SGD (Opacus) on a task's torch network, federated training (in-process loop and
Flower's simulation), their results, report section and CLI.

Fast tests run on small simulated data (the toy task of conftest, with a torch baseline added);
the slow ones run the real default data: DP at epsilon 8 against the trivial floor on
protein_binding and drug_response, FedAvg between the single sites and pooled on crispr_on_target,
and Flower's simulation against the in-process loop.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from typer.testing import CliRunner

from genotx.challenges.privacy import DPResult, FederatedResult, report_section, result_from_dict, save_privacy
from genotx.challenges.privacy import dp as dp_module
from genotx.challenges.privacy import federated as fed_module
from genotx.challenges.privacy.dp import DPPlan, PrivateRegressor, dp_curve, private_part, privatize
from genotx.challenges.privacy.federated import (
    FederatedPlan, NetworkRecipe, Site, assign_sites, federate, federated, local_update, weighted_average,
)
from genotx.cli import app
from genotx.errors import InputError
from genotx.models.nets import TorchRegressor
from genotx.models.threads import FewThreadsRegressor
from genotx.tasks.registry import TASKS, Task, _discover

from conftest import _toy_module


def _linear(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, (X @ np.array([1.5, -1.0, 0.5, 0.0]) + rng.normal(scale=0.3, size=n)).astype(np.float32)


def _small_net(shape, n_outputs):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(shape)), 16), nn.ReLU(), nn.Linear(16, n_outputs))


# ---- DP-SGD ---------------------------------------------------------------------------------------


def test_spent_epsilon_is_finite_near_its_target_and_falls_as_the_noise_grows():
    X, y = _linear()
    fits = {eps: PrivateRegressor(network=_small_net, epochs=2, batch_size=64, lr=1e-2, target_epsilon=eps, accountant="rdp").fit(X, y)
            for eps in (1.0, 4.0)}
    for eps, fit in fits.items():
        assert math.isfinite(fit.epsilon_) and 0.9 * eps <= fit.epsilon_ <= 1.02 * eps
        assert fit.delta_ == pytest.approx(1 / len(X)) and fit.steps_ > 0
        assert 0 < fit.sample_rate_ < 1
    # more noise, less privacy spent
    assert fits[1.0].noise_multiplier_ > fits[4.0].noise_multiplier_ > 0
    assert fits[1.0].epsilon_ < fits[4.0].epsilon_


def test_a_small_private_fit_learns_the_signal_and_predicts_as_a_plain_module():
    X, y = _linear(1, n=2000)
    model = PrivateRegressor(network=_small_net, epochs=4, batch_size=128, lr=1e-2, target_epsilon=8.0, random_state=0).fit(X, y)
    assert np.corrcoef(model.predict(X), y)[0, 1] > 0.9
    # Opacus' hooks are removed after training: the network pickles and has no per-sample gradients left
    assert not any(hasattr(p, "grad_sample") and p.grad_sample is not None for p in model.network_.parameters())
    import pickle

    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict(X[:5]), model.predict(X[:5]), rtol=1e-6)


def test_ghost_clipping_on_the_per_row_loss_clips_as_opacus_per_sample_hooks():
    # the private fits use ghost clipping (fast); it must clip exactly as the reference per-sample
    # hooks do: one plain SGD step, no noise, a clipping bound far below the gradients' norms
    from opacus import PrivacyEngine

    torch.manual_seed(0)
    X, y = torch.randn(128, 6), torch.randn(128, 1)
    start = _small_net((6,), 1)
    bound = 0.01
    updates = {}
    for mode in ("hooks", "ghost"):
        network = _small_net((6,), 1)
        network.load_state_dict(start.state_dict())
        optimizer = torch.optim.SGD(network.parameters(), lr=1.0)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=128)
        loss = dp_module._PerRow(nn.MSELoss()) if mode == "ghost" else nn.MSELoss()
        made = PrivacyEngine().make_private(module=network, optimizer=optimizer, data_loader=loader, noise_multiplier=0.0,
                                            max_grad_norm=bound, grad_sample_mode=mode, criterion=loss, poisson_sampling=False)
        network, optimizer, loss = made[0], made[1], (made[2] if mode == "ghost" else loss)
        optimizer.zero_grad()
        loss(network(X), y).backward()
        optimizer.step()
        updates[mode] = torch.cat([(after.detach() - before).flatten() for after, before in zip(network.parameters(), start.parameters())])
    assert float(updates["hooks"].norm()) <= bound  # the mean of gradients clipped at the bound
    torch.testing.assert_close(updates["ghost"], updates["hooks"], rtol=1e-4, atol=1e-7)


def test_without_epsilon_the_private_regressor_trains_as_the_plain_one():
    # the non-private reference differs from the private model by DP alone
    X, y = _linear(2)
    plain = TorchRegressor(network=_small_net, epochs=3, batch_size=64, lr=1e-2, validation_fraction=0.0, random_state=3).fit(X, y)
    same = PrivateRegressor(network=_small_net, epochs=3, batch_size=64, lr=1e-2, random_state=3).fit(X, y)
    np.testing.assert_array_equal(plain.predict(X), same.predict(X))
    assert same.epsilon_ == math.inf


def test_a_private_fit_refuses_early_stopping_and_fixes_batch_norm():
    X, y = _linear(3)
    with pytest.raises(InputError, match="early stopping"):
        PrivateRegressor(network=_small_net, epochs=1, target_epsilon=2.0, validation_fraction=0.1).fit(X, y)

    def batch_norm_net(shape, n_outputs):
        return nn.Sequential(nn.Linear(shape[0], 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, n_outputs))

    model = PrivateRegressor(network=batch_norm_net, epochs=1, batch_size=64, target_epsilon=2.0, accountant="rdp").fit(X, y)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model.network_.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.network_.modules())


def test_privatize_swaps_the_network_inside_pipelines_and_thread_wrappers():
    model = make_pipeline(StandardScaler(), FewThreadsRegressor(TorchRegressor(network=_small_net, lr=0.01, epochs=7)))
    private = privatize(model, target_epsilon=2.0, max_grad_norm=0.5, accountant="rdp")
    inner = private[-1].estimator
    assert isinstance(inner, PrivateRegressor) and inner.epochs == 7 and inner.lr == 0.01 and inner.max_grad_norm == 0.5
    assert inner.validation_fraction == 0.0
    assert isinstance(model[-1].estimator, TorchRegressor) and not isinstance(model[-1].estimator, PrivateRegressor)
    X, y = _linear(4)
    fitted = private.fit(X, y)
    assert private_part(fitted).epsilon_ <= 2.02
    with pytest.raises(InputError, match="no torch network"):
        privatize(make_pipeline(StandardScaler(), Ridge()), target_epsilon=1.0)


# ---- a toy task with a torch baseline ------------------------------------------------------------


@pytest.fixture
def toy_net_task(monkeypatch):
    """conftest's simulated toy task (12 entities) with a torch baseline ``net``, registered for the test."""
    _discover()
    module = _toy_module(n=600)
    module.SPEC = dataclasses.replace(module.SPEC, baselines=("ridge", "mean", "net"))
    module.MODELS["net"] = lambda random_state=0: make_pipeline(
        StandardScaler(), TorchRegressor(network=_small_net, epochs=4, lr=1e-2, batch_size=64, random_state=random_state))
    task = Task.from_module(module)
    monkeypatch.setitem(TASKS._items, "toy_regression", task)
    monkeypatch.setitem(dp_module.DP_PLANS, "toy_regression", DPPlan(
        model="net", split="random", metric="pearson", epochs=3,
        grid=({"batch_size": 64, "lr": 1e-3, "max_grad_norm": 1.0}, {"batch_size": 64, "lr": 1e-2, "max_grad_norm": 1.0})))
    monkeypatch.setitem(fed_module.FEDERATED_PLANS, "toy_regression", FederatedPlan(
        model="net", site_column="entity", n_sites=3, pack=True, split="random", metric="pearson", rounds=3))
    return task


def test_dp_curve_on_a_toy_task_reports_every_epsilon_and_round_trips(toy_net_task, tmp_path):
    result = dp_curve("toy_regression", epsilons=(1.0, 8.0), seeds=(0, 1), accountant="rdp")
    roles = [(r["role"], r["target_epsilon"]) for r in result.runs]
    assert roles.count(("private", 8.0)) == 2 and roles.count(("non_private", None)) == 2 and roles.count(("trivial", None)) == 2
    for run in result.runs:
        if run["role"] == "private":
            assert math.isfinite(run["epsilon"]) and run["epsilon"] <= 1.02 * run["target_epsilon"]
            assert run["delta"] == pytest.approx(1 / run["n_train"])
    # tuned on the validation part: both settings tried, the better one kept
    assert len(result.tuning) == 2
    best = max(result.tuning, key=lambda t: t["validation"])
    assert result.settings["lr"] == best["lr"]
    summary = result.summary()
    private = summary[summary["role"] == "private"].set_index("target_epsilon")
    assert private.loc[8.0, "mean"] > summary.set_index("role").loc["trivial", "mean"]  # a linear signal: DP still learns it
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["challenge"] == "privacy" and payload["mode"] == "dp" and payload["goal"]["checked"]
    again = result_from_dict(payload)
    assert isinstance(again, DPResult)
    pd.testing.assert_frame_equal(again.summary(), result.summary())
    section = report_section(payload)
    assert section.title == "Privacy (DP-SGD): toy_regression" and len(section.figures) == 1
    assert "epsilon 8" in section.summary
    for figure in section.figures:
        figure.clear()
    paths = save_privacy(result, tmp_path)
    assert paths[0].name == "privacy_dp_toy_regression.json" and paths[1].name == "privacy_dp_toy_regression_curve.png"
    assert json.loads(paths[0].read_text())["figures"] == ["privacy_dp_toy_regression_curve.png"]


def test_dp_curve_refuses_bad_epsilons_and_unknown_tasks(toy_net_task):
    with pytest.raises(InputError, match="epsilon"):
        dp_curve("toy_regression", epsilons=(0.0, 8.0))
    with pytest.raises(Exception, match="crispr_off_target"):
        dp_curve("crispr_off_target")


# ---- federated -----------------------------------------------------------------------------------


def test_sites_are_the_largest_groups_or_balanced_packs_of_every_group():
    genes = pd.Series(np.repeat([f"g{i}" for i in range(7)], [40, 30, 20, 20, 10, 5, 5]))
    packed = assign_sites(genes, 3, pack=True)
    members = [m for ms in packed.values() for m in ms]
    assert sorted(members) == sorted(genes.unique())  # every gene in exactly one site
    sizes = [genes.isin(ms).sum() for ms in packed.values()]
    assert max(sizes) - min(sizes) <= 10
    assert assign_sites(genes, 2, pack=False) == {"g0": ["g0"], "g1": ["g1"]}
    with pytest.raises(InputError):
        assign_sites(genes, 8, pack=True)


def _sites(n_sites: int = 3, *, identical: bool = False) -> list[Site]:
    sites = []
    for i in range(n_sites):
        X, y = _linear(0 if identical else 10 + i, n=120)
        sites.append(Site(f"s{i}", [f"g{i}"], X[:96], y[:96], X[96:], y[96:], None, X[96:]))
    return sites


def test_fedavg_of_identical_clients_equals_one_pooled_step():
    # full-batch, one local epoch: every client computes the pooled gradient step, and so does their average
    recipe = NetworkRecipe(_small_net, (4,), 1e-2, 1024, 0.0)
    sites = _sites(3, identical=True)
    averaged, _ = federate(recipe, sites, rounds=1, seed=0)
    start = fed_module._state(recipe.build(0))
    pooled = local_update(recipe, start, np.concatenate([s.X for s in sites]), np.concatenate([s.y for s in sites]),
                          epochs=1, seed=5)
    for key in pooled:
        np.testing.assert_allclose(averaged[key], pooled[key], rtol=1e-5, atol=1e-6)
        assert not np.allclose(pooled[key], start[key])


def test_fedprox_pulls_local_weights_toward_the_global_ones():
    recipe = NetworkRecipe(_small_net, (4,), 1e-2, 32, 0.0)
    start = fed_module._state(recipe.build(0))
    site = _sites(1)[0]
    drift = {mu: sum(np.abs(v - start[k]).sum() for k, v in local_update(recipe, start, site.X, site.y, epochs=3, seed=1, mu=mu).items())
             for mu in (0.0, 10.0)}
    assert drift[10.0] < drift[0.0]


def test_weighted_average_is_flowers_aggregate_bit_for_bit():
    pytest.importorskip("flwr")
    from flwr.app import Array, ArrayRecord, MetricRecord, RecordDict
    from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords

    rng = np.random.default_rng(0)
    states = [{"a": rng.normal(size=(3, 4)).astype(np.float32), "b": rng.normal(size=3).astype(np.float32)} for _ in range(4)]
    counts = [17, 5, 230, 41]
    records = [RecordDict({"arrays": ArrayRecord({k: Array(v) for k, v in s.items()}), "metrics": MetricRecord({"num-examples": n})})
               for s, n in zip(states, counts)]
    theirs = aggregate_arrayrecords(records, "num-examples")
    ours = weighted_average(states, counts)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key].numpy())


def test_federated_on_a_toy_task_scores_every_arm_per_site_and_round_trips(toy_net_task, tmp_path):
    result = federated("toy_regression", seeds=(0,), engine="local", rounds=3)
    assert set(result.sites) == {"site1", "site2", "site3"}
    frame = result.frame()
    assert set(frame["arm"]) == {"trivial", "pooled", "single_site", "fedavg", "fedprox"}
    assert set(frame["site"]) == {"site1", "site2", "site3", "overall"}
    summary = result.summary().set_index("arm")
    assert summary.loc["fedavg", "overall"] > summary.loc["trivial", "overall"] + 0.3  # a shared linear signal is learnt
    goal = result.goal()
    assert {"fedavg_site_mean", "fedavg_overall", "fedprox_site_mean"} <= set(goal)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["challenge"] == "privacy" and payload["mode"] == "federated"
    again = result_from_dict(payload)
    assert isinstance(again, FederatedResult)
    pd.testing.assert_frame_equal(again.per_site(), result.per_site())
    section = report_section(payload)
    assert section.title == "Privacy (federated): toy_regression" and len(section.figures) == 2
    for figure in section.figures:
        figure.clear()
    paths = save_privacy(result, tmp_path)
    assert [p.name for p in paths] == ["privacy_federated_toy_regression.json", "privacy_federated_toy_regression_sites.png",
                                       "privacy_federated_toy_regression_rounds.png"]


def test_federated_refuses_a_model_without_weights_to_average(toy_net_task):
    plan = dataclasses.replace(fed_module.FEDERATED_PLANS["toy_regression"], model="ridge")
    with pytest.raises(InputError, match="not a torch network"):
        federated("toy_regression", seeds=(0,), engine="local", plan=plan)
    with pytest.raises(Exception, match="flower"):
        federated("toy_regression", seeds=(0,), engine="spark")


# ---- CLI -----------------------------------------------------------------------------------------


def test_cli_privacy_runs_both_modes_and_refuses_bad_options(toy_net_task, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["privacy", "toy_regression", "--mode", "federated", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "fedavg" in result.output and (tmp_path / "challenges" / "privacy_federated_toy_regression.json").exists()
    result = runner.invoke(app, ["privacy", "toy_regression", "--quick", "--epsilons", "2,8", "--seeds", "0", "--accountant", "rdp",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "spent" in result.output
    assert json.loads((tmp_path / "challenges" / "privacy_dp_toy_regression.json").read_text())["settings"]["accountant"] == "rdp"
    bad = runner.invoke(app, ["privacy", "toy_regression", "--mode", "secure"])
    assert bad.exit_code != 0 and "dp or federated" in bad.output
    bad = runner.invoke(app, ["privacy", "toy_regression", "--epsilons", "1,-2"])
    assert bad.exit_code != 0 and "positive numbers" in bad.output


# ---- real data (slow) ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("task", "max_rows", "epochs"), [("protein_binding", 12_000, 4), ("drug_response", None, 5)])
def test_dp_at_epsilon_8_beats_the_trivial_floor_on_real_data(task, max_rows, epochs):
    # short runs: fewer epochs (and rows), the RDP accountant, the DP setting that the full run chose on its
    # validation part (protein_binding: batch 256, lr 2e-3, clip 2; drug_response: batch 2048, lr 3e-3, clip 1)
    chosen = {"protein_binding": {"batch_size": 256, "lr": 2e-3, "max_grad_norm": 2.0},
              "drug_response": {"batch_size": 2048, "lr": 3e-3, "max_grad_norm": 1.0}}[task]
    plan = dataclasses.replace(dp_module.DP_PLANS[task], grid=(chosen,))
    result = dp_curve(task, epsilons=(8.0,), seeds=(0,), tune=False, max_rows=max_rows, epochs=epochs, accountant="rdp",
                      references=("trivial",), plan=plan)
    table = result.summary().set_index("role")
    assert math.isfinite(table.loc["private", "epsilon"]) and table.loc["private", "epsilon"] <= 8.1
    assert table.loc["private", "mean"] > table.loc["trivial", "mean"] + 0.01, result.summary()


@pytest.mark.slow
def test_fedavg_lands_between_the_mean_single_site_and_pooled_on_crispr():
    # the plan's settings (every arm stops on its validation loss), one seed, the in-process engine
    result = federated("crispr_on_target", seeds=(0,), engine="local", arms=("pooled", "single_site", "fedavg"))
    summary = result.summary().set_index("arm")["site_mean"]
    assert summary["single_site"] < summary["fedavg"] <= summary["pooled"] + 0.02, summary
    assert summary["fedavg"] >= 0.95 * summary["pooled"], summary  # the goal: within 5% of pooled


@pytest.mark.slow
def test_flower_simulation_gives_the_local_loops_weights():
    pytest.importorskip("flwr")
    pytest.importorskip("ray")
    from genotx.tasks.therapeutics.drug_response.models import mlp_network

    # a genotx factory (drug_response's MLP: 256 -> 64, dropout): Ray workers import it by name
    recipe = NetworkRecipe(mlp_network, (4,), 1e-2, 32, 0.0)
    sites = _sites(3)
    # a learning rate that overshoots after a few rounds, so that early stopping (patience 1) ends both runs early
    recipe = dataclasses.replace(recipe, lr=0.3)
    local, local_history = federate(recipe, sites, rounds=8, mu=0.01, seed=0, patience=1)
    flower, flower_history = fed_module.federate_flower(recipe, sites, rounds=8, mu=0.01, seed=0, patience=1)
    assert len(local_history) < 8
    assert [h["valid_loss"] for h in flower_history] == pytest.approx([h["valid_loss"] for h in local_history], rel=1e-6)
    for key in local:
        np.testing.assert_allclose(flower[key], local[key], rtol=1e-6, atol=1e-7)

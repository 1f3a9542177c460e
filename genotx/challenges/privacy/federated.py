"""Federated training: a task's torch network trained across sites that never pool their labels.

Sites come from a real grouping of the rows, so they are non-IID by construction: tissues of origin
for drug_response (the 5 largest GDSC tissues, one site each), genes for crispr_on_target (the 17
genes packed into 5 sites of similar size). Each site's rows are split by the task's own split
(``random``: 20% of pairs / of distinct 30-mers held out as the site's test part) and a validation
part is carved out of its training rows (``task.split_positions``).

Every arm trains the task's own network (its factory, learning rate, batch size, weight decay) in
the same way: rounds of ``local_epochs`` passes of :func:`genotx.models.nets.train_network` (a
fresh AdamW each round, as a federated client has), at most ``rounds`` rounds, stopped after
``patience`` rounds without a better validation loss (weighted over the sites' validation parts),
and the round with the lowest one is kept; targets are standardised with the federation's mean
and spread (each site shares its count, sum and sum of squares; a single site uses its own).
FedAvg needs more rounds than pooled training (each round averages a few local steps per site),
so a fixed round count would favour one arm: early stopping lets each arm train until its own
validation loss stops improving.

* ``pooled``: one client holding every site's training rows (the upper reference);
* ``single_site``: each site alone, scored on its own test part;
* ``fedavg``: FedAvg (McMahan et al. 2017): the sites' updated weights averaged by their row counts;
* ``fedprox``: FedProx (Li et al. 2020): the same with ``mu / 2 ||w - w_global||^2`` added to each
  site's loss.

FedAvg and FedProx run in Flower's simulation (``engine="flower"``: ``flwr.simulation.run_simulation``
with a ServerApp running Flower's ``FedAvg`` / ``FedProx`` strategies and a ClientApp per site, Ray
limited to 2 CPUs, no dashboard) or in the plain in-process loop :func:`federate` (``engine="local"``).
Why both: starting Ray and its workers costs ~10-60 s (by the machine's load) and ~1 GB on this
2-core machine, too much for fast tests; the loop calls the same client update (:func:`local_update`) and the same aggregation
(:func:`weighted_average`, replies ordered by site), so both give the same weights for the same seed
(checked by a slow test; on the real crispr_on_target run every score matched to the last digit). The featurizer (drug_response: PCA of cell-line profiles and drug
structures) is fitted once on the inputs of every site's training rows, never on labels: in a real
federation it would be a shared public reference (GDSC cell-line panels and drug structures are public).

Examples
--------
>>> import numpy as np
>>> weighted_average([{"w": np.ones(2, np.float32)}, {"w": np.zeros(2, np.float32)}], [3, 1])["w"].tolist()
[0.75, 0.75]
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from torch import nn

from genotx.challenges.privacy.results import FederatedResult
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError, require_extra
from genotx.evaluate.metrics import Evaluator
from genotx.models.nets import TorchRegressor, train_network
from genotx.settings import settings

__all__ = ["ARMS", "FederatedPlan", "FEDERATED_PLANS", "Site", "NetworkRecipe", "federated",
           "federate", "local_update", "weighted_average", "assign_sites"]

ARMS = ("pooled", "single_site", "fedavg", "fedprox")
State = dict[str, np.ndarray]


# ---- sites ---------------------------------------------------------------------------------------


def assign_sites(values: pd.Series, n_sites: int, *, pack: bool) -> dict[str, list[str]]:
    """Site name -> the group values it holds. ``pack=False``: the ``n_sites`` largest groups, one
    site each (the rest are left out); ``pack=True``: every group, packed into ``n_sites`` sites of
    similar row counts (largest group first into the smallest site; ties by name: deterministic).

    Examples
    --------
    >>> genes = pd.Series(["a"] * 6 + ["b"] * 3 + ["c"] * 3 + ["d"] * 2)
    >>> assign_sites(genes, 2, pack=True)
    {'site1': ['a', 'd'], 'site2': ['b', 'c']}
    >>> assign_sites(genes, 2, pack=False)
    {'a': ['a'], 'b': ['b']}
    """
    counts = values.astype(str).value_counts()
    counts = counts.iloc[np.lexsort((counts.index.to_numpy(), -counts.to_numpy()))]
    if n_sites < 2 or len(counts) < n_sites:
        raise InputError("federated", f"needs at least 2 sites and as many groups ({len(counts)}) as sites ({n_sites})",
                         fix="lower the number of sites")
    if not pack:
        return {str(g): [str(g)] for g in counts.index[:n_sites]}
    sites: list[list[str]] = [[] for _ in range(n_sites)]
    sizes = np.zeros(n_sites)
    for group, count in counts.items():
        i = int(np.argmin(sizes))
        sites[i].append(str(group))
        sizes[i] += count
    return {f"site{i + 1}": members for i, members in enumerate(sites)}


@dataclass
class Site:
    """One site's featurized rows: training (``X``, ``y``), validation and test parts (targets in their own units)."""

    name: str
    members: list[str]
    X: np.ndarray
    y: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    test: Dataset
    X_test: np.ndarray

    @property
    def n(self) -> int:
        return len(self.X)


# ---- the network and one client's update ---------------------------------------------------------


@dataclass(frozen=True)
class NetworkRecipe:
    """What every client builds and trains: the task's network factory, its training settings and
    the target's standardisation (the federation's mean and spread, or a single site's own)."""

    network: Callable[..., nn.Module]
    input_shape: tuple[int, ...]
    lr: float
    batch_size: int
    weight_decay: float
    y_mean: float = 0.0
    y_scale: float = 1.0

    def scaled(self, y: np.ndarray) -> np.ndarray:
        """The target in the units the network is trained in."""
        return ((np.asarray(y, dtype=np.float32) - np.float32(self.y_mean)) / np.float32(self.y_scale)).astype(np.float32)

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        network = self.network(self.input_shape, 1)
        with torch.no_grad():  # materialise lazy layers
            network(torch.zeros((2, *self.input_shape)))
        return network


def _state(network: nn.Module) -> State:
    return {k: v.detach().cpu().numpy().copy() for k, v in network.state_dict().items()}


def _load(network: nn.Module, state: State) -> nn.Module:
    network.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in state.items()})
    return network


class _Proximal:
    """FedProx's local objective: the loss plus ``mu / 2 * ||w - w_global||^2`` (Li et al. 2020)."""

    def __init__(self, loss: nn.Module, network: nn.Module, mu: float) -> None:
        self.loss, self.network, self.mu = loss, network, mu
        self.anchor = [p.detach().clone() for p in network.parameters()]

    def __call__(self, prediction, target):
        proximal = sum(((p - a) ** 2).sum() for p, a in zip(self.network.parameters(), self.anchor))
        return self.loss(prediction, target) + self.mu / 2 * proximal


def local_update(recipe: NetworkRecipe, state: State, X: np.ndarray, y: np.ndarray, *, epochs: int, seed: int,
                 mu: float = 0.0) -> State:
    """One client's round: the global weights trained ``epochs`` passes over its rows (``mu > 0``: FedProx).

    Examples
    --------
    >>> recipe = NetworkRecipe(lambda shape, n: nn.Linear(shape[0], n), (3,), 0.05, 16, 0.0)
    >>> start = _state(recipe.build(0))
    >>> X = np.random.default_rng(0).normal(size=(64, 3)).astype("float32"); y = X[:, 0] * 2
    >>> a, b = local_update(recipe, start, X, y, epochs=2, seed=1), local_update(recipe, start, X, y, epochs=2, seed=1)
    >>> all(np.array_equal(a[k], b[k]) for k in a), not np.allclose(a["weight"], start["weight"])
    (True, True)
    """
    with settings.limit_threads(1):
        network = _load(recipe.build(seed), state)
        loss = nn.MSELoss()
        train_network(network, X, recipe.scaled(y)[:, None], loss=loss if mu <= 0 else _Proximal(loss, network, mu), epochs=epochs,
                      batch_size=recipe.batch_size, lr=recipe.lr, weight_decay=recipe.weight_decay, validation_fraction=0.0,
                      random_state=seed)
        return _state(network)


def weighted_average(states: Sequence[State], weights: Sequence[float]) -> State:
    """FedAvg's aggregate: each array averaged with weights proportional to ``weights`` (row counts).

    The arithmetic is Flower's ``aggregate_arrayrecords`` (float32 arrays times Python-float
    factors, accumulated in the given order) so that the in-process loop and the Flower run agree
    exactly; it is restated here because flwr is an optional extra (``genotx[federated]``).
    """
    total = float(sum(weights))
    out: State = {}
    for state, weight in zip(states, weights, strict=True):
        factor = float(weight) / total
        for key, value in state.items():
            if key not in out:
                out[key] = np.asarray(value) * factor
            else:
                out[key] += np.asarray(value) * factor
    return {k: np.asarray(v) for k, v in out.items()}


def _predict(recipe: NetworkRecipe, state: State, X: np.ndarray) -> np.ndarray:
    with settings.limit_threads(1), torch.no_grad():
        network = _load(recipe.build(0), state).eval()
        X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
        return torch.cat([network(X[i:i + 4096]) for i in range(0, len(X), 4096)]).numpy()[:, 0] if len(X) else np.zeros(0)


def _site_loss(recipe: NetworkRecipe, state: State, site: Site) -> float:
    """Mean squared error of the standardised target on one site's validation rows."""
    return float(np.mean((_predict(recipe, state, site.X_valid) - recipe.scaled(site.y_valid)) ** 2)) if len(site.y_valid) else 0.0


def _validation_loss(recipe: NetworkRecipe, state: State, sites: Sequence[Site]) -> float:
    """The sites' validation losses weighted by their validation rows, summed in site order: Flower's
    ``aggregate_metricrecords`` arithmetic, so both engines pick the same round."""
    total = float(sum(len(s.y_valid) for s in sites))
    loss = 0.0
    for site in sites:
        loss = loss + _site_loss(recipe, state, site) * (len(site.y_valid) / total)
    return float(loss)


def _client_seed(seed: int, round_: int, site: int) -> int:
    return int(seed) * 100_003 + int(round_) * 101 + int(site)


class _Stopper:
    """Early stopping on the validation loss: the best round so far, and whether ``patience``
    rounds have passed without improving on it (shared by both engines: the same stop round)."""

    def __init__(self, patience: int | None) -> None:
        self.patience, self.best, self.best_round, self.last = patience, math.inf, 0, 0

    def update(self, round_: int, loss: float) -> None:
        self.last = round_
        if loss < self.best - 1e-9:
            self.best, self.best_round = loss, round_

    @property
    def stop(self) -> bool:
        return self.patience is not None and self.last - self.best_round >= self.patience


def federate(recipe: NetworkRecipe, sites: Sequence[Site], *, rounds: int, local_epochs: int = 1, mu: float = 0.0,
             seed: int = 0, patience: int | None = None, site_ids: Sequence[int] | None = None) -> tuple[State, list[dict]]:
    """The in-process federation loop: every round each site updates the global weights
    (:func:`local_update`), they are averaged by row counts (:func:`weighted_average`); returns the
    weights of the round with the lowest validation loss and the per-round history (at most
    ``rounds``; it stops after ``patience`` rounds without a better validation loss). One site is
    plain centralised training in rounds (the pooled and single-site arms)."""
    ids = list(site_ids) if site_ids is not None else list(range(len(sites)))
    state = _state(recipe.build(seed))
    stopper, best_state, history = _Stopper(patience), state, []
    for round_ in range(1, rounds + 1):
        updates = [local_update(recipe, state, s.X, s.y, epochs=local_epochs, seed=_client_seed(seed, round_, i), mu=mu)
                   for i, s in zip(ids, sites)]
        state = weighted_average(updates, [s.n for s in sites])
        loss = _validation_loss(recipe, state, sites)
        history.append({"round": round_, "valid_loss": loss})
        stopper.update(round_, loss)
        if stopper.best_round == round_:
            best_state = state
        if stopper.stop:
            break
    return best_state, history


# ---- Flower ------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _folder_sites(folder: str) -> tuple[NetworkRecipe, list[Site]]:
    """A Flower client's data, read once per worker process (Ray pickles the ClientApp for every
    message: the data stays on disk and only its folder travels)."""
    import pickle

    with open(Path(folder) / "federation.pkl", "rb") as handle:
        return pickle.load(handle)


def _client_train(message, context):
    from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict

    config = message.content["config"]
    recipe, sites = _folder_sites(str(config["folder"]))
    i = int(context.node_config["partition-id"])
    state = {k: v.numpy() for k, v in message.content["arrays"].items()}
    updated = local_update(recipe, state, sites[i].X, sites[i].y, epochs=int(config["local-epochs"]),
                           seed=_client_seed(int(config["seed"]), int(config["server-round"]), i),
                           mu=float(config.get("proximal-mu", 0.0)))
    arrays = ArrayRecord({k: Array(updated[k]) for k in state})
    metrics = MetricRecord({"num-examples": sites[i].n, "site": i})
    return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=message)


def _client_evaluate(message, context):
    from flwr.app import Message, MetricRecord, RecordDict

    config = message.content["config"]
    recipe, sites = _folder_sites(str(config["folder"]))
    i = int(context.node_config["partition-id"])
    state = {k: v.numpy() for k, v in message.content["arrays"].items()}
    metrics = MetricRecord({"num-examples": len(sites[i].y_valid), "loss": _site_loss(recipe, state, sites[i]), "site": i})
    return Message(RecordDict({"metrics": metrics}), reply_to=message)


def _ordered(strategy_class, n_sites: int, patience: int | None):
    """A Flower strategy whose replies are aggregated in site order (Ray returns them in arrival
    order; float sums depend on the order), that counts rounds where a site failed, and that stops
    sending work once the federated validation loss has not improved for ``patience`` rounds (the
    remaining rounds of ``strategy.start`` then pass without messages)."""

    def in_site_order(replies):
        return sorted(replies, key=lambda m: int(m.content["metrics"]["site"]) if m.has_content() else -1)

    class Ordered(strategy_class):
        stopper = _Stopper(patience)
        failed_rounds: list[int] = []

        def configure_train(self, server_round, arrays, config, grid):
            return [] if self.stopper.stop else super().configure_train(server_round, arrays, config, grid)

        def configure_evaluate(self, server_round, arrays, config, grid):
            return [] if self.stopper.stop else super().configure_evaluate(server_round, arrays, config, grid)

        def aggregate_train(self, server_round, replies):
            replies = in_site_order(replies)
            if replies and sum(m.has_content() for m in replies) < n_sites:
                self.failed_rounds.append(server_round)
            return super().aggregate_train(server_round, replies) if replies else (None, None)

        def aggregate_evaluate(self, server_round, replies):
            replies = in_site_order(replies)
            if not replies:
                return None
            metrics = super().aggregate_evaluate(server_round, replies)
            if metrics is not None:
                self.stopper.update(server_round, float(metrics["loss"]))
            return metrics

    Ordered.__name__ = f"SiteOrdered{strategy_class.__name__}"
    return Ordered


def federate_flower(recipe: NetworkRecipe, sites: Sequence[Site], *, rounds: int, local_epochs: int = 1, mu: float = 0.0,
                    seed: int = 0, patience: int | None = None, num_cpus: int = 2) -> tuple[State, list[dict]]:
    """:func:`federate` run by Flower's simulation: a ServerApp with Flower's FedAvg (``mu == 0``)
    or FedProx strategy, one ClientApp per site in Ray (``num_cpus`` CPUs, no dashboard); the
    round with the lowest validation loss (the clients' federated evaluation) is kept, and rounds
    stop after ``patience`` without improvement, as in :func:`federate`."""
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")  # read when flwr is imported: no call home
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nor from Ray (its usage-stats head process)
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no GPU here: silences Ray's notice about it
    import logging

    require_extra("flwr", "federated")
    from flwr.app import Array, ArrayRecord, ConfigRecord, Context
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg, FedProx
    from flwr.simulation import run_simulation
    from ray import cloudpickle  # a network factory defined in a script (__main__) travels by value

    start = _state(recipe.build(seed))
    keys = list(start)
    snapshots: dict[int, State] = {}
    outcome: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="genotx_flower_") as folder:
        with open(Path(folder) / "federation.pkl", "wb") as handle:
            cloudpickle.dump((recipe, list(sites)), handle)
        n = len(sites)

        def snapshot(server_round: int, arrays) -> None:  # the server keeps each round's global weights (no data)
            snapshots[server_round] = {k: arrays[k].numpy() for k in keys}

        def main(grid: Grid, context: Context) -> None:  # noqa: ARG001
            kind = FedProx if mu > 0 else FedAvg
            options = {"proximal_mu": mu} if mu > 0 else {}
            strategy = _ordered(kind, n, patience)(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=n,
                                                   min_evaluate_nodes=n, min_available_nodes=n, **options)
            outcome["strategy"] = strategy
            config = {"folder": folder, "seed": int(seed), "local-epochs": int(local_epochs)}
            outcome["result"] = strategy.start(grid=grid, initial_arrays=ArrayRecord({k: Array(v) for k, v in start.items()}),
                                               num_rounds=rounds, train_config=ConfigRecord(config),
                                               evaluate_config=ConfigRecord(config), evaluate_fn=snapshot)

        server = ServerApp()
        server.main()(main)
        client = ClientApp()
        client.train()(_client_train)
        client.evaluate()(_client_evaluate)
        backend = {"client_resources": {"num_cpus": 1, "num_gpus": 0},
                   "init_args": {"num_cpus": num_cpus, "include_dashboard": False, "logging_level": "error",
                                 "log_to_driver": False}}
        logger = logging.getLogger("flwr")
        level = logger.level
        logger.setLevel(logging.ERROR)  # per-round INFO lines and the run_simulation deprecation notice: progress() says enough
        try:
            run_simulation(server_app=server, client_app=client, num_supernodes=n, backend_config=backend)
        finally:
            logger.setLevel(level)
    result, strategy = outcome.get("result"), outcome.get("strategy")
    if result is None or strategy.failed_rounds or not result.evaluate_metrics_clientapp:
        raise InputError("federated", "Flower's simulation ended without every site's updates "
                         f"(rounds with a failed site: {strategy.failed_rounds if strategy else 'all'}; see its log above)",
                         fix="run with engine='local', or check that Ray starts and its workers import genotx")
    history = [{"round": r, "valid_loss": float(m["loss"])} for r, m in sorted(result.evaluate_metrics_clientapp.items())]
    return snapshots[strategy.stopper.best_round], history


# ---- the comparison ------------------------------------------------------------------------------


def _tissue_rows(task, data: Dataset) -> Dataset:
    """drug_response rows whose cell line has a tissue, with a ``tissue`` group column (the shift
    challenge's preparation of the same data)."""
    from genotx.challenges.shift import SHIFTS

    return SHIFTS["drug_response"].prepare(task, data)


@dataclass(frozen=True)
class FederatedPlan:
    """How :func:`federated` runs on one task: the torch baseline ``model``, the group column that
    makes the sites (``site_column``; ``pack``: several groups per site, else the ``n_sites``
    largest groups), the task ``split`` applied within each site, the ``metric`` of the goal,
    at most ``rounds`` rounds of ``local_epochs`` local epochs, stopped after ``patience`` rounds
    without a better validation loss (every arm alike), FedProx's ``mu``, an optional row
    preparation and a note."""

    model: str
    site_column: str
    n_sites: int
    pack: bool
    split: str
    metric: str
    rounds: int
    local_epochs: int = 1
    patience: int | None = 10
    mu: float = 0.01
    prepare: Callable[[Any, Dataset], Dataset] | None = None
    note: str = ""


#: Tasks with a real grouping to federate over. Task packages are not edited: the mapping lives here.
FEDERATED_PLANS: dict[str, FederatedPlan] = {
    "drug_response": FederatedPlan(
        model="mlp", site_column="tissue", n_sites=5, pack=False, split="random", metric="pearson", rounds=150,
        prepare=_tissue_rows,
        note="Sites: the 5 GDSC tissues with the most pairs (lung, blood, nervous system, urogenital, digestive), one "
             "site each; within a site 20% of its pairs are its test part. Network: the mlp baseline's (drug_response's "
             "default lowrank_knn is not a network).",
    ),
    "crispr_on_target": FederatedPlan(
        model="cnn", site_column="gene", n_sites=5, pack=True, split="random", metric="spearman_per_gene", rounds=100,
        note="Sites: the 17 Doench 2016 genes packed into 5 sites of similar size (MED12 alone is one); within a site "
             "20% of its distinct 30-mers are its test part. Network: the cnn baseline's (the default ensemble "
             "includes LightGBM, which does not average).",
    ),
}


def _network_parts(estimator) -> tuple[Any, TorchRegressor]:
    """(featurizer or None, the TorchRegressor) of a task's torch baseline."""
    featurizer = None
    if isinstance(estimator, Pipeline):
        featurizer = Pipeline(estimator.steps[:-1]) if len(estimator.steps) > 1 else None
        estimator = estimator.steps[-1][1]
    while not isinstance(estimator, TorchRegressor):
        inner = estimator.get_params(deep=False).get("estimator") if hasattr(estimator, "get_params") else None
        if inner is None:
            raise InputError("federated", f"{type(estimator).__name__} is not a torch network: its weights cannot be averaged",
                             fix="use a task's torch baseline (a Pipeline ending in TorchRegressor)")
        estimator = inner
    return featurizer, estimator


def _plan(task, plan: FederatedPlan | None) -> FederatedPlan:
    if plan is not None:
        return plan
    if task.name not in FEDERATED_PLANS:
        raise UnknownNameError("task with federated sites", task.name, FEDERATED_PLANS)
    return FEDERATED_PLANS[task.name]


def _target_scale(parts: Sequence[np.ndarray]) -> tuple[float, float]:
    """Mean and spread from each part's count, sum and sum of squares (what sites would share)."""
    n = sum(len(p) for p in parts)
    total = sum(float(np.sum(p, dtype=np.float64)) for p in parts)
    squares = sum(float(np.sum(np.square(p, dtype=np.float64))) for p in parts)
    mean = total / n
    return mean, math.sqrt(max(squares / n - mean**2, 0.0)) or 1.0


def _merged(name: str, sites: Sequence[Site]) -> Site:
    return Site(name, [m for s in sites for m in s.members], np.concatenate([s.X for s in sites]), np.concatenate([s.y for s in sites]),
                np.concatenate([s.X_valid for s in sites]), np.concatenate([s.y_valid for s in sites]), sites[0].test,
                sites[0].X_test)


def federated(
    task,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    arms: Sequence[str] = ARMS,
    engine: str = "flower",
    rounds: int | None = None,
    n_sites: int | None = None,
    mu: float | None = None,
    max_rows_per_site: int | None = None,
    dataset: Dataset | None = None,
    plan: FederatedPlan | None = None,
    progress: Callable[[str], None] | None = None,
) -> FederatedResult:
    """Pooled vs each site alone vs FedAvg vs FedProx on a task's sites (see the module docstring).

    ``engine``: ``"flower"`` (Flower's simulation on Ray) or ``"local"`` (the in-process loop, same
    arithmetic); ``rounds``, ``n_sites``, ``mu`` and ``max_rows_per_site`` (a seeded cap, for short
    runs) override the plan's.

    Examples
    --------
    >>> sorted(FEDERATED_PLANS), ARMS
    (['crispr_on_target', 'drug_response'], ('pooled', 'single_site', 'fedavg', 'fedprox'))
    """
    from genotx.evaluate.protocols import Prediction, Supervised
    from genotx.tasks.registry import get_task

    start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    plan = _plan(task, plan)
    plan = replace(plan, rounds=rounds or plan.rounds, n_sites=n_sites or plan.n_sites, mu=plan.mu if mu is None else mu)
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise UnknownNameError("federated arm", unknown[0], ARMS)
    if engine not in ("flower", "local"):
        raise UnknownNameError("federated engine", engine, ("flower", "local"))
    protocol = task.protocol
    if not isinstance(protocol, Supervised):
        raise InputError(task.name, "federated training needs a supervised task", fix=f"use one of {sorted(FEDERATED_PLANS)}")
    Evaluator(plan.metric)
    data = dataset if dataset is not None else task.load()
    if plan.prepare is not None:
        data = plan.prepare(task, data)
    groups = data.groups[plan.site_column].astype(str)
    site_map = assign_sites(groups, plan.n_sites, pack=plan.pack)
    rows_out: list[dict] = []
    histories: list[dict] = []

    def score(part: Dataset, prediction: np.ndarray, seed: int) -> dict:
        return protocol.score(task, part, Prediction(np.asarray(prediction, dtype=float)), seed=seed)

    for seed in seeds:
        if progress:
            progress(f"{task.name} seed {seed}: sites and features")
        featurizer, regressor = _network_parts(task.model(plan.model, random_state=seed))
        parts = []
        for i, (name, members) in enumerate(site_map.items()):
            rows = np.flatnonzero(groups.isin(members).to_numpy())
            if max_rows_per_site and len(rows) > max_rows_per_site:
                rows = np.sort(np.random.default_rng([seed, i]).choice(rows, max_rows_per_site, replace=False))
            site_data = data.subset(rows)
            positions = task.split_positions(site_data, plan.split, seed=seed, valid_size=0.1)
            parts.append((name, members, {k: site_data.subset(v) for k, v in positions.items()}))
        if featurizer is not None:
            featurizer = clone(featurizer).fit(pd.concat([p["train"].inputs for _, _, p in parts], ignore_index=True))

        def features(part: Dataset) -> np.ndarray:
            values = part.inputs if featurizer is None else featurizer.transform(part.inputs)
            return np.ascontiguousarray(np.asarray(values, dtype=np.float32))

        sites = [Site(name, members, features(p["train"]), p["train"].target.astype(np.float32), features(p["valid"]),
                      p["valid"].target.astype(np.float32), p["test"], features(p["test"])) for name, members, p in parts]
        mean, spread = _target_scale([s.y for s in sites])
        recipe = NetworkRecipe(regressor.network, tuple(sites[0].X.shape[1:]), float(regressor.lr), int(regressor.batch_size),
                               float(regressor.weight_decay), mean, spread)

        def record(arm: str, preds: list[np.ndarray], seconds: float, history: list[dict] | None = None) -> None:
            for site, pred in zip(sites, preds):
                rows_out.append({"seed": seed, "arm": arm, "site": site.name, "metrics": score(site.test, pred, seed),
                                 "n_train": site.n, "n_test": len(site.test)})
            everything = Dataset(data.name, pd.concat([s.test.inputs for s in sites], ignore_index=True),
                                 np.concatenate([s.test.target for s in sites]),
                                 pd.concat([s.test.groups for s in sites], ignore_index=True))
            rows_out.append({"seed": seed, "arm": arm, "site": "overall", "metrics": score(everything, np.concatenate(preds), seed),
                             "n_train": sum(s.n for s in sites), "n_test": len(everything), "seconds": round(seconds, 1)})
            if history is not None:
                histories.append({"seed": seed, "arm": arm, "site": "all", "history": history})

        t0 = time.perf_counter()
        trivial = task.model(task.spec.trivial, random_state=seed)
        trivial.fit(pd.concat([s_p["train"].inputs for _, _, s_p in parts], ignore_index=True),
                    np.concatenate([s_p["train"].target for _, _, s_p in parts]))
        record("trivial", [np.asarray(trivial.predict(s.test.inputs), dtype=float) for s in sites], time.perf_counter() - t0)

        def destandardised(r: NetworkRecipe, state: State, X: np.ndarray) -> np.ndarray:
            return _predict(r, state, X) * r.y_scale + r.y_mean

        if "pooled" in arms:
            if progress:
                progress(f"{task.name} seed {seed}: pooled")
            t0 = time.perf_counter()
            state, history = federate(recipe, [_merged("pooled", sites)], rounds=plan.rounds, local_epochs=plan.local_epochs, seed=seed,
                                      patience=plan.patience)
            record("pooled", [destandardised(recipe, state, s.X_test) for s in sites], time.perf_counter() - t0, history)
        if "single_site" in arms:
            t0 = time.perf_counter()
            preds = []
            for i, site in enumerate(sites):
                if progress:
                    progress(f"{task.name} seed {seed}: {site.name} alone")
                own = replace(recipe, y_mean=float(site.y.mean()), y_scale=float(site.y.std()) or 1.0)
                state, history = federate(own, [site], rounds=plan.rounds, local_epochs=plan.local_epochs, seed=seed,
                                          patience=plan.patience, site_ids=[i])
                preds.append(destandardised(own, state, site.X_test))
                histories.append({"seed": seed, "arm": "single_site", "site": site.name, "history": history})
            record("single_site", preds, time.perf_counter() - t0)
        for arm, arm_mu in (("fedavg", 0.0), ("fedprox", plan.mu)):
            if arm not in arms:
                continue
            if progress:
                progress(f"{task.name} seed {seed}: {arm} ({engine}), {len(sites)} sites x {plan.rounds} rounds")
            t0 = time.perf_counter()
            run = federate_flower if engine == "flower" else federate
            state, history = run(recipe, sites, rounds=plan.rounds, local_epochs=plan.local_epochs, mu=arm_mu, seed=seed,
                                 patience=plan.patience)
            record(arm, [destandardised(recipe, state, s.X_test) for s in sites], time.perf_counter() - t0, history)
    return FederatedResult(task=task.name, model=plan.model, site_column=plan.site_column, sites=site_map, arms=list(arms),
                           seeds=list(seeds), metric=plan.metric, rows=rows_out, engine=engine, history=histories,
                           settings={"rounds": plan.rounds, "local_epochs": plan.local_epochs, "patience": plan.patience, "mu": plan.mu,
                                     "split": plan.split,
                                     "max_rows_per_site": max_rows_per_site, "n_rows": int(groups.isin(
                                         [m for ms in site_map.values() for m in ms]).sum())},
                           note=plan.note, data_kind=str(data.meta.get("data_kind", task.spec.data_kind)),
                           seconds=round(time.perf_counter() - start, 1))

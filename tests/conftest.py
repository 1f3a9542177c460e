"""Shared fixtures: a private cache per test session unless GENOTX_HOME is set, and a toy task."""

from __future__ import annotations

import os
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge

from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.tasks.registry import TASKS, Task, _discover
from genotx.data.dataset import Dataset
from genotx.tasks.spec import TaskSpec


def pytest_configure(config):
    # Real-data tests share one cache per machine (default ~/.cache/genotx) so that a source is
    # fetched once; unit tests that touch the cache point GENOTX_HOME at tmp_path themselves.
    os.environ.setdefault("GENOTX_HOME", os.path.expanduser("~/.cache/genotx"))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does: idle OpenMP threads sleep


def _toy_module(n: int = 120, seed: int = 0) -> types.ModuleType:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = 2 * x[:, 0] - x[:, 1] + rng.normal(scale=0.3, size=n)
    module = types.ModuleType("toy_task")
    module.SPEC = TaskSpec(
        name="toy_regression", number=99, stage="therapeutics", title="Toy", formulation="x -> y",
        protocol="supervised", target="regression", data_kind="simulated", sources=(),
        splits=("random", "cold_entity"), metrics=("pearson", "rmse"), baselines=("ridge", "mean"), trivial="mean",
    )
    entity = np.repeat(np.arange(12), n // 12)

    def load():
        return Dataset("toy_regression", pd.DataFrame(x, columns=["a", "b", "c"]), y, pd.DataFrame({"entity": entity}), {"data_kind": "simulated"})

    module.load = load
    module.SPLITS = {"random": RandomSplit(0.25), "cold_entity": ColdSplit("entity", n_folds=3)}
    module.MODELS = {"ridge": lambda random_state=0: Ridge(), "mean": lambda random_state=0: DummyRegressor()}

    def read_input(path):
        from genotx.data.formats.table import read_table

        return read_table(path, required=("a", "b", "c"), numeric=("a", "b", "c"))

    module.read_input = read_input
    return module


@pytest.fixture
def toy_task(monkeypatch):
    """A tiny registered supervised task (simulated data), removed after the test."""
    _discover()
    task = Task.from_module(_toy_module())
    monkeypatch.setitem(TASKS._items, "toy_regression", task)
    return task


@pytest.fixture
def toy_shift_result():
    """A shift result with a known gap (0.3) and a helpful adaptation (+0.1) on every seed."""
    from genotx.challenges.shift import ShiftResult

    runs = [{"role": role, "method": method, "seed": seed, "metrics": {"pearson": value + 0.01 * seed}}
            for seed in (0, 1, 2)
            for role, method, value in (("reference", "none", 0.8), ("shifted", "none", 0.5), ("shifted", "coral", 0.6))]
    return ShiftResult(task="drug_response", model="lgbm", split="cold_tissue", reference="random", what="held-out tissues",
                       metric="pearson", greater_is_better=True, methods=["coral"], seeds=[0, 1, 2], runs=runs, data_kind="real")

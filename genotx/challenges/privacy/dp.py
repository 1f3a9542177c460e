"""Differential privacy: a task's torch baseline trained with DP-SGD (Opacus), and the privacy-utility curve.

:class:`PrivateRegressor` is the task's ``TorchRegressor`` (same network, optimizer, batch size,
learning rate, epochs, target standardisation, the one training loop
:func:`genotx.models.nets.train_network`) with Opacus' ``make_private_with_epsilon`` plugged in
through the loop's ``wrap`` hook: Poisson sampling of the batches, per-sample gradients clipped
to ``max_grad_norm`` and Gaussian noise calibrated (PRV accountant) to reach ``target_epsilon`` at
``target_delta`` (default ``1 / n_train``) after the given epochs. With ``target_epsilon=None`` it
trains the same way without privacy: the non-private reference differs from the private model by
DP alone. Per-sample gradient norms come from Opacus' ghost clipping (exact norms without
materialising per-sample gradients: about 12x faster than hooks for the drug_response MLP on this
machine); the result is the same DP-SGD.

:func:`dp_curve` runs, per seed and through the task's own protocol (``fit_folds`` / ``summarize``
on the task's split), the trivial floor, the task's own model (its early stopping), the
non-private reference and the private model at each target epsilon, and records the spent
epsilon (with delta) of every private run. DP hyperparameters (clipping norm, learning rate,
batch size) are chosen once, at the goal's epsilon, on a validation part carved out of the
training rows (``task.split_positions``): test rows are never used to tune.

What DP covers here (an honest accounting): the network's gradient steps. Not covered: the
target's mean and standard deviation used to standardise it (two numbers per fit, as
``TorchRegressor`` does), a featurizer's unsupervised fit on the inputs (drug_response: a PCA of
the cell-line profiles and drug structures, which are public GDSC/PubChem data) and the
hyperparameter choice on the validation part (Papernot & Steinke 2022 account for it; we do not).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 5)).astype("float32"); y = X[:, 0] * 2
>>> model = PrivateRegressor(epochs=3, batch_size=64, lr=1e-2, target_epsilon=4.0, accountant="rdp").fit(X, y)
>>> bool(0 < model.epsilon_ <= 4.05), model.delta_ == 1 / 400
(True, True)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from torch import nn

from genotx.challenges.privacy.results import DPResult
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.metrics import Evaluator
from genotx.evaluate.protocols import Supervised
from genotx.evaluate.splits import Fold
from genotx.models.nets import TorchRegressor, train_network

__all__ = ["PrivateRegressor", "privatize", "standardized", "private_part", "DPPlan", "DP_PLANS", "dp_curve", "EPSILONS"]

#: target epsilons of the privacy-utility curve
EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0)


class _Criterion:
    """The loss the training loop calls. Opacus' ghost clipping needs its own wrapper of the loss
    (it runs two backward passes); ``train_network``'s ``wrap`` hook returns the network, optimizer
    and loader only, so the wrapper is swapped in here when Opacus makes the model private."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __call__(self, prediction, target):
        return self.inner(prediction, target)


class _PerRow(nn.Module):
    """``loss`` with one value per row when ``reduction="none"`` (the mean over the row's outputs).

    Why: Opacus 1.6's ghost clipping multiplies the unreduced loss by one clipping coefficient per
    row. ``MSELoss`` on ``(batch, 1)`` predictions gives a ``(batch, 1)`` loss, which broadcasts
    against the ``(batch,)`` coefficients to ``(batch, batch)``: the gradients are then not clipped
    at all (measured: an update 66x the clipping bound), and the noise no longer buys the stated
    epsilon. Shaped ``(batch,)``, the clipped gradients equal Opacus' per-sample hooks (tested).
    """

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss
        self.reduction = getattr(loss, "reduction", "mean")

    def forward(self, prediction, target):
        kept, self.loss.reduction = self.loss.reduction, "none"
        try:
            per_row = self.loss(prediction, target)
        finally:
            self.loss.reduction = kept
        per_row = per_row.reshape(len(per_row), -1).mean(dim=1)
        if self.reduction == "none":
            return per_row
        return per_row.sum() if self.reduction == "sum" else per_row.mean()


class PrivateRegressor(TorchRegressor):
    """``TorchRegressor`` trained with DP-SGD when ``target_epsilon`` is set (see the module docstring).

    After ``fit``: ``epsilon_`` (spent, from the accountant; ``inf`` without privacy), ``delta_``,
    ``noise_multiplier_``, ``sample_rate_`` (expected batch / rows), ``steps_``. Early stopping on
    a held-out slice (``validation_fraction``) selects on private rows outside the accounting: a
    private fit refuses it, and the default is 0 (every epoch runs) for both kinds of fit.
    """

    def __init__(self, *, network: Callable[[tuple], nn.Module] | None = None, epochs: int = 30, batch_size: int = 128,
                 lr: float = 1e-3, weight_decay: float = 1e-4, validation_fraction: float = 0.0, patience: int = 5,
                 random_state: int = 0, target_epsilon: float | None = None, target_delta: float | None = None,
                 max_grad_norm: float = 1.0, accountant: str = "prv") -> None:
        super().__init__(network=network, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         validation_fraction=validation_fraction, patience=patience, random_state=random_state)
        self.target_epsilon = target_epsilon
        self.target_delta = target_delta
        self.max_grad_norm = max_grad_norm
        self.accountant = accountant

    def _build(self, X: np.ndarray, n_outputs: int) -> nn.Module:
        from opacus.validators import ModuleValidator

        network = super()._build(X, n_outputs)
        if self.target_epsilon is None:
            return network
        network = ModuleValidator.fix(network)  # BatchNorm -> GroupNorm: batch statistics mix samples
        errors = ModuleValidator.validate(network, strict=False)
        if errors:
            raise InputError(type(self).__name__, f"Opacus cannot train this network privately: {errors[0]}",
                             fix="use layers Opacus supports (no BatchNorm; GroupNorm, LayerNorm or none)")
        return network

    def _fit(self, X: np.ndarray, y: np.ndarray, loss: nn.Module, n_outputs: int):
        if self.target_epsilon is None:
            self.epsilon_, self.delta_, self.noise_multiplier_ = math.inf, 0.0, 0.0
            self.sample_rate_, self.steps_ = min(1.0, self.batch_size / len(X)), 0
            return super()._fit(X, y, loss, n_outputs)
        if not self.target_epsilon > 0:
            raise InputError(type(self).__name__, f"target_epsilon must be > 0, got {self.target_epsilon}", fix="e.g. 8.0")
        if self.validation_fraction:
            raise InputError(type(self).__name__, "early stopping on held-out private rows is not covered by the accounting",
                             fix="validation_fraction=0 (tune epochs on a validation split instead)")
        from opacus import PrivacyEngine

        self.network_ = self._build(X, n_outputs)
        with torch.no_grad():  # materialise lazy layers before the optimizer sees them
            self.network_(torch.as_tensor(np.ascontiguousarray(X[:2])))
        delta = self.target_delta or 1.0 / len(X)
        loss = _PerRow(loss)
        criterion = _Criterion(loss)
        wrapped: dict[str, Any] = {}

        def make_private(network, optimizer, loader):
            network, optimizer, dp_loss, loader = engine.make_private_with_epsilon(
                module=network, optimizer=optimizer, data_loader=loader, criterion=loss, target_epsilon=self.target_epsilon,
                target_delta=delta, epochs=self.epochs, max_grad_norm=self.max_grad_norm, poisson_sampling=True,
                grad_sample_mode="ghost")
            criterion.inner = dp_loss
            wrapped.update(module=network, optimizer=optimizer, loader=loader)
            return network, optimizer, loader

        with warnings.catch_warnings():
            # Opacus' notices (secure RNG off: seeded runs are the point here; backward hooks without
            # input gradients; the RDP order range) are about the run, not the user's input
            warnings.filterwarnings("ignore", module="opacus")
            warnings.filterwarnings("ignore", message=".*[Bb]ackward hook.*")
            warnings.filterwarnings("ignore", message=".*Secure RNG.*")
            engine = PrivacyEngine(accountant=self.accountant)
            self.history_ = train_network(self.network_, X, y, loss=criterion, epochs=self.epochs, batch_size=self.batch_size,
                                          lr=self.lr, weight_decay=self.weight_decay, validation_fraction=0.0,
                                          patience=self.patience, random_state=self.random_state, wrap=make_private)
            self.epsilon_ = float(engine.get_epsilon(delta))
        self.delta_ = float(delta)
        self.noise_multiplier_ = float(wrapped["optimizer"].noise_multiplier)
        self.sample_rate_ = float(wrapped["loader"].sample_rate)
        self.steps_ = int(sum(n for _, _, n in engine.accountant.history))  # (noise, sample rate, steps) per call
        wrapped["module"]._close()  # Opacus' hooks off: the fitted network predicts (and pickles) as a plain module
        self.network_.eval()
        return self


def privatize(estimator, **settings):
    """``estimator`` with its ``TorchRegressor`` replaced by a :class:`PrivateRegressor` of the same
    settings, updated by ``settings`` (``target_epsilon``, ``max_grad_norm``, ``lr``...). Walks a
    Pipeline's last step and meta-estimators' ``estimator`` (e.g. ``FewThreadsRegressor``).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> model = privatize(make_pipeline(StandardScaler(), TorchRegressor(lr=0.01)), target_epsilon=2.0)
    >>> type(model[-1]).__name__, model[-1].lr, model[-1].target_epsilon
    ('PrivateRegressor', 0.01, 2.0)
    """
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        return clone(estimator).set_params(**{name: privatize(last, **settings)})
    if isinstance(estimator, TorchRegressor):
        params = estimator.get_params(deep=False)
        if not isinstance(estimator, PrivateRegressor):
            params["validation_fraction"] = 0.0  # fixed epochs: see PrivateRegressor
        return PrivateRegressor(**{**params, **settings})
    inner = estimator.get_params(deep=False).get("estimator") if hasattr(estimator, "get_params") else None
    if inner is not None:
        return clone(estimator).set_params(estimator=privatize(inner, **settings))
    raise InputError("privacy", f"{type(estimator).__name__} has no torch network to train with DP-SGD",
                     fix="use a task's torch baseline (a Pipeline ending in TorchRegressor)")


def standardized(estimator):
    """``estimator`` (a Pipeline) with a ``StandardScaler`` just before its last step.

    Why: DP-SGD clips each row's whole gradient to one norm. The first layer's gradient scales
    with the inputs, so input columns on a large scale (drug_response's PCA scores reach sd 20)
    take the clipping budget and the noise swamps the rest: at epsilon 8 the drug_response MLP
    fell from 0.89 (clipping alone) to 0.73 validation Pearson on raw pair features, and reached
    0.88 on standardised ones. The scaler is fitted on inputs, never labels.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.decomposition import PCA
    >>> [name for name, _ in standardized(make_pipeline(PCA(2), Ridge())).steps]
    ['pca', 'standardize', 'ridge']
    """
    from sklearn.preprocessing import StandardScaler

    if not isinstance(estimator, Pipeline):
        return Pipeline([("standardize", StandardScaler()), ("model", estimator)])
    return Pipeline([*clone(estimator).steps[:-1], ("standardize", StandardScaler()), clone(estimator).steps[-1]])


def private_part(fitted) -> PrivateRegressor | None:
    """The fitted :class:`PrivateRegressor` inside ``fitted`` (Pipeline, meta-estimator), or None."""
    if isinstance(fitted, PrivateRegressor):
        return fitted
    if isinstance(fitted, Pipeline):
        return private_part(fitted.steps[-1][1])
    inner = getattr(fitted, "estimator_", None)
    return private_part(inner) if inner is not None else None


# ---- the curve ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DPPlan:
    """How :func:`dp_curve` runs on one task: the torch baseline ``model``, the ``split`` scored,
    the ``metric`` of the goal, fixed ``epochs`` (every fit, private or not), the ``grid`` of DP
    settings tried on the validation part at the goal's epsilon (the first is used with
    ``tune=False``; a setting may also fix ``epochs``), ``standardize`` (a StandardScaler before the
    network, in the private and the non-private fits alike: see :func:`standardized`), an optional
    seeded row cap ``max_rows`` and a ``note``."""

    model: str
    split: str
    metric: str
    epochs: int
    grid: tuple[Mapping[str, float], ...]
    standardize: bool = False
    max_rows: int | None = None
    note: str = ""


def _grid(batch_sizes: Sequence[int], lrs: Sequence[float], clips: Sequence[float]) -> tuple[dict, ...]:
    return tuple({"batch_size": b, "lr": lr, "max_grad_norm": c} for b in batch_sizes for lr in lrs for c in clips)


#: Tasks with a torch baseline trained privately. Task packages are not edited: the mapping lives here.
DP_PLANS: dict[str, DPPlan] = {
    "protein_binding": DPPlan(
        model="cnn", split="predefined", metric="pearson", epochs=10,
        grid=_grid((256,), (2e-3, 5e-3), (0.5, 1.0, 2.0)),
        note="Sort-seq (Kinney 2010), MAVE-NN's predefined test set; the CNN baseline (PromoterCNN, no BatchNorm).",
    ),
    "drug_response": DPPlan(
        model="mlp", split="random", metric="pearson", epochs=10,
        grid=_grid((1024, 2048), (1e-3, 3e-3), (1.0,)), standardize=True,
        note="drug_response's default model is lowrank_knn (matrix completion, not a network): DP-SGD runs on its torch "
             "baseline mlp (pair features -> 256 -> 64 -> 1), with the pair features standardised before the network in "
             "the private and non-private fits (per-sample clipping needs inputs on one scale). Random 20% of GDSC2 "
             "pairs held out.",
    ),
}


def _plan(task, plan: DPPlan | None) -> DPPlan:
    if plan is not None:
        return plan
    if task.name not in DP_PLANS:
        raise UnknownNameError("task with a DP plan", task.name, DP_PLANS)
    return DP_PLANS[task.name]


def _scored(protocol: Supervised, task, data: Dataset, folds: list[Fold], estimator, seed: int) -> tuple[dict, list]:
    """The task's metrics of ``estimator`` on ``folds`` through the protocol's own fold loop and scoring."""
    fits = protocol.fit_folds(task, data, folds, model=None, estimator=estimator, seed=seed)
    return dict(protocol.summarize(task, data, fits, seed=seed).metrics), fits


def _accounting(fits: list) -> dict:
    parts = [private_part(f.estimator) for f in fits]
    parts = [p for p in parts if p is not None]
    if not parts:
        return {}
    return {"epsilon": max(p.epsilon_ for p in parts), "delta": max(p.delta_ for p in parts),
            "noise_multiplier": float(np.mean([p.noise_multiplier_ for p in parts])),
            "sample_rate": float(np.mean([p.sample_rate_ for p in parts])), "steps": int(max(p.steps_ for p in parts))}


def dp_curve(
    task,
    *,
    epsilons: Sequence[float] = EPSILONS,
    seeds: Sequence[int] = (0, 1, 2),
    tune: bool = True,
    epochs: int | None = None,
    max_rows: int | None = None,
    accountant: str = "prv",
    references: Sequence[str] = ("trivial", "task_model", "non_private"),
    dataset: Dataset | None = None,
    plan: DPPlan | None = None,
    progress: Callable[[str], None] | None = None,
) -> DPResult:
    """The privacy-utility curve of a task's torch baseline (see the module docstring).

    ``epochs`` / ``max_rows`` override the plan's (shorter runs for tests); the goal's epsilon for
    tuning is the largest of ``epsilons``; ``references``: which reference runs to add per seed
    (the share of the non-private score kept needs ``non_private``). ``accountant``: Opacus' ``prv`` (tighter: less noise for
    the same epsilon; its calibration takes ~10-20 s per fit here) or ``rdp`` (~1-4 s).

    Examples
    --------
    >>> sorted(DP_PLANS), EPSILONS
    (['drug_response', 'protein_binding'], (0.5, 1.0, 2.0, 4.0, 8.0))
    """
    from genotx.tasks.registry import get_task

    start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    plan = _plan(task, plan)
    epsilons = sorted({float(e) for e in epsilons})
    if not epsilons or epsilons[0] <= 0 or not all(math.isfinite(e) for e in epsilons):
        raise InputError("privacy", f"target epsilons must be finite and > 0, got {epsilons}", fix="e.g. 0.5,1,2,4,8")
    protocol = task.protocol
    if not isinstance(protocol, Supervised):
        raise InputError(task.name, f"DP-SGD needs a supervised task (this one: {type(protocol).__name__})",
                         fix=f"use one of {sorted(DP_PLANS)}")
    Evaluator(plan.metric)
    if accountant not in ("prv", "rdp"):
        raise UnknownNameError("privacy accountant", accountant, ("prv", "rdp"))
    unknown = [r for r in references if r not in ("trivial", "task_model", "non_private")]
    if unknown:
        raise UnknownNameError("reference run", unknown[0], ("trivial", "task_model", "non_private"))
    epochs = epochs or plan.epochs
    data = dataset if dataset is not None else task.load()
    max_rows = max_rows or plan.max_rows
    if max_rows and max_rows < len(data):
        data = data.subset(np.sort(np.random.default_rng(0).choice(len(data), max_rows, replace=False)))

    def private(seed: int, target: float | None, settings: Mapping) -> Any:
        model = task.model(plan.model, random_state=seed)
        model = privatize(standardized(model) if plan.standardize else model, **{"epochs": epochs, **settings},
                          target_epsilon=target, accountant=accountant)
        return model

    tuning: list[dict] = []
    settings = dict(plan.grid[0])
    if tune and len(plan.grid) > 1:
        positions = task.split_positions(data, plan.split, seed=0)
        folds = [Fold(positions["train"], positions["valid"], "validation")]
        best = -np.inf
        sign = 1.0 if Evaluator(plan.metric).greater_is_better else -1.0
        for candidate in plan.grid:
            if progress:
                progress(f"{task.name}: tuning {candidate} at epsilon {epsilons[-1]} on the validation part")
            t0 = time.perf_counter()
            metrics, _ = _scored(protocol, task, data, folds, private(0, epsilons[-1], candidate), 0)
            value = metrics.get(plan.metric, np.nan)
            tuning.append({**candidate, "validation": value, "seconds": round(time.perf_counter() - t0, 1)})
            if np.isfinite(value) and sign * value > best:
                best, settings = sign * value, dict(candidate)

    runs: list[dict] = []

    def run(role: str, seed: int, estimator, target: float | None = None) -> None:
        if progress:
            progress(f"{task.name} seed {seed}: {role}" + (f" epsilon {target}" if target else ""))
        t0 = time.perf_counter()
        folds = task.folds(data, plan.split, random_state=seed)
        metrics, fits = _scored(protocol, task, data, folds, estimator, seed)
        runs.append({"seed": seed, "role": role, "target_epsilon": target, "metrics": metrics, **_accounting(fits),
                     "n_train": int(np.mean([len(f.fold.train) for f in fits])), "n_test": int(sum(len(f.fold.test) for f in fits)),
                     "seconds": round(time.perf_counter() - t0, 1)})

    for seed in seeds:
        if "trivial" in references:
            run("trivial", seed, task.model(task.spec.trivial, random_state=seed))
        if "task_model" in references:
            run("task_model", seed, task.model(plan.model, random_state=seed))
        if "non_private" in references:
            run("non_private", seed, private(seed, None, settings))
        for epsilon in epsilons:
            run("private", seed, private(seed, epsilon, settings), epsilon)
    return DPResult(task=task.name, model=plan.model, split=plan.split, metric=plan.metric, epsilons=epsilons, seeds=list(seeds),
                    runs=runs, settings={**settings, "epochs": epochs, "n_rows": len(data), "accountant": accountant,
                                         "delta": "1 / n_train", "tuned": bool(tune and len(plan.grid) > 1)},
                    tuning=tuning, note=plan.note, data_kind=str(data.meta.get("data_kind", task.spec.data_kind)),
                    seconds=round(time.perf_counter() - start, 1))

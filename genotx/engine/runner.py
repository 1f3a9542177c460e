"""The runner: a run is (task, model, split, seed); a benchmark is many runs, resumable.

``run`` loads the task's data, hands it to the task's protocol and wraps the outcome in a
:class:`RunRecord` with provenance (source sha256, package versions, seed, wall time).
``benchmark`` plans runs, skips those whose record already exists in ``out`` and writes each
finished run atomically, so a killed benchmark restarted with the same ``out`` only does what is
missing. Scale-out: ``backend="ray"`` fans runs out over a Ray cluster (``pip install genotx[scale]``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from genotx.data.source import SOURCES, source_sha256
from genotx.engine.records import ResultStore, RunRecord, run_key
from genotx.errors import DataMissingError, FetchError, GenotxError, InputError, IntegrityError, UnknownNameError
from genotx.evaluate.outcome import Outcome
from genotx.tasks.registry import Task, get_task
from genotx.data.dataset import Dataset

__all__ = ["run", "cross_validate", "evaluate_many", "benchmark", "plan", "PlannedRun", "package_versions"]

log = logging.getLogger(__name__)

_VERSIONED = ("genotx", "numpy", "pandas", "scikit-learn", "lightgbm", "torch", "rdkit", "scipy")


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class PlannedRun:
    task: str
    model: str
    split: str
    seed: int

    @property
    def key(self) -> str:
        return run_key(self.task, self.model, self.split, self.seed)


def _evaluate(task: Task, dataset: Dataset, *, split: str, model: str | None, estimator, seed: int, progress=None) -> Outcome:
    """The task's protocol (its package's ``PROTOCOL`` or its kind's default) on ``dataset``."""
    return task.protocol.evaluate(task, dataset, split=split, model=model, estimator=estimator, seed=seed, progress=progress)


def estimator_name(estimator) -> str:
    """How a user's estimator is named in run records: ``module:Class`` (file-safe)."""
    kind = type(estimator)
    return f"{kind.__module__}.{kind.__qualname__}".replace(":", ".").replace("/", ".")


def run(
    task: str | Task,
    *,
    model: str | None = None,
    split: str | None = None,
    seed: int = 0,
    source: str | None = None,
    dataset: Dataset | None = None,
    estimator=None,
    progress: Callable[[], None] | None = None,
) -> tuple[RunRecord, Outcome]:
    """Run one (task, model, split, seed) under the task's official protocol; return record and outcome.

    ``model`` names one of the task's baselines (default: its first); ``estimator`` is instead any
    scikit-learn-style estimator of your own (cloned per fold; named ``module.Class`` in the record).
    ``source`` picks one of the task's declared sources; ``dataset`` skips loading (your own Dataset).

    Examples
    --------
    >>> import genotx
    >>> callable(genotx.run)
    True
    """
    task = get_task(task)
    split = split or task.spec.default_split
    if estimator is None:
        model = model or task.spec.default_model
        task.model(model)  # validates names before any data is loaded
    elif model is not None:
        raise InputError("run", "both model= and estimator= were given", fix="pass one of them")
    if split not in task.spec.splits:
        raise UnknownNameError("split", split, task.spec.splits)
    start = time.perf_counter()
    dataset = dataset if dataset is not None else task.load(source=source)
    try:
        outcome = _evaluate(task, dataset, split=split, model=model, estimator=estimator, seed=seed, progress=progress)
    except Exception as error:
        if estimator is None or isinstance(error, GenotxError):
            raise
        columns = list(getattr(dataset.inputs, "columns", []))[:12]
        raise InputError(estimator_name(estimator), f"failed under {task.name}'s protocol ({type(error).__name__}: {error})",
                         fix=f"the estimator receives the task's raw inputs (columns {columns}, see genotx info {task.name}): "
                             "put a featurizer in front of it, e.g. a scikit-learn Pipeline") from error
    outcome.fitted = []  # fitted models can be large; the record never holds them
    used = dataset.meta.get("sources", task.spec.sources)
    record = RunRecord(
        task=task.name,
        stage=task.spec.stage,
        model=model if estimator is None else estimator_name(estimator),
        split=split,
        seed=seed,
        metrics=outcome.metrics,
        n_train=outcome.n_train,
        n_test=outcome.n_test,
        data_kind=dataset.meta.get("data_kind", task.spec.data_kind),
        metrics_std=_fold_std(outcome),
        n_folds=max(len(outcome.fold_metrics), 1),
        fold_metrics=outcome.fold_metrics,
        details=outcome.details,
        provenance={
            "sources": {s: source_sha256(s) for s in used if s in SOURCES},
            "versions": package_versions(),
            "data_note": task.spec.data_note,
        },
        wall_time_s=round(time.perf_counter() - start, 3),
    )
    return record, outcome


def cross_validate(task: str | Task, estimator, *, split: str | None = None, seed: int = 0,
                   dataset: Dataset | None = None) -> RunRecord:
    """Score ANY estimator under a task's official split, protocol and metrics (a RunRecord).

    Examples
    --------
    >>> import genotx
    >>> from sklearn.linear_model import Ridge
    >>> callable(genotx.cross_validate)
    True
    """
    return run(task, split=split, seed=seed, dataset=dataset, estimator=estimator)[0]


def evaluate_many(task: str | Task, *, model: str | None = None, estimator=None, split: str | None = None,
                  seeds: Iterable[int] = (0, 1, 2, 3, 4), dataset: Dataset | None = None) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation over seeds of every metric (TDC's benchmark-group convention).

    Returns ``{metric: (mean, std)}``; the std is over seeds (ddof 0), folds are pooled within a seed.
    """
    import numpy as np

    task = get_task(task)
    dataset = dataset if dataset is not None else task.load()
    records = [run(task, model=model, split=split, seed=s, dataset=dataset, estimator=estimator)[0] for s in seeds]
    names = list(records[0].metrics)
    values = {n: np.array([r.metrics.get(n, np.nan) for r in records], dtype=float) for n in names}
    return {n: (float(np.nanmean(v)), float(np.nanstd(v))) if np.isfinite(v).any() else (float("nan"), float("nan"))
            for n, v in values.items()}


def _fold_std(outcome: Outcome) -> dict[str, float]:
    import numpy as np

    if len(outcome.fold_metrics) < 2:
        return {}
    out = {}
    for name in outcome.metrics:
        values = np.array([f.get(name, np.nan) for f in outcome.fold_metrics], dtype=float)
        if np.isfinite(values).sum() >= 2:
            out[name] = float(np.nanstd(values))
            out[f"{name}_fold_mean"] = float(np.nanmean(values))
    return out


def plan(tasks: Iterable[str], *, full: bool = False, seeds: Iterable[int] = (0,)) -> list[PlannedRun]:
    """The runs of a benchmark: the default model, the field's reference method and the trivial floor
    on the default split of each task (``full``: every baseline x split)."""
    runs = []
    for name in tasks:
        task = get_task(name)
        if not task.implemented:
            continue
        spec = task.spec
        models = list(spec.baselines) if full else spec.board_models
        splits = list(spec.splits) if full else [spec.default_split]
        runs += [PlannedRun(name, m, s, seed) for s in splits for m in models for seed in seeds]
    return runs


def _run_planned(planned: PlannedRun) -> tuple[RunRecord, Outcome]:
    """One planned run from scratch (a Ray worker's entry point: loads its own data)."""
    return run(planned.task, model=planned.model, split=planned.split, seed=planned.seed)


def _benchmark_local(todo, store, on_start, on_done) -> dict[str, str]:
    """Run ``todo`` in order; a task whose data cannot be fetched is skipped (returned: task -> why), the others run."""
    datasets: dict[str, Dataset] = {}
    unavailable: dict[str, str] = {}
    for planned in todo:
        if planned.task in unavailable:
            continue
        if on_start:
            on_start(planned)
        task = get_task(planned.task)
        if planned.task not in datasets:
            try:
                datasets = {planned.task: task.load()}  # keep one dataset in memory at a time
            except (FetchError, IntegrityError, DataMissingError) as error:
                unavailable[planned.task] = str(error)
                log.warning("%s: data unavailable, its runs are skipped: %s", planned.task, error)
                continue
        record, outcome = run(task, model=planned.model, split=planned.split, seed=planned.seed, dataset=datasets[planned.task])
        store.write(record, outcome.predictions)
        log.info("%s: %s", planned.key, record.metrics)
        if on_done:
            on_done(planned, record)
    return unavailable


def _benchmark_ray(todo, store, on_start, on_done, address: str | None) -> None:
    """Fan runs out over Ray; the driver alone writes records, each as soon as its run finishes."""
    try:
        import ray
    except ImportError as error:
        raise ImportError("backend='ray' needs Ray: pip install 'genotx[scale]'") from error
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        remote = ray.remote(num_cpus=1)(_run_planned)
        pending = {}
        for planned in todo:
            if on_start:
                on_start(planned)
            pending[remote.remote(planned)] = planned
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            planned = pending.pop(ready[0])
            record, outcome = ray.get(ready[0])
            store.write(record, outcome.predictions)
            if on_done:
                on_done(planned, record)
    finally:
        if started_here:
            ray.shutdown()


def benchmark(
    tasks: Iterable[str],
    out: str,
    *,
    full: bool = False,
    seeds: Iterable[int] = (0,),
    backend: str = "local",
    address: str | None = None,
    on_start: Callable[[PlannedRun], None] | None = None,
    on_done: Callable[[PlannedRun, RunRecord | None], None] | None = None,
) -> list[RunRecord]:
    """Run every planned run not yet recorded in ``out``; return all records in ``out``.

    By default the default model and the trivial floor of each task on its default split, for each
    seed; ``full=True`` runs every baseline x split.

    ``backend="ray"`` runs them in parallel on a Ray cluster (``address`` of a running cluster, or a
    local one started for the call); records are still written one by one by this process, so a
    killed benchmark resumes the same way.
    """
    store = ResultStore(out)
    todo = [r for r in plan(tasks, full=full, seeds=seeds) if not store.has(r.key)]
    if backend == "ray":
        _benchmark_ray(todo, store, on_start, on_done, address)
    elif backend == "local":
        unavailable = _benchmark_local(todo, store, on_start, on_done)
        if unavailable:  # the other tasks' records are written; a rerun resumes and retries only these
            reasons = "; ".join(f"{task}: {why}" for task, why in unavailable.items())
            raise FetchError(f"{len(unavailable)} task(s) could not get their data and were skipped ({reasons}). "
                             "Fix: rerun the same command to resume (finished runs are kept), or point the source at "
                             "local files with genotx.data.use_local")
    else:
        raise UnknownNameError("backend", backend, ("local", "ray"))
    return store.records()

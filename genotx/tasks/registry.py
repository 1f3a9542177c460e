"""Task discovery: every module under ``genotx/tasks/<stage>/`` with a ``SPEC`` is a task.

No hand-kept list: adding a module adds a task. ``Task`` wraps a module with the verbs the engine
and the CLI use (load, split, model, read_input), and refuses plainly when a task is not implemented.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pandas as pd

from genotx._registry import Registry
from genotx.errors import InputError, NotImplementedTaskError, UnknownNameError
from genotx.evaluate.splits import Fold
from genotx.tasks.spec import STAGES, Dataset, TaskSpec

__all__ = ["Task", "TASKS", "get_task", "list_tasks"]


class Task:
    """A registered task: its SPEC plus the verbs implemented by its module."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec: TaskSpec = module.SPEC
        if self.implemented:
            self._check_consistent()

    def __repr__(self) -> str:
        return f"Task({self.spec.name!r}, stage={self.spec.stage!r}, data_kind={self.spec.data_kind!r}, status={self.status!r})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def implemented(self) -> bool:
        return self.spec.status == "implemented" and hasattr(self.module, "load")

    @property
    def status(self) -> str:
        return "implemented" if self.implemented else self.spec.status

    def _check_consistent(self) -> None:
        for kind, names, table in (("split", self.spec.splits, "SPLITS"), ("baseline", self.spec.baselines, "MODELS")):
            declared = set(getattr(self.module, table, {}))
            if declared != set(names):
                raise ValueError(f"task {self.name!r}: SPEC {kind}s {sorted(names)} != {table} keys {sorted(declared)}")

    def _require(self) -> None:
        if not self.implemented:
            raise NotImplementedTaskError(
                f"Task {self.name!r} is registered but not implemented yet ({self.spec.status}). "
                "Its SPEC (genotx info) says what it will do; implemented tasks: "
                + ", ".join(t.name for t in TASKS_LIST() if t.implemented)
            )

    def load(self, *, source: str | None = None) -> Dataset:
        """The task's default (or named) dataset."""
        self._require()
        if source is not None and source not in self.spec.sources:
            raise UnknownNameError("source", source, self.spec.sources)
        return self.module.load(source=source) if source else self.module.load()

    def folds(self, dataset: Dataset, split: str | None = None, *, random_state: int = 0) -> list[Fold]:
        self._require()
        split = split or self.spec.default_split
        if split not in self.spec.splits:
            raise UnknownNameError("split", split, self.spec.splits)
        return self.module.SPLITS[split].split(dataset.groups, random_state=random_state)

    def get_split(self, dataset: Dataset, split: str | None = None, *, random_state: int = 0) -> dict[str, Dataset]:
        """TDC-style ``{'train': Dataset, 'test': Dataset}`` of the first fold.

        Examples
        --------
        >>> import genotx
        >>> task = genotx.get_task("crispr_on_target")
        >>> task.spec.default_split
        'cold_gene'
        """
        fold = self.folds(dataset, split, random_state=random_state)[0]
        return {"train": dataset.subset(fold.train), "test": dataset.subset(fold.test)}

    def model(self, name: str | None = None, *, random_state: int = 0):
        """A fresh, unfitted estimator for baseline ``name`` (default: the task's first baseline)."""
        self._require()
        name = name or self.spec.default_model
        if name not in self.spec.baselines:
            raise UnknownNameError("model", name, self.spec.baselines)
        return self.module.MODELS[name](random_state=random_state)

    def read_input(self, path) -> pd.DataFrame:
        """Read and validate a user's file into model inputs (errors name file, line and fix)."""
        self._require()
        if not hasattr(self.module, "read_input"):
            raise InputError(str(path), f"task {self.name!r} has no prediction path for user files yet")
        return self.module.read_input(path)


TASKS: Registry[Task] = Registry("task")


def _discover() -> None:
    if len(TASKS):
        return
    for stage in STAGES:
        package = importlib.import_module(f"genotx.tasks.{stage}")
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            if hasattr(module, "SPEC"):
                if module.SPEC.stage != stage:
                    raise ValueError(f"task {module.SPEC.name!r} lives in {stage}/ but says stage {module.SPEC.stage!r}")
                TASKS.add(module.SPEC.name, Task(module))


def TASKS_LIST() -> list[Task]:  # noqa: N802 - reads as a constant
    _discover()
    return sorted((TASKS[n] for n in TASKS), key=lambda t: t.spec.number)


def list_tasks(*, stage: str | None = None) -> list[str]:
    """Names of all registered tasks (optionally of one stage), in pipeline order.

    Examples
    --------
    >>> len(list_tasks())
    22
    """
    return [t.name for t in TASKS_LIST() if stage is None or t.spec.stage == stage]


def get_task(name: str) -> Task:
    """The registered task called ``name`` (unknown names get a "did you mean")."""
    _discover()
    return TASKS[name]

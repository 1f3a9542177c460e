"""Task discovery and the ``Task`` object: the verbs the engine, the CLI and a notebook use.

Every package under ``genotx/tasks/<stage>/`` whose ``__init__.py`` assigns ``SPEC = TaskSpec(...)``
is a task: no hand-kept list. Discovery reads the SPECs from the source text (the SPEC is a literal
record) without importing anything, so ``genotx list`` and ``get_task(name)`` cost milliseconds; a
task's module (and the heavy libraries its models use) is imported on first use.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from genotx._registry import Registry
from genotx.errors import InputError, NotImplementedTaskError, UnknownNameError
from genotx.tasks.spec import STAGES, TaskSpec

if TYPE_CHECKING:  # imported on use: discovery and `genotx list` need none of the numeric stack
    import numpy as np

    from genotx.data.dataset import Dataset
    from genotx.evaluate.protocols import Protocol
    from genotx.evaluate.splits import Fold

__all__ = ["Task", "TASKS", "get_task", "list_tasks"]

_ROOT = Path(__file__).parent


class Task:
    """A registered task: its SPEC, and verbs that import the task's package only when needed.

    Examples
    --------
    >>> import genotx
    >>> task = genotx.get_task("crispr_on_target")
    >>> task.spec.default_split, task.spec.primary_metric
    ('cold_gene', 'spearman_per_gene')
    """

    def __init__(self, spec: TaskSpec, module_name: str, *, module: ModuleType | None = None, implemented: bool = True) -> None:
        self.spec = spec
        self.module_name = module_name
        self._module = module
        self._implemented = implemented

    @classmethod
    def from_module(cls, module: ModuleType) -> Task:
        """A task from an imported module (tests build toy tasks this way)."""
        task = cls(module.SPEC, module.__name__, module=module, implemented=hasattr(module, "load"))
        if task.implemented:
            task._check_consistent()
        return task

    def __repr__(self) -> str:
        return f"Task({self.spec.name!r}, stage={self.spec.stage!r}, data_kind={self.spec.data_kind!r}, status={self.status!r})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def module(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self.module_name)
            if self.implemented:
                self._check_consistent()
        return self._module

    @property
    def implemented(self) -> bool:
        return self.spec.status == "implemented" and self._implemented

    @property
    def status(self) -> str:
        return "implemented" if self.implemented else self.spec.status

    def _check_consistent(self) -> None:
        for kind, names, table in (("split", self.spec.splits, "SPLITS"), ("baseline", self.spec.baselines, "MODELS")):
            declared = set(getattr(self._module, table, {}))
            if declared != set(names):
                raise ValueError(f"task {self.name!r}: SPEC {kind}s {sorted(names)} != {table} keys {sorted(declared)}")

    def _require(self) -> None:
        if not self.implemented:
            raise NotImplementedTaskError(
                f"Task {self.name!r} is registered but not implemented yet ({self.spec.status}). "
                "Its SPEC (genotx info) says what it will do; implemented tasks: "
                + ", ".join(t.name for t in TASKS_LIST() if t.implemented)
            )

    # ---- data --------------------------------------------------------------------------------
    def load(self, *, source: str | None = None) -> Dataset:
        """The task's default (or named) dataset."""
        self._require()
        if source is not None and source not in self.spec.sources:
            raise UnknownNameError("source", source, self.spec.sources)
        return self.module.load(source=source) if source else self.module.load()

    def _split_name(self, split: str | None) -> str:
        split = split or self.spec.default_split
        if split not in self.spec.splits:
            raise UnknownNameError("split", split, self.spec.splits)
        return split

    def folds(self, dataset: Dataset, split: str | None = None, *, random_state: int = 0) -> list[Fold]:
        """The split's folds (positions into ``dataset``): several for cross-validation, one for a hold-out."""
        self._require()
        return self.module.SPLITS[self._split_name(split)].split(dataset.groups, random_state=random_state)

    def get_folds(self, split: str | None = None, *, seed: int = 0, dataset: Dataset | None = None) -> list[dict[str, Dataset]]:
        """Every fold of ``split`` as ``{"train": Dataset, "test": Dataset}`` (loads the default data if not given)."""
        dataset = dataset if dataset is not None else self.load()
        return [{"train": dataset.subset(f.train), "test": dataset.subset(f.test)} for f in self.folds(dataset, split, random_state=seed)]

    def split_positions(self, dataset: Dataset, split: str | None = None, *, seed: int = 0, fold: int = 0,
                        valid_size: float = 0.1) -> dict[str, np.ndarray]:
        """Positions into ``dataset`` of the train / valid / test rows of one fold (see :meth:`get_split`)."""
        import numpy as np
        import pandas as pd

        folds = self.folds(dataset, split, random_state=seed)
        if not 0 <= fold < len(folds):
            raise InputError(f"split {split or self.spec.default_split!r}", f"fold {fold} does not exist",
                             fix=f"use a fold from 0 to {len(folds) - 1}")
        chosen = folds[fold]
        group = getattr(self.module.SPLITS[self._split_name(split)], "group", None)
        train_groups = dataset.groups.iloc[chosen.train]
        keys = train_groups[group].to_numpy() if group and group in train_groups else np.arange(len(chosen.train))
        unique = pd.unique(keys)
        rng = np.random.default_rng(seed)
        n_valid = max(1, int(round(valid_size * len(unique)))) if len(unique) > 1 else 0
        valid_keys = rng.choice(unique, size=n_valid, replace=False) if n_valid else unique[:0]
        in_valid = np.isin(keys, valid_keys)
        return {"train": chosen.train[~in_valid], "valid": chosen.train[in_valid], "test": chosen.test}

    def get_split(self, split: str | None = None, *, seed: int = 0, dataset: Dataset | None = None, fold: int = 0,
                  valid_size: float = 0.1) -> dict[str, Dataset]:
        """TDC-style ``{"train", "valid", "test"}`` Datasets of one fold of ``split``.

        ``valid`` is carved (seeded) out of the fold's training rows the way the split holds out
        its test rows: whole entities for a cold split (``ColdSplit.group``), rows otherwise. Use it to
        tune; report on ``test``. ``get_folds`` gives every fold.
        """
        dataset = dataset if dataset is not None else self.load()
        positions = self.split_positions(dataset, split, seed=seed, fold=fold, valid_size=valid_size)
        return {name: dataset.subset(rows) for name, rows in positions.items()}

    def cv(self, dataset: Dataset, split: str | None = None, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """The split as scikit-learn ``cv=`` (a list of (train, test) position arrays).

        >>> # cross_val_score(estimator, data.inputs, data.target, cv=task.cv(data))
        """
        return [(f.train, f.test) for f in self.folds(dataset, split, random_state=seed)]

    # ---- models and evaluation ---------------------------------------------------------------
    def model(self, name: str | None = None, *, random_state: int = 0):
        """A fresh, unfitted estimator for baseline ``name`` (default: the task's first baseline)."""
        self._require()
        name = name or self.spec.default_model
        if name not in self.spec.baselines:
            raise UnknownNameError("model", name, self.spec.baselines)
        return self.module.MODELS[name](random_state=random_state)

    def oracle(self, *, random_state: int = 0):
        """A design task's oracle (a fresh supervised estimator)."""
        return self.module.oracle(random_state=random_state)

    @property
    def protocol(self) -> Protocol:
        """How this task is evaluated: its package's ``PROTOCOL`` or the default of ``SPEC.protocol``."""
        from genotx.evaluate.protocols import PROTOCOLS

        own = getattr(self.module, "PROTOCOL", None)
        return own if own is not None else PROTOCOLS[self.spec.protocol]()

    def evaluate(self, y_pred, part: Dataset, *, metrics: tuple[str, ...] | None = None) -> dict[str, float]:
        """Every SPEC metric (grouped ones included) of predictions for the rows of ``part``, computed
        as the task's protocol computes them.

        ``y_pred``: one prediction per row (a classifier's positive-class probability: label metrics
        threshold it at 0.5); for a ranking task, the rank of each row's true candidate (1 = top).
        """
        import numpy as np

        from genotx.evaluate.metrics import evaluate as compute_metrics
        from genotx.evaluate.protocols import Prediction, Supervised

        y_pred = np.asarray(y_pred)
        if len(y_pred) != len(part):
            raise InputError("evaluate", f"{len(y_pred)} predictions for {len(part)} rows", fix="predict every row of the part")
        labels = None
        if self.spec.target == "binary" and y_pred.dtype.kind == "f":
            labels = (y_pred >= 0.5).astype(np.asarray(part.target).dtype)
        protocol = self.protocol
        if metrics is None and isinstance(protocol, Supervised):
            return protocol.score(self, part, Prediction(y_pred, labels), seed=0)
        return compute_metrics(metrics or self.spec.metrics, part.target, y_pred, groups=part.groups, labels=labels)

    def read_input(self, path, **options) -> Any:
        """Read and validate a user's file into model inputs (errors name file, line and fix)."""
        self._require()
        if not hasattr(self.module, "read_input"):
            raise InputError(str(path), f"task {self.name!r} has no prediction path for user files yet")
        return self.module.read_input(path, **options)


TASKS: Registry[Task] = Registry("task")


def _literal(node: ast.AST, where: str) -> Any:
    """A SPEC field's value: a Python literal, or literal strings joined with ``+``."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _literal(node.left, where) + _literal(node.right, where)
        raise ValueError(f"{where}: SPEC fields must be literals (got {ast.unparse(node)!r})") from None


def read_spec(path: Path) -> tuple[TaskSpec, bool] | None:
    """The ``SPEC = TaskSpec(...)`` of a task's ``__init__.py`` read from its text, and whether the
    module defines ``load`` (None when the file has no SPEC)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    spec, has_load = None, False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "load":
            has_load = True
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and getattr(node.targets[0], "id", None) == "SPEC"
                and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "TaskSpec"):
            spec = TaskSpec(**{kw.arg: _literal(kw.value, str(path)) for kw in node.value.keywords})
    return (spec, has_load) if spec is not None else None


def _discover() -> None:
    if len(TASKS):
        return
    for stage in STAGES:
        for init in sorted((_ROOT / stage).glob("*/__init__.py")):
            if init.parent.name.startswith("_"):
                continue
            found = read_spec(init)
            if found is None:
                continue
            spec, has_load = found
            if spec.stage != stage:
                raise ValueError(f"task {spec.name!r} lives in {stage}/ but says stage {spec.stage!r}")
            TASKS.add(spec.name, Task(spec, f"genotx.tasks.{stage}.{init.parent.name}", implemented=has_load))


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


def get_task(name: str | Task) -> Task:
    """The registered task called ``name`` (unknown names get a "did you mean")."""
    if isinstance(name, Task):
        return name
    _discover()
    return TASKS[name]


def spec_table() -> Mapping[str, TaskSpec]:
    """{task name: SPEC} of every registered task, without importing any task."""
    return {t.name: t.spec for t in TASKS_LIST()}

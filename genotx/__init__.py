"""genotx: machine learning on genomics data across the therapeutic pipeline.

Importing genotx is cheap and changes nothing in the process: the public names below are loaded
on first use (the task list is read without importing any model library).

Examples
--------
>>> import genotx
>>> len(genotx.list_tasks())
22
>>> genotx.get_task("crispr_on_target").spec.primary_metric
'spearman_per_gene'
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genotx")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

_PUBLIC = {
    "Dataset": "genotx.data.dataset",
    "Evaluator": "genotx.evaluate.metrics",
    "TaskSpec": "genotx.tasks.spec",
    "benchmark": "genotx.engine.runner",
    "cross_validate": "genotx.engine.runner",
    "evaluate_many": "genotx.engine.runner",
    "fetch": "genotx.data.source",
    "get_task": "genotx.tasks.registry",
    "list_tasks": "genotx.tasks.registry",
    "predict_file": "genotx.engine.predict",
    "run": "genotx.engine.runner",
    "settings": "genotx.settings",
    "source_files": "genotx.data.source",
    "use_local": "genotx.data.source",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'genotx' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


def load_task(name: str, *, source: str | None = None):
    """The default (or named) dataset of task ``name``; same as ``get_task(name).load()``."""
    return __getattr__("get_task")(name).load(source=source)


__all__ = [*_PUBLIC, "load_task", "__version__"]

"""genotx: machine learning on genomics data across the therapeutic pipeline.

Examples
--------
>>> import genotx
>>> len(genotx.list_tasks())
22
>>> genotx.get_task("crispr_on_target").spec.primary_metric
'spearman_per_gene'
"""

import os

# Idle OpenMP threads spin by default; on a small shared machine that makes torch ~10x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from importlib.metadata import PackageNotFoundError, version  # noqa: E402

from genotx.data import fetch, source_files, use_local
from genotx.engine import benchmark, predict_file, run
from genotx.evaluate import Evaluator
from genotx.tasks import Dataset, TaskSpec, get_task, list_tasks

try:
    __version__ = version("genotx")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"


def load_task(name: str, *, source: str | None = None) -> Dataset:
    """The default (or named) dataset of task ``name``; same as ``get_task(name).load()``."""
    return get_task(name).load(source=source)


__all__ = [
    "Dataset", "Evaluator", "TaskSpec", "benchmark", "fetch", "get_task", "list_tasks", "load_task",
    "predict_file", "run", "source_files", "use_local", "__version__",
]

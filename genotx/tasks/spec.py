"""What a task is: its declarative ``TaskSpec``.

A task is a package ``genotx/tasks/<stage>/<name>/`` whose ``__init__.py`` holds, on one screen:

* ``SPEC``: name, stage, formulation (in -> out), protocol, data kind, sources, split names,
  metric names (first = primary), baseline names (first = default, ``trivial`` = the floor to beat,
  ``reference`` = the field's standard method run on the same data), and ``anchor``: a published
  figure with its source, or why none is comparable;
  a literal record, read by discovery without importing the package;
* ``load(*, source=None) -> Dataset`` (:class:`genotx.data.dataset.Dataset`);
* ``SPLITS``: {split name: splitter} and ``MODELS``: {baseline name: factory(random_state) -> estimator};
* optionally ``PROTOCOL`` (an instance of a class of :mod:`genotx.evaluate.protocols` when the
  task says more than its kind's defaults), ``read_input(path, **options)`` and
  ``format_predictions(frame, estimator, **options)`` for ``genotx predict`` on a user's file.

Beside it, only what that task alone uses: ``models.py``, ``features.py``, ``splits.py``, ``io.py``.
A package with only ``SPEC`` is registered as *not implemented* and says so plainly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["TaskSpec", "Dataset", "PredictOption", "HashedPath", "STAGES", "PROTOCOLS"]


def __getattr__(name: str):
    if name == "Dataset":  # the data layer's class, re-exported without importing numpy at discovery
        from genotx.data.dataset import Dataset

        return Dataset
    raise AttributeError(name)


STAGES: tuple[str, ...] = ("target_discovery", "therapeutics", "clinical", "post_market")
PROTOCOLS: tuple[str, ...] = ("supervised", "ranking", "link", "network", "estimation", "design", "extraction")
DATA_KINDS: tuple[str, ...] = ("real", "semi-synthetic", "simulated")


@dataclass(frozen=True)
class TaskSpec:
    """Everything that defines a task, in one declarative record.

    Examples
    --------
    >>> spec = TaskSpec(name="toy", number=0, stage="therapeutics", title="Toy",
    ...                 formulation="x -> y", protocol="supervised", target="regression",
    ...                 data_kind="real", sources=(), splits=("random",), metrics=("pearson",),
    ...                 baselines=("mean",))
    >>> spec.default_split, spec.primary_metric
    ('random', 'pearson')
    """

    name: str
    number: int
    stage: str
    title: str
    formulation: str
    protocol: str
    target: Literal["regression", "binary", "multiclass", "ranking", "survival", "other"]
    data_kind: str
    sources: tuple[str, ...]
    splits: tuple[str, ...]
    metrics: tuple[str, ...]
    baselines: tuple[str, ...]
    trivial: str | None = None
    reference: str | None = None
    anchor: str = ""
    data_note: str = ""
    citation: str = ""
    status: str = "implemented"

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"task {self.name!r}: stage must be one of {STAGES}, got {self.stage!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"task {self.name!r}: protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.data_kind not in DATA_KINDS:
            raise ValueError(f"task {self.name!r}: data_kind must be one of {DATA_KINDS}, got {self.data_kind!r}")
        if self.trivial is not None and self.trivial not in self.baselines:
            raise ValueError(f"task {self.name!r}: trivial baseline {self.trivial!r} is not in baselines")
        if self.reference is not None and self.reference not in self.baselines:
            raise ValueError(f"task {self.name!r}: reference baseline {self.reference!r} is not in baselines")

    @property
    def default_split(self) -> str:
        return self.splits[0]

    @property
    def default_model(self) -> str:
        return self.baselines[0]

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]

    @property
    def board_models(self) -> list[str]:
        """What a benchmark runs by default: the default model, the field's reference method, the trivial floor."""
        return list(dict.fromkeys(m for m in (self.default_model, self.reference, self.trivial) if m))


@dataclass(frozen=True)
class PredictOption:
    """A typed ``genotx predict --option`` with an allowed range, for a task's ``PREDICT_OPTIONS``.

    A plain type (``int``, ``float``, ``str``, ``Path``) or a tuple of allowed strings works too; a
    plain ``int`` or ``float`` must be >= 0.

    Examples
    --------
    >>> PredictOption(int, low=1, help="diseases listed per patient").low
    1
    """

    kind: type
    low: float | None = None
    high: float | None = None
    help: str = ""


class HashedPath(str):
    """A file path given as a predict option that changes what is trained (a user's reference or
    training table): its ``repr`` carries the file's sha256, and the engine's model-cache key holds
    the repr, so a model trained on one file is never reused after the file changes.

    Examples
    --------
    >>> HashedPath("no/such.csv")
    HashedPath('no/such.csv')
    """

    def __repr__(self) -> str:
        import hashlib
        from pathlib import Path

        path = Path(self)
        if not path.is_file():
            return f"HashedPath({str(self)!r})"
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return f"HashedPath({str(self)!r}, sha256={digest.hexdigest()})"

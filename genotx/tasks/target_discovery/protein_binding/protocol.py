"""How protein_binding is evaluated: the supervised protocol, two sources, and motifs from the fit.

* The ChIP source's target is binary (integer 0/1 labels; the sort-seq target is a float mean
  bin): its baselines are :data:`~.models.BINARY_MODELS` and its metrics AUROC/AUPR.
* After the folds, the first fold's fitted model is read for motifs (:mod:`.motifs`) when it is a
  baseline that reads one-hot (a user's own estimator is not interpreted).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genotx.data.dataset import Dataset
from genotx.errors import UnknownNameError
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised, safe_metrics
from genotx.tasks.target_discovery.protein_binding.models import BINARY_MODELS
from genotx.tasks.target_discovery.protein_binding.motifs import chip_motifs, sortseq_motifs

__all__ = ["ProteinBinding", "BINARY_METRICS", "is_binary"]

BINARY_METRICS = ("auroc", "aupr")
#: baselines whose input is the one-hot sequence (attribution reads them directly), per target kind
ONE_HOT_MODELS = {"regression": ("cnn", "additive", "global_epistasis"), "binary": ("cnn",)}


def is_binary(target: np.ndarray) -> bool:
    """True for class labels (integers 0/1, the ChIP source); the sort-seq target is a float bin.

    >>> is_binary(np.array([0, 1, 1])), is_binary(np.array([0.0, 4.5]))
    (True, False)
    """
    target = np.asarray(target)
    return target.dtype.kind in "biu" and bool(np.isin(target, (0, 1)).all())


class ProteinBinding(Supervised):
    """:class:`~genotx.evaluate.protocols.Supervised` with a baseline table and metrics per target
    kind, and motifs read from the first fold's fitted model."""

    def evaluate(self, task, dataset: Dataset, *, split: str, model: str | None = None, estimator=None, seed: int = 0,
                 progress: Callable[[], None] | None = None) -> Outcome:
        if estimator is None and is_binary(dataset.target):  # the ChIP source: the binary variant of the baseline
            name = model or task.spec.default_model
            if name not in BINARY_MODELS:
                raise UnknownNameError("model for the binary source", name, BINARY_MODELS)
            estimator = BINARY_MODELS[name](random_state=seed)
        return super().evaluate(task, dataset, split=split, model=model, estimator=estimator, seed=seed, progress=progress)

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        names = BINARY_METRICS if is_binary(part.target) else task.spec.metrics
        return safe_metrics(names, part.target, prediction.score, groups=part.groups, labels=prediction.label)

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,  # noqa: ARG002
               seed: int) -> None:
        binary = is_binary(dataset.target)
        if not fits or model not in ONE_HOT_MODELS["binary" if binary else "regression"]:
            return
        first = fits[0]
        if binary:  # motifs describe the fitted model: read them on all peaks (few test peaks)
            outcome.details.update(chip_motifs(first.estimator, dataset.inputs, labels=dataset.target, random_state=seed))
        else:
            outcome.details.update(sortseq_motifs(first.estimator, first.test.inputs["sequence"], random_state=seed))

"""Splits and metrics."""

from genotx.evaluate.metrics import METRICS, Evaluator, Metric, evaluate
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import (
    ColdSplit,
    Fold,
    LeaveOneGroupOutSplit,
    PredefinedSplit,
    RandomSplit,
    ScaffoldSplit,
    murcko_scaffolds,
)

__all__ = [
    "METRICS", "Evaluator", "Outcome", "Metric", "evaluate", "ColdSplit", "Fold", "LeaveOneGroupOutSplit",
    "PredefinedSplit", "RandomSplit", "ScaffoldSplit", "murcko_scaffolds",
]

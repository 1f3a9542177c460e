"""How methylation_state is evaluated: the supervised protocol, and beside its metrics the
replicate-agreement ceiling on the same held-out CpGs.

The ceiling is the AUROC of replicate 2's own beta at a CpG for replicate 1's label, on held-out CpGs
covered in both replicates: an upper reference, not a model (it reads the CpG's own state). The
prediction table of the supervised protocol carries the ``groups`` columns of every tested CpG
(replicate 2's beta and coverage among them), so nothing is refitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.evaluate.metrics import evaluate
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Supervised

__all__ = ["MethylationState", "replicate_ceiling", "ceiling_details"]

def _auroc(target: np.ndarray, score: np.ndarray) -> float:
    return evaluate(["auroc"], target, score)["auroc"]


def replicate_ceiling(groups: pd.DataFrame, target: np.ndarray, *, min_coverage: int = 1) -> dict[str, float]:
    """AUROC of replicate 2's own beta for replicate 1's label, on CpGs with replicate-2 reads.

    Examples
    --------
    >>> groups = pd.DataFrame({"replicate2_beta": [0.9, 0.1, 0.8, np.nan], "replicate2_coverage": [5, 6, 7, 0]})
    >>> replicate_ceiling(groups, np.array([1, 0, 1, 1]))
    {'auroc': 1.0, 'n': 3}
    """
    both = groups["replicate2_coverage"].to_numpy() >= min_coverage
    if both.sum() == 0 or len(np.unique(target[both])) < 2:
        return {"auroc": float("nan"), "n": int(both.sum())}
    return {"auroc": _auroc(target[both], groups["replicate2_beta"].to_numpy()[both]), "n": int(both.sum())}


def _auroc_by_coverage(tested: pd.DataFrame, target: np.ndarray) -> dict[str, dict[str, float]]:
    """Model AUROC on held-out CpGs by replicate-1 read depth: deeper labels are less noisy."""
    depth = tested["coverage"].to_numpy()
    score = tested["y_pred"].to_numpy()
    out = {}
    for name, rows in (("5-9", depth < 10), ("10-19", (depth >= 10) & (depth < 20)), (">=20", depth >= 20)):
        ok = rows.sum() > 0 and len(np.unique(target[rows])) == 2
        out[name] = {"auroc": _auroc(target[rows], score[rows]) if ok else float("nan"), "n": int(rows.sum())}
    return out


def ceiling_details(tested: pd.DataFrame, *, coverage_floor: int = 5) -> dict:
    """The run's details from its prediction table (groups columns, ``y_true``, ``y_pred``, ``fold``);
    ``coverage_floor`` is the label's read floor."""
    target = tested["y_true"].to_numpy().astype(np.int64)
    everywhere = replicate_ceiling(tested, target)
    return {
        "replicate_ceiling_auroc": everywhere["auroc"],
        "replicate_ceiling_auroc_rep2_cov5": replicate_ceiling(tested, target, min_coverage=coverage_floor)["auroc"],
        "replicate_ceiling_n": everywhere["n"],
        "replicate_ceiling_auroc_per_fold": {
            str(name): replicate_ceiling(part, part["y_true"].to_numpy().astype(np.int64))["auroc"]
            for name, part in tested.groupby("fold", sort=True)
        },
        "auroc_by_label_coverage": _auroc_by_coverage(tested, target),
        "methylated_fraction_test": float(target.mean()),
        "n_test_blocks": int(tested["block"].nunique()),
        "label": f"replicate 1, >= {coverage_floor} reads, beta > 0.5 vs < 0.5 (0.5 dropped)",
    }


class MethylationState(Supervised):
    """:class:`~genotx.evaluate.protocols.Supervised` with the replicate ceiling in the details."""

    def __init__(self, *, coverage_floor: int = 5) -> None:
        super().__init__()
        self.coverage_floor = coverage_floor

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str,  # noqa: ARG002
               model: str | None, seed: int) -> None:
        if outcome.predictions is not None and len(outcome.predictions):
            outcome.details.update(ceiling_details(outcome.predictions, coverage_floor=self.coverage_floor))

"""How cross-species translation is evaluated: supervised folds, fitted transductively, scored per pathway.

Per fold (the one loop of :class:`~genotx.evaluate.protocols.Supervised`):

* ``fit``: the estimator gets the fold's training rows (all mouse + the shots) and, at predict
  time, the held-out human rows with their labels hidden (NaN): :class:`~.models.Transductive`.
  Estimator contract: ``fit(X, y)`` with ``X`` a samples x genes DataFrame plus a ``species``
  column and ``y`` samples x pathways, NaN rows = unlabelled; ``predict(X)`` -> samples x pathways;
* ``predict``: the estimator's pathway scores and, on the same rows and fold, those of the
  ``no_transfer`` reference (the mouse ridge applied as is);
* ``score``: ``mean_column_pearson`` (per-pathway Pearson across held-out samples, averaged over
  pathways) and ``gain_over_no_transfer`` (the same minus the reference's).

Both metrics are means over folds (the folds' test rows overlap). ``finish`` adds the per-pathway
Pearson, the PROGENy scorer's check against the R package and the no-learning reference (PROGENy's
mouse model through orthologs) to ``details``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.bio.footprints import footprint_scores
from genotx.data.dataset import Dataset
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised, safe_metrics
from genotx.tasks.clinical.cross_species_translation.models import CrossSpeciesRidge, Transductive

__all__ = ["CrossSpeciesTransfer"]

METRIC = "mean_column_pearson"
GAIN = "gain_over_no_transfer"


def _pearson(truth, predicted) -> float:
    return safe_metrics([METRIC], truth, predicted)[METRIC]


class CrossSpeciesTransfer(Supervised):
    """Supervised with held-out rows as unlabelled fit rows, a ``no_transfer`` reference per fold
    and fold-mean metrics (see the module docstring).

    Examples
    --------
    >>> CrossSpeciesTransfer().fold_mean
    ('mean_column_pearson', 'gain_over_no_transfer')
    """

    def __init__(self, *, reference=None, keep_fitted: bool = False) -> None:
        super().__init__(fold_mean=(METRIC, GAIN), keep_fitted=keep_fitted)
        self.reference = CrossSpeciesRidge(transfer="none") if reference is None else reference

    def fit(self, estimator, train: Dataset) -> Transductive:
        return Transductive(estimator).fit(train.inputs, train.target)

    def predict(self, estimator: Transductive, test: Dataset) -> Prediction:
        score = estimator.predict(test.inputs)
        inner, ref = estimator.estimator, self.reference
        if type(inner) is type(ref) and inner.get_params() == ref.get_params():
            reference = score  # the run's model is the reference: its gain is 0 by definition
        else:
            reference = Transductive(ref).fit(estimator.X_, estimator.y_).predict(test.inputs)
        return Prediction(score, extra={"no_transfer": reference})

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        mine = _pearson(part.target, prediction.score)
        return {METRIC: mine, GAIN: mine - _pearson(part.target, prediction.extra["no_transfer"])}

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        """One row per held-out sample x pathway: ``sample, pathway, fold, y_true, y_pred``."""
        pathways = _pathways(part)
        return pd.DataFrame({
            "sample": np.repeat(part.groups["sample"].to_numpy(), len(pathways)),
            "pathway": np.tile(pathways, len(part)),
            "fold": np.repeat(fold, len(pathways)),
            "y_true": np.asarray(part.target).ravel(),
            "y_pred": np.asarray(prediction.score).ravel(),
        })

    def finish(self, task, dataset: Dataset, outcome, fits: list[FoldFit], *, split: str, model: str | None,  # noqa: ARG002
               seed: int) -> None:
        pathways = _pathways(dataset)
        per_pathway = np.mean([[_pearson(f.test.target[:, [j]], f.prediction.score[:, [j]]) for j in range(len(pathways))]
                               for f in fits], axis=0)
        first = fits[0].estimator  # a Transductive: the labelled rows the first fold's model was given
        transfer = getattr(first.estimator, "transfer", None)
        shots = int((np.isfinite(first.y_).all(axis=1) & (first.X_["species"] == "human").to_numpy()).sum())
        outcome.details.update({
            "pearson_per_pathway": dict(zip(pathways, np.round(per_pathway, 4).tolist())),
            "n_shot_human_labels": shots if transfer == "target_only" else 0,
            "uses_unlabelled_human": transfer in ("coral", "latent"),
            "test": "real PANC1 (target: human PROGENy scores)" if split == "mouse_to_real_human" else "simulated human",
            "n_panel_genes": int(dataset.inputs.shape[1] - 1),
        })
        if "progeny_reference_max_abs_diff" in dataset.context:
            outcome.details["progeny_reference_max_abs_diff"] = dataset.context["progeny_reference_max_abs_diff"]
        weights = dataset.context.get("mouse_footprint_panel")
        if weights is not None:  # no learning: PROGENy's mouse model through orthologs, on the same rows
            outcome.details["reference_mouse_progeny_via_orthologs_pearson"] = float(np.mean([
                _pearson(f.test.target, footprint_scores(f.test.inputs.drop(columns=["species"]).to_numpy(np.float64), weights))
                for f in fits]))

def _pathways(data: Dataset) -> list[str]:
    """The target's column names (``context["pathways"]``; positions when absent)."""
    width = np.asarray(data.target).shape[1]
    return list(data.context.get("pathways", [str(j) for j in range(width)]))

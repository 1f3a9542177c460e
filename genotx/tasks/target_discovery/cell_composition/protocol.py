"""How deconvolution is scored: the supervised loop on mixtures, a long prediction table (one row per
mixture x cell type) and per-type metrics with the cells behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.evaluate.metrics import evaluate
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised

__all__ = ["Deconvolution", "per_type_table"]


def per_type_table(table: pd.DataFrame) -> pd.DataFrame:
    """Pearson r, RMSE, mean true and mean predicted proportion of each cell type (long table in).

    Examples
    --------
    >>> t = pd.DataFrame({"cell_type": ["a", "b"] * 3, "y_true": [0.2, 0.8, 0.5, 0.5, 0.9, 0.1],
    ...                   "y_pred": [0.3, 0.7, 0.5, 0.5, 0.8, 0.2]})
    >>> per_type_table(t).round(3).loc["a"].tolist()
    [0.999, 0.082, 0.533, 0.533]
    """
    rows = {}
    for name, part in table.groupby("cell_type", sort=True):
        y, p = part["y_true"].to_numpy(float), part["y_pred"].to_numpy(float)
        scores = evaluate(["pearson", "rmse"], y, p)
        rows[name] = {"pearson": scores["pearson"], "rmse": scores["rmse"], "mean_true": float(y.mean()), "mean_pred": float(p.mean())}
    return pd.DataFrame.from_dict(rows, orient="index")


class Deconvolution(Supervised):
    """The supervised protocol for proportions (samples x types targets).

    ``prediction_table`` is long (mixture, partition, cell_type, y_true, y_pred, fold), so the
    report's predicted-vs-true plot shows every (mixture, type) pair; ``finish`` adds to the details
    the per-type table (Pearson r, RMSE, mean proportions, and how many distinct cells of each type
    the training and the test mixtures were drawn from) and ``shared_cells``, the number of cells
    used by both (0 by construction; recorded in every run as proof).
    """

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        types = list(part.context["types"])
        y, p = np.asarray(part.target, dtype=float), np.asarray(prediction.score, dtype=float)
        k = len(types)
        return pd.DataFrame({
            "mixture": np.repeat(part.groups["mixture"].to_numpy(), k),
            "partition": np.repeat(part.groups["partition"].to_numpy(), k),
            "cell_type": np.tile(types, len(y)),
            "y_true": y.ravel(),
            "y_pred": p.ravel(),
            "fold": np.repeat(fold, k),
        })

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,
               seed: int) -> None:
        super().finish(task, dataset, outcome, fits, split=split, model=model, seed=seed)
        table = per_type_table(outcome.predictions)
        labels = np.asarray(dataset.context["cell_labels"])
        if "cells" in dataset.arrays:
            cells = np.asarray(dataset.arrays["cells"])
            train = np.unique(np.concatenate([cells[f.fold.train].ravel() for f in fits]))
            test = np.unique(np.concatenate([cells[f.fold.test].ravel() for f in fits]))
            table["n_train_cells"] = pd.Series(labels[train]).value_counts().reindex(table.index).fillna(0).astype(int)
            table["n_test_cells"] = pd.Series(labels[test]).value_counts().reindex(table.index).fillna(0).astype(int)
            outcome.details["shared_cells"] = int(np.intersect1d(train, test).size)
        outcome.details["per_type"] = {name: {column: (int(table.at[name, column]) if column.startswith("n_")
                                                       else float(table.at[name, column])) for column in table.columns}
                                       for name in table.index}
        outcome.details["pearson_mean_over_types"] = float(table["pearson"].mean())

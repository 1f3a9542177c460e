"""How spatial expression is scored: the supervised fold loop, with per-gene metrics.

Every Pearson r here is computed **within a held-out fold** (over the spots of one held-out block
for ``spatial_blocks``), never over out-of-fold predictions pooled across folds: each fold's model
predicts around its own training mean, so pooling would reward or punish the differences between
fold means (the per-gene mean itself would score a negative r). Metrics:

* ``pearson_top50_genes``: mean r over the 50 genes most variable across the fold's TRAINING spots
  (chosen before the test spots are seen), averaged over folds;
* ``median_column_pearson``: median r over the genes that vary within the held-out fold, averaged
  over folds (registry metric);
* ``genes_beat_mean``: genes whose predictions rank the spots of a held-out fold better than chance,
  which the per-gene mean (a constant) can never do: within-fold r > 0 with a one-sided permutation
  p < 0.05 (the fold's spots shuffled, 999 times, seeded), counted per fold and averaged over folds.
  ``genes_beat_mean_chance`` beside it is the count expected from predictions unrelated to the truth
  (per gene, the share of shuffles that would pass; under 5% for genes seen in one or two spots).
  The test is exact within one fold: the fold's predictions come from a model that never saw its
  spots. Pooling folds into one test is not: each fold's model trained on the other folds' spots,
  and on this slide a ridge on random features then passes ~87 genes against ~56 expected.
  Beating the mean here means ranking spots, not a lower squared error: ``rmse`` (over every spot
  and gene) says that, and the mean is hard to beat on it;
* ``pearson_top50_genes_position`` beside every run: the same metric for a ridge on the spot
  coordinates alone, on the same folds and genes. Expression follows the tissue's layout (cortical
  layers), so location predicts it; an image model that matches this reference has not shown that
  it reads more than where a patch lies (a stain or thickness gradient can tell that);
* a constant prediction has r = 0 (the registry's convention: it carries no ranking).

The run's ``details["spatial_expression"]`` holds every gene's r and the best gene's map (true and
predicted, drawn in the report).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.errors import InputError
from genotx.evaluate.metrics import column_pearsons, evaluate
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised

__all__ = ["SpatialExpression", "top_variable", "gene_tests"]


def top_variable(y: np.ndarray, n: int) -> np.ndarray:
    """Columns of the ``n`` largest variances across rows (ties: the first column wins), sorted.

    >>> top_variable(np.array([[0.0, 1.0, 5.0], [0.0, 3.0, 5.0], [0.0, 2.0, 9.0]]), 2).tolist()
    [1, 2]
    """
    return np.sort(np.argsort(-np.asarray(y, dtype=np.float64).var(axis=0), kind="stable")[:n])


def _centred(values: np.ndarray, folds: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    for key in np.unique(folds):
        rows = folds == key
        out[rows] -= out[rows].mean(axis=0)
    return out


def gene_tests(y: np.ndarray, p: np.ndarray, folds: np.ndarray, *, n_permutations: int = 999, alpha: float = 0.05,
               random_state: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per gene (column): the within-fold r (truth and prediction centred in each fold, then Pearson
    over all rows), its one-sided permutation p-value (rows shuffled within folds), whether the truth
    varies within some fold (the gene can be tested) and the chance that a prediction unrelated to the
    truth passes (r > 0 and p < ``alpha``): the share of the permuted orders that would, which is below
    ``alpha`` for a gene expressed in one or two spots. r = 0 and p = 1 where either side is constant.

    Examples
    --------
    >>> rng = np.random.default_rng(0); y = rng.normal(size=(30, 3))
    >>> p = np.c_[y[:, 0], rng.normal(size=30), np.ones(30)]
    >>> r, pv, testable, chance = gene_tests(y, p, np.repeat([0, 1, 2], 10), n_permutations=199)
    >>> r.round(2).tolist()[::2], bool(pv[0] < 0.01), float(pv[2]), testable.tolist(), bool(0.03 < chance[1] < 0.06)
    ([1.0, 0.0], True, 1.0, [True, True, True], True)
    """
    yc, pc = _centred(y, folds), _centred(p, folds)
    y_norm, p_norm = np.sqrt((yc**2).sum(axis=0)), np.sqrt((pc**2).sum(axis=0))
    testable = y_norm > 1e-12
    ok = testable & (p_norm > 1e-12)
    yn = np.where(ok, yc / np.where(ok, y_norm, 1.0), 0.0)
    pn = np.where(ok, pc / np.where(ok, p_norm, 1.0), 0.0)
    r = (yn * pn).sum(axis=0)
    pvalues, chance = np.ones(y.shape[1]), np.zeros(y.shape[1])
    columns = np.flatnonzero(ok)
    if n_permutations and len(columns):
        rng = np.random.default_rng(random_state)
        groups = [np.flatnonzero(folds == key) for key in np.unique(folds)]
        yn, pn = yn[:, columns], pn[:, columns]
        null = np.empty((n_permutations, len(columns)))
        for b in range(n_permutations):
            order = np.arange(len(y))
            for rows in groups:
                order[rows] = rows[rng.permutation(len(rows))]
            null[b] = (yn[order] * pn).sum(axis=0)
        pvalues[columns] = (1.0 + (null >= r[columns] - 1e-12).sum(axis=0)) / (1.0 + n_permutations)
        ordered = np.sort(null, axis=0)
        index = np.arange(n_permutations)[:, None]
        starts = np.where(np.r_[np.ones((1, len(columns)), bool), np.diff(ordered, axis=0) > 1e-12], index, 0)
        at_least = n_permutations - np.maximum.accumulate(starts, axis=0)  # permuted values >= each one, itself included
        chance[columns] = ((ordered > 0) & (at_least / n_permutations < alpha)).mean(axis=0)
    return r, pvalues, testable, chance


@dataclass
class _FoldModel:
    """A fitted estimator with what its training fold chose: the top genes and a key naming the fold."""

    estimator: Any
    top: np.ndarray
    key: int


class SpatialExpression(Supervised):
    """The supervised protocol with per-gene metrics (see the module docstring).

    ``fit`` also picks the fold's ``n_top`` most variable genes from its training spots; ``predict``
    passes them (and a fold key) with the predictions, so ``score`` can rank genes and centre
    within folds on any set of held-out rows.
    """

    def __init__(self, *, n_top: int = 50, alpha: float = 0.05, n_permutations: int = 999) -> None:
        super().__init__()
        self.n_top = n_top
        self.alpha = alpha
        self.n_permutations = n_permutations

    def fit(self, estimator, train: Dataset) -> _FoldModel:
        fitted = super().fit(estimator, train)
        spots = train.groups["spot"].astype(str) if "spot" in train.groups else pd.Series(np.arange(len(train)), dtype=str)
        return _FoldModel(fitted, top_variable(train.target, self.n_top), zlib.crc32(",".join(spots).encode()))

    def predict(self, estimator: _FoldModel, test: Dataset) -> Prediction:
        score = np.asarray(estimator.estimator.predict(test.inputs), dtype=np.float64).reshape(len(test), -1)
        n = len(test)
        return Prediction(score, extra={"fold": np.full(n, estimator.key, dtype=np.int64), "top": np.tile(estimator.top, (n, 1))})

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        y = np.asarray(part.target, dtype=np.float64).reshape(len(part), -1)
        p = np.asarray(prediction.score, dtype=np.float64).reshape(len(part), -1)
        if p.shape != y.shape:
            raise InputError("predictions", f"{p.shape[1]} value(s) per spot for {y.shape[1]} genes",
                             fix="predict every gene of every spot (task.get_split / genotx.cross_validate)")
        folds = np.asarray(prediction.extra.get("fold", np.zeros(len(y), dtype=np.int64)))
        top = prediction.extra.get("top")  # None: predictions scored without their training fold
        per_fold = []
        for key in np.unique(folds):
            rows = np.flatnonzero(folds == key)
            r, pvalues, _, chance = gene_tests(y[rows], p[rows], np.zeros(len(rows)), n_permutations=self.n_permutations,
                                               alpha=self.alpha, random_state=seed)
            genes = np.asarray(top)[rows[0]] if top is not None else None
            per_fold.append({
                "pearson_top50_genes": np.nanmean(column_pearsons(y[rows][:, genes], p[rows][:, genes])) if genes is not None else np.nan,
                "median_column_pearson": evaluate(["median_column_pearson"], y[rows], p[rows])["median_column_pearson"],
                "genes_beat_mean": float(((r > 0) & (pvalues < self.alpha)).sum()),
                "genes_beat_mean_chance": float(chance.sum()),
            })
        out = {name: _mean([f[name] for f in per_fold]) for name in per_fold[0]}
        out["rmse"] = evaluate(["rmse"], y, p)["rmse"]
        return out

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        """One row per (held-out spot, top gene of its training fold): spot, x, y, gene, y_true, y_pred, fold."""
        genes = np.asarray(part.context.get("genes", [f"gene{j}" for j in range(np.shape(part.target)[1])]), dtype=object)
        top = np.asarray(prediction.extra["top"])
        rows = np.repeat(np.arange(len(part)), top.shape[1])
        cols = top.ravel()
        groups = part.groups.reset_index(drop=True)
        return pd.DataFrame({
            "spot": groups["spot"].to_numpy()[rows] if "spot" in groups else rows,
            "x": groups["x"].to_numpy()[rows] if "x" in groups else np.nan,
            "y": groups["y"].to_numpy()[rows] if "y" in groups else np.nan,
            "gene": genes[cols],
            "y_true": np.asarray(part.target, dtype=np.float64)[rows, cols],
            "y_pred": np.asarray(prediction.score, dtype=np.float64)[rows, cols],
            "fold": np.asarray(fold)[rows],
        })

    def position_reference(self, dataset: Dataset, fits: list[FoldFit]) -> float:
        """``pearson_top50_genes`` of a ridge on the spot coordinates alone (same folds, same top genes):
        what location, not histology, explains."""
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if not {"x", "y"} <= set(dataset.groups.columns):
            return float("nan")
        xy = dataset.groups[["x", "y"]].to_numpy(np.float64)
        y = np.asarray(dataset.target, dtype=np.float64)
        values = []
        for f in fits:
            ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 25))).fit(xy[f.fold.train], y[f.fold.train])
            genes = np.asarray(f.prediction.extra["top"])[0]
            values.append(np.nanmean(column_pearsons(y[f.fold.test][:, genes], ridge.predict(xy[f.fold.test])[:, genes])))
        return _mean(values)

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,
               seed: int) -> None:
        super().finish(task, dataset, outcome, fits, split=split, model=model, seed=seed)
        outcome.metrics["pearson_top50_genes_position"] = self.position_reference(dataset, fits)
        rows = np.concatenate([f.fold.test for f in fits])
        y = np.asarray(dataset.target, dtype=np.float64)[rows]
        p = np.vstack([f.prediction.score for f in fits])
        folds = np.concatenate([f.prediction.extra["fold"] for f in fits])
        r, _, testable, _ = gene_tests(y, p, folds, n_permutations=0)  # descriptive: no test across folds (see module)
        genes = list(dataset.context.get("genes", [f"gene{j}" for j in range(y.shape[1])]))
        # the gene shown is chosen AFTER scoring (its best case, not an estimate); with no positive r, the most variable
        best = int(np.argmax(np.where(testable, r, -np.inf))) if (r[testable] > 0).any() else int(np.argmax(y.var(axis=0)))
        groups = dataset.groups.iloc[rows]
        edges = np.linspace(-1.0, 1.0, 41)
        counts, _ = np.histogram(r[testable], bins=edges)
        order = [j for j in np.argsort(-r, kind="stable") if testable[j]]
        tops = pd.Series(np.concatenate([f.prediction.extra["top"][0] for f in fits])).value_counts()
        outcome.details["spatial_expression"] = {
            "model": model or "estimator", "split": split, "n_spots": int(len(rows)), "n_genes": len(genes),
            "n_genes_testable": int(testable.sum()), "alpha": self.alpha, "n_permutations": self.n_permutations,
            "gene_pearson_note": "r over all held-out spots after centring each fold (descriptive; metrics are per fold)",
            "gene_pearson_hist": {"edges": np.round(edges, 2).tolist(), "counts": counts.astype(int).tolist()},
            "highest_gene_pearson": {genes[j]: round(float(r[j]), 4) for j in order[:20]},
            "top_genes_every_fold": [genes[j] for j in tops.index[tops == len(fits)].sort_values()],
            "best_gene": genes[best], "best_gene_pearson": round(float(r[best]), 4),
            "x": groups["x"].astype(float).round(1).tolist(), "y": groups["y"].astype(float).round(1).tolist(),
            "true": np.round(y[:, best], 4).tolist(), "pred": np.round(p[:, best], 4).tolist(),
        }


def _mean(values: list[float]) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

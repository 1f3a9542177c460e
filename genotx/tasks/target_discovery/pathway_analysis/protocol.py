"""pathway_analysis's protocol: the ranking protocol, where a contrast's truth is a few candidates
with a direction and the candidates are whatever the estimator scores.

Per held-out contrast (a row), the estimator's ``decision_function`` scores its ``classes_``
(NaN = not testable there). The truth of the contrast for the estimator's kind of collection
(``context["truth"][contrast][kind]``: ids and a direction, +1 up, -1 down) decides the order: the
candidates are ranked by score x direction (most up first for +1, most down first for -1) and the
rank is that of the best-ranked true candidate (1 = top; ties: the expected rank of a random
tie-break, :func:`truth_rank`). An estimator
without a ``kind`` (your own) is matched to the first truth whose ids it scores. Where the contrast
has no truth for the estimator's collection, the rank is NaN and ``details`` says so.

``details`` (the run's ``pathway_ranking`` entry, drawn by the report): the candidates' count,
the truth's rank, score, p-value and FDR, the analytic random expectation of the best of k true
candidates among n ((n + 1) / (k + 1)) and the top up- and down-regulated sets with their driver genes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.evaluate.protocols import FoldFit, Prediction, Ranking, safe_metrics

__all__ = ["PathwayRanking", "truth_rank", "N_SHOWN"]

N_SHOWN = 10  # top up and top down sets kept in details


def truth_rank(scores: np.ndarray, truth: np.ndarray, direction: int) -> tuple[float, int, int]:
    """(rank of the best true candidate, number of candidates, number of true candidates) over the
    finite scores, ranked by ``score * direction`` descending.

    Ties are broken at random *in expectation*: when the best true score is shared by ``m``
    candidates of which ``t`` are true, the rank is ``higher + (m + 1) / (t + 1)`` (the expected best
    of ``t`` random places among ``m``; the average rank when ``t = 1``). A scorer that ties every
    candidate therefore ranks the truth at exactly the expectation of a random ordering.

    Examples
    --------
    >>> truth_rank(np.array([0.5, -2.0, np.nan, 1.0]), np.array([False, True, True, False]), -1)
    (1.0, 3, 1)
    >>> truth_rank(np.array([0.5, -2.0, 1.0]), np.array([False, True, False]), 1)
    (3.0, 3, 1)
    >>> truth_rank(np.zeros(9), np.array([True, True] + [False] * 7), 1)  # (9 + 1) / (2 + 1)
    (3.3333333333333335, 9, 2)
    """
    ok = np.isfinite(scores)
    s, t = scores[ok] * direction, truth[ok]
    if not t.any():
        return float("nan"), int(ok.sum()), 0
    own = s[t].max()
    higher = (s > own).sum()
    tied, tied_true = (s == own).sum(), (s[t] == own).sum()
    return float(higher + (tied + 1) / (tied_true + 1)), int(ok.sum()), int(t.sum())


def _truth_for(estimator, truths: dict) -> tuple[str | None, list[str], int]:
    kind = getattr(estimator, "kind", None)
    if kind in truths:
        ids, direction = truths[kind]
        return kind, list(ids), int(direction)
    classes = set(np.asarray(estimator.classes_, dtype=object).tolist())
    for name, (ids, direction) in truths.items():
        if kind is None and classes & set(ids):
            return name, list(ids), int(direction)
    return None, [], 0


class PathwayRanking(Ranking):
    """Rank of the contrast's expected pathway / TF / term among the estimator's candidates."""

    def __init__(self) -> None:
        super().__init__(keep_fitted=True)

    def predict(self, estimator, test: Dataset) -> Prediction:
        classes = np.asarray(estimator.classes_, dtype=object)
        tables = np.empty(len(test), dtype=object)  # one contrast's full table each (kept for details)
        if callable(getattr(estimator, "results", None)):
            scores = np.full((len(test), len(classes)), np.nan)
            for i in range(len(test)):
                tables[i] = estimator.results(test.inputs.iloc[i].dropna(), random_state=estimator.random_state + i)
                scores[i, pd.Index(classes).get_indexer(tables[i].index)] = tables[i]["score"].to_numpy()
        else:
            scores = np.asarray(estimator.decision_function(test.inputs), dtype=np.float64)
        all_truths = test.context.get("truth", {})
        ranks, n_candidates, n_true, expected = [], [], [], []
        for i, contrast in enumerate(np.asarray(test.target, dtype=object)):
            _, ids, direction = _truth_for(estimator, all_truths.get(contrast, {}))
            rank, n, k = truth_rank(scores[i], np.isin(classes, ids), direction or 1)
            ranks.append(rank)
            n_candidates.append(n)
            n_true.append(k)
            expected.append((n + 1) / (k + 1) if k else np.nan)
        extra = {"n_candidates": np.array(n_candidates), "n_true": np.array(n_true),
                 "random_expected_rank": np.array(expected), "tables": tables}
        return Prediction(np.array(ranks), extra=extra)

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        ranks = np.asarray(prediction.score, dtype=np.float64)
        known = np.isfinite(ranks)
        metrics = {name: float("nan") for name in task.spec.metrics}
        if known.any():
            metrics.update(safe_metrics(task.spec.metrics, ranks[known], ranks[known]))
        n = prediction.extra.get("n_candidates")
        if n is not None and known.any():
            n = np.asarray(n, dtype=np.float64)[known]
            metrics["normalized_rank"] = float(np.mean((ranks[known] - 1) / np.maximum(n - 1, 1)))
            metrics["random_expected_rank"] = float(np.mean(np.asarray(prediction.extra["random_expected_rank"])[known]))
        return metrics

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        return part.groups.reset_index(drop=True).assign(
            y_true=part.target, rank=prediction.score, n_candidates=prediction.extra.get("n_candidates"),
            random_expected_rank=prediction.extra.get("random_expected_rank"), fold=fold)

    def finish(self, task, dataset: Dataset, outcome, fits: list[FoldFit], *, split: str, model: str | None, seed: int) -> None:  # noqa: ARG002
        shown = {}
        for fit in fits:
            estimator = fit.estimator
            for i, contrast in enumerate(np.asarray(fit.test.target, dtype=object)):
                kind, ids, direction = _truth_for(estimator, dataset.context.get("truth", {}).get(contrast, {}))
                entry = {"contrast": str(contrast), "model": model or type(estimator).__name__,
                         "collection": getattr(estimator, "collection", ""), "method": getattr(estimator, "method", ""),
                         "truth_kind": kind or "", "truth": ids, "direction": direction,
                         "rank": _finite(fit.prediction.score[i]),
                         "n_candidates": int(fit.prediction.extra["n_candidates"][i]),
                         "random_expected_rank": _finite(fit.prediction.extra["random_expected_rank"][i])}
                if not ids:
                    entry["note"] = "no expected set is defined for this collection on this contrast: rank not scored"
                table = fit.prediction.extra["tables"][i]
                if isinstance(table, pd.DataFrame):
                    entry.update(_summary(table, ids))
                shown[str(contrast)] = entry
        outcome.details["pathway_ranking"] = shown


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _rows(table: pd.DataFrame) -> list[dict]:
    cols = [c for c in ("name", "score", "p_value", "fdr", "n_genes", "drivers") if c in table]
    out = table[cols].reset_index().rename(columns={"set": "id"})
    return [{k: (_finite(v) if isinstance(v, float | np.floating) else v) for k, v in row.items()} for row in out.to_dict("records")]


def _summary(table: pd.DataFrame, ids: list[str]) -> dict:
    """The top up and down sets and the true sets' own rows (score, p, FDR, drivers)."""
    return {"top_up": _rows(table.head(N_SHOWN)), "top_down": _rows(table.tail(N_SHOWN).iloc[::-1]),
            "truth_rows": _rows(table[table.index.isin(ids)])}

"""The network protocol as this task runs it: the optional causal-learn baseline is skipped (NaN
metrics and a note) where causal-learn is not installed, and each run's details carry the
recovered network beside the reference (for :func:`~genotx.report.plots.plot_network`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import Network
from genotx.tasks.target_discovery.gene_network.models import DirectLiNGAMNetwork, causal_learn_available

__all__ = ["GeneNetworkProtocol"]


def _needs_causal_learn(estimator) -> bool:
    inner = getattr(estimator, "estimator", None)
    return isinstance(estimator, DirectLiNGAMNetwork) or isinstance(inner, DirectLiNGAMNetwork)


class GeneNetworkProtocol(Network):
    """:class:`~genotx.evaluate.protocols.Network` plus the recovered network in ``details``."""

    def __init__(self, *, max_table_rows: int = 50_000, max_drawn_variables: int = 40) -> None:
        super().__init__(max_table_rows=max_table_rows)
        self.max_drawn_variables = max_drawn_variables

    def evaluate(self, task, dataset, *, split, model=None, estimator=None, seed=0, progress=None) -> Outcome:
        if _needs_causal_learn(self.make(task, model, estimator, seed)) and not causal_learn_available():
            names = list(task.spec.metrics)
            names += [f"{m}_random" for m in task.spec.metrics if m.partition("_undirected")[0] == "aupr"]
            return Outcome({m: float("nan") for m in names}, len(dataset), 0,
                           details={"skipped": "causal-learn is not installed: pip install 'genotx[causal]'"})
        return super().evaluate(task, dataset, split=split, model=model, estimator=estimator, seed=seed, progress=progress)

    def finish(self, task, dataset, outcome, *, split, model, seed) -> None:  # noqa: ARG002
        fold, fitted = outcome.fitted[0]
        edges = dataset.context["edges"]
        variables = [str(v) for v in fitted.variables_]
        table = outcome.predictions[outcome.predictions["fold"] == fold.name]
        directed = bool(dataset.context.get("directed", True))
        y_true, y_pred = ("y_true", "y_pred") if directed else ("y_true_undirected", "y_pred_undirected")
        n_true = int(table[y_true].sum()) if len(table) == fold_pairs(len(variables), directed) else None
        details = {
            "transform": getattr(fitted, "transform_", None),
            "n_variables": len(variables),
            "n_pairs": fold_pairs(len(variables), directed),
            "reference_edges_in_data": int(np.sum(edges["source"].isin(variables) & edges["target"].isin(variables))),
            "directed_reference": directed,
        }
        if n_true:  # precision among the top |reference| pairs: how many of the best-scored pairs are real
            top = table.nlargest(n_true, y_pred)
            details[f"precision_at_{n_true}"] = float(top[y_true].mean())
        if len(variables) <= self.max_drawn_variables and directed:
            best = table.sort_values(y_pred, ascending=False, kind="stable").head(max(n_true or 0, 10))
            details["network"] = {
                "variables": variables,
                "reference": edges[["source", "target"]].astype(str).values.tolist(),
                "top_edges": [[str(s), str(t), float(p), int(y)] for s, t, p, y in
                              zip(best["source"], best["target"], best[y_pred], best[y_true])],
                "title": f"{task.name} / {model or type(fitted).__name__} / {fold.name}",
            }
        outcome.details.update(details)


def fold_pairs(n: int, directed: bool) -> int:
    """Number of pairs scored among ``n`` variables (ordered when directed)."""
    return n * (n - 1) if directed else n * (n - 1) // 2


def edges_frame(details: dict) -> pd.DataFrame:
    """The recovered top edges of a run's details as a DataFrame (``source, target, score, in_reference``)."""
    return pd.DataFrame(details["network"]["top_edges"], columns=["source", "target", "score", "in_reference"])

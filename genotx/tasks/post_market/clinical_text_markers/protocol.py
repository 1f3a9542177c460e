"""The task's extraction protocol: the house's ``Extraction`` plus per-type and per-status tables."""

from __future__ import annotations

from collections import Counter

import numpy as np

from genotx.evaluate.metrics import evaluate
from genotx.evaluate.protocols import Extraction

__all__ = ["TextExtraction", "per_type_table", "status_confusion"]


def per_type_table(y_true, y_pred) -> dict[str, dict[str, float]]:
    """Entity exact / overlap F1 and counts for each span type (offsets and type must match).

    >>> per_type_table([[(0, 4, "a"), (5, 9, "b")]], [[(0, 4, "a"), (5, 8, "b")]])["b"]["entity_f1_overlap"]
    1.0
    """
    types = sorted({a[2] for doc in y_true for a in doc} | {a[2] for doc in y_pred for a in doc})
    out = {}
    for kind in types:
        truth = [[a for a in doc if a[2] == kind] for doc in y_true]
        pred = [[a for a in doc if a[2] == kind] for doc in y_pred]
        t, p = np.empty(len(truth), dtype=object), np.empty(len(pred), dtype=object)
        t[:], p[:] = truth, pred
        scores = evaluate(["entity_f1", "entity_f1_overlap", "span_f1"], t, p)
        out[kind] = {**scores, "n_true": sum(map(len, truth)), "n_pred": sum(map(len, pred))}
    return out


def status_confusion(y_true, y_pred) -> dict[str, dict[str, int]]:
    """Gold status -> predicted status counts over gold spans found with the right offsets and type
    (``missed`` when the span was not found)."""
    table: dict[str, Counter] = {}
    for gold, pred in zip(y_true, y_pred):
        said = {tuple(p)[:3]: tuple(p)[-1] for p in pred}
        for g in gold:
            table.setdefault(str(g[-1]), Counter())[str(said.get(tuple(g)[:3], "missed"))] += 1
    return {k: dict(v) for k, v in sorted(table.items())}


class TextExtraction(Extraction):
    """Extraction with the paper-style tables in ``details``: per span type and the status confusion."""

    def finish(self, task, dataset, outcome, fits, *, split, model, seed) -> None:  # noqa: ARG002
        truth = [doc for f in fits for doc in f.test.target]
        pred = [doc for f in fits for doc in f.prediction.score]
        outcome.details.update({
            "per_type": per_type_table(truth, pred),
            "status_confusion": status_confusion(truth, pred),
            "n_documents_test": len(truth),
            "n_spans_test": int(sum(map(len, truth))),
            "data_kind": dataset.meta.get("data_kind"),
            "families_test": sorted({str(v) for f in fits for v in f.test.groups["family"]}),
        })

"""Protocols: how a kind of task is evaluated. The engine runs every protocol the same way.

A protocol is ``fn(task, dataset, split, model_name, seed) -> Outcome``. ``supervised`` covers
split-fit-predict-score; a task whose evaluation is different (an estimator with a confidence
interval, a ranking, a design loop) defines ``evaluate(dataset, *, split, model, seed) -> Outcome``
in its own module and the engine uses that instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from genotx._registry import Registry
from genotx.evaluate.metrics import evaluate
from genotx.evaluate.outcome import Outcome
from genotx.tasks.spec import Dataset

__all__ = ["Outcome", "PROTOCOL_RUNNERS", "supervised"]


PROTOCOL_RUNNERS: Registry[Callable[..., Outcome]] = Registry("protocol")


def _scores(model, X) -> tuple[np.ndarray, np.ndarray | None]:
    """Continuous scores for ranking metrics and hard labels for label metrics."""
    if is_classifier(model) or hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        labels = model.classes_[proba.argmax(axis=1)]
        score = proba[:, 1] if proba.shape[1] == 2 else proba
        return score, labels
    return model.predict(X), None


@PROTOCOL_RUNNERS.register("supervised")
def supervised(task, dataset: Dataset, *, split: str, model: str, seed: int, progress=None, keep_fitted: bool = False) -> Outcome:
    """Fit a fresh model per fold, predict the held-out rows, score pooled and per-fold predictions.

    ``keep_fitted`` keeps each fold's fitted estimator in ``Outcome.fitted`` for a task's ``details`` hook.
    """
    folds = task.folds(dataset, split, random_state=seed)
    metric_names = task.spec.metrics
    pred = np.full(len(dataset), np.nan)
    labels = np.empty(len(dataset), dtype=object)
    tested = np.zeros(len(dataset), dtype=bool)
    fold_of = np.empty(len(dataset), dtype=object)
    fold_metrics, n_train, fitted = [], [], []
    for fold in folds:
        estimator = task.model(model, random_state=seed)
        estimator.fit(_rows(dataset.inputs, fold.train), dataset.target[fold.train])
        score, label = _scores(estimator, _rows(dataset.inputs, fold.test))
        pred[fold.test] = score
        labels[fold.test] = label if label is not None else score
        tested[fold.test] = True
        fold_of[fold.test] = fold.name
        groups = dataset.groups.iloc[fold.test]
        fold_metrics.append(
            {"fold": fold.name, "n_test": len(fold.test),
             **_safe_evaluate(metric_names, dataset.target[fold.test], score, groups, _like(labels[fold.test], dataset.target))}
        )
        n_train.append(len(fold.train))
        if keep_fitted:
            fitted.append((fold, estimator))
        if progress:
            progress()
    idx = np.flatnonzero(tested)
    metrics = _safe_evaluate(metric_names, dataset.target[idx], pred[idx], dataset.groups.iloc[idx], _like(labels[idx], dataset.target))
    predictions = dataset.groups.iloc[idx].reset_index(drop=True).assign(
        y_true=dataset.target[idx], y_pred=pred[idx], fold=fold_of[idx].astype(str)
    )
    return Outcome(metrics, int(np.mean(n_train)), len(idx), fold_metrics, predictions, fitted=fitted)


def _like(labels: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Hard labels in the target's dtype: label metrics (accuracy, F1) refuse mixed object/number types."""
    try:
        return labels.astype(np.asarray(target).dtype)
    except (TypeError, ValueError):
        return labels


def _rows(inputs, index):
    return inputs.iloc[index] if hasattr(inputs, "iloc") else inputs[index]


def _safe_evaluate(names, y_true, y_score, groups: pd.DataFrame, labels) -> dict[str, float]:
    """All metrics; a metric undefined on this fold (e.g. one class only) is NaN, not a crash."""
    out = {}
    for name in names:
        try:
            out.update(evaluate([name], y_true, y_score, groups=groups, labels=labels))
        except ValueError:
            out[name] = float("nan")
    return out

"""Plots for the report, drawn with matplotlib and returned as base64 PNG (self-contained HTML)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

__all__ = ["figure_png", "predicted_vs_true", "roc", "metric_bars"]


def figure_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def predicted_vs_true(predictions: pd.DataFrame, title: str) -> str:
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    y, p = predictions["y_true"].to_numpy(float), predictions["y_pred"].to_numpy(float)
    if len(y) > 3000:
        ax.hexbin(y, p, gridsize=50, bins="log", cmap="viridis", mincnt=1)
    else:
        ax.scatter(y, p, s=6, alpha=0.5)
    lo, hi = np.nanmin([y.min(), p.min()]), np.nanmax([y.max(), p.max()])
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="true", ylabel="predicted", title=title)
    return figure_png(fig)


def roc(predictions: pd.DataFrame, title: str) -> str:
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    fpr, tpr, _ = roc_curve(predictions["y_true"], predictions["y_pred"])
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    return figure_png(fig)


def metric_bars(table: pd.DataFrame, metric: str, title: str) -> str:
    """Primary metric per (model, split), with fold standard deviation as error bars when known."""
    fig, ax = plt.subplots(figsize=(max(4.2, 0.6 * len(table) + 1.5), 3.4))
    labels = table["model"] + "\n" + table["split"]
    ax.bar(labels, table[metric], yerr=table.get("std"), color="#4c72b0", capsize=3)
    ax.set(ylabel=metric, title=title)
    ax.tick_params(axis="x", labelsize=8)
    return figure_png(fig)

"""Plots for the report: each function returns a matplotlib ``Figure`` (use it in a notebook, save it,
or let :func:`figure_png` encode it for the self-contained HTML report, which also closes it)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from genotx._registry import Registry  # noqa: E402

__all__ = ["DETAIL_PLOTS", "figure_png", "plot_network", "per_type_figure", "predicted_vs_true", "roc", "metric_bars", "kaplan_meier", "mr_scatter", "mr_funnel", "simulation_grid"]


def figure_png(fig: Figure) -> str:
    """The figure as a base64 PNG (for an inline <img>); the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def predicted_vs_true(predictions: pd.DataFrame, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    y, p = predictions["y_true"].to_numpy(float), predictions["y_pred"].to_numpy(float)
    if len(y) > 3000:
        ax.hexbin(y, p, gridsize=50, bins="log", cmap="viridis", mincnt=1)
    else:
        ax.scatter(y, p, s=6, alpha=0.5)
    lo, hi = np.nanmin([y.min(), p.min()]), np.nanmax([y.max(), p.max()])
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="true", ylabel="predicted", title=title)
    return fig


def roc(predictions: pd.DataFrame, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    fpr, tpr, _ = roc_curve(predictions["y_true"], predictions["y_pred"])
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    return fig


def metric_bars(table: pd.DataFrame, metric: str, title: str) -> Figure:
    """Primary metric per (model, split), with fold standard deviation as error bars when known."""
    fig, ax = plt.subplots(figsize=(max(4.2, 0.6 * len(table) + 1.5), 3.4))
    labels = table["model"] + "\n" + table["split"]
    ax.bar(labels, table[metric], yerr=table.get("std"), color="#4c72b0", capsize=3)
    ax.set(ylabel=metric, title=title)
    ax.tick_params(axis="x", labelsize=8, labelrotation=35)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")  # long model names stay readable
    return fig


def kaplan_meier(curves: dict[str, dict], title: str) -> Figure:
    """Step survival curves with 95% bands, one per subgroup (``models.survival.kaplan_meier_curves``)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    for label, c in curves.items():
        line = ax.step(c["time"], c["survival"], where="post", label=f"{label} (n={c['n']})")[0]
        ax.fill_between(c["time"], c["ci_low"], c["ci_high"], step="post", alpha=0.15, color=line.get_color())
    ax.set(xlabel="time", ylabel="survival probability", ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7)
    return fig


def mr_scatter(stats: dict[str, list], methods: dict[str, dict], title: str) -> Figure:
    """Variant-outcome vs variant-exposure effects with each estimator's causal slope (intercept for Egger)."""
    bx, by = np.abs(stats["beta_exposure"]), np.sign(stats["beta_exposure"]) * np.asarray(stats["beta_outcome"])
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    ax.errorbar(bx, by, xerr=stats["se_exposure"], yerr=stats["se_outcome"], fmt="o", ms=3, color="grey", elinewidth=0.6)
    xs = np.linspace(0, bx.max() * 1.05, 2)
    for name, m in methods.items():
        ax.plot(xs, m.get("intercept", 0.0) + m["estimate"] * xs, lw=1.2, label=f"{name} {m['estimate']:.2f}")
    ax.axhline(0, color="black", lw=0.5)
    ax.set(xlabel="variant effect on exposure", ylabel="variant effect on outcome", title=title)
    ax.legend(fontsize=7)
    return fig


def mr_funnel(stats: dict[str, list], methods: dict[str, dict], title: str) -> Figure:
    """Per-variant ratio estimates against their precision; asymmetry hints at directional pleiotropy."""
    bx, by, se = (np.asarray(stats[k], float) for k in ("beta_exposure", "beta_outcome", "se_outcome"))
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    ratio = by / bx
    ax.scatter(ratio, np.abs(bx) / se, s=10, color="grey")
    lo, hi = np.percentile(ratio, [5, 95])  # weak instruments give huge ratios: keep the funnel readable
    ax.set_xlim(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo))
    for i, (name, m) in enumerate(methods.items()):
        ax.axvline(m["estimate"], lw=1.0, label=name, color=f"C{i}")
    ax.set(xlabel="ratio estimate (beta_outcome / beta_exposure)", ylabel="precision |beta_exposure| / se_outcome", title=title)
    ax.legend(fontsize=7)
    return fig


def simulation_grid(table: list[dict], title: str) -> Figure:
    """Bias and coverage of each estimator in each simulated scenario (a known causal effect)."""
    frame = pd.DataFrame(table)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4))
    for ax, column, ref in zip(axes, ("bias", "coverage"), (0.0, 0.95)):
        pivot = frame.pivot(index="scenario", columns="method", values=column)
        pivot.plot.bar(ax=ax, rot=25, width=0.8, legend=column == "coverage", fontsize=8)
        ax.axhline(ref, color="black", lw=0.7, ls="--")
        ax.set(ylabel=column, xlabel="", title=f"{title}: {column}")
    axes[1].legend(fontsize=7)
    return fig


def plot_network(details: dict, *, ax=None):
    """Reference edges in grey; the top-scored edges of a run as arrows, green when the reference has
    them (that direction), red otherwise; line width grows with the score. Nodes on a circle.

    ``details`` is a run's ``details`` (its ``"network"`` entry: ``variables``, ``reference``,
    ``top_edges`` as ``[source, target, score, in_reference]``, ``title``). Returns the figure.

    Examples
    --------
    >>> fig = plot_network({"network": {"variables": ["a", "b", "c"], "reference": [["a", "b"]],
    ...                                 "top_edges": [["a", "b", 0.9, 1], ["c", "a", 0.4, 0]], "title": "toy"}})
    >>> len(fig.axes)
    1
    """
    net = details["network"]
    names = list(net["variables"])
    angle = np.linspace(0, 2 * np.pi, len(names), endpoint=False) + np.pi / 2
    xy = {v: (np.cos(a), np.sin(a)) for v, a in zip(names, angle)}
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 5.6))
    else:
        fig = ax.figure
    for s, t in net["reference"]:
        if s in xy and t in xy:
            ax.annotate("", xy=xy[t], xytext=xy[s], arrowprops={"arrowstyle": "-|>", "color": "0.8", "lw": 4, "shrinkA": 14, "shrinkB": 14})
    top = net["top_edges"]
    best = max((e[2] for e in top), default=1.0) or 1.0
    for s, t, score, hit in top:
        ax.annotate("", xy=xy[t], xytext=xy[s], arrowprops={
            "arrowstyle": "-|>", "color": "tab:green" if hit else "tab:red", "lw": 0.6 + 2.4 * score / best,
            "shrinkA": 14, "shrinkB": 14, "connectionstyle": "arc3,rad=0.12"})
    for v, (x, y) in xy.items():
        ax.text(x, y, v, ha="center", va="center", fontsize=8, bbox={"boxstyle": "round", "fc": "white", "ec": "0.4"})
    hits = sum(e[3] for e in top)
    ax.set_title(f"{net.get('title', '')}\ntop {len(top)} edges: {hits} in the reference (grey); green = right, red = not", fontsize=9)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


def per_type_figure(per_type: Mapping[str, Mapping[str, float]], title: str = "per cell type"):
    """Pearson r and RMSE of each cell type's proportion (a run's ``details["per_type"]``), with the
    number of distinct training cells of the type beside its name.

    Examples
    --------
    >>> fig = per_type_figure({"B": {"pearson": 0.9, "rmse": 0.02, "n_train_cells": 47},
    ...                        "NK": {"pearson": 0.7, "rmse": 0.05, "n_train_cells": 15}})
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['Pearson r', 'RMSE']
    """
    names = sorted(per_type, key=lambda n: per_type[n]["pearson"])
    labels = [f"{n} ({per_type[n]['n_train_cells']})" if "n_train_cells" in per_type[n] else n for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 0.3 * len(names) + 1.4), sharey=True)
    left.barh(labels, [per_type[n]["pearson"] for n in names], color="#4c72b0")
    left.set_xlabel("Pearson r")
    left.set_xlim(min(0.0, min(per_type[n]["pearson"] for n in names)), 1.0)
    right.barh(labels, [per_type[n]["rmse"] for n in names], color="#dd8452")
    right.set_xlabel("RMSE")
    fig.suptitle(f"{title} (training cells in brackets)", fontsize=10)
    fig.tight_layout()
    return fig


def pathway_bars(entry: Mapping, *, n: int = 8):
    """Top up- and down-regulated sets of one contrast (a run's ``details["pathway_ranking"][contrast]``),
    the expected sets in orange (added below the others when they are not among the top ones).

    Examples
    --------
    >>> row = lambda i, s: {"id": i, "name": i, "score": s}
    >>> fig = pathway_bars({"contrast": "ko", "model": "ulm", "rank": 2.0, "n_candidates": 50, "truth": ["B"],
    ...                     "top_up": [row("A", 3.0)], "top_down": [row("B", -2.0)], "truth_rows": [row("B", -2.0)]})
    >>> len(fig.axes[0].patches)
    2
    """
    rows = list(entry.get("top_up", []))[:n] + list(entry.get("top_down", []))[:n][::-1]
    shown = {r["id"] for r in rows}
    rows += [r for r in entry.get("truth_rows", []) if r["id"] not in shown]
    truth = set(entry.get("truth", []))
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(rows) + 1.4))
    labels = [str(r.get("name") or r["id"])[:48] for r in rows][::-1]
    scores = [float(r["score"]) if r.get("score") is not None else 0.0 for r in rows][::-1]
    colours = ["tab:orange" if r["id"] in truth else ("#4c72b0" if (r.get("score") or 0) >= 0 else "#c44e52") for r in rows][::-1]
    ax.barh(range(len(rows)), scores, color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.axvline(0, color="black", lw=0.6)
    rank = entry.get("rank")
    said = f"expected (orange) ranks {rank:g} of {entry.get('n_candidates')}" if rank is not None else "no expected set scored"
    ax.set(xlabel="score (> 0 up in the contrast)", title=f"{entry.get('contrast', '')} / {entry.get('model', '')}: {said}")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def spatial_gene_figure(entry: Mapping):
    """The best gene's true and predicted expression at each held-out spot (image coordinates, y down)
    and the histogram of every gene's within-fold r (a run's ``details["spatial_expression"]``).

    Examples
    --------
    >>> fig = spatial_gene_figure({"best_gene": "Mobp", "best_gene_pearson": 0.6, "model": "cnn", "split": "blocks",
    ...                            "x": [0, 1, 2], "y": [0, 1, 0], "true": [0.0, 1.0, 2.0], "pred": [0.1, 0.9, 1.5],
    ...                            "gene_pearson_hist": {"edges": [-1.0, 0.0, 1.0], "counts": [1, 3]}})
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['Mobp: true', 'predicted (r = 0.60)', 'per-gene r (4 genes)']
    """
    x, y = np.asarray(entry["x"], float), np.asarray(entry["y"], float)
    true, pred = np.asarray(entry["true"], float), np.asarray(entry["pred"], float)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.8), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    for ax, values, title, limits in ((axes[0], true, f"{entry['best_gene']}: true", (true.min(), true.max())),
                                      (axes[1], pred, f"predicted (r = {float(entry['best_gene_pearson']):.2f})",
                                       (pred.min(), pred.max()))):
        dots = ax.scatter(x, y, c=values, s=60, cmap="viridis", vmin=limits[0], vmax=limits[1] if limits[1] > limits[0] else limits[0] + 1e-9)
        ax.invert_yaxis()
        ax.set_aspect("equal")
        ax.set(title=title, xticks=[], yticks=[])
        fig.colorbar(dots, ax=ax, shrink=0.8)
    hist = entry.get("gene_pearson_hist", {"edges": [-1.0, 1.0], "counts": [0]})
    axes[2].stairs(hist["counts"], hist["edges"], fill=True, color="#4c72b0")
    axes[2].axvline(0, color="black", lw=0.6)
    axes[2].set(title=f"per-gene r ({int(np.sum(hist['counts']))} genes)", xlabel="r within held-out folds", ylabel="genes")
    fig.suptitle(f"{entry.get('model', '')} / {entry.get('split', '')}: the gene shown is the best after scoring", fontsize=9)
    fig.tight_layout()
    return fig


# Plots drawn from an Outcome's ``details`` (key -> plotter(details) -> figures). A task opts in by
# writing the key; the report needs no knowledge of tasks.
DETAIL_PLOTS: Registry = Registry("detail plot")
DETAIL_PLOTS.add("km_out_of_fold", lambda d: [kaplan_meier(d["km_out_of_fold"], "subgroups (out of fold)")])
DETAIL_PLOTS.add("km_full", lambda d: [kaplan_meier(d["km_full"], "subgroups (all patients)")])
DETAIL_PLOTS.add("summary_stats", lambda d: [
    mr_scatter(d["summary_stats"], d["real_data"]["methods"], "MR scatter"),
    mr_funnel(d["summary_stats"], d["real_data"]["methods"], "MR funnel"),
] if "real_data" in d else [])
DETAIL_PLOTS.add("simulation", lambda d: [simulation_grid(d["simulation"]["table"], "simulations")]
                 if isinstance(d["simulation"], dict) and "table" in d["simulation"] else [])
DETAIL_PLOTS.add("network", lambda d: [plot_network(d)] if isinstance(d.get("network"), dict) else [])
DETAIL_PLOTS.add("per_type", lambda d: [per_type_figure(d["per_type"])]
                 if isinstance(d.get("per_type"), dict) and all(isinstance(v, dict) and "pearson" in v and "rmse" in v for v in d["per_type"].values()) else [])
DETAIL_PLOTS.add("pathway_ranking", lambda d: [pathway_bars(e) for e in d["pathway_ranking"].values()]
                 if isinstance(d.get("pathway_ranking"), dict) else [])
DETAIL_PLOTS.add("spatial_expression", lambda d: [spatial_gene_figure(d["spatial_expression"])]
                 if isinstance(d.get("spatial_expression"), dict) and "true" in d["spatial_expression"] else [])

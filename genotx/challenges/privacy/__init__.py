"""Privacy: patient data that cannot be pooled, as two tools on a task's torch baseline.

* Differential privacy (:mod:`.dp`, ``genotx privacy TASK --mode dp``): the task's network trained
  with DP-SGD (Opacus: Poisson sampling, per-sample clipping, Gaussian noise, PRV accountant) at
  several target epsilons, beside the same network trained without privacy and the task's trivial
  floor; every private run reports the epsilon it spent with its delta (``1 / n_train``).
  ``from genotx.challenges.privacy import dp_curve``.
* Federated learning (:mod:`.federated`, ``--mode federated``): sites split by a real grouping
  (tissues, genes), FedAvg and FedProx in Flower's simulation vs pooled training vs each site
  alone, scored per site and overall. ``from genotx.challenges.privacy import federated``.

Both write ``<out>/challenges/privacy_<mode>_<task>.json`` (``"challenge": "privacy"``) and PNGs
(:func:`save_privacy`); a report redraws them from the JSON with :func:`report_section`. Importing
this package loads no torch: the training code is imported when ``dp_curve`` / ``federated`` is used.

Examples
--------
>>> payload = {"mode": "federated", "task": "toy", "model": "mlp", "site_column": "site", "sites": {"a": ["a"], "b": ["b"]},
...            "arms": ["pooled", "single_site", "fedavg"], "seeds": [0], "metric": "pearson", "rows": [
...     {"seed": 0, "arm": arm, "site": site, "metrics": {"pearson": value}}
...     for arm, values in {"trivial": (0.0, 0.0, 0.0), "pooled": (0.8, 0.6, 0.7), "single_site": (0.5, 0.3, 0.4),
...                         "fedavg": (0.79, 0.58, 0.69)}.items()
...     for site, value in zip(("a", "b", "overall"), values)]}
>>> section = report_section(payload)
>>> section.title, len(section.figures), section.tables[0][1]["arm"].tolist()
('Privacy (federated): toy', 1, ['trivial', 'pooled', 'single_site', 'fedavg'])
>>> for figure in section.figures: figure.clear()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from genotx.challenges._results import Section, write_result
from genotx.challenges.privacy.results import DPResult, FederatedResult, result_from_dict

__all__ = ["DPResult", "FederatedResult", "dp_curve", "federated", "privacy_figures", "save_privacy", "report_section",
           "result_from_dict"]


def __getattr__(name: str) -> Any:
    # the runs need torch (and Opacus / Flower): imported on first use, not with the package
    if name == "dp_curve":
        from genotx.challenges.privacy.dp import dp_curve

        return dp_curve
    if name == "federated":
        from genotx.challenges.privacy.federated import federated

        return federated
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_ARM_COLOURS = {"trivial": "tab:grey", "pooled": "tab:blue", "single_site": "tab:orange", "fedavg": "tab:green",
                "fedprox": "tab:purple"}


def _dp_figures(result: DPResult) -> dict[str, Any]:
    from matplotlib.figure import Figure

    table = result.summary()
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.subplots()
    private = table[table["role"] == "private"].sort_values("target_epsilon")
    ax.errorbar(private["target_epsilon"], private["mean"], yerr=private["std"], marker="o", capsize=4, color="tab:red",
                label="DP-SGD (mean ± sd over seeds)")
    for epsilon in result.epsilons:
        values = result._values("private", epsilon)
        ax.scatter(np.full(len(values), epsilon), values, s=10, color="grey", zorder=3)
    for role, style, label in (("non_private", "-", "non-private (same network, epochs, optimizer)"),
                               ("task_model", ":", f"task's {result.model} (its early stopping)"),
                               ("trivial", "--", "trivial floor")):
        row = table[table["role"] == role]
        if row.empty:
            continue
        mean, std = float(row["mean"].iloc[0]), float(row["std"].iloc[0])
        colour = {"non_private": "tab:blue", "task_model": "tab:cyan", "trivial": "black"}[role]
        ax.axhline(mean, ls=style, color=colour, lw=1.2, label=label)
        if role == "non_private" and np.isfinite(std):
            ax.axhspan(mean - std, mean + std, color=colour, alpha=0.12)
    ax.set_xscale("log", base=2)
    ax.set_xticks(result.epsilons, [f"{e:g}" for e in result.epsilons])
    delta = private["delta"].iloc[0] if "delta" in private and len(private) else np.nan
    ax.set(xlabel=f"target epsilon (delta = {delta:.1e})", ylabel=result.metric,
           title=f"{result.task} / {result.model}: privacy-utility curve ({len(result.seeds)} seeds)")
    ax.legend(fontsize=7, loc="lower right")
    return {"curve": fig}


def _federated_figures(result: FederatedResult) -> dict[str, Any]:
    from matplotlib.figure import Figure

    table = result.per_site()
    arms = [a for a in ["trivial", *result.arms] if a in set(table["arm"])]
    columns = [*result.sites, "site_mean", "overall"]
    bars = Figure(figsize=(max(6.0, 1.1 * len(columns) + 2), 3.8), layout="constrained")
    ax = bars.subplots()
    width = 0.8 / len(arms)
    for j, arm in enumerate(arms):
        part = table[table["arm"] == arm].set_index("site").reindex(columns)
        ax.bar(np.arange(len(columns)) + (j - (len(arms) - 1) / 2) * width, part["mean"], width, yerr=part["std"].fillna(0),
               capsize=2, label=arm, color=_ARM_COLOURS.get(arm))
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(range(len(columns)), [c.replace("_", "\n") for c in columns], fontsize=8)
    ax.set(ylabel=result.metric, title=f"{result.task}: per-site test score by arm ({result.site_column} sites, "
                                         f"{len(result.seeds)} seeds)")
    ax.legend(fontsize=7, ncol=len(arms), loc="upper left")
    figures = {"sites": bars}
    curves = [h for h in result.history if h["seed"] == result.seeds[0] and h["arm"] in ("pooled", "fedavg", "fedprox")]
    if curves:
        rounds = Figure(figsize=(5.6, 3.4), layout="constrained")
        ax = rounds.subplots()
        for h in curves:
            ax.plot([r["round"] for r in h["history"]], [r["valid_loss"] for r in h["history"]], marker="o", ms=3,
                    label=h["arm"], color=_ARM_COLOURS.get(h["arm"]))
        ax.set(xlabel="round", ylabel="validation loss (standardised MSE)",
               title=f"{result.task}: validation loss per round (seed {result.seeds[0]})")
        ax.legend(fontsize=8)
        figures["rounds"] = rounds
    return figures


def privacy_figures(result: DPResult | FederatedResult | Mapping) -> dict[str, Any]:
    """Matplotlib figures of a result (or its JSON dict). DP: ``curve`` (score vs target epsilon,
    mean ± sd over seeds, with the non-private line and the trivial floor). Federated: ``sites``
    (per-site bars per arm) and ``rounds`` (validation loss per round). No pyplot state."""
    result = result if isinstance(result, (DPResult, FederatedResult)) else result_from_dict(result)
    return _federated_figures(result) if isinstance(result, FederatedResult) else _dp_figures(result)


def save_privacy(result: DPResult | FederatedResult, out_dir) -> list:
    """Write ``<out_dir>/challenges/privacy_<mode>_<task>.json`` and its PNG figures; return the paths."""
    return write_result(result.to_dict(), privacy_figures(result), out_dir, f"privacy_{result.mode}_{result.task}")


def _fmt(mean: float, std: float) -> str:
    return "-" if mean is None or not np.isfinite(mean) else f"{mean:.3f} ± {std:.3f}" if np.isfinite(std) else f"{mean:.3f}"


def _dp_section(result: DPResult) -> Section:
    table = result.summary()
    shown = pd.DataFrame({
        "run": [r if r != "private" else f"private, epsilon {e:g}" for r, e in zip(table["role"], table["target_epsilon"])],
        "spent epsilon": [f"{e:.2f}" if isinstance(e, float) and np.isfinite(e) else "-" for e in table.get("epsilon", [np.nan] * len(table))],
        "delta": [f"{d:.1e}" if isinstance(d, float) and np.isfinite(d) else "-" for d in table.get("delta", [np.nan] * len(table))],
        result.metric: [_fmt(m, s) for m, s in zip(table["mean"], table["std"])],
        "kept of non-private": [f"{k:.0%}" if isinstance(k, float) and np.isfinite(k) else "-" for k in table.get("kept", [np.nan] * len(table))],
    })
    goal = result.goal(8.0 if 8.0 in result.epsilons else max(result.epsilons))
    settings = result.settings
    text = (f"DP-SGD (Opacus: Poisson sampling, per-sample clipping at {settings.get('max_grad_norm')}, "
            f"{str(settings.get('accountant', 'prv')).upper()} accountant, "
            f"delta = 1/n_train) on {result.task}'s {result.model}, {result.split} split, seeds {result.seeds}; "
            f"clipping norm, learning rate and batch size chosen on a validation part of the training rows. ")
    if goal.get("checked"):
        floor = table.loc[table["role"] == "trivial", "mean"]
        floor_text = f" ({result.metric} {float(floor.iloc[0]):.3f})" if len(floor) else ""
        text += (f"At epsilon {goal['epsilon']:g} the private model keeps {goal['kept']:.0%} of the non-private {result.metric} "
                 f"(goal {goal['kept_goal']:.0%}: {'held' if goal['keeps'] else 'not reached'}) and "
                 f"{'beats' if goal['beats_floor'] else 'does not beat'} the trivial floor{floor_text}. ")
    text += ("DP covers the network's gradient steps; not the target's mean and sd used to standardise it, a "
             "featurizer's unsupervised fit, nor the choice of settings on the validation part.")
    metrics = sorted({m for r in result.runs for m in r["metrics"]})
    index = pd.MultiIndex.from_arrays([table["role"], table["target_epsilon"]])
    every = pd.DataFrame({m: result.summary(m).set_index(["role", "target_epsilon"])["mean"].reindex(index).to_numpy()
                          for m in metrics}, index=shown["run"]).reset_index()
    tables = [(f"{result.task}: {result.metric} per run, mean ± sd over seeds", shown)]
    if len(metrics) > 1:
        tables.append((f"{result.task}: every metric per run (mean over seeds)", every.round(4)))
    if result.tuning:
        tables.append(("DP settings tried at the largest epsilon on the validation part (never the test rows)",
                       pd.DataFrame(result.tuning)))
    return Section(title=f"Privacy (DP-SGD): {result.task}", data_kind=result.data_kind, summary=text, tables=tables,
                   figures=list(_dp_figures(result).values()), note=result.note)


def _federated_section(result: FederatedResult) -> Section:
    summary = result.summary()
    shown = pd.DataFrame({"arm": summary["arm"], "mean of sites": [_fmt(m, s) for m, s in zip(summary["site_mean"], summary["site_mean_std"])],
                          "all test rows": [_fmt(m, s) for m, s in zip(summary["overall"], summary["overall_std"])]})
    per_site = result.per_site()
    grid = per_site.assign(value=[_fmt(m, s) for m, s in zip(per_site["mean"], per_site["std"])]).pivot(
        index="arm", columns="site", values="value")
    grid = grid.reindex(index=[a for a in ["trivial", *result.arms] if a in grid.index],
                        columns=[c for c in [*result.sites, "site_mean", "overall"] if c in grid.columns]).reset_index()
    grid.columns.name = None
    goal = result.goal()
    verdicts = [f"{key.replace('_', ' ')}: {'held' if v['held'] else 'not held'} (gap to pooled {v['gap_to_pooled']:+.1%})"
                for key, v in goal.items() if isinstance(v, dict)]
    text = (f"{len(result.sites)} sites by {result.site_column} ({', '.join(result.sites)}), non-IID by construction; "
            f"{result.task}'s {result.model} network trained pooled, per site alone, and by FedAvg / FedProx "
            f"({result.engine} engine; at most {result.settings.get('rounds')} rounds, each arm stopped after "
            f"{result.settings.get('patience')} rounds without a better validation loss), seeds {result.seeds}, {result.metric} "
            f"on each site's held-out test part. Goal (above the mean single site and within 5% of pooled): "
            + "; ".join(verdicts) + ".")
    members = pd.DataFrame({"site": list(result.sites), result.site_column: [", ".join(m) for m in result.sites.values()]})
    metrics = sorted({m for r in result.rows for m in r["metrics"]})
    every = pd.DataFrame({m: result.summary(m).set_index("arm")["site_mean"] for m in metrics}).reset_index().round(4)
    return Section(title=f"Privacy (federated): {result.task}", data_kind=result.data_kind, summary=text,
                   tables=[(f"{result.metric} per arm, mean ± sd over seeds", shown),
                           (f"{result.metric} per site (mean ± sd over seeds)", grid),
                           ("every metric per arm: mean of the sites' scores (mean over seeds)", every), ("sites", members)],
                   figures=list(_federated_figures(result).values()), note=result.note)


def report_section(payload: Mapping) -> Section:
    """What a report shows for one privacy JSON (either mode), redrawn from it."""
    result = result_from_dict(payload)
    return _federated_section(result) if isinstance(result, FederatedResult) else _dp_section(result)

"""``genotx fairness TASK --by COLUMN``: per-group scores, the largest gap and mitigation (``--decision``: a yes/no
decision with fairlearn's post-processing and reductions); ``genotx fairness prs``: a polygenic score across simulated
ancestries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from genotx.cli._app import app, fail, out, parse_names, parse_seeds, progress_bar
from genotx.errors import GenotxError


def _fmt(value, std=None) -> str:
    if value is None or value != value:  # NaN
        return "n/a"
    return f"{value:.4f}" + (f" ± {std:.4f}" if std is not None and std == std else "")


def _print_task(result, paths) -> None:
    summary = result.summary()
    table = Table(title=f"{result.task} / {result.model}: {result.metric} per {result.by}, {result.split} split, seeds "
                        f"{result.seeds} ({result.data_kind})")
    for column in ("method", "overall", "largest gap", "gap 95% (bootstrap)", "worst group", "gap reduction", "overall change"):
        table.add_column(column, justify="left" if column in ("method", "worst group") else "right")
    for _, row in summary.iterrows():
        mitigated = row["method"] != "none"
        table.add_row(row["method"], _fmt(row["overall"], row["overall_std"]), _fmt(row["gap"], row["gap_std"]),
                      f"[{_fmt(row['gap_ci_low'])}, {_fmt(row['gap_ci_high'])}]", str(row["worst_group"]),
                      _fmt(row["gap_reduction"], row["gap_reduction_std"]) if mitigated else "",
                      _fmt(row["overall_change"], row["overall_change_std"]) if mitigated else "")
    out.print(table)
    groups = result.group_table()
    per = Table(title=f"{result.metric} per {result.by} (mean ± std over seeds, \\[bootstrap 95%])")
    per.add_column(result.by)
    per.add_column("n", justify="right")
    methods = ["none", *result.methods]
    for method in methods:
        per.add_column(method, justify="right")
    for name in dict.fromkeys(groups["group"]):
        rows = groups[groups["group"] == name].set_index("method")
        per.add_row(name, str(rows["n"].iloc[0]), *[
            f"{_fmt(rows.loc[m, 'mean'], rows.loc[m, 'std'])} [{rows.loc[m, 'ci_low']:.3f}, {rows.loc[m, 'ci_high']:.3f}]"
            if m in rows.index else "-" for m in methods])
    out.print(per)
    for text in (result.note, result.ancestry):
        if text:
            out.print(text, highlight=False)
    if result.excluded:
        out.print(f"groups left out (too few scored rows): {result.excluded}", highlight=False)
    out.print(f"rows {result.settings.get('n_rows')}; time {result.seconds:.0f}s; wrote {paths[0]}", highlight=False)


def _ci(row, key) -> str:
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    return "" if low is None or low != low else f" [{_fmt(low)}, {_fmt(high)}]"


def _print_decision(result, paths) -> None:
    from genotx.challenges.fairness import rate_pivot

    summary = result.summary()
    table = Table(title=f"{result.task} / {result.model}: decision '{result.decision}' per {result.by}, {result.split} "
                        f"split, seeds {result.seeds} ({result.data_kind}); gap = {result.metric}")
    for column in ("method", "compared with", "balanced accuracy", "gap", "gap 95% (bootstrap)", "worst group",
                   "gap reduction \\[paired 95%]", "balanced accuracy change \\[paired 95%]"):
        table.add_column(column, justify="left" if column in ("method", "compared with", "worst group") else "right")
    for _, row in summary.iterrows():
        compared = row.get("compared_with")
        mitigated = isinstance(compared, str)
        table.add_row(row["method"], compared if mitigated else "", _fmt(row["overall"], row["overall_std"]),
                      _fmt(row["gap"], row["gap_std"]), f"[{_fmt(row['gap_ci_low'])}, {_fmt(row['gap_ci_high'])}]",
                      str(row["worst_group"]),
                      _fmt(row["gap_reduction"], row["gap_reduction_std"]) + _ci(row, "gap_reduction_ci") if mitigated else "",
                      _fmt(row["overall_change"], row["overall_change_std"]) + _ci(row, "overall_change_ci") if mitigated else "")
    out.print(table)
    pivot = rate_pivot(result)
    per = Table(title=f"rates per {result.by} (mean over seeds, \\[bootstrap 95%])")
    for column in pivot.columns:
        per.add_column(str(column), justify="left" if column in ("rate", "group") else "right")
    for row in pivot.itertuples(index=False):
        per.add_row(*[str(v) for v in row])
    out.print(per)
    for text in (result.note, result.ancestry):
        out.print(text, highlight=False)
    if result.excluded:
        out.print(f"groups left out (too few patients with a known outcome, or with / without it): {result.excluded}",
                  highlight=False)
    out.print(f"rows {result.settings.get('n_rows')} (known outcome {result.settings.get('n_known_outcome')}); time "
              f"{result.seconds:.0f}s; wrote {paths[0]}", highlight=False)


def _print_prs(result, paths) -> None:
    summary = result.summary()
    table = Table(title=f"SIMULATED polygenic score (OutOfAfrica_3G09): R² per test population, seeds {result.seeds}")
    table.add_column("discovery design")
    for population in result.populations:
        table.add_column(population, justify="right")
    table.add_column("gap (best - worst)", justify="right")
    gaps = result.gaps().set_index("design")
    for design in result.designs:
        rows = summary[summary["design"] == design].set_index("population")
        table.add_row(f"{design} ({'+'.join(result.designs[design])})",
                      *[_fmt(rows.loc[q, "r2"], rows.loc[q, "r2_std"]) for q in result.populations],
                      _fmt(gaps.loc[design, "gap"], gaps.loc[design, "gap_std"]))
    out.print(table)
    out.print(result.note, highlight=False)
    out.print(f"time {result.seconds:.0f}s; wrote {paths[0]}", highlight=False)


@app.command("fairness")
def fairness_(
    task: Annotated[str, typer.Argument(help="a task with real groups (drug_response, patient_stratification, rare_disease), "
                                             "or 'prs' for the simulated multi-ancestry polygenic score")],
    by: Annotated[Optional[str], typer.Option(help="group column (drug_response: tissue; patient_stratification: "
                                                   "age_band, grade, er; rare_disease: disease_category)")] = None,
    model: Annotated[Optional[str], typer.Option(help="baseline name (default: the challenge's choice for the task)")] = None,
    mitigations: Annotated[Optional[str], typer.Option(help="comma-separated: group_balanced, upweight_worst (the task's "
                                                            "score); threshold_optimizer, exponentiated_gradient (with "
                                                            "--decision). Default: all of the view's; 'none' for no "
                                                            "mitigation")] = None,
    decision: Annotated[bool, typer.Option("--decision", help="score the task's yes/no decision instead of its metric "
                                                              "(patient_stratification: its 'high' risk subgroup for "
                                                              "metastasis within 5 years) with fairlearn's "
                                                              "ThresholdOptimizer and ExponentiatedGradient")] = False,
    constraint: Annotated[str, typer.Option(help="with --decision: equalized_odds, true_positive_rate_parity or "
                                                 "demographic_parity")] = "equalized_odds",
    seeds: Annotated[str, typer.Option(help="seeds: 0-2 or 0,1")] = "0-2",
    boot: Annotated[int, typer.Option(help="bootstrap resamples of the scored rows")] = 1000,
    out_dir: Annotated[Path, typer.Option("--out", help="results folder: writes <out>/challenges/fairness_<TASK>_<BY>"
                                                       "[_decision].json (or fairness_prs.json) and PNGs")] = Path("results"),
    quick: Annotated[bool, typer.Option(help="a small run (1 seed, 200 resamples, fewer entities or individuals) for tests")] = False,
) -> None:
    """Per-group scores with fairlearn, the largest gap with a bootstrap interval, and reweighting; with --decision, the
    task's yes/no decision per group (TPR, FPR, selection rate) before / after fairlearn's ThresholdOptimizer and
    ExponentiatedGradient; or (TASK = prs) a polygenic score discovered in CEU and scored in CEU, YRI and CHB on
    simulated genotypes."""
    from genotx.challenges.fairness import fairness, prs_fairness, save_fairness

    try:
        seed_list = parse_seeds(seeds)[:1] if quick else parse_seeds(seeds)
        n_boot = min(boot, 200) if quick else boot
        with progress_bar() as progress:
            bar = progress.add_task(f"{task}: fairness", total=None)
            tick = lambda text: progress.update(bar, description=text)  # noqa: E731
            if task == "prs":
                sizes = {"n_discovery": 600, "n_validation": 90, "n_test": 150, "n_contigs": 3} if quick else {}
                result = prs_fairness(seeds=seed_list, n_boot=n_boot, progress=tick, **sizes)
            else:
                chosen = parse_names(mitigations)
                chosen = [] if chosen == ["none"] else chosen
                result = fairness(task, by=by, model=model, mitigations=chosen, seeds=seed_list, n_boot=n_boot,
                                  decision=decision, constraint=constraint, subsample=8 if quick else None,
                                  progress=tick)
        paths = save_fairness(result, out_dir)
    except GenotxError as e:
        fail(e)
    if task == "prs":
        _print_prs(result, paths)
    else:
        (_print_decision if result.view == "decision" else _print_task)(result, paths)

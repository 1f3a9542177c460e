"""``genotx privacy TASK``: DP-SGD privacy-utility curve (``--mode dp``) or federated training (``--mode federated``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from genotx.cli._app import app, fail, out, parse_seeds, progress_bar
from genotx.errors import GenotxError


def _parse_epsilons(text: str) -> list[float]:
    """``0.5,1,2,4,8`` -> sorted distinct finite positive numbers."""
    try:
        values = sorted({float(p) for p in text.split(",") if p.strip()})
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise GenotxError(f"--epsilons {text!r} is not a list of positive numbers. Fix: write e.g. 0.5,1,2,4,8")
    return values


def _show_dp(result) -> None:
    summary = result.summary()
    table = Table(title=f"{result.task} / {result.model} ({result.split} split): {result.metric}, mean ± sd over seeds "
                        f"{result.seeds} ({result.data_kind})")
    for column in ("run", "target ε", "spent ε", "δ", "noise σ", result.metric, "kept of non-private"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for _, row in summary.iterrows():
        private = row["role"] == "private"
        table.add_row(row["role"], f"{row['target_epsilon']:g}" if private else "", f"{row['epsilon']:.2f}" if private else "",
                      f"{row['delta']:.1e}" if private else "", f"{row['noise_multiplier']:.2f}" if private else "",
                      f"{row['mean']:.4f} ± {row['std']:.4f}", f"{row['kept']:.1%}" if private else "")
    out.print(table)
    goal = result.goal(8.0 if 8.0 in result.epsilons else max(result.epsilons))
    if goal.get("checked"):
        out.print(f"epsilon {goal['epsilon']:g}: keeps {goal['kept']:.1%} of the non-private score (goal {goal['kept_goal']:.0%}: "
                  f"{'yes' if goal['keeps'] else 'no'}); beats the trivial floor: {'yes' if goal['beats_floor'] else 'no'}",
                  highlight=False)
    settings = {k: result.settings.get(k) for k in ("batch_size", "lr", "max_grad_norm", "epochs", "tuned")}
    out.print(f"DP settings {settings}", highlight=False)


def _show_federated(result) -> None:
    table = result.per_site()
    columns = [*result.sites, "site_mean", "overall"]
    grid = Table(title=f"{result.task} / {result.model}: {result.metric} per site ({result.site_column} sites, "
                       f"{result.engine} engine, seeds {result.seeds}, {result.data_kind})")
    grid.add_column("arm")
    for column in columns:
        grid.add_column(column, justify="right")
    for arm in ["trivial", *result.arms]:
        part = table[table["arm"] == arm].set_index("site")
        if part.empty:
            continue
        grid.add_row(arm, *[f"{part.loc[c, 'mean']:.3f}" + (f" ± {part.loc[c, 'std']:.3f}" if part.loc[c, "std"] == part.loc[c, "std"] else "")
                            if c in part.index else "-" for c in columns])
    out.print(grid)
    for name, members in result.sites.items():
        out.print(f"  {name}: {', '.join(members)}", highlight=False)
    for key, verdict in result.goal().items():
        if isinstance(verdict, dict):
            out.print(f"{key}: above the mean single site {'yes' if verdict['above_single'] else 'no'}, gap to pooled "
                      f"{verdict['gap_to_pooled']:+.1%} (goal <= 5%: {'yes' if verdict['within_pooled'] else 'no'})", highlight=False)


@app.command("privacy")
def privacy_(
    task: str,
    mode: Annotated[str, typer.Option(help="dp (DP-SGD privacy-utility curve) or federated (FedAvg/FedProx vs pooled vs sites)")] = "dp",
    epsilons: Annotated[str, typer.Option(help="dp: target epsilons of the curve")] = "0.5,1,2,4,8",
    seeds: Annotated[str, typer.Option(help="seeds: 0-2 or 0,1")] = "0-2",
    tune: Annotated[bool, typer.Option(help="dp: choose clipping norm, lr and batch size on a validation part")] = True,
    accountant: Annotated[str, typer.Option(help="dp: Opacus accountant, prv (tighter) or rdp (faster to calibrate)")] = "prv",
    engine: Annotated[Optional[str], typer.Option(help="federated: flower (Flower simulation on Ray, default) or local "
                                                  "(the in-process loop; default with --quick)")] = None,
    rounds: Annotated[Optional[int], typer.Option(help="federated: rounds (default: the task's plan)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="results folder: writes <out>/challenges/privacy_<MODE>_<TASK>.json and PNGs")] = Path("results"),
    quick: Annotated[bool, typer.Option(help="a small run for tests (2 seeds, few rows and epochs/rounds, no tuning)")] = False,
) -> None:
    """Privacy: DP-SGD (Opacus) at several epsilons vs the non-private model, or federated training (Flower)."""
    try:
        if mode not in ("dp", "federated"):
            raise GenotxError(f"--mode {mode!r} is unknown. Fix: use dp or federated")
        seed_list = parse_seeds(seeds)[:2] if quick else parse_seeds(seeds)
        with progress_bar() as progress:
            bar = progress.add_task(f"{task}: privacy ({mode})", total=None)
            report = lambda text: progress.update(bar, description=text)  # noqa: E731
            if mode == "dp":
                from genotx.challenges.privacy.dp import dp_curve

                eps = _parse_epsilons(epsilons)
                result = dp_curve(task, epsilons=eps[-2:] if quick else eps, seeds=seed_list, tune=tune and not quick,
                                  epochs=2 if quick else None, max_rows=2000 if quick else None, accountant=accountant,
                                  progress=report)
            else:
                from genotx.challenges.privacy.federated import federated

                result = federated(task, seeds=seed_list, engine=engine or ("local" if quick else "flower"),
                                   rounds=2 if quick and rounds is None else rounds, max_rows_per_site=300 if quick else None,
                                   progress=report)
        from genotx.challenges.privacy import save_privacy

        paths = save_privacy(result, out_dir)
    except GenotxError as e:
        fail(e)
    (_show_dp if mode == "dp" else _show_federated)(result)
    if result.note:
        out.print(result.note, highlight=False)
    out.print(f"time {result.seconds:.0f}s; wrote {paths[0]}", highlight=False)

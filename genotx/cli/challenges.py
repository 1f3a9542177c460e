"""Verbs of the field's open problems on any task: ``shift`` (distribution shift), ``fewshot`` (few examples)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from genotx.cli._app import app, fail, out, parse_ks, parse_names, parse_seeds, progress_bar
from genotx.errors import GenotxError

@app.command("shift")
def shift_(
    task: str,
    split: Annotated[Optional[str], typer.Option(help="the shifted split (default: the task's first declared shift)")] = None,
    model: Annotated[Optional[str], typer.Option(help="baseline name (default: the challenge's choice for the task)")] = None,
    methods: Annotated[Optional[str], typer.Option(help="adaptation methods, comma-separated: importance_weighting, coral, "
                                                    "test_time_standardization (default: the task's)")] = None,
    seeds: Annotated[str, typer.Option(help="seeds: 0-2 or 0,1")] = "0-2",
    out_dir: Annotated[Path, typer.Option("--out", help="results folder: writes <out>/challenges/shift_<TASK>_<SPLIT>.json and PNGs")] = Path("results"),
    quick: Annotated[bool, typer.Option(help="a small run (2 seeds, fewer entities and folds) for tests")] = False,
) -> None:
    """In-distribution vs shifted score of one model, the gap over seeds, and domain adaptation."""
    from genotx.challenges.shift import save_shift, shift

    try:
        seed_list = parse_seeds(seeds) if not quick else parse_seeds(seeds)[:2]
        with progress_bar() as progress:
            bar = progress.add_task(f"{task}: shift", total=None)
            result = shift(task, split=split, model=model, methods=parse_names(methods), seeds=seed_list,
                           subsample=8 if quick else None, max_folds=2 if quick else None,
                           progress=lambda text: progress.update(bar, description=text))
        paths = save_shift(result, out_dir)
    except GenotxError as e:
        fail(e)
    summary = result.summary()
    table = Table(title=f"{result.task} / {result.model}: {result.split} vs {result.reference}, {result.metric} "
                        f"over seeds {result.seeds} ({result.data_kind})")
    for column in ("split", "method", result.metric, "gap (in dist. - shifted)", "change by adaptation"):
        table.add_column(column, justify="left" if column in ("split", "method") else "right")
    for _, row in summary.iterrows():
        gap = f"{row['gap']:+.4f} ± {row['gap_std']:.4f}" if row["role"] == "shifted" else ""
        change = f"{row['change']:+.4f} ± {row['change_std']:.4f}" if row["role"] == "shifted" and row["method"] != "none" else ""
        table.add_row(row["split"], row["method"], f"{row['mean']:.4f} ± {row['std']:.4f}", gap, change)
    out.print(table)
    if result.note:
        out.print(result.note, highlight=False)
    folds = ", ".join(f"{name} {n}" for name, n in result.settings.get("n_folds", {}).items())
    out.print(f"rows {result.settings.get('n_rows')}; folds per run: {folds}; time {result.seconds:.0f}s; wrote {paths[0]}", highlight=False)


@app.command("fewshot")
def fewshot_(
    task: str,
    ks: Annotated[str, typer.Option(help="numbers of labelled rows of the new entity")] = "0,1,5,10,20",
    entities: Annotated[int, typer.Option(help="new entities (the same for every seed)")] = 5,
    seeds: Annotated[str, typer.Option(help="seeds: 0-2 or 0,1")] = "0-2",
    model: Annotated[Optional[str], typer.Option(help="baseline name (default: the challenge's choice for the task)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="results folder: writes <out>/challenges/fewshot_<TASK>.json and PNGs")] = Path("results"),
    quick: Annotated[bool, typer.Option(help="a small run (2 seeds, 2 entities, k up to 5, fewer source entities) for tests")] = False,
) -> None:
    """Score vs k labelled rows of a new entity: from scratch, pretrained, fine-tuned, nearest neighbours."""
    from genotx.challenges.fewshot import fewshot, save_fewshot

    try:
        k_list = parse_ks(ks)
        seed_list = parse_seeds(seeds)
        if quick:
            k_list, seed_list, entities = [k for k in k_list if k <= 5] or [0, 1], seed_list[:2], min(entities, 2)
        with progress_bar() as progress:
            bar = progress.add_task(f"{task}: few-shot", total=None)
            result = fewshot(task, ks=k_list, n_entities=entities, seeds=seed_list, model=model, n_source=12 if quick else None,
                             progress=lambda text: progress.update(bar, description=text))
        paths = save_fewshot(result, out_dir)
    except GenotxError as e:
        fail(e)
    metric = result.metrics[0]
    summary = result.summary(metric)
    table = Table(title=f"{result.task} / {result.model}: new {result.entity}, {metric} (mean over "
                        f"{len(result.entities)} {result.entity}s x {len(result.seeds)} seeds [95% interval])")
    table.add_column("method")
    for k in result.ks:
        table.add_column(f"k={k}", justify="right")
    for method in result.methods:
        part = summary[summary["method"] == method].set_index("k")
        table.add_row(method, *[f"{part.loc[k, 'mean']:.3f} [{part.loc[k, 'ci_low']:.3f}, {part.loc[k, 'ci_high']:.3f}]"
                                if k in part.index else "-" for k in result.ks])
    out.print(table)
    goal = result.goal(metric=metric) if 5 in result.ks else None
    if goal is not None and not goal.empty:
        check = Table(title=f"k = 5: gain in {metric} (positive = better) vs the seed spread")
        for column in ("method", "versus", "gain ± paired std", "seed spread", "beats"):
            check.add_column(column)
        for _, row in goal.iterrows():
            check.add_row(row["method"], row["versus"], f"{row['gain']:+.4f} ± {row['gain_std']:.4f}", f"{row['seed_spread']:.4f}",
                          "yes" if row["beats"] else "no")
        out.print(check)
        out.print(result.verdict(metric=metric), highlight=False)
    out.print(f"time {result.seconds:.0f}s; wrote {paths[0]}", highlight=False)

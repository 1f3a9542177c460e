"""Verbs on many runs: ``benchmark``, ``leaderboard``, ``export`` / ``evaluate`` (score your own predictions), ``report``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from genotx.cli._app import NoProgress, app, err, fail, out, parse_seeds, progress_bar
from genotx.errors import FetchError, GenotxError, UnknownNameError

@app.command()
def benchmark(
    full: Annotated[bool, typer.Option(help="every baseline x split (default: default model + trivial floor, default split)")] = False,
    tasks: Annotated[Optional[str], typer.Option(help="comma-separated task names (default: all implemented)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for run records and report.html")] = Path("results"),
    seeds: Annotated[str, typer.Option(help="seeds: 0-4 or 0,1,2")] = "0",
    backend: Annotated[str, typer.Option(help="local, or ray to fan runs out over a Ray cluster")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (default: start a local one)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or progress lines")] = False,
    quick: Annotated[bool, typer.Option(hidden=True, help="the default now; kept for old scripts")] = False,  # noqa: ARG001
) -> None:
    """Run baselines over tasks and seeds, resumably; print the leaderboard; write report.html."""
    from genotx.engine.records import ResultStore
    from genotx.engine.runner import benchmark as run_benchmark
    from genotx.engine.runner import plan
    from genotx.report.html import write_report
    from genotx.tasks.registry import get_task, list_tasks

    try:
        names = [t.strip() for t in tasks.split(",")] if tasks else [t for t in list_tasks() if get_task(t).implemented]
        for name in names:
            get_task(name)._require()
        seed_list = parse_seeds(seeds)
        if backend not in ("local", "ray"):  # refused before anything runs, with a suggestion
            raise UnknownNameError("backend", backend, ("local", "ray"))
    except GenotxError as e:
        fail(e)
    planned = plan(names, full=full, seeds=seed_list)
    store = ResultStore(out_dir)
    done_before = sum(store.has(p.key) for p in planned)
    start = time.perf_counter()
    live = err.is_terminal and not quiet
    with progress_bar() if live else NoProgress() as progress:
        bar = progress.add_task("benchmark", total=len(planned), completed=done_before)

        def done(p, record):
            progress.advance(bar)
            if not live and not quiet and record is not None:  # one plain line per finished run for logs and CI
                metric = get_task(p.task).spec.primary_metric
                value = record.metrics.get(metric, float("nan"))
                sys.stderr.write(f"done {p.task} {p.model} {p.split} seed {p.seed}: {metric}={value:.4f} ({record.wall_time_s:.1f}s)\n")
                sys.stderr.flush()

        stopped: GenotxError | None = None
        try:
            run_benchmark(names, str(out_dir), full=full, seeds=seed_list, backend=backend, address=address,
                          on_start=lambda p: progress.update(bar, description=f"{p.task} {p.model} {p.split} s{p.seed}"), on_done=done)
        except FetchError as e:  # some tasks' data could not be fetched: the others ran; table and report show them
            stopped = e
        except GenotxError as e:
            fail(e)
    records = [r for r in store.records() if r.task in names]
    if not quiet:
        _print_time_table(records)
    _warn_damaged(store)
    report = write_report(out_dir)
    if not quiet:
        err.print(f"{len(planned)} runs ({done_before} already done) in {time.perf_counter() - start:.0f}s; report: {report}")
    if stopped is not None:
        fail(stopped)


def _print_time_table(records) -> None:
    """Per task: runs, seconds, and the primary metric of the default model, the reference method and the trivial floor."""
    from genotx.engine.records import leaderboard
    from genotx.tasks.registry import get_task

    table = Table(title="benchmark: time and primary metric per task (mean ± std over seeds)")
    for column in ("task", "runs", "seconds", "metric", "default model", "reference", "trivial floor"):
        table.add_column(column, justify="right" if column in ("runs", "seconds") else "left")
    board = leaderboard(records)
    for task in dict.fromkeys(r.task for r in records):
        spec = get_task(task).spec
        mine = [r for r in records if r.task == task]
        metric = spec.primary_metric

        def cell(model):
            row = board[(board["task"] == task) & (board["model"] == model) & (board["split"] == spec.default_split)]
            if row.empty or f"{metric}_mean" not in row:
                return ""
            mean, std, n = row[f"{metric}_mean"].iloc[0], row[f"{metric}_std"].iloc[0], row["n_seeds"].iloc[0]
            return f"{mean:.3f}" + (f" ± {std:.3f}" if n > 1 else "")

        table.add_row(task, str(len(mine)), f"{sum(r.wall_time_s for r in mine):.0f}", metric,
                      f"{spec.default_model} {cell(spec.default_model)}", f"{spec.reference} {cell(spec.reference)}" if spec.reference else "",
                      f"{spec.trivial or ''} {cell(spec.trivial) if spec.trivial else ''}")
    out.print(table)


@app.command("leaderboard")
def leaderboard_(
    task: Annotated[str, typer.Argument(help="a task name")],
    out_dir: Annotated[Path, typer.Option("--out", help="the benchmark folder holding the run records")] = Path("results"),
    split: Annotated[Optional[str], typer.Option(help="only this split")] = None,
) -> None:
    """Mean ± std over seeds of every (model, split) of TASK, from the run store (best first)."""
    from genotx.engine.records import ResultStore, leaderboard
    from genotx.tasks.registry import get_task

    try:
        spec = get_task(task).spec
    except GenotxError as e:
        fail(e)
    records = [r for r in ResultStore(out_dir).records() if r.task == task and (split is None or r.split == split)]
    if not records:
        fail(GenotxError(f"no runs of {task} in {out_dir}. Fix: genotx benchmark --tasks {task} --seeds 0-4 --out {out_dir}"))
    board = leaderboard(records, metric=spec.primary_metric)
    metrics = [m for m in spec.metrics if f"{m}_mean" in board][:4]
    table = Table(title=f"{task} leaderboard ({spec.data_kind}); ± = std over seeds")
    for column in ("model", "split", "seeds", *metrics):
        table.add_column(column, justify="right" if column in metrics else "left")
    for _, row in board.iterrows():
        label = row["model"] + (" (trivial)" if row["model"] == spec.trivial else "")
        table.add_row(label, row["split"], str(row["n_seeds"]),
                      *[f"{row[f'{m}_mean']:.4f} ± {row[f'{m}_std']:.4f}" for m in metrics])
    out.print(table)


@app.command()
def export(
    task: str,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for train.csv, valid.csv, test.csv")],
    split: Annotated[Optional[str], typer.Option(help="split name (default: the task's first)")] = None,
    seed: int = 0,
    fold: int = 0,
) -> None:
    """Write the official train / valid / test rows (with ``row_id``) for training outside genotx."""
    from genotx.engine.exchange import export_split

    try:
        paths = export_split(task, out_dir, split=split, seed=seed, fold=fold)
    except GenotxError as e:
        fail(e)
    for path in paths:
        err.print(f"wrote {path}")


@app.command("evaluate")
def evaluate_(
    task: str,
    predictions: Annotated[Path, typer.Option("--predictions", help="CSV with row_id and prediction columns")],
    split: Annotated[Optional[str], typer.Option(help="split name (default: the task's first)")] = None,
    seed: int = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as one JSON object")] = False,
) -> None:
    """Score your own predictions on the official held-out rows with every SPEC metric."""
    from genotx.engine.exchange import score_predictions

    try:
        metrics = score_predictions(task, predictions, split=split, seed=seed)
    except GenotxError as e:
        fail(e)
    if as_json:
        sys.stdout.write(json.dumps(metrics) + "\n")
        return
    table = Table(title=f"{task}: your predictions on {split or 'the default split'} (seed {seed})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    out.print(table)


@app.command()
def report(out_dir: Annotated[Path, typer.Argument(help="a benchmark output folder")] = Path("results")) -> None:
    """Rebuild report.html from the run records (and open-problem results in ``challenges/``) in a folder."""
    from genotx.engine.records import ResultStore
    from genotx.report.html import write_report

    if not out_dir.is_dir():
        fail(GenotxError(f"{out_dir}: folder not found, so it holds no run records. Fix: give the --out folder of a genotx benchmark"))
    store = ResultStore(out_dir)
    if not store.records() and not any((out_dir / "challenges").glob("*.json")):
        fail(GenotxError(f"{out_dir} holds no run records or challenge results. Fix: give the --out folder of a "
                         "genotx benchmark (or of genotx shift / fewshot / fairness / privacy / explain)"))
    _warn_damaged(store)
    err.print(f"wrote {write_report(out_dir)}")


def _warn_damaged(store) -> None:
    """Name the record files that are not complete records: the report leaves them out, never silently."""
    damaged = store.damaged()
    if damaged:
        shown = ", ".join(p.name for p in damaged[:5]) + (f" and {len(damaged) - 5} more" if len(damaged) > 5 else "")
        err.print(f"warning: {len(damaged)} run record(s) in {store.runs} are incomplete or damaged and are not in the report: "
                  f"{shown}. Fix: run genotx benchmark again with the same --out (it redoes exactly those runs)",
                  soft_wrap=True, highlight=False, markup=False)

"""The ``genotx`` command line: list | info | fetch | run | benchmark | leaderboard | export | evaluate | predict | report | shift | fewshot.

It only calls the public API. With ``run --json`` stdout is exactly one JSON object (logs and
progress go to stderr).
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from genotx.errors import GenotxError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Machine learning on genomics data across the therapeutic pipeline.")
# Piped output (CI logs, `| grep`) gets a wide console so tables and paths are not cut at 80 columns.
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
out = Console(width=None if sys.stdout.isatty() else 200)


def _fail(error: Exception) -> None:
    err.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=2)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=err, transient=False)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log details to stderr")] = False) -> None:
    from genotx.settings import settings

    settings.passive_threads()  # this process is ours: idle OpenMP threads sleep instead of spinning
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@app.command("list")
def list_(stage: Annotated[Optional[str], typer.Option(help="only this stage")] = None) -> None:
    """List all 22 tasks with stage, data kind and status."""
    from genotx.tasks.registry import TASKS_LIST

    table = Table(title="genotx tasks")
    for column in ("#", "task", "stage", "data kind", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("formulation", overflow="ellipsis", no_wrap=True, max_width=70)
    for task in TASKS_LIST():
        spec = task.spec
        if stage and spec.stage != stage:
            continue
        status = "[green]implemented[/]" if task.implemented else f"[yellow]{task.status}[/]"
        table.add_row(str(spec.number), spec.name, spec.stage, spec.data_kind, status, spec.formulation)
    out.print(table)


@app.command()
def info(task: str) -> None:
    """Show a task's SPEC: formulation, data, splits, metrics, baselines."""
    from dataclasses import asdict

    from genotx.data.source import SOURCES
    from genotx.tasks.registry import get_task

    try:
        t = get_task(task)
    except GenotxError as e:
        _fail(e)
    spec = asdict(t.spec)
    spec["status"] = t.status
    for key, value in spec.items():
        out.print(f"[bold]{key}[/]: {value}")
    for sid in t.spec.sources:
        if sid in SOURCES:
            s = SOURCES[sid]
            pkg = s.package.requirement + f" ({s.package.registry})" if s.package else "no registry package"
            out.print(f"[bold]source {sid}[/]: {s.title} [{s.kind}], {pkg}, licence {s.licence}; origin {s.origin}")
    if t.implemented:  # what `genotx predict` reads and writes, from the task's own docstrings
        for label, names in (("input", ("read_input",)), ("output", ("write_predictions", "format_predictions", "predict_file"))):
            doc = next((fn.__doc__ for fn in (getattr(t.module, n, None) for n in names) if fn is not None and fn.__doc__), None)
            if doc:
                out.print(f"[bold]predict {label}[/]: " + inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " "), highlight=False)
        for name, option in getattr(t.module, "PREDICT_OPTIONS", {}).items():
            kind = "|".join(option) if isinstance(option, tuple) else getattr(getattr(option, "kind", option), "__name__", str(option))
            out.print(f"[bold]predict option[/] {name}: {kind} {getattr(option, 'help', '')}", highlight=False)


@app.command()
def fetch(
    task: Annotated[Optional[str], typer.Argument(help="fetch the sources of this task")] = None,
    all_: Annotated[bool, typer.Option("--all", help="fetch every declared source")] = False,
    force: Annotated[bool, typer.Option(help="download and extract again")] = False,
) -> None:
    """Download, verify (sha256) and extract a task's data into the cache."""
    from genotx.data.source import SOURCES
    from genotx.data.source import fetch as fetch_source
    from genotx.tasks.registry import get_task

    try:
        ids = list(SOURCES) if all_ else [s for s in get_task(task).spec.sources if s in SOURCES] if task else None
    except GenotxError as e:
        _fail(e)
    if ids is None:
        _fail(ValueError("give a TASK or --all"))
    local_only = [sid for sid in ids if SOURCES[sid].package is None and not SOURCES[sid].upstream]
    for sid in local_only:  # a real-source loader for the user's own files: nothing to download
        err.print(f"{sid}: your own files (no registry package): genotx.use_local({sid!r}, {{...}}) or "
                  f"GENOTX_SOURCE_{sid.upper()}=folder", highlight=False)
    ids = [sid for sid in ids if sid not in local_only]
    with _progress() as progress:
        bar = progress.add_task("fetching", total=len(ids))
        for sid in ids:
            progress.update(bar, description=f"fetching {sid}")
            try:
                files = fetch_source(sid, force=force, progress=lambda m: progress.update(bar, description=m))
            except GenotxError as e:
                _fail(e)
            progress.advance(bar)
            err.print(f"{sid}: {len(files)} file(s) in {next(iter(files.values())).parent}")


def _user_estimator(spec: str):
    """``pkg.module:Class`` (or ``path/to/file.py:Class``) -> an instance made with no arguments."""
    import importlib
    import importlib.util

    where, _, name = spec.partition(":")
    try:
        if where.endswith(".py"):
            loader = importlib.util.spec_from_file_location(Path(where).stem, where)
            if loader is None or not Path(where).exists():
                raise FileNotFoundError(where)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        factory = getattr(module, name)
        estimator = factory()
    except (ImportError, FileNotFoundError, AttributeError, TypeError) as error:
        raise GenotxError(f"--model {spec!r}: cannot make an estimator ({type(error).__name__}: {error}). "
                          "Fix: give module:Class (importable, or a .py path) whose Class() takes no arguments") from None
    if not hasattr(estimator, "fit"):
        raise GenotxError(f"--model {spec!r}: {name} has no fit method. Fix: give a scikit-learn-style estimator")
    return estimator


@app.command()
def run(
    task: str,
    model: Annotated[Optional[str], typer.Option(help="baseline name (default: the task's first), or module:Class of your own estimator")] = None,
    split: Annotated[Optional[str], typer.Option(help="split name (default: the task's first)")] = None,
    seed: int = 0,
    source: Annotated[Optional[str], typer.Option(help="one of the task's sources (default: its first; see genotx info)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print exactly one JSON record on stdout")] = False,
) -> None:
    """Train and evaluate one (task, model, split, seed); ``--model pkg.module:Class`` scores your own
    scikit-learn-style estimator under the task's official split, protocol and metrics."""
    from genotx.engine.runner import run as run_once

    try:
        estimator = _user_estimator(model) if model and ":" in model else None
        with _progress() as progress:
            bar = progress.add_task(f"{task}: training and evaluating", total=None)
            record, _ = run_once(task, model=None if estimator is not None else model, estimator=estimator, split=split,
                                 seed=seed, source=source, progress=lambda: progress.advance(bar))
    except GenotxError as e:
        _fail(e)
    if as_json:
        sys.stdout.write(json.dumps(record.to_dict()) + "\n")
        return
    table = Table(title=f"{record.task} / {record.model} / {record.split} / seed {record.seed} ({record.data_kind})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in record.metrics.items():
        std = record.metrics_std.get(name)
        table.add_row(name, f"{value:.4f}" + (f" ± {std:.4f}" if std is not None else ""))
    out.print(table)
    out.print(f"n_train={record.n_train} n_test={record.n_test} folds={record.n_folds} time={record.wall_time_s:.1f}s")


def _seeds(text: str) -> list[int]:
    """``0,2,5`` or ``0-4`` (inclusive) or a mix: ``0-2,7``."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
            raise GenotxError(f"--seeds {text!r} is not a list of seeds. Fix: write e.g. 0-4 or 0,1,2")
        seeds += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
    return sorted(set(seeds))


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
        seed_list = _seeds(seeds)
    except GenotxError as e:
        _fail(e)
    planned = plan(names, full=full, seeds=seed_list)
    store = ResultStore(out_dir)
    done_before = sum(store.has(p.key) for p in planned)
    start = time.perf_counter()
    live = err.is_terminal and not quiet
    with _progress() if live else _NoProgress() as progress:
        bar = progress.add_task("benchmark", total=len(planned), completed=done_before)

        def done(p, record):
            progress.advance(bar)
            if not live and not quiet and record is not None:  # one plain line per finished run for logs and CI
                metric = get_task(p.task).spec.primary_metric
                value = record.metrics.get(metric, float("nan"))
                sys.stderr.write(f"done {p.task} {p.model} {p.split} seed {p.seed}: {metric}={value:.4f} ({record.wall_time_s:.1f}s)\n")
                sys.stderr.flush()

        try:
            run_benchmark(names, str(out_dir), full=full, seeds=seed_list, backend=backend, address=address,
                          on_start=lambda p: progress.update(bar, description=f"{p.task} {p.model} {p.split} s{p.seed}"), on_done=done)
        except GenotxError as e:
            _fail(e)
    records = [r for r in store.records() if r.task in names]
    if not quiet:
        _print_time_table(records)
    report = write_report(out_dir)
    if not quiet:
        err.print(f"{len(planned)} runs ({done_before} already done) in {time.perf_counter() - start:.0f}s; report: {report}")


class _NoProgress:
    """The Progress interface, silent: used when output is not a terminal (plain lines instead)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def advance(self, *args, **kwargs):
        pass

    def update(self, *args, **kwargs):
        pass


def _print_time_table(records) -> None:
    """Per task: runs, seconds, and the primary metric of the default model and the trivial floor."""
    from genotx.engine.records import leaderboard
    from genotx.tasks.registry import get_task

    table = Table(title="benchmark: time and primary metric per task (mean ± std over seeds)")
    for column in ("task", "runs", "seconds", "metric", "default model", "trivial floor"):
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
                      f"{spec.default_model} {cell(spec.default_model)}", f"{spec.trivial or ''} {cell(spec.trivial) if spec.trivial else ''}")
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
        _fail(e)
    records = [r for r in ResultStore(out_dir).records() if r.task == task and (split is None or r.split == split)]
    if not records:
        _fail(GenotxError(f"no runs of {task} in {out_dir}. Fix: genotx benchmark --tasks {task} --seeds 0-4 --out {out_dir}"))
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
        _fail(e)
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
        _fail(e)
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
def predict(
    task: str,
    input_path: Annotated[Path, typer.Option("--input", help="your file (format: genotx info TASK)")],
    out_path: Annotated[Path, typer.Option("--out", help="where to write predictions")],
    model: Annotated[Optional[str], typer.Option(help="baseline name (default: the task's first)")] = None,
    reference: Annotated[Optional[Path], typer.Option(help="reference FASTA, for tasks that need one")] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-o", help="task-specific KEY=VALUE (see genotx info TASK), repeatable")] = None,
) -> None:
    """Score your own file with the task's default model (trained once on its default data)."""
    from genotx.engine.predict import predict_file

    options: dict[str, object] = {"reference": reference} if reference else {}
    try:
        for item in option or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise GenotxError(f"--option {item!r} is not KEY=VALUE. Fix: write e.g. --option trial=criteria.txt")
            options[key.strip().replace("-", "_")] = value
        with _progress() as progress:
            progress.add_task(f"{task}: predicting", total=None)
            path = predict_file(task, input_path, out_path, model=model, **options)
    except GenotxError as e:
        _fail(e)
    err.print(f"wrote {path}")


@app.command()
def report(out_dir: Annotated[Path, typer.Argument(help="a benchmark output folder")] = Path("results")) -> None:
    """Rebuild report.html from the run records in a folder."""
    from genotx.engine.records import ResultStore
    from genotx.report.html import write_report

    if not ResultStore(out_dir).records():
        _fail(GenotxError(f"{out_dir} holds no run records. Fix: give the --out folder of a genotx benchmark"))
    err.print(f"wrote {write_report(out_dir)}")


def _names(text: Optional[str]) -> Optional[list[str]]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _ks(text: str) -> list[int]:
    """``0,1,5,10,20`` -> sorted distinct non-negative integers."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise GenotxError(f"--ks {text!r} is not a list of numbers of rows. Fix: write e.g. 0,1,5,10,20")
    return sorted({int(p) for p in parts})


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
        seed_list = _seeds(seeds) if not quick else _seeds(seeds)[:2]
        with _progress() as progress:
            bar = progress.add_task(f"{task}: shift", total=None)
            result = shift(task, split=split, model=model, methods=_names(methods), seeds=seed_list,
                           subsample=8 if quick else None, max_folds=2 if quick else None,
                           progress=lambda text: progress.update(bar, description=text))
        paths = save_shift(result, out_dir)
    except GenotxError as e:
        _fail(e)
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
        k_list = _ks(ks)
        seed_list = _seeds(seeds)
        if quick:
            k_list, seed_list, entities = [k for k in k_list if k <= 5] or [0, 1], seed_list[:2], min(entities, 2)
        with _progress() as progress:
            bar = progress.add_task(f"{task}: few-shot", total=None)
            result = fewshot(task, ks=k_list, n_entities=entities, seeds=seed_list, model=model, n_source=12 if quick else None,
                             progress=lambda text: progress.update(bar, description=text))
        paths = save_fewshot(result, out_dir)
    except GenotxError as e:
        _fail(e)
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
    out.print(f"time {result.seconds:.0f}s; wrote {paths[0]}", highlight=False)

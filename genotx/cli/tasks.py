"""Verbs on one task: ``list``, ``info``, ``fetch``, ``run`` (a baseline or your own estimator), ``predict`` (your own file)."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from genotx.cli._app import app, err, fail, out, parse_options, progress_bar
from genotx.errors import GenotxError

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
        fail(e)
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
        fail(e)
    if ids is None:
        fail(ValueError("give a TASK or --all"))
    local_only = [sid for sid in ids if SOURCES[sid].package is None and not SOURCES[sid].upstream]
    for sid in local_only:  # a real-source loader for the user's own files: nothing to download
        err.print(f"{sid}: your own files (no registry package): genotx.use_local({sid!r}, {{...}}) or "
                  f"GENOTX_SOURCE_{sid.upper()}=folder", highlight=False)
    ids = [sid for sid in ids if sid not in local_only]
    with progress_bar() as progress:
        bar = progress.add_task("fetching", total=len(ids))
        for sid in ids:
            progress.update(bar, description=f"fetching {sid}")
            try:
                files = fetch_source(sid, force=force, progress=lambda m: progress.update(bar, description=m))
            except GenotxError as e:
                fail(e)
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
        with progress_bar() as progress:
            bar = progress.add_task(f"{task}: training and evaluating", total=None)
            record, _ = run_once(task, model=None if estimator is not None else model, estimator=estimator, split=split,
                                 seed=seed, source=source, progress=lambda: progress.advance(bar))
    except GenotxError as e:
        fail(e)
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
    from genotx.errors import InputError
    from genotx.tasks.registry import get_task

    try:
        options: dict[str, object] = parse_options(option or [])
        if reference is not None:
            if "reference" not in getattr(get_task(task).module, "PREDICT_OPTIONS", {}):
                raise InputError("--reference", f"{task} takes no reference FASTA", fix="drop --reference")
            if "reference" in options:
                raise InputError("--reference", "given twice (also as --option reference=...)", fix="give it once")
            options["reference"] = reference
        with progress_bar() as progress:
            progress.add_task(f"{task}: predicting", total=None)
            path = predict_file(task, input_path, out_path, model=model, **options)
    except GenotxError as e:
        fail(e)
    err.print(f"wrote {path}")

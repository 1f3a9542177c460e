"""The command line's shared parts: the Typer ``app``, consoles, errors, progress and option parsers.

Every other module of :mod:`genotx.cli` adds its verbs to ``app``; heavy imports stay inside commands so
``genotx --help`` is instant.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Annotated, Optional

with warnings.catch_warnings():  # typer 0.x imports click helpers that click 8.2 deprecates: not the user's concern
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="typer")
    import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from genotx.errors import GenotxError

__all__ = ["app", "err", "out", "fail", "progress_bar", "parse_seeds", "parse_names", "parse_ks", "parse_options", "NoProgress"]

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Machine learning on genomics data across the therapeutic pipeline.")
# Piped output (CI logs, `| grep`) gets a wide console so tables and paths are not cut at 80 columns.
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
out = Console(width=None if sys.stdout.isatty() else 200)


def fail(error: Exception) -> None:
    """Print ``error`` as one line (at most a few hundred characters of any value it quotes) and exit with code 2."""
    from rich.markup import escape

    from genotx.errors import shorten

    err.print(f"[bold red]error:[/] {escape(shorten(str(error)))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=2)


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=err, transient=False)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log details to stderr")] = False) -> None:
    from genotx.settings import settings

    settings.passive_threads()  # this process is ours: idle OpenMP threads sleep instead of spinning
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def parse_seeds(text: str) -> list[int]:
    """``0,2,5`` or ``0-4`` (inclusive) or a mix: ``0-2,7``."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
            raise GenotxError(f"--seeds {text!r} is not a list of seeds. Fix: write e.g. 0-4 or 0,1,2")
        seeds += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
    return sorted(set(seeds))


def parse_options(items: list[str]) -> dict[str, str]:
    """``--option KEY=VALUE`` pairs (``-`` in a key read as ``_``); a pair without ``=`` or a key given twice is refused."""
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise GenotxError(f"--option {item!r} is not KEY=VALUE. Fix: write e.g. --option trial=criteria.txt")
        if key in options:
            raise GenotxError(f"--option {key} is given twice ({options[key]!r} and {value!r}). Fix: give it once")
        options[key] = value
    return options


def parse_names(text: Optional[str]) -> Optional[list[str]]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def parse_ks(text: str) -> list[int]:
    """``0,1,5,10,20`` -> sorted distinct non-negative integers."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise GenotxError(f"--ks {text!r} is not a list of numbers of rows. Fix: write e.g. 0,1,5,10,20")
    return sorted({int(p) for p in parts})


class NoProgress:
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

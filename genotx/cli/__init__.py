"""The ``genotx`` command line.

Verbs: list | info | fetch | run | predict (:mod:`.tasks`); benchmark | leaderboard | export | evaluate |
report (:mod:`.bench`); shift | fewshot and the other open-problem tools (:mod:`.challenges` and one module
per tool). Every module of this package adds its verbs to the one Typer ``app``; a new module is picked
up without editing this file. It only calls the public API. With ``run --json`` stdout is exactly one
JSON object (logs and progress go to stderr).
"""

from __future__ import annotations

import importlib
import pkgutil

from genotx.cli._app import app

# The core verbs first (the order ``genotx --help`` lists them), then every other module of the package.
for _name in ("tasks", "bench", "challenges", *sorted(m.name for m in pkgutil.iter_modules(__path__))):
    if not _name.startswith("_"):
        importlib.import_module(f"{__name__}.{_name}")

__all__ = ["app"]

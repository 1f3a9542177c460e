"""One home for user-facing errors.

Every error says what went wrong, where (file, line or record) and how to fix it. Each class also
inherits the matching built-in so ``except ValueError`` keeps working for callers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = [
    "require_extra",
    "GenotxError",
    "InputError",
    "UnknownNameError",
    "DataMissingError",
    "IntegrityError",
    "FetchError",
    "NotImplementedTaskError",
    "did_you_mean",
    "shorten",
]

#: longest run of characters an error message quotes from a user's file (a 30 MB line is never echoed whole)
SHOWN_CHARS = 200


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` with every run of more than ``limit`` non-blank characters cut, and at most ``10 * limit`` characters.

    Examples
    --------
    >>> shorten("value 'ACGT' is bad")
    "value 'ACGT' is bad"
    >>> shorten("value '" + "x" * 1000 + "' is bad", limit=20)
    "value 'xxxxxxxxx...[1002 characters]... is bad"
    """
    text = str(text)
    cut = re.sub(r"\S{%d,}" % (limit + 1), lambda m: f"{m.group()[:limit // 2]}...[{len(m.group())} characters]...", text)
    if len(cut) > 10 * limit:
        cut = f"{cut[:5 * limit]}...[{len(cut)} characters]...{cut[-limit:]}"
    return cut


class GenotxError(Exception):
    """Base class of every error genotx raises on purpose."""


class InputError(GenotxError, ValueError):
    """A user's file or object is malformed.

    Examples
    --------
    >>> str(InputError("guides.csv", "bad base 'X' at position 3", line=4, fix="use only A/C/G/T/N"))
    "guides.csv, line 4: bad base 'X' at position 3. Fix: use only A/C/G/T/N"
    """

    def __init__(self, where: str, problem: str, *, line: int | None = None, fix: str = "") -> None:
        where, problem, fix = shorten(where), shorten(problem), shorten(fix)
        self.where, self.problem, self.line, self.fix = where, problem, line, fix
        place = f"{where}, line {line}" if line is not None else where
        super().__init__(f"{place}: {problem}" + (f". Fix: {fix}" if fix else ""))


class UnknownNameError(GenotxError, KeyError):
    """A name (task, model, split, metric, source) is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        valid = sorted(valid)
        hint = did_you_mean(name, valid)
        msg = f"Unknown {kind} {name!r}." + (f" Did you mean {hint!r}?" if hint else "")
        msg += f" Valid {kind}s: {', '.join(valid)}"
        self.message = msg
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class DataMissingError(GenotxError, FileNotFoundError):
    """A data file is not in the cache and cannot be fetched automatically."""


class IntegrityError(GenotxError, ValueError):
    """A file's sha256 does not match the declared one."""


class FetchError(GenotxError, RuntimeError):
    """Downloading a registry package or upstream file failed."""


class NotImplementedTaskError(GenotxError, NotImplementedError):
    """The task is registered (its SPEC is known) but has no runnable implementation yet."""


def did_you_mean(name: str, valid: Iterable[str]) -> str | None:
    """Closest valid name, if any is close.

    Examples
    --------
    >>> did_you_mean("crispr_ontarget", ["crispr_on_target", "drug_response"])
    'crispr_on_target'
    """
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return close[0] if close else None


def require_extra(module: str, extra: str) -> None:
    """Raise a :class:`GenotxError` naming the pip extra when an optional library is not installed.

    Examples
    --------
    >>> require_extra("json", "none")  # installed: nothing happens
    >>> try:
    ...     require_extra("no_such_library_xyz", "federated")
    ... except GenotxError as err:
    ...     print(err)
    no_such_library_xyz is not installed. Fix: pip install 'genotx[federated]'
    """
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise GenotxError(f"{module} is not installed. Fix: pip install 'genotx[{extra}]'")

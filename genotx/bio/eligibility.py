"""Trial eligibility: structured criteria, their semantics on patients, and a rule parser of criteria text.

A trial's criteria text is plain lines, optionally under ``Inclusion criteria:`` / ``Exclusion
criteria:`` headers (lines before any header are inclusion criteria); bullets (``-``, ``*``, ``•``,
``1.``) are stripped. Each line is one :class:`Criterion` over one patient variable:

* ``age`` (years), ``size`` (tumour diameter, cm), ``grade`` (1-3), ``er`` (1 = oestrogen-receptor positive);
* ``X<probe>`` expression (log2, Affymetrix probe set, e.g. ``X205225_at``, written ``205225_at`` in text);
* ``mut_<GENE>`` (1 = mutated) and ``cnv_<GENE>`` (-1 loss / 0 neutral / 1 gain or amplification).

Semantics: a condition on an unknown (missing) value is false, so an unknown value fails an inclusion
criterion and does not trigger an exclusion. A patient is eligible when every line passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Criterion",
    "criteria_lines",
    "criterion_holds",
    "criterion_passes",
    "canonical",
    "parse_line",
    "parse_criteria",
    "GENES",
]

#: Cancer genes whose mutation / copy-number state the tumour-profile criteria use (GDSC columns).
GENES: tuple[str, ...] = ("TP53", "EGFR", "PTEN", "CDKN2A", "ERBB2", "RB1", "MYC", "MET", "ALK", "IDH1", "KIT", "CCND1")
OPS: tuple[str, ...] = ("ge", "gt", "le", "lt", "between", "eq")
_FLIP = {"ge": "lt", "gt": "le", "le": "gt", "lt": "ge"}


@dataclass(frozen=True)
class Criterion:
    """One eligibility line as a structured rule: ``variable op value(s)``, in a section, maybe negated.

    ``between`` is inclusive of both ends; ``eq`` compares to ``low``.

    Examples
    --------
    >>> c = Criterion("inclusion", "age", "between", 18, 65)
    >>> criterion_passes(c, pd.DataFrame({"age": [17.0, 18.0, 70.0, np.nan]})).tolist()
    [False, True, False, False]
    """

    section: str
    variable: str
    op: str
    low: float | None = None
    high: float | None = None
    negated: bool = False

    def __post_init__(self) -> None:
        if self.section not in ("inclusion", "exclusion"):
            raise ValueError(f"Criterion section must be 'inclusion' or 'exclusion', got {self.section!r}")
        if self.op not in OPS:
            raise ValueError(f"Criterion op must be one of {OPS}, got {self.op!r}")


def criterion_holds(criterion: Criterion, patients: pd.DataFrame) -> np.ndarray:
    """Whether the (possibly negated) condition is true for each patient; unknown -> false."""
    if criterion.variable not in patients:
        return np.zeros(len(patients), dtype=bool)
    x = patients[criterion.variable].to_numpy(float)
    known = ~np.isnan(x)
    lo, hi = criterion.low, criterion.high
    with np.errstate(invalid="ignore"):
        cond = {
            "ge": lambda: x >= lo, "gt": lambda: x > lo, "le": lambda: x <= lo, "lt": lambda: x < lo,
            "between": lambda: (x >= lo) & (x <= hi), "eq": lambda: x == lo,
        }[criterion.op]()
    return known & (~cond if criterion.negated else cond)


def criterion_passes(criterion: Criterion, patients: pd.DataFrame) -> np.ndarray:
    """Whether each patient passes the line: the condition holds (inclusion) or does not (exclusion)."""
    holds = criterion_holds(criterion, patients)
    return holds if criterion.section == "inclusion" else ~holds


def canonical(criterion: Criterion | None) -> tuple | None:
    """A normal form under which equivalent rules compare equal (for criterion-level parser accuracy).

    Negation is pushed into the operator for thresholds and into the value for 0/1 variables, and the
    section becomes a polarity (``True`` = the patient must satisfy the condition).

    Examples
    --------
    >>> canonical(Criterion("exclusion", "mut_TP53", "eq", 1)) == canonical(Criterion("inclusion", "mut_TP53", "eq", 0))
    True
    >>> canonical(Criterion("inclusion", "age", "ge", 50, negated=True)) == canonical(Criterion("exclusion", "age", "ge", 50))
    True
    """
    if criterion is None:
        return None
    polarity = (criterion.section == "inclusion") != criterion.negated
    op, low, high = criterion.op, criterion.low, criterion.high
    binary = criterion.variable == "er" or criterion.variable.startswith("mut_")
    if op == "eq" and binary and low == 0:
        low, polarity = 1.0, not polarity
    if not polarity and op in _FLIP:
        op, polarity = _FLIP[op], True
    as_float = (lambda v: None if v is None else round(float(v), 6))
    return (criterion.variable, op, as_float(low), as_float(high), polarity)


_HEADER = re.compile(r"^\s*(inclusion|exclusion)\b[^:]*:?\s*$", re.I)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")


def criteria_lines(text: str) -> list[tuple[str, str, int]]:
    """``(section, line text, line number)`` of each criterion line of a criteria text (1-based lines).

    Examples
    --------
    >>> criteria_lines("Inclusion criteria:\\n- Age 18-65\\n\\nExclusion criteria:\\n- ER-negative disease")
    [('inclusion', 'Age 18-65', 2), ('exclusion', 'ER-negative disease', 5)]
    """
    section, out = "inclusion", []
    for number, raw in enumerate(str(text).splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            section = header.group(1).lower()
            continue
        line = _BULLET.sub("", raw).strip()
        if line:
            out.append((section, line, number))
    return out


# ---- the rule parser: hand-written patterns for the phrasings it was written for ----------------

_NUM = r"(\d+(?:\.\d+)?)"
_RANGE = re.compile(rf"(?:between\s+)?{_NUM}\s*(?:-|\u2013|\u2014|to|and)\s*{_NUM}", re.I)
_OP_WORDS = (
    ("ge", r"at least|\u2265|>=|no less than|minimum(?: of)?|or older|or more|or above|or greater|or higher"),
    ("le", r"at most|\u2264|<=|no more than|maximum(?: of)?|up to|or younger|or less|or below|or smaller|or lower"),
    ("gt", r"over|above|more than|greater than|older than|larger than|exceeding|>"),
    ("lt", r"under|below|less than|younger than|smaller than|<"),
)
_NEGATION = re.compile(r"\b(?:no|not|without|never|absence of|must not|cannot|wild[- ]type)\b", re.I)
_PROBE = re.compile(r"\b(\d{6,}(?:_[a-z])?_at)\b", re.I)
_GENE = re.compile(r"\b(" + "|".join(GENES) + r")\b")
_GRADES = {"well differentiated": 1, "moderately differentiated": 2, "intermediate": 2, "poorly differentiated": 3}


def _op_at(text: str) -> str | None:
    for op, words in _OP_WORDS:
        if re.search(rf"(?:^|\s|\b)(?:{words})(?:\s|\b|$)", text, re.I):
            return op
    return None


def _threshold(text: str, variable: str) -> Criterion | None:
    """op + number(s) of a numeric line; ``mm`` is converted to cm for tumour size."""
    text = re.sub(r"\blog2\b", " ", text, flags=re.I)
    scale = 0.1 if variable == "size" and re.search(r"\bmm\b|millimet", text, re.I) else 1.0
    found = _RANGE.search(text)
    if found and _op_at(text[: found.start()]) is None:
        low, high = sorted(float(v) * scale for v in found.groups())
        return Criterion("inclusion", variable, "between", low, high)
    numbers = re.findall(_NUM, text)
    op = _op_at(text)
    if not numbers or op is None:
        return None
    return Criterion("inclusion", variable, op, float(numbers[-1]) * scale)


def parse_line(text: str, *, section: str = "inclusion") -> Criterion | None:
    """The rule parser: one criterion line -> :class:`Criterion`, or ``None`` when it does not parse.

    Examples
    --------
    >>> parse_line("Age between 18 and 65 years")
    Criterion(section='inclusion', variable='age', op='between', low=18.0, high=65.0, negated=False)
    >>> parse_line("No prior TP53 mutation", section="inclusion").negated
    True
    >>> parse_line("Tumour size of at least 20 mm").low
    2.0
    """
    rule = _parse(text)
    if rule is None:
        return None
    return Criterion(section, rule.variable, rule.op, rule.low, rule.high, rule.negated)


def _parse(text: str) -> Criterion | None:
    t = text.strip()
    # "no" inside an operator phrase ("no more than") does not negate the criterion
    negated = bool(_NEGATION.search(re.sub(r"\bno (?:less|more) than\b", " ", t, flags=re.I)))
    gene, probe = _GENE.search(t), _PROBE.search(t)
    if gene and not probe:
        name = gene.group(1)
        if re.search(r"amplif|gain|copy[- ]number increase", t, re.I):
            return Criterion("inclusion", f"cnv_{name}", "eq", 1.0, negated=negated)
        if re.search(r"deletion|deleted|loss", t, re.I):
            return Criterion("inclusion", f"cnv_{name}", "eq", -1.0, negated=negated)
        if re.search(r"mutat|mutant|wild[- ]type", t, re.I):
            return Criterion("inclusion", f"mut_{name}", "eq", 1.0, negated=negated)
        return None
    if probe:
        rule = _threshold(_PROBE.sub(" ", t), f"X{probe.group(1)}")
        return None if rule is None else Criterion("inclusion", rule.variable, rule.op, rule.low, rule.high, negated)
    if re.search(r"\b(?:ER|oestrogen|estrogen)\b", t, re.I):
        if re.search(r"negative", t, re.I):
            return Criterion("inclusion", "er", "eq", 0.0, negated=negated)
        if re.search(r"positive", t, re.I):
            return Criterion("inclusion", "er", "eq", 1.0, negated=negated)
        return None
    if re.search(r"\bgrade\b|differentiated", t, re.I):
        for words, value in _GRADES.items():
            if words in t.lower():
                return Criterion("inclusion", "grade", "eq", float(value), negated=negated)
        rule = _threshold(t, "grade")
        if rule is None:
            number = re.search(r"\bgrade\s*([123])\b", t, re.I)
            rule = Criterion("inclusion", "grade", "eq", float(number.group(1))) if number else None
        return None if rule is None else Criterion("inclusion", "grade", rule.op, rule.low, rule.high, negated)
    for variable, cue in (("age", r"\bage[ds]?\b|years? old|\byears\b"),
                          ("size", r"tumou?r|\bsize\b|diameter|\bcm\b|\bmm\b")):
        if re.search(cue, t, re.I):
            rule = _threshold(t, variable)
            return None if rule is None else Criterion("inclusion", variable, rule.op, rule.low, rule.high, negated)
    return None


def parse_criteria(text: str) -> list[tuple[Criterion | None, str, int]]:
    """Parse every line of a criteria text: ``(criterion or None, line text, line number)``."""
    return [(parse_line(line, section=section), line, number) for section, line, number in criteria_lines(text)]

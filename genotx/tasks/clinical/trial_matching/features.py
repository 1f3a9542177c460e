"""Features of (patient, eligibility-criterion line) pairs for learned trial matchers.

A pairs table has one row per (patient, trial): ``criteria`` (the trial's full text) and the patient's
variable columns (``age``, ``size``, ``grade``, ``er``, ``X<probe>``, ``mut_<GENE>``, ``cnv_<GENE>``;
missing = unknown). :func:`expand_lines` explodes it to one row per criterion line. The line text is
embedded after masking entity names and numbers (``GENE``, ``PROBE``, ``0``), so the embedding carries
the phrasing (which variable, direction, negation, units) and the numbers and the linked entity's
patient value enter as separate numeric features. Entity linking is exact string lookup of a gene
symbol or probe-set id that is a patient column; nothing else about the rule is hand-coded.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from genotx.bio.eligibility import criteria_lines

__all__ = ["variable_columns", "expand_lines", "masked_text", "line_numbers", "linked_values", "CLINICAL_VARIABLES"]

CLINICAL_VARIABLES: tuple[str, ...] = ("age", "size", "grade", "er")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PROBE = re.compile(r"\b\d{6,}(?:_[a-z])?_at\b", re.I)


def variable_columns(frame: pd.DataFrame) -> list[str]:
    """The patient-variable columns of a pairs or patients table, in a fixed order."""
    kinds = (lambda c: c in CLINICAL_VARIABLES, lambda c: c.startswith("X"), lambda c: c.startswith("mut_"),
             lambda c: c.startswith("cnv_"))
    return [c for kind in kinds for c in frame.columns if kind(c)]


def expand_lines(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per (pair, criterion line): ``pair`` (row position), ``line`` (0-based), ``section``, ``text``.

    Each distinct criteria text is split once.

    Examples
    --------
    >>> pairs = pd.DataFrame({"criteria": ["- Age over 50\\nExclusion criteria:\\n- ER-negative", "Grade 3"]})
    >>> expand_lines(pairs)[["pair", "line", "section", "text"]].values.tolist()
    [[0, 0, 'inclusion', 'Age over 50'], [0, 1, 'exclusion', 'ER-negative'], [1, 0, 'inclusion', 'Grade 3']]
    """
    codes, texts = pd.factorize(pairs["criteria"].astype(str))
    per_text = [criteria_lines(t) for t in texts]
    sizes = np.array([len(lines) for lines in per_text])
    n_lines = sizes[codes]
    pair = np.repeat(np.arange(len(pairs)), n_lines)
    line = np.arange(n_lines.sum()) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    table = pd.DataFrame([(i, j, s, t) for i, lines in enumerate(per_text) for j, (s, t, _) in enumerate(lines)],
                         columns=["text_id", "line", "section", "text"])
    key = pd.MultiIndex.from_arrays([codes[pair], line])
    found = table.set_index(["text_id", "line"]).reindex(key)
    return pd.DataFrame({"pair": pair, "line": line, "section": found["section"].to_numpy(), "text": found["text"].to_numpy()})


def masked_text(texts: pd.Series, *, genes: list[str]) -> pd.Series:
    """Lower-cased text with gene symbols -> ``gene``, probe ids -> ``probe``, numbers -> ``0``."""
    out = texts.str.replace(_PROBE, " probe ", regex=True)
    if genes:
        out = out.str.replace(r"\b(?:" + "|".join(map(re.escape, genes)) + r")\b", " gene ", regex=True)
    return out.str.replace(_NUMBER, "0", regex=True).str.lower()


def line_numbers(texts: pd.Series) -> np.ndarray:
    """First, last, min, max and count of the numbers in each line (probe ids excluded), ``(n, 5)``."""
    stripped = texts.str.replace(_PROBE, " ", regex=True)
    found = stripped.str.findall(_NUMBER)
    out = np.full((len(texts), 5), np.nan)
    for i, values in enumerate(found.to_numpy()):  # per distinct line; callers pass unique lines
        if values:
            v = np.asarray(values, float)
            out[i] = (v[0], v[-1], v.min(), v.max(), len(v))
        else:
            out[i, 4] = 0
    return out


def linked_values(texts: pd.Series, patients: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Patient value of the entity a line names: mutation, copy number and probe expression, ``(n, 3)``.

    ``texts`` are the lines, ``rows`` the position of each line's patient in ``patients``; NaN when the
    line names no known entity (or the patient's value is unknown).
    """
    genes = [c[4:] for c in patients.columns if c.startswith("mut_") or c.startswith("cnv_")]
    gene_re = re.compile(r"\b(" + "|".join(map(re.escape, sorted(set(genes)))) + r")\b") if genes else None
    gene = texts.str.extract(gene_re, expand=False) if gene_re is not None else pd.Series(np.nan, index=texts.index)
    probe = "X" + texts.str.extract(f"({_PROBE.pattern})", flags=re.I, expand=False)
    out = np.full((len(texts), 3), np.nan)
    for k, (prefix, names) in enumerate((("mut_", gene), ("cnv_", gene), ("", probe))):
        columns = (prefix + names).to_numpy(object)
        for column in pd.unique(columns[pd.notna(columns)]):
            if column in patients:
                hit = columns == column
                out[hit, k] = patients[column].to_numpy(float)[rows[hit]]
    return out

"""``genotx predict trial_matching``: a user's patients (+ a trial's criteria) in, match probabilities out.

The engine (:func:`genotx.engine.predict.predict_file`) types the options (:data:`PREDICT_OPTIONS`),
calls :func:`read_input` (which validates everything before a model is touched), fits or loads the
cached model on the task's data (:func:`training_data`), then :func:`format_predictions`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.bio.eligibility import GENES, criteria_lines
from genotx.data.cohorts import breast_cohort_genes
from genotx.data.dataset import Dataset
from genotx.data.formats.table import check_values, read_table
from genotx.data.formats.text import read_text
from genotx.errors import InputError
from genotx.tasks.clinical.trial_matching.features import CLINICAL_VARIABLES, expand_lines
from genotx.tasks.clinical.trial_matching.models import rule_line_passes

__all__ = ["PREDICT_OPTIONS", "INPUT_OPTIONS", "known_variables", "read_input", "read_criteria", "training_data",
           "format_predictions"]

#: ``-o trial=criteria.txt``: the trial's criteria as a text file (else a ``criteria`` column).
PREDICT_OPTIONS = {"trial": Path}
INPUT_OPTIONS = ("trial",)

_FIXES = {"grad": "write 1, 2, 3, well/moderately/poorly differentiated or intermediate (empty = unknown)",
          "er": "write positive or negative (or 1/0; empty = unknown)",
          "mut_": "write 1 (mutated) or 0 (wild-type); empty = unknown",
          "cnv_": "write -1 (loss), 0 (neutral) or 1 (gain/amplification); empty = unknown"}
_WORDS = {"grade": {"well differentiated": "1", "intermediate": "2", "moderately differentiated": "2",
                    "poorly differentiated": "3"},
          "er": {"positive": "1", "negative": "0", "pos": "1", "neg": "0", "+": "1", "-": "0"}}
_ALLOWED = {"grade": {1.0, 2.0, 3.0}, "er": {0.0, 1.0}, **{f"mut_{g}": {0.0, 1.0} for g in GENES},
            **{f"cnv_{g}": {-1.0, 0.0, 1.0} for g in GENES}}
_UNKNOWN = ("", "unknown", "na")


def known_variables() -> tuple[str, ...]:
    """The patient variables the task knows, in the training order: clinical, the breast cohort's 76
    probe sets (from its file header; no data is loaded), ``mut_<GENE>``, ``cnv_<GENE>``."""
    return (*CLINICAL_VARIABLES, *breast_cohort_genes(), *(f"mut_{g}" for g in GENES), *(f"cnv_{g}" for g in GENES))


def _as_number(values: pd.Series, words: dict[str, str]) -> pd.Series:
    text = values.astype(str).str.strip().str.lower()
    named = text.map(lambda t: words.get(t, t)).where(~text.isin(_UNKNOWN), "")  # unknown -> "" -> NaN below
    return pd.to_numeric(named, errors="coerce")


def read_criteria(path: str | Path) -> str:
    """A criteria text file; raises naming the line when it holds no criterion or a stray section header."""
    path = Path(path)
    text = read_text(path, what="criteria text file")  # missing, folder, empty, not UTF-8: refused naming the line
    lines = criteria_lines(text)
    if not lines:
        raise InputError(str(path), "no criterion lines", line=1, fix="write one criterion per line (e.g. 'Age 18-65 years')")
    for _, line, number in lines:
        if len(line) > 300 or not any(ch.isalpha() for ch in line):
            raise InputError(str(path), f"line is not a criterion: {line[:40]!r}", line=number,
                             fix="write one criterion per line in words (e.g. 'No TP53 mutation')")
    return text


def read_input(path: str | Path, *, trial: str | Path | None = None) -> pd.DataFrame:
    """A CSV of patients, one per row: optional ``patient`` (id) and any of ``age`` (years), ``size``
    (cm), ``grade`` (1/2/3 or well/intermediate/poorly differentiated), ``er`` (positive/negative or
    1/0), expression of the 76 probe sets of the GSE7390 cohort (``X219340_s_at`` or ``219340_s_at``;
    other columns are ignored, so a criterion on another probe fails), ``mut_<GENE>`` (0/1) and
    ``cnv_<GENE>`` (-1/0/1) for GENE in TP53, EGFR, PTEN, CDKN2A, ERBB2, RB1, MYC, MET, ALK, IDH1, KIT,
    CCND1; empty = unknown (fails an inclusion criterion on it, triggers no exclusion). The trial's
    criteria come from ``trial`` (a text file, one criterion per line, optionally under ``Inclusion
    criteria:`` / ``Exclusion criteria:`` headers) or from a ``criteria`` column (one text per row).

    Returns ``patient``, ``criteria`` and every known variable (NaN = unknown).
    """
    where = str(path)
    read_text(path, what="CSV of patients")  # the user's file is checked before the cohort's gene list is read
    variables = known_variables()
    aliases = {v: (v[1:],) for v in variables if v.startswith("X")}
    frame = read_table(path, required=(), optional=("patient", "criteria", *variables), aliases=aliases)
    given = [v for v in variables if v in frame]
    if not given:
        raise InputError(where, "no known patient variable column", line=1,
                         fix=f"add columns such as {list(CLINICAL_VARIABLES)}, mut_TP53, cnv_ERBB2 or probe ids")
    for column in given:
        raw = frame[column]
        values = _as_number(raw, _WORDS.get(column, {}))
        blank = raw.astype(str).str.strip().str.lower().isin(_UNKNOWN)
        ok = blank | (values.notna() & (values.isin(_ALLOWED[column]) if column in _ALLOWED else True))
        fix = _FIXES.get(column if column == "er" else column[:4], "write a number (or leave empty for unknown)")
        check_values(frame, column, lambda _s, ok=ok: ok, path=where, problem="is not a valid value", fix=fix)
        frame[column] = values
    if trial is not None:
        frame["criteria"] = read_criteria(trial)
    elif "criteria" not in frame:
        raise InputError(where, "no trial criteria given", line=1, fix="pass -o trial=criteria.txt or add a 'criteria' column")
    else:
        empty = frame["criteria"].astype(str).map(lambda t: not criteria_lines(t))
        check_values(frame, "criteria", lambda _s: ~empty, path=where, problem="has no criterion text",
                     fix="write the trial's criteria in the 'criteria' column")
    if "patient" not in frame:
        frame.insert(0, "patient", [f"patient_{i + 1}" for i in range(len(frame))])
    return frame.reindex(columns=["patient", "criteria", *variables]).reset_index(drop=True)


def training_data(dataset: Dataset) -> tuple[pd.DataFrame, np.ndarray]:
    """What the predict model is fitted on: every pair, with the per-line truth as ``y`` (eligibility follows from it)."""
    return dataset.inputs, dataset.arrays["line_labels"]


def format_predictions(frame: pd.DataFrame, estimator) -> pd.DataFrame:
    """One row per patient: ``patient``, ``match_probability`` (the model's), ``rule_eligible`` (the
    rule parser's verdict: 1/0, empty when a line does not parse) and ``unparsed_lines`` (the line
    numbers of the criteria text that the parser could not read)."""
    inputs = frame.drop(columns="patient").reset_index(drop=True)
    lines = expand_lines(inputs)
    passes = rule_line_passes(inputs, lines)
    pair = lines["pair"].to_numpy()
    numbers = {t: [n for _, _, n in criteria_lines(t)] for t in pd.unique(inputs["criteria"])}
    number = np.array([numbers[inputs["criteria"].iat[p]][j] for p, j in zip(pair, lines["line"])], dtype=int)
    unparsed = np.isnan(passes)
    rows = range(len(frame))
    verdict = pd.Series(passes).groupby(pair).min().reindex(rows)
    has_unparsed = pd.Series(unparsed).groupby(pair).any().reindex(rows, fill_value=False)
    return pd.DataFrame({
        "patient": frame["patient"].to_numpy(),
        "match_probability": estimator.predict_proba(inputs)[:, 1],
        "rule_eligible": verdict.where(~has_unparsed.to_numpy()).astype("Int64").to_numpy(),
        "unparsed_lines": pd.Series(number[unparsed].astype(str)).groupby(pair[unparsed]).agg(" ".join)
        .reindex(rows, fill_value="").to_numpy(),
    })

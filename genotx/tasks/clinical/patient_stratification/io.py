"""``genotx predict patient_stratification``: a user's patients in, risk, subgroup and rule per patient out.

The engine (:func:`genotx.engine.predict.predict_file`) calls :func:`read_input` (every check before a
model is touched), fits or loads the cached model (a :class:`~genotx.tasks.clinical.patient_stratification.models.Subgroups`
fitted on the whole cohort, rule tree included), then :func:`format_predictions`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.cohorts import breast_cohort_genes
from genotx.data.formats.table import check_values, read_table
from genotx.data.formats.text import read_text
from genotx.errors import InputError
from genotx.tasks.clinical.patient_stratification.features import CLINICAL, ER_VALUES, GRADES

__all__ = ["read_input", "format_predictions"]


def _grade(values: pd.Series) -> pd.Series:
    return values.str.strip().str.lower().replace({"unkown": "unknown", "": "unknown"})


def _er(values: pd.Series) -> pd.Series:
    return values.str.strip().str.lower()


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV of patients: ``age``, ``size`` (cm), ``grade`` (well differentiated / intermediate /
    poorly differentiated / unknown), ``er`` (positive / negative) and the 76 gene columns of the
    training cohort (``X219340_s_at``...; the ``X`` prefix may be left out); optional ``patient``."""
    read_text(path, what="CSV of patients")  # the user's file is checked before the cohort's header is read
    genes = breast_cohort_genes()  # the cohort file's header: no data is loaded
    aliases = {g: (g[1:],) for g in genes}
    numeric = ("age", "size", *genes)
    frame = read_table(path, required=(*CLINICAL, *genes), optional=("patient",), numeric=numeric, aliases=aliases)
    where = str(path)
    for column in numeric:
        missing = frame[column].isna()
        if missing.any():
            raise InputError(where, f"column {column!r} is empty", line=int(np.flatnonzero(missing.to_numpy())[0]) + 2,
                             fix="fill in the value (the models need every gene and clinical variable)")
    check_values(frame, "grade", lambda s: _grade(s).isin(GRADES), path=where, problem=f"is not one of {list(GRADES)}",
                 fix="write the histological grade as in the training cohort")
    check_values(frame, "er", lambda s: _er(s).isin(ER_VALUES), path=where, problem=f"is not one of {list(ER_VALUES)}",
                 fix="write the oestrogen-receptor status as positive or negative")
    frame["grade"], frame["er"] = _grade(frame["grade"]), _er(frame["er"])
    if "patient" not in frame:
        frame.insert(0, "patient", [f"patient_{i + 1}" for i in range(len(frame))])
    return frame[["patient", *CLINICAL, *genes]].reset_index(drop=True)


def format_predictions(frame: pd.DataFrame, estimator) -> pd.DataFrame:
    """One row per patient: ``patient``, ``risk`` (higher = earlier metastasis), ``risk_group`` (low /
    intermediate / high, or all), ``rule`` (the conditions of the patient's leaf of the subgroup
    rule tree learnt on the cohort) and ``rule_group`` (the subgroup that leaf stands for)."""
    inputs = frame.drop(columns="patient")
    rules = estimator.rules(inputs)
    return pd.DataFrame({"patient": frame["patient"].to_numpy(), "risk": estimator.predict(inputs),
                         "risk_group": estimator.group_names(estimator.predict_group(inputs)),
                         "rule": rules["rule"].to_numpy(), "rule_group": rules["rule_group"].to_numpy()})

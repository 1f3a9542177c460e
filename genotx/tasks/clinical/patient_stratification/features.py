"""Patient records -> model matrices and readable rule variables.

A patients table has ``age`` (years), ``size`` (cm), ``grade`` (``well differentiated`` /
``intermediate`` / ``poorly differentiated`` / ``unknown``), ``er`` (``positive`` / ``negative``) and
one column per gene (probe set, log2 expression); every other column is taken for a gene.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.cohorts import BREAST_CLINICAL

__all__ = ["CLINICAL", "GRADES", "ER_VALUES", "gene_columns", "encode_all", "encode_clinical", "encoded_names",
           "clinical_names", "rule_features"]

CLINICAL: tuple[str, ...] = BREAST_CLINICAL
GRADES: tuple[str, ...] = ("well differentiated", "intermediate", "poorly differentiated", "unknown")
ER_VALUES: tuple[str, ...] = ("negative", "positive")


def gene_columns(frame: pd.DataFrame) -> list[str]:
    """Every input column that is not a clinical variable (the expression values)."""
    return [c for c in frame.columns if c not in CLINICAL]


def encode_all(frame: pd.DataFrame) -> np.ndarray:
    """Genes, age, size, one-hot grade (vs well differentiated) and ER positive, as floats."""
    return _encode(frame, genes=True).to_numpy(float)


def encode_clinical(frame: pd.DataFrame) -> np.ndarray:
    """Age, size, one-hot grade (vs well differentiated) and ER positive, as floats."""
    return _encode(frame, genes=False).to_numpy(float)


def _encode(frame: pd.DataFrame, *, genes: bool) -> pd.DataFrame:
    parts = {"age": frame["age"].astype(float), "size": frame["size"].astype(float)}
    for grade in GRADES[1:]:
        parts[f"grade_{grade.split()[0]}"] = (frame["grade"] == grade).astype(float)
    parts["er_positive"] = (frame["er"] == "positive").astype(float)
    clinical = pd.DataFrame(parts, index=frame.index)
    return pd.concat([frame[gene_columns(frame)].astype(float), clinical], axis=1) if genes else clinical


def encoded_names(frame: pd.DataFrame) -> list[str]:
    """Column names of :func:`encode_all`'s matrix."""
    return list(_encode(frame.iloc[:1], genes=True).columns)


def clinical_names(frame: pd.DataFrame) -> list[str]:
    """Column names of :func:`encode_clinical`'s matrix."""
    return list(_encode(frame.iloc[:1], genes=False).columns)


def rule_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Readable variables for subgroup rules: age, size, grade (1-3; unknown = 2), ER (1 = positive), genes."""
    grade = frame["grade"].map({GRADES[0]: 1.0, GRADES[1]: 2.0, GRADES[2]: 3.0, GRADES[3]: 2.0}).astype(float)
    clinical = pd.DataFrame({"age": frame["age"].astype(float), "size": frame["size"].astype(float), "grade": grade,
                             "er_positive": (frame["er"] == "positive").astype(float)}, index=frame.index)
    return pd.concat([clinical, frame[gene_columns(frame)].astype(float)], axis=1).reset_index(drop=True)

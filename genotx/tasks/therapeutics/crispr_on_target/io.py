"""crispr_on_target user files: guides (30-mers) to score with ``genotx predict``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import check_values, read_table
from genotx.tasks.therapeutics.crispr_on_target.features import SEQUENCE_LENGTH

__all__ = ["read_input"]


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV of guides: column ``sequence`` (30-mer; alias ``30mer``), optional ``percent_peptide``
    (0-100; unknown values are left missing for the tree model and set to 50% for the CNN) and
    ``cut_position`` (kept, not used)."""
    frame = read_table(
        path, required=("sequence",), optional=("percent_peptide", "cut_position"),
        numeric=("percent_peptide", "cut_position"), aliases={"sequence": ("30mer", "guide", "seq")},
    )
    frame["sequence"] = frame["sequence"].str.strip().str.upper()
    check_values(
        frame, "sequence", lambda s: (s.str.len() == SEQUENCE_LENGTH) & s.str.fullmatch(r"[ACGTN]+").fillna(False),
        path=str(path), problem=f"is not a {SEQUENCE_LENGTH}-mer of A/C/G/T/N",
        fix="give 4 nt 5' context + 20 nt spacer + NGG PAM + 3 nt 3' context",
    )
    check_values(
        frame, "sequence", lambda s: s.str.slice(25, 27) == "GG", path=str(path),
        problem="has no NGG PAM at positions 25-27", fix="align the 30-mer so the PAM follows the 20-nt spacer",
    )
    if "percent_peptide" in frame:  # inf or 1e9 % would reach the model as a number it never saw
        check_values(frame, "percent_peptide", lambda v: v.isna() | v.between(0, 100), path=str(path),
                     problem="is not a percentage between 0 and 100",
                     fix="give where the cut falls in the protein, 0-100 (leave it empty when unknown)")
    if "cut_position" in frame:
        check_values(frame, "cut_position", lambda v: v.isna() | (np.isfinite(v) & (v >= 0)), path=str(path),
                     problem="is not a non-negative amino-acid position", fix="give a position >= 0 or leave it empty")
    for column in ("percent_peptide", "cut_position"):
        if column not in frame:
            frame[column] = np.nan
    return frame[["sequence", "percent_peptide", "cut_position"]]

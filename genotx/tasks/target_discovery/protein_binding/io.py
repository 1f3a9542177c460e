"""protein_binding user files: 75-nt lac promoter variants to score with ``genotx predict``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genotx.data.formats.fasta import fasta_records
from genotx.data.formats.table import check_values, read_table
from genotx.data.formats.text import read_text

__all__ = ["SEQUENCE_LENGTH", "read_input"]

SEQUENCE_LENGTH = 75


def read_input(path: str | Path) -> pd.DataFrame:
    """A FASTA file, or a CSV/TSV with a ``sequence`` column (aliases ``x``, ``seq``), of 75-nt lac
    promoter variants (A/C/G/T/N). An ``id``/``name`` column or FASTA names are kept."""
    path = Path(path)
    text = read_text(path, what="FASTA or CSV file")
    if text.lstrip().startswith(">"):  # a letter outside ACGTN is named with its record, line and column
        records = list(fasta_records(enumerate(text.splitlines(), start=1), str(path), alphabet="ACGTN"))
        frame = pd.DataFrame({"id": [r[0] for r in records], "sequence": [r[1] for r in records]})
        frame.attrs["lines"] = [r[2] for r in records]
    else:
        frame = read_table(path, required=("sequence",), optional=("id",), aliases={"sequence": ("x", "seq"), "id": ("name",)})
    frame["sequence"] = frame["sequence"].str.strip().str.upper()
    check_values(
        frame, "sequence", lambda s: (s.str.len() == SEQUENCE_LENGTH) & s.str.fullmatch(r"[ACGTN]+").fillna(False),
        path=str(path), problem=f"is not a {SEQUENCE_LENGTH}-nt sequence of A/C/G/T/N",
        fix=f"give {SEQUENCE_LENGTH}-nt lac promoter variants in the MAVE-NN frame (CRP site at 7-22, 1-based)",
    )
    return frame[[c for c in ("id", "sequence") if c in frame]]

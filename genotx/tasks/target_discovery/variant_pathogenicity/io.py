"""variant_pathogenicity user files: full-length protein variants of the default scan's protein.

The default model was trained on TDP-43 aa 290-373 single and double mutants; a user's variant is
checked against that protein's wild type (:data:`WILD_TYPES`, the per-position consensus of the
scan, kept here so that checking a file never reads the scan): nucleotide letters, mostly unknown
residues or a sequence that is not a variant of the protein at all are refused, not scored.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genotx.data.formats.table import check_values, read_table
from genotx.tasks.target_discovery.variant_pathogenicity.features import (
    PROTEIN_STOP_ALPHABET, STOP_LETTER, mutation_counts,
)

__all__ = ["WILD_TYPES", "LENGTHS", "DEFAULT_SOURCE", "read_input"]

DEFAULT_SOURCE = "mavenn_tdp43"
#: the wild type of each scan (the consensus of its variants; checked against the data in the tests)
WILD_TYPES = {
    "mavenn_tdp43": "GNSRGGGAGLGNNQGSNMGGGMNFGAFSINPAMMAAAQAALQSSWGMMGMLASQQNQSGPSGNNQNQGNMQREPNQAFGSGNNS",
    "mavenn_abeta": "DAEFRHDSGYEVHHQKLVFFAEDVGSNKGAIIGLMVGGVVIA",
    "mavenn_gb1": "QYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE",
}
LENGTHS = {source: len(wild_type) for source, wild_type in WILD_TYPES.items()}
_RESIDUES = PROTEIN_STOP_ALPHABET.replace(STOP_LETTER, "") + "X*"  # what a user may write
_PROTEIN = "TDP-43 aa 290-373"


def read_input(path: str | Path) -> pd.DataFrame:
    """A FASTA, or a CSV with a ``sequence`` column (alias ``x``, ``seq``, ``variant``): full-length variants of
    the default protein (TDP-43 aa 290-373, 84 residues), one-letter amino acids, ``*`` for stop, ``X``
    for an unknown residue. Adds ``n_mutations`` (substitutions against the wild type; the model saw
    1 and 2). Refused: DNA/RNA letters only, more unknown residues than known ones, or fewer than half
    of the residues equal to the wild type (another protein)."""
    frame = read_table(path, required=("sequence",), aliases={"sequence": ("x", "seq", "variant")})
    frame["sequence"] = frame["sequence"].str.strip().str.upper()
    wild_type = WILD_TYPES[DEFAULT_SOURCE]
    length = len(wild_type)
    check = {"path": str(path)}
    check_values(frame, "sequence", lambda s: s.str.fullmatch(f"[{_RESIDUES}]+").fillna(False), **check,
                 problem="has characters other than the 20 amino acids, '*' (stop) and 'X' (unknown)",
                 fix="write one-letter amino-acid codes")
    check_values(frame, "sequence", lambda s: s.str.len() == length, **check, problem=f"is not {length} residues long",
                 fix=f"give the full {length}-residue variant of {_PROTEIN} (the default model's protein), mutations substituted in place")
    check_values(frame, "sequence", lambda s: ~s.str.fullmatch("[ACGTUN]+").fillna(False), **check,
                 problem="is written in nucleotide letters (A/C/G/T/U/N only), not as a protein",
                 fix=f"translate it: give the {length}-residue protein variant of {_PROTEIN}")
    check_values(frame, "sequence", lambda s: s.str.count("X") <= length // 2, **check,
                 problem="is mostly unknown residues 'X': there is no variant left to score",
                 fix=f"give the residues of the variant of {_PROTEIN}; 'X' only where one is unknown")
    unknown = frame["sequence"].str.count("X").to_numpy()
    substitutions = mutation_counts(frame["sequence"], wild_type) - unknown  # an X is not a substitution
    check_values(frame, "sequence", lambda s: pd.Series(substitutions <= (length - unknown) // 2, index=s.index), **check,
                 problem=f"differs from the wild type at more than half of its known residues: not a variant of {_PROTEIN}",
                 fix=f"give variants of {wild_type} (the model saw single and double substitutions)")
    return frame[["sequence"]].assign(n_mutations=substitutions)

"""rna_splicing files: the MPSA replicates, the hg38 5' splice-site list, and a user's 9-mers to score."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.tasks.target_discovery.rna_splicing.features import LENGTH

__all__ = ["SITES_SOURCE", "read_mpsa", "read_sites", "read_input"]

SITES_SOURCE = "logomaker_hg38_5ss"


def read_mpsa(source: str) -> pd.DataFrame:
    """One MPSA replicate as shipped (``x`` the 9-mer, RNA letters; ``y``; ``tot_ct``, ``ex_ct``; ``set``)."""
    raw = pd.read_csv(source_files(source)["data"])
    return raw.assign(x=raw["x"].str.upper().str.replace("T", "U", regex=False))


def read_sites(path: str | Path) -> pd.DataFrame:
    """logomaker's ``ss_sequences.txt``: ``sequence`` (RNA 9-mer) and genomic ``count``."""
    sites = pd.read_csv(path, sep="\t", comment="#")
    return sites.assign(sequence=sites["sequence"].str.upper().str.replace("T", "U", regex=False))


def read_input(path: str | Path) -> pd.DataFrame:
    """A FASTA, or a CSV with a ``sequence`` column (alias ``x``, ``seq``, ``splice_site``): 9-mers -3..+6 around the
    exon-intron junction, A/C/G/U (T read as U, N unknown), with G at +1 and U or C at +2 (NNNGYNNNN),
    the only form the MPSA library measured."""
    frame = read_table(path, required=("sequence",), aliases={"sequence": ("x", "seq", "splice_site")})
    frame["sequence"] = frame["sequence"].str.strip().str.upper().str.replace("T", "U", regex=False)
    check_values(
        frame, "sequence", lambda s: s.str.fullmatch(f"[ACGUN]{{{LENGTH}}}").fillna(False), path=str(path),
        problem=f"is not a {LENGTH}-mer of A/C/G/U/T/N", fix="give positions -3..+6 of the 5' splice site (9 letters)",
    )
    check_values(
        frame, "sequence", lambda s: s.str.slice(3, 5).isin(["GU", "GC"]), path=str(path),
        problem="does not have GU or GC at +1/+2 (letters 4-5)",
        fix="the model was trained on NNNGYNNNN sites only; align the 9-mer so the intron starts at letter 4",
    )
    return frame[["sequence"]]


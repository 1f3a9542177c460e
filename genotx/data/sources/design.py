"""Protein fitness landscapes for sequence design: a real viral deep mutational scan and AAV capsid tables.

* ``polyclonal_spike``: SARS-CoV-2 Omicron BA.1 spike, from the ``polyclonal==6.17`` sdist (Bloom
  lab; Dadonaite et al. 2023): the measured effect on cell entry of 10,521 single amino-acid changes
  at the 1,250 spike sites (``Omicron_BA.1_muteffects_observed.csv``; 11,771 rows with the 1,250
  wild-type rows) and the genotypes of the barcoded multi-mutant library Lib-2 (117,389 barcodes,
  63,899 distinct amino-acid substitution sets with the wild type). The package is under a **non-commercial** licence:
  the files are read at fetch time into the user's cache and never copied into genotx. The library
  file also holds antibody-escape probabilities; only the genotypes are kept (converted at fetch
  time to one row per distinct substitution set with its barcode count).
* ``polyclonal_spike_entry``: the same entry effects alone (the real single-mutant landscape).
* ``bryant2021_aav``: AAV2 capsid VP1 positions 561-588, ~297k variants with their packaging
  selection (Bryant et al. 2021), in the published ``allseqs_20191230.csv`` layout; ships in no
  registry package: the user's own copy (``use_local`` or ``GENOTX_SOURCE_BRYANT2021_AAV``).
* ``flip_aav``: a FLIP AAV split file (``sequence,target,set,validation``; Dallago et al. 2021),
  the user's own copy.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genotx.data.cache import atomic_path
from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

__all__ = ["POLYCLONAL_SPIKE", "POLYCLONAL_SPIKE_ENTRY", "BRYANT2021_AAV", "FLIP_AAV", "POLYCLONAL"]

POLYCLONAL = PackageFile(
    registry="pypi",
    name="polyclonal",
    version="6.17",
    sha256="feba6e5a60d2a38e6e0a220a75d2dd29a9611fa3b4d16fe1d4ba2ef6da4c1c81",
    sdist=True,
)
_NOTEBOOKS = "polyclonal-6.17/notebooks/"
_EFFECTS = _NOTEBOOKS + "Omicron_BA.1_muteffects_observed.csv"
_LIBRARY = _NOTEBOOKS + "Lib-2_2022-06-22_thaw-1_LyCoV-1404_1_prob_escape.csv"
_LICENCE = ("Fred Hutchinson Cancer Center licence of polyclonal: educational, academic research and not-for-profit "
            "use only; read at fetch time into your cache, never redistributed by genotx")
_CITATION = ("Dadonaite et al. (2023) Cell 186:1263-1278, doi:10.1016/j.cell.2023.02.001 (spike deep mutational "
             "scanning); Yu et al. polyclonal (Bloom lab)")
_ORIGIN = "https://github.com/jbloomlab/polyclonal/tree/main/notebooks"


def _convert_library(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """The barcode table (117,389 barcodes x 3 antibody concentrations) -> one row per distinct
    substitution set (sequential spike numbering) with its number of barcodes; the raw file is deleted."""
    raw = Path(files.pop("library"))
    table = pd.read_csv(raw, usecols=["barcode", "aa_substitutions_sequential"], dtype=str, keep_default_na=False)
    if table.empty:
        raise InputError(str(raw), "has no barcodes", fix="check the source declaration's package version")
    variants = (table.drop_duplicates("barcode").groupby("aa_substitutions_sequential", sort=True).size()
                .rename("n_barcodes").rename_axis("aa_substitutions").reset_index())
    out = folder / "spike_lib2_variants.csv"
    with atomic_path(out) as tmp:
        variants.to_csv(tmp, index=False)
    raw.unlink()
    return {**files, "library": out}


_EFFECTS_URL = "https://raw.githubusercontent.com/jbloomlab/polyclonal/main/notebooks/Omicron_BA.1_muteffects_observed.csv"


def _spike(id_: str, title: str, members: dict[str, str], notes: str, convert=None) -> Source:
    return declare(Source(id=id_, title=title, kind="real", licence=_LICENCE, citation=_CITATION, origin=_ORIGIN,
                          package=POLYCLONAL, members=members, upstream={"effects": _EFFECTS_URL}, convert=convert,
                          notes=notes))


POLYCLONAL_SPIKE = _spike(
    "polyclonal_spike",
    "SARS-CoV-2 BA.1 spike: entry effects of 10,521 single mutations and 63,899 library genotypes",
    {"effects": _EFFECTS, "library": _LIBRARY},
    "effects: sequential_site, reference_site, wildtype, mutant ('*' stop, '-' deletion), effect (observed scale, wild "
    "type 0), effect_std, times_seen, n_libraries, Lib-1/2/3 effect. library (converted): aa_substitutions (e.g. "
    "'S443P S1167P', sequential numbering), n_barcodes. The library's antibody-escape values are not used (barcode "
    "halves agree with Spearman ~0.1).",
    convert=_convert_library,
)
POLYCLONAL_SPIKE_ENTRY = _spike(
    "polyclonal_spike_entry",
    "SARS-CoV-2 BA.1 spike: measured cell-entry effects of 10,521 single amino-acid mutations",
    {"effects": _EFFECTS},
    "The entry-effect file of polyclonal_spike alone; per-library effects agree with Spearman ~0.8.",
)

BRYANT2021_AAV = declare(
    Source(
        id="bryant2021_aav",
        title="AAV2 capsid VP1 561-588 variants with packaging selection (Bryant 2021; your local file)",
        kind="real",
        licence="no licence stated upstream; your copy's terms apply",
        citation="Bryant et al. (2021) Nat Biotechnol 39:691-696, doi:10.1038/s41587-020-00793-4",
        origin="https://github.com/alibashir/aav (allseqs_20191230.csv.zip)",
        package=None,
        members={"sequences": "allseqs_20191230.csv"},
        upstream={"sequences": "https://github.com/alibashir/aav/raw/main/allseqs_20191230.csv.zip"},
        notes="Ships in no registry package: use_local('bryant2021_aav', {'sequences': path}) or "
        "GENOTX_SOURCE_BRYANT2021_AAV=<folder with allseqs_20191230.csv>. Columns read: sequence (the 28 region "
        "residues in upper case, inserted residues in lower case after their position), viral_selection "
        "(log2 enrichment), optional partition, is_viable. A zip-compressed copy is read as well.",
    )
)

FLIP_AAV = declare(
    Source(
        id="flip_aav",
        title="FLIP AAV split file (sequence, target, set, validation; your local file)",
        kind="real",
        licence="AFL-3.0 (FLIP splits); data from Bryant et al. 2021",
        citation="Dallago et al. (2021) FLIP: Benchmark tasks in fitness landscape inference for proteins, "
        "NeurIPS Datasets and Benchmarks; Bryant et al. (2021) Nat Biotechnol 39:691",
        origin="https://github.com/J-SNACKKB/FLIP/tree/main/splits/aav (splits.zip: des_mut.csv, two_vs_many.csv, ...)",
        package=None,
        members={"split": "aav_split.csv"},
        notes="Ships in no registry package: use_local('flip_aav', {'split': path}) or GENOTX_SOURCE_FLIP_AAV=<folder "
        "with aav_split.csv>. sequence = the full VP1 sequence (735 aa with the region 561-588 replaced; '*' kept "
        "as in the file), target = the GAS1 virus selection score, set = train/test, validation = True/False.",
    )
)


"""Multiplex assays of variant effect shipped with MAVE-NN (splicing MPSA, protein DMS) and the hg38
5' splice-site set shipped with logomaker.

All files are plain CSV/TSV members of pinned wheels; nothing is converted at fetch time. The
lac-promoter sort-seq file of the same MAVE-NN wheel is declared elsewhere (protein binding).
"""

from __future__ import annotations

from genotx.data.source import PackageFile, Source, declare

MAVENN = PackageFile(
    registry="pypi",
    name="mavenn",
    version="1.1.4",
    sha256="b54077ee40a94892ace26b609b1b6778bc906e14483d7e74f8258c9731871e57",
)
LOGOMAKER = PackageFile(
    registry="pypi",
    name="logomaker",
    version="0.8.7",
    sha256="8a65a5e5136a08823d199fbb5a9443674062a1c223236301accde19b0e401762",
)
_DATASETS = "mavenn/examples/datasets/"
_MAVENN_LICENCE = "MIT (MAVE-NN package); data from the cited study"
_MAVENN_ORIGIN = "https://github.com/jbkinney/mavenn/tree/master/mavenn/examples/datasets"
_MAVENN_CITATION = "Tareen et al. (2022) Genome Biol 23:98 (MAVE-NN)"


def _mavenn(id: str, title: str, member: str, citation: str, notes: str = "") -> Source:  # noqa: A002
    return declare(
        Source(
            id=id, title=title, kind="real", licence=_MAVENN_LICENCE,
            citation=f"{citation}; packaged by {_MAVENN_CITATION}", origin=_MAVENN_ORIGIN,
            package=MAVENN, members={"data": _DATASETS + member},
            upstream={"data": "https://raw.githubusercontent.com/jbkinney/mavenn/master/" + _DATASETS + member},
            notes=notes,
        )
    )


MAVENN_MPSA = _mavenn(
    "mavenn_mpsa", "MPSA 5' splice-site PSI of 30,483 NNNGYNNNN 9-mers (replicate 1)", "mpsa_data.csv.gz",
    "Wong et al. (2018) Mol Cell 71:1012", notes="y = log10((ex_ct+1)/(tot_ct+1)) + const; shipped `set` column.",
)
MAVENN_MPSA_REPLICATE = _mavenn(
    "mavenn_mpsa_replicate", "MPSA 5' splice-site PSI, replicate 2 (30,697 9-mers)", "mpsa_replicate_data.csv.gz",
    "Wong et al. (2018) Mol Cell 71:1012",
    notes="Its `set` labels disagree with mavenn_mpsa's (45% agree): never mix the two files' splits.",
)
MAVENN_TDP43 = _mavenn(
    "mavenn_tdp43", "TDP-43 (aa 290-373) single and double mutant toxicity DMS (57,996 variants)", "tdp43_data.csv.gz",
    "Bolognesi et al. (2019) Nat Commun 10:4183", notes="No wild-type row; `dy` is the standard error of `y`.",
)
MAVENN_ABETA = _mavenn(
    "mavenn_abeta", "Amyloid-beta 42 nucleation DMS (16,066 variants)", "amyloid_data.csv.gz",
    "Seuma et al. (2021) Nat Commun 12:7345", notes="No wild-type row; `dy` is the standard error of `y`.",
)
MAVENN_GB1 = _mavenn(
    "mavenn_gb1", "Protein GB1 IgG-binding double mutant DMS (530,737 variants)", "gb1_data.csv.gz",
    "Olson et al. (2014) Curr Biol 24:2643", notes="y = log2 enrichment; input_ct/selected_ct read counts.",
)
LOGOMAKER_HG38_5SS = declare(
    Source(
        id="logomaker_hg38_5ss",
        title="hg38 5' splice sites: 10,227 unique NNNGYNNNN 9-mers with genomic counts (GENCODE)",
        kind="real",
        licence="MIT (logomaker package); sites parsed from hg38 with GENCODE annotation",
        citation="Tareen & Kinney (2020) Bioinformatics 36:2272 (logomaker); Frankish et al. (2019) NAR 47:D766",
        origin="https://github.com/jbkinney/logomaker/tree/master/logomaker/examples/datafiles",
        package=LOGOMAKER,
        members={"sites": "logomaker/examples/datafiles/ss_sequences.txt"},
        upstream={
            "sites": "https://raw.githubusercontent.com/jbkinney/logomaker/master/"
            "logomaker/examples/datafiles/ss_sequences.txt"
        },
        notes="Tab-separated `sequence`, `count` with a `#` comment header; no PSI.",
    )
)

"""DNA-protein binding: sort-seq of lac-promoter variants, ChIP-seq peaks, and reference motifs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genotx.data.formats.fasta import read_fasta
from genotx.data.source import PackageFile, Source, declare

MAVENN_SORTSEQ = declare(
    Source(
        id="mavenn_sortseq",
        title="Sort-seq of 50,518 E. coli lac-promoter variants (75 nt, counts in 10 FACS bins)",
        kind="real",
        licence="MIT (MAVE-NN package); data from Kinney et al. 2010",
        citation="Kinney et al. (2010) PNAS 107:9158-9163, doi:10.1073/pnas.1004290107; "
        "MAVE-NN: Tareen et al. (2022) Genome Biol 23:98",
        origin="https://github.com/jbkinney/mavenn/tree/master/mavenn/examples/datasets",
        package=PackageFile(
            registry="pypi",
            name="mavenn",
            version="1.1.4",
            sha256="b54077ee40a94892ace26b609b1b6778bc906e14483d7e74f8258c9731871e57",
        ),
        members={"sortseq": "mavenn/examples/datasets/sortseq_data.csv.gz"},
        upstream={
            "sortseq": "https://raw.githubusercontent.com/jbkinney/mavenn/master/mavenn/examples/datasets/sortseq_data.csv.gz"
        },
        notes="Columns: set (training/validation/test, shipped by MAVE-NN), ct_0..ct_9 (reads per "
        "fluorescence bin, 0 = dimmest), x (75-nt sequence). 97% of sequences have one read.",
    )
)

KINNEY2010_CRP = declare(
    Source(
        id="kinney2010_crp",
        title="CRP energy matrix (26 positions x ACGT, kcal/mol) fitted on the lac sort-seq data",
        kind="real",
        licence="MIT (logomaker package); matrix from Kinney et al. 2010",
        citation="Kinney et al. (2010) PNAS 107:9158-9163; logomaker: Tareen & Kinney (2020) Bioinformatics 36:2272",
        origin="https://github.com/jbkinney/logomaker/tree/master/logomaker/examples/matrices",
        package=PackageFile(
            registry="pypi",
            name="logomaker",
            version="0.8.7",
            sha256="8a65a5e5136a08823d199fbb5a9443674062a1c223236301accde19b0e401762",
        ),
        members={"energy": "logomaker/examples/matrices/crp_energy_matrix.txt"},
        notes="Lower energy = stronger CRP binding. The reference for motif recovery on mavenn_sortseq.",
    )
)

JASPAR2024 = declare(
    Source(
        id="jaspar2024",
        title="JASPAR 2024 CORE transcription-factor binding profiles (SQLite)",
        kind="real",
        licence="MIT (pyjaspar package); JASPAR data CC BY 4.0",
        citation="Rauluseviciute et al. (2024) Nucleic Acids Res 52:D174; pyJASPAR: Khan (2021)",
        origin="https://jaspar.elixir.no/",
        package=PackageFile(
            registry="pypi",
            name="pyjaspar",
            version="4.0.0",
            sha256="01b393f668c3cb552d3d58262a50005b1410e389e0a6bf5d570e976fbdaf01b3",
        ),
        members={"sqlite": "pyjaspar/data/JASPAR2024.sqlite"},
        notes="Tables MATRIX (ID, BASE_ID, VERSION, NAME) and MATRIX_DATA (ID, row, col, val). "
        "Oct4 = MA1115 (POU5F1), Pou5f1::Sox2 = MA0142, MafK = MA0496.",
    )
)

_CHIP_FILES = {  # member name -> (label, set): sample = Oct4 peaks (1), sample2 = MafK peaks (0)
    "oct4_train": (1, "training"),
    "mafk_train": (0, "training"),
    "oct4_test": (1, "test"),
    "mafk_test": (0, "test"),
}


def _convert_janggu(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Read the four GPL-licensed FASTA files once into one table (id, sequence, label, set).

    Only sequences and the labels implied by the file names are kept; the package's files are
    removed from the cache after reading.
    """
    parts = []
    for member, (label, split) in _CHIP_FILES.items():
        frame = read_fasta(files[member])
        parts.append(frame.assign(label=label, set=split, factor="Oct4" if label else "MafK"))
    table = pd.concat(parts, ignore_index=True)
    path = folder / "chip_peaks.parquet"
    table.to_parquet(path, index=False)
    for member in _CHIP_FILES:
        Path(files.pop(member)).unlink()
    return {**files, "peaks": path}


JANGGU_CHIP = declare(
    Source(
        id="janggu_chip",
        title="Human ChIP-seq peaks, 200 bp: Oct4 (label 1) vs MafK (label 0), 3,997 + 4,000",
        kind="real",
        licence="GPL-3.0 (janggu package): read at fetch time into the user's cache, never redistributed by genotx",
        citation="Kopp et al. (2020) Nat Commun 11:3488 (janggu); peaks from ENCODE ChIP-seq",
        origin="https://github.com/BIMSBbioinfo/janggu/tree/master/src/janggu/resources",
        package=PackageFile(
            registry="pypi",
            name="janggu",
            version="0.10.2",
            sha256="3825abe65578509232fcaa1e56f9eb5d71de105d70c9bcc9551357adc7d2fc47",
        ),
        members={
            "oct4_train": "janggu/resources/sample.fa",
            "mafk_train": "janggu/resources/sample2.fa",
            "oct4_test": "janggu/resources/sample_test.fa",
            "mafk_test": "janggu/resources/sample2_test.fa",
        },
        convert=_convert_janggu,
        notes="Files sample.fa / sample_test.fa hold Oct4 peaks, sample2.fa / sample2_test.fa MafK "
        "peaks; the _test files are janggu's own held-out set (100 + 100).",
    )
)

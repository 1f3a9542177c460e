"""DNA methylation: whole-genome bisulfite sequencing counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.rdata import read_rda
from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

BSSEQ_COLUMNS = ("position", "m1", "cov1", "m2", "cov2")


def bsseq_counts(path: str | Path, *, name: str = "BS.chr22") -> pd.DataFrame:
    """The per-CpG counts of a two-sample ``BSseq`` object saved in an ``.rda`` file.

    Returns one row per CpG, sorted by position: ``position`` (1-based start), ``m1``/``cov1`` and
    ``m2``/``cov2`` (methylated reads and total reads of sample 1 and 2), all int32.
    """
    objects = read_rda(path)
    if name not in objects:
        raise InputError(str(path), f"has no object {name!r} (found {sorted(objects)})", fix="check the member")
    bs = objects[name]
    start = np.asarray(bs.rowRanges.ranges.start, dtype=np.int64)
    assays = bs.assays.data.listData
    m, cov = np.asarray(assays["M"]), np.asarray(assays["Cov"])
    if m.shape != cov.shape or m.shape != (len(start), 2):
        raise InputError(str(path), f"M {m.shape} / Cov {cov.shape} do not match {len(start)} CpGs x 2 samples",
                         fix="use the bsseq package's BS.chr22 object")
    if (m < 0).any() or (m > cov).any():
        raise InputError(str(path), "has methylated counts outside 0..coverage", fix="re-fetch the source")
    order = np.argsort(start, kind="stable")
    frame = pd.DataFrame({"position": start[order].astype(np.int32)})
    for j in range(2):
        frame[f"m{j + 1}"] = m[order, j].astype(np.int32)
        frame[f"cov{j + 1}"] = cov[order, j].astype(np.int32)
    if frame["position"].duplicated().any():
        raise InputError(str(path), "has duplicated CpG positions", fix="re-fetch the source")
    return frame


def _convert_bsseq(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Parse the ``BSseq`` S4 object once (no R code is run) and keep only a Parquet of counts."""
    frame = bsseq_counts(files["rda"])
    path = folder / "bs_chr22_counts.parquet"
    frame.to_parquet(path, index=False)
    Path(files.pop("rda")).unlink()
    return {**files, "counts": path}


BSSEQ_CHR22_IMR90 = declare(
    Source(
        id="bsseq_chr22_imr90",
        title="IMR90 whole-genome bisulfite sequencing, chr22 (hg18): 494,728 CpGs x 2 replicates (M, Cov)",
        kind="real",
        licence="Artistic-2.0 (bsseq package); data from Lister et al. 2009",
        citation="Lister et al. (2009) Nature 462:315-322, doi:10.1038/nature08514; "
        "bsseq: Hansen, Langmead & Irizarry (2012) Genome Biol 13:R83",
        origin="http://neomorph.salk.edu/human_methylome/ (IMR90); packaged as bsseq::BS.chr22",
        package=PackageFile(
            registry="debian",
            name="r-bioc-bsseq",
            version="1.34.0+dfsg-4",
            sha256="1f3153adc173a5792c79e7ed061b0b017245f9d29404dcc4482f9836dc90c16e",
        ),
        members={"rda": "usr/lib/R/site-library/bsseq/data/BS.chr22.rda"},
        convert=_convert_bsseq,
        notes="Strands are already combined per CpG (strand '*'). Columns: position, m1, cov1, m2, cov2.",
    )
)

"""variant_calling user files: a sample's aligned reads (BAM/SAM) + its reference in, a VCF out.

:func:`read_input` reads and checks every record of the BAM/SAM against the reference (an error
names the file, the record number and the read, before anything is written) and finds the
sample's candidates and their pileups; it reads nothing of the task's own data.
:func:`format_predictions` calls the sample with the fitted model (a genotyper on the candidates, or
a caller on the BAM itself) and :func:`write_predictions` writes the calls as VCF 4.2 (pysam).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genotx.bio.alignments import read_reference
from genotx.data.formats.vcf import write_vcf
from genotx.errors import InputError
from genotx.tasks.target_discovery.variant_calling.cohort import bam_pileups
from genotx.tasks.target_discovery.variant_calling.features import model_frame
from genotx.tasks.target_discovery.variant_calling.protocol import call_variants

__all__ = ["SampleReads", "SampleCalls", "read_input", "format_predictions", "write_predictions"]


@dataclass(frozen=True)
class SampleReads:
    """A user's sample: its alignments, the reference, the reference's contigs and the sample's
    candidates as the models' input (:func:`~.features.model_frame`)."""

    bam: Path
    reference: Path
    sample: str
    contigs: dict[str, int]
    candidates: pd.DataFrame


@dataclass(frozen=True)
class SampleCalls:
    """What :func:`write_predictions` writes: the calls of one sample and the VCF header's facts."""

    calls: pd.DataFrame
    sample: str
    contigs: dict[str, int]
    source: str


def _sample_name(bam: Path) -> str:
    """The BAM's read-group sample (SM) when there is exactly one, else the file's name."""
    import pysam

    try:
        with pysam.AlignmentFile(str(bam), "r", check_sq=False) as handle:
            groups = handle.header.to_dict().get("RG", [])
    except (ValueError, OSError):
        groups = []
    names = {g.get("SM") for g in groups if g.get("SM")}
    return names.pop() if len(names) == 1 else bam.name.split(".")[0]


def read_input(path: str | Path, *, reference: str | Path | None = None) -> SampleReads:
    """A sample's reads as BAM or SAM (sorted or not) aligned to ``reference`` (FASTA, plain or
    gzip; ``--reference ref.fa``); every record is checked, and the candidates and their pileups found."""
    path = Path(path)
    if reference is None:
        raise InputError(str(path), "variant calling needs the reference the reads were aligned to", fix="pass --reference ref.fa")
    genome = read_reference(reference)
    candidates, tensors = bam_pileups(path, genome)  # raises on a malformed record, before any output
    sample = _sample_name(path)
    frame = model_frame(candidates.assign(sample=sample), tensors, bam=str(path), reference=str(reference))
    return SampleReads(path, Path(reference), sample, {name: len(seq) for name, seq in genome.items()}, frame)


def format_predictions(reads: SampleReads, estimator) -> SampleCalls:
    """The sample's calls by the fitted model (genotype, QUAL, GQ, depth, alt count per call)."""
    calls = call_variants(estimator, reads.candidates, {reads.sample: (str(reads.bam), str(reads.reference))})[1]
    return SampleCalls(calls, reads.sample, reads.contigs, f"genotx variant_calling ({type(estimator).__name__})")


def write_predictions(result: SampleCalls, path: str | Path) -> None:
    """A VCF 4.2 of the calls (GT, GQ, DP, AD), one sample column named after the BAM's sample."""
    write_vcf(path, result.calls, contigs=result.contigs, sample=result.sample, source=result.source)

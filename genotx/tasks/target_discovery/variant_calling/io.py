"""variant_calling user files: a sample's aligned reads (BAM/SAM) + its reference in, a VCF out.

:func:`read_input` reads and checks every record of the BAM/SAM against the reference (an error
names the file, the record number and the read, before anything is written) and finds the
sample's candidates and their pileups; it reads nothing of the task's own data.
:func:`format_predictions` calls the sample with the fitted model (a genotyper on the candidates, or
a caller on the BAM itself) and :func:`write_predictions` writes the calls as VCF 4.2 (pysam).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genotx.bio.alignments import read_reference
from genotx.data.formats.text import check_path, open_text
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


#: widest stretch of reference one read may cover: the caller takes short DNA reads (a read image is one
#: row of that width, so 100 spliced reads skipping 1 Mb once took 3.8 GB)
MAX_READ_SPAN = 10_000
#: reads x widest span of one contig's read images (three one-byte arrays of that size)
MAX_IMAGE_CELLS = 400_000_000
_CIGAR = re.compile(r"^(\*|(\d+[MIDNSHP=X])+)$")


def _check_sam_text(path: Path) -> None:
    """A text SAM's records checked line by line before htslib reads them (htslib calls a malformed
    CIGAR a 'truncated file' and prints its own parse warning)."""
    with open_text(path, what="SAM file") as lines:
        for number, line in enumerate(lines, start=1):
            if line.startswith("@") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 11:
                raise InputError(str(path), f"{len(fields)} tab-separated fields, a SAM record has 11", line=number,
                                 fix="separate QNAME FLAG RNAME POS MAPQ CIGAR RNEXT PNEXT TLEN SEQ QUAL by tabs")
            for index, name in ((1, "FLAG"), (3, "POS"), (4, "MAPQ"), (7, "PNEXT")):
                if not fields[index].isdigit():
                    raise InputError(str(path), f"read {fields[0]!r}: {name} {fields[index]!r} is not a whole number", line=number,
                                     fix="write the SAM record as its aligner did")
            if not _CIGAR.match(fields[5]):
                raise InputError(str(path), f"read {fields[0]!r}: CIGAR {fields[5]!r} is not a CIGAR string", line=number,
                                 fix="use lengths followed by M, I, D, N, S, H, P, = or X (e.g. 50M2I48M), or '*'")


def _check_spans(path: Path) -> None:
    """Every mapped read covers a bounded stretch of its contig, so its read images fit in memory."""
    import pysam

    widest: dict[str, tuple[int, int]] = {}  # contig -> (reads, widest span)
    try:
        handle = pysam.AlignmentFile(str(path), "r", check_sq=False)
    except (OSError, ValueError):
        return  # not readable: read_alignments says why
    with handle:
        reads = handle.fetch(until_eof=True)
        number = 0
        while True:
            try:
                read = next(reads)
            except StopIteration:
                break
            except (OSError, ValueError):
                return  # truncated or corrupt: read_alignments names the record
            number += 1
            if read.is_unmapped or read.reference_end is None:
                continue
            span = read.reference_end - read.reference_start
            if span > MAX_READ_SPAN:
                skipped = sum(n for op, n in read.cigartuples or () if op == 3)
                why = f" (its CIGAR skips {skipped} bases: a spliced RNA alignment?)" if skipped else ""
                raise InputError(str(path), f"record {number} (read {read.query_name!r}) covers {span} bp of "
                                 f"{read.reference_name!r}{why}; this caller takes DNA reads of at most {MAX_READ_SPAN} bp",
                                 fix="align DNA reads without splicing (e.g. bwa mem), or drop that record")
            count, wide = widest.get(read.reference_name, (0, 0))
            widest[read.reference_name] = (count + 1, max(wide, span))
    for contig, (count, wide) in widest.items():
        if count * wide > MAX_IMAGE_CELLS:
            raise InputError(str(path), f"{count} reads on {contig!r}, the widest covering {wide} bp: too large to pile up at once",
                             fix="split the BAM by region (samtools view in.bam chr:start-end) and call each part")


@contextlib.contextmanager
def _quiet_htslib():
    """htslib's own notes ('[W::bam_hdr_read] EOF marker is absent', '[E::bgzf_read_block] ...') off while
    genotx reads a user's BAM: what is wrong is said once, by genotx's InputError."""
    import pysam

    before = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(before)


def _is_text_sam(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4)
    return not head.startswith(b"\x1f\x8b")  # BAM (and a gzipped SAM) are BGZF/gzip


def read_input(path: str | Path, *, reference: str | Path | None = None) -> SampleReads:
    """A sample's reads as BAM or SAM (sorted or not) aligned to ``reference`` (FASTA, plain or
    gzip; ``--reference ref.fa``); every record is checked, and the candidates and their pileups found.
    Reads are short DNA reads: one covering more than ``MAX_READ_SPAN`` bp of the reference (a
    spliced RNA alignment) is refused, so memory stays bounded."""
    path = check_path(path, what="BAM or SAM file")
    if reference is None:
        raise InputError(str(path), "variant calling needs the reference the reads were aligned to", fix="pass --reference ref.fa")
    if _is_text_sam(path):
        _check_sam_text(path)
    with _quiet_htslib():
        _check_spans(path)
        genome = read_reference(reference)
        candidates, tensors = bam_pileups(path, genome)  # raises on a malformed record, before any output
        sample = _sample_name(path)
    frame = model_frame(candidates.assign(sample=sample), tensors, bam=str(path), reference=str(reference))
    return SampleReads(path, Path(reference), sample, {name: len(seq) for name, seq in genome.items()}, frame)


def format_predictions(reads: SampleReads, estimator) -> SampleCalls:
    """The sample's calls by the fitted model (genotype, QUAL, GQ, depth, alt count per call)."""
    with _quiet_htslib():
        calls = call_variants(estimator, reads.candidates, {reads.sample: (str(reads.bam), str(reads.reference))})[1]
    return SampleCalls(calls, reads.sample, reads.contigs, f"genotx variant_calling ({type(estimator).__name__})")


def write_predictions(result: SampleCalls, path: str | Path) -> None:
    """A VCF 4.2 of the calls (GT, GQ, DP, AD), one sample column named after the BAM's sample."""
    write_vcf(path, result.calls, contigs=result.contigs, sample=result.sample, source=result.source)

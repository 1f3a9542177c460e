"""Aligned reads (BAM/SAM) in and out, and the reference they were aligned to.

* :func:`read_reference` reads a (gzip) FASTA reference into ``{contig: sequence}`` (IUPAC codes
  other than ACGT become N).
* :func:`read_alignments` reads a BAM or SAM file into one :class:`ReadImages` per contig: each
  primary, mapped read as a row of reference-coordinate arrays (base, quality, insertion after the
  position), its strand, mapping quality and its indels (VCF-style, left-normalised). Unmapped,
  secondary, supplementary, duplicate and QC-failed records are skipped; soft-clipped bases are not
  placed. Every malformed record raises :class:`~genotx.errors.InputError` naming the file, the
  record number and the read name: a truncated or unreadable file, a read on a contig missing from
  the reference, a read without sequence or qualities, a CIGAR whose length disagrees with the
  sequence, a read running past the contig end.
* :func:`write_bam` writes coordinate-sorted, indexed BAM records from arrays (pysam).

Codes in ``ReadImages.base``: -1 not covered, 0..3 = A C G T, 4 = N, 5 = deleted base.
"""

from __future__ import annotations

import warnings
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from genotx.data.formats.fasta import iter_fasta
from genotx.errors import InputError
from genotx.seq.codes import decode_bases as decode, encode_bases as encode
from genotx.seq.variants import normalize_variant

__all__ = ["ReadImages", "read_reference", "read_alignments", "write_bam", "DELETED", "UNCOVERED"]

UNCOVERED, DELETED = -1, 5
IUPAC = "ACGTNRYKMSWBDHVU"
_SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x400 | 0x800
_MAX_INSERT = 255


def read_reference(path: str | Path) -> dict[str, str]:
    """``{contig name: upper-case sequence}`` of a FASTA file; non-ACGT letters become N."""
    out = {}
    for name, sequence in iter_fasta(path, alphabet=IUPAC):
        out[name] = sequence.translate(str.maketrans("RYKMSWBDHVU", "NNNNNNNNNNN"))
    return out


@dataclass(frozen=True)
class ReadImages:
    """The reads of one contig as reference-coordinate arrays (rows sorted by start).

    ``base``/``qual``/``insert`` are (n_reads, span); column j is reference position ``start + j``;
    ``insert`` is the length of an insertion right after that position. ``indels`` lists each read's
    indels: ``read`` (row), ``pos`` (0-based anchor), ``ref``, ``alt``.
    """

    contig: str
    names: np.ndarray
    start: np.ndarray
    end: np.ndarray
    reverse: np.ndarray
    mapq: np.ndarray
    base: np.ndarray
    qual: np.ndarray
    insert: np.ndarray
    indels: pd.DataFrame

    def __len__(self) -> int:
        return len(self.start)


def _bad(path: Path, number: int, name: str, problem: str, fix: str) -> InputError:
    return InputError(str(path), f"record {number} (read {name!r}): {problem}", fix=fix)


def _open(path: Path) -> tuple[pysam.AlignmentFile, bool]:
    """The open file and whether htslib found it truncated (no BGZF end-of-file marker)."""
    if not path.exists():
        raise InputError(str(path), "file not found", fix="check the path of the BAM/SAM file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handle = pysam.AlignmentFile(str(path), "r", check_sq=False, ignore_truncation=True)
    except (ValueError, OSError) as error:
        raise InputError(str(path), f"is not a readable BAM/SAM file ({error})",
                         fix="give a BAM or SAM file with a header (samtools view -h)") from None
    return handle, any("truncated" in str(w.message) for w in caught)


def read_alignments(path: str | Path, reference: dict[str, str]) -> dict[str, ReadImages]:
    """Read a BAM/SAM into ``{contig: ReadImages}`` (only contigs that have reads)."""
    path = Path(path)
    rows: dict[str, list] = {}
    handle, truncated = _open(path)
    try:
        number, name = 0, "(none)"
        iterator = handle.fetch(until_eof=True)
        while True:
            try:
                read = next(iterator)
            except StopIteration:
                break
            except (OSError, ValueError) as error:
                raise InputError(str(path), f"record {number + 1} (after read {name!r}) cannot be read: {error}",
                                 fix="the file is truncated or corrupt; re-create it (samtools view -b) or check the download") from None
            number += 1
            name = read.query_name or "(unnamed)"
            if read.flag & _SKIP_FLAGS:
                continue
            contig = read.reference_name
            if contig not in reference:
                raise _bad(path, number, name, f"is on contig {contig!r}, which is not in the reference "
                           f"(reference contigs: {', '.join(list(reference)[:5])}{'...' if len(reference) > 5 else ''})",
                           "give the reference FASTA the reads were aligned to")
            sequence = read.query_sequence
            if not sequence:
                raise _bad(path, number, name, "has no sequence (SEQ is '*')", "keep read sequences in the BAM (no --no-seq)")
            quals = read.query_qualities
            if quals is None:
                raise _bad(path, number, name, "has no base qualities (QUAL is '*')", "keep base qualities in the BAM")
            cigar = read.cigartuples
            if not cigar:
                raise _bad(path, number, name, "is mapped but has no CIGAR", "re-align the reads")
            consumed = sum(n for op, n in cigar if op in (0, 1, 4, 7, 8))
            if consumed != len(sequence):
                raise _bad(path, number, name, f"CIGAR {read.cigarstring} covers {consumed} bases but the sequence has {len(sequence)}",
                           "fix or drop the record; the CIGAR and SEQ must agree")
            length = len(reference[contig])
            if read.reference_end is None or read.reference_end > length:
                raise _bad(path, number, name, f"runs past the end of contig {contig!r} ({read.reference_end} > {length})",
                           "give the reference the reads were aligned to")
            rows.setdefault(contig, []).append(
                (name, read.reference_start, read.reference_end, read.is_reverse, read.mapping_quality, sequence,
                 np.frombuffer(bytes(quals), dtype=np.uint8) if not isinstance(quals, np.ndarray) else quals, cigar)
            )
    finally:
        try:
            handle.close()
        except OSError:
            pass
    if truncated:
        raise InputError(str(path), f"is truncated: it ends after record {number} (read {name!r}) without the BGZF end-of-file marker",
                         fix="re-create the file (samtools view -b) or check the download")
    return {contig: _images(contig, entries, reference[contig]) for contig, entries in rows.items()}


def _images(contig: str, entries: list, sequence: str) -> ReadImages:
    entries.sort(key=lambda e: e[1])
    n = len(entries)
    starts = np.fromiter((e[1] for e in entries), np.int64, n)
    ends = np.fromiter((e[2] for e in entries), np.int64, n)
    span = int((ends - starts).max()) if n else 1
    base = np.full((n, span), UNCOVERED, np.int8)
    qual = np.zeros((n, span), np.uint8)
    insert = np.zeros((n, span), np.uint8)
    seen: dict[tuple[int, str, str], tuple[int, str, str]] = {}

    def _normalized(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
        if (pos, ref, alt) not in seen:
            seen[pos, ref, alt] = normalize_variant(pos, ref, alt, sequence)
        return seen[pos, ref, alt]

    indel_rows = []
    for r, (name, start, end, reverse, mapq, seq, q, cigar) in enumerate(entries):
        codes = encode(seq)
        qp, rp = 0, 0  # query position, reference offset from start
        for op, length in cigar:
            if op in (0, 7, 8):  # M = X
                base[r, rp : rp + length] = codes[qp : qp + length]
                qual[r, rp : rp + length] = q[qp : qp + length]
                qp += length
                rp += length
            elif op == 1:  # insertion after reference position start + rp - 1
                if rp > 0:
                    insert[r, rp - 1] = min(length, _MAX_INSERT)
                    anchor = start + rp - 1
                    indel_rows.append((r, *_normalized(anchor, sequence[anchor], sequence[anchor] + seq[qp : qp + length])))
                qp += length
            elif op in (2, 3):  # deletion / skipped reference
                base[r, rp : rp + length] = DELETED
                if op == 2 and rp > 0:
                    anchor = start + rp - 1
                    indel_rows.append((r, *_normalized(anchor, sequence[anchor : anchor + length + 1], sequence[anchor])))
                rp += length
            elif op == 4:  # soft clip: bases not placed
                qp += length
    indels = pd.DataFrame(indel_rows, columns=["read", "pos", "ref", "alt"])
    return ReadImages(
        contig=contig,
        names=np.array([e[0] for e in entries], dtype=object),
        start=starts, end=ends,
        reverse=np.fromiter((e[3] for e in entries), bool, n),
        mapq=np.fromiter((e[4] for e in entries), np.uint8, n),
        base=base, qual=qual, insert=insert, indels=indels,
    )


def write_bam(
    path: str | Path,
    *,
    contig: str,
    reference: str,
    names: list[str],
    bases: np.ndarray,
    quals: np.ndarray,
    start: np.ndarray,
    reverse: np.ndarray,
    mapq: np.ndarray,
    cigars: list[str],
    sample: str = "sample",
) -> Path:
    """Write reads (bases/quals already in reference orientation) as a sorted, indexed BAM."""
    path = Path(path)
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": contig, "LN": len(reference)}],
              "RG": [{"ID": sample, "SM": sample, "PL": "ILLUMINA"}], "PG": [{"ID": "genotx", "PN": "genotx"}]}
    order = np.lexsort((np.arange(len(start)), np.where(start < 0, np.iinfo(np.int64).max, start)))
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in order:
            a = pysam.AlignedSegment(out.header)
            a.query_name = names[r]
            a.query_sequence = decode(bases[r])
            a.query_qualities = array("B", np.asarray(quals[r], np.uint8).tobytes())
            a.set_tag("RG", sample)
            if start[r] < 0 or cigars[r] == "*":
                a.flag = 4
                a.reference_id = -1
                a.reference_start = -1
            else:
                a.flag = 16 if reverse[r] else 0
                a.reference_id = 0
                a.reference_start = int(start[r])
                a.mapping_quality = int(mapq[r])
                a.cigarstring = cigars[r]
            out.write(a)
    pysam.index(str(path))
    return path

"""Variant calls in VCF: a checked reader for single-sample calls and a pysam writer.

:func:`read_vcf` reads a plain or gzip/bgzip VCF into a DataFrame with columns
``contig pos ref alt genotype qual filter`` (``pos`` 0-based; one row per ALT allele, multi-allelic
records split; ``genotype`` = copies of that ALT in the first sample's GT, or 1 when there is no
sample). Each line is checked and a malformed one raises :class:`~genotx.errors.InputError` naming the
file and line: fewer than 8 columns, a non-integer or < 1 POS, REF/ALT letters outside ACGTN (symbolic
``<*>`` alleles and ``*`` are skipped), a GT that is not ``a/b`` or ``a|b`` with valid allele indices.

:func:`write_vcf` writes calls (same columns, plus optional ``gq``, ``depth``, ``alt_count``) as VCF
4.2 through pysam, sorted, with the contigs of the reference in the header.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from genotx.data.formats.text import open_text
from genotx.errors import InputError, shorten

__all__ = ["read_vcf", "write_vcf", "CALL_COLUMNS"]

CALL_COLUMNS = ["contig", "pos", "ref", "alt", "genotype", "qual", "filter"]
_ALLELE = re.compile(r"^[ACGTNacgtn]+$")
_GT = re.compile(r"^(\.|\d+)(?:[/|](\.|\d+))*$")


def _lines(path: Path):
    """Numbered lines of a plain, gzip or bgzip VCF (not UTF-8, NUL bytes or a damaged gzip: InputError naming the line)."""
    with open_text(path, what="VCF file") as handle:
        yield from enumerate(handle, start=1)


def read_vcf(path: str | Path) -> pd.DataFrame:
    """Single-sample calls of a VCF file (see the module docstring for the checks).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.vcf"
    >>> _ = p.write_text("##fileformat=VCFv4.2\\n#CHROM\\tPOS\\tID\\tREF\\tALT\\tQUAL\\tFILTER\\tINFO\\tFORMAT\\ts\\n"
    ...                  "1\\t5\\t.\\tA\\tG,AT\\t50\\tPASS\\t.\\tGT\\t1/2\\n")
    >>> read_vcf(p)[["pos", "ref", "alt", "genotype"]].values.tolist()
    [[4, 'A', 'G', 1], [4, 'A', 'AT', 1]]
    >>> _ = p.write_text("#CHROM\\tPOS\\tID\\tREF\\tALT\\tQUAL\\tFILTER\\tINFO\\n1\\tfive\\t.\\tA\\tG\\t.\\t.\\t.\\n")
    >>> read_vcf(p)
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...c.vcf, line 2: POS 'five' is not a positive integer below 2^31. Fix: ...
    """
    path = Path(path)
    rows, header_seen = [], False
    for line_no, line in _lines(path):
        line = line.rstrip("\r\n")
        if not line or line.startswith("##"):
            continue
        if line.startswith("#"):
            header_seen = True
            continue
        if not header_seen:
            raise InputError(str(path), "a record comes before the '#CHROM' header line", line=line_no,
                             fix="write VCF with its '#CHROM POS ID REF ALT QUAL FILTER INFO' header")
        fields = line.split("\t")
        if len(fields) < 8:
            raise InputError(str(path), f"{len(fields)} tab-separated columns, a VCF record needs at least 8", line=line_no,
                             fix="separate columns by tabs: CHROM POS ID REF ALT QUAL FILTER INFO [FORMAT sample]")
        contig, pos_text, _, ref, alts = fields[:5]
        # ASCII digits only (str.isdigit accepts '²'), and at most 2**31 - 1 as the VCF specification bounds POS
        if not (pos_text.isascii() and pos_text.isdigit()) or not 1 <= int(pos_text) < 2**31:
            raise InputError(str(path), f"POS {shorten(pos_text)!r} is not a positive integer below 2^31", line=line_no,
                             fix="POS is the 1-based position")
        if not _ALLELE.match(ref):
            raise InputError(str(path), f"REF {ref!r} has letters outside ACGTN", line=line_no, fix="REF must be reference bases")
        qual = math.nan if fields[5] == "." else _number(fields[5], path, line_no)
        alleles = alts.split(",")
        copies = [1] * len(alleles)
        if len(fields) >= 10:
            keys = fields[8].split(":")
            if "GT" in keys:
                values = fields[9].split(":")
                gt = values[keys.index("GT")] if keys.index("GT") < len(values) else "."
                if not _GT.match(gt):
                    raise InputError(str(path), f"GT {gt!r} is not like 0/1 or 1|1", line=line_no, fix="write genotypes as a/b allele indices")
                indices = [int(a) for a in re.split(r"[/|]", gt) if a != "."]
                if any(a > len(alleles) for a in indices):
                    raise InputError(str(path), f"GT {gt!r} names allele {max(indices)} but ALT has {len(alleles)}", line=line_no,
                                     fix="GT indices count REF as 0 and ALT alleles from 1")
                copies = [indices.count(k + 1) for k in range(len(alleles))]
        for alt, n in zip(alleles, copies):
            if alt in ("*", "<*>", "<NON_REF>", "."):
                continue
            if not _ALLELE.match(alt):
                if alt.startswith("<"):
                    continue
                raise InputError(str(path), f"ALT {alt!r} has letters outside ACGTN", line=line_no, fix="ALT must be bases or <symbolic>")
            if n > 0:
                rows.append((contig, int(pos_text) - 1, ref.upper(), alt.upper(), n, qual, fields[6]))
    if not header_seen:
        raise InputError(str(path), "no '#CHROM' header line: not a VCF file", fix="give a VCF file")
    return pd.DataFrame(rows, columns=CALL_COLUMNS).astype({"pos": np.int64, "genotype": np.int64, "qual": float})


def _number(text: str, path: Path, line_no: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(str(path), f"QUAL {text!r} is not a number", line=line_no, fix="QUAL is a number or '.'") from None


def write_vcf(path: str | Path, calls: pd.DataFrame, *, contigs: dict[str, int], sample: str, source: str = "genotx") -> Path:
    """Write ``calls`` (``contig pos ref alt genotype`` [+ ``qual gq depth alt_count``]) as VCF 4.2."""
    header = pysam.VariantHeader()
    header.add_line("##fileformat=VCFv4.2")
    header.add_line(f"##source={source}")
    for name, length in contigs.items():
        header.contigs.add(name, length=int(length))
    header.formats.add("GT", 1, "String", "Genotype")
    header.formats.add("GQ", 1, "Integer", "Genotype quality (Phred)")
    header.formats.add("DP", 1, "Integer", "Read depth at the candidate")
    header.formats.add("AD", "R", "Integer", "Reads supporting REF (approximate: depth - alt) and ALT")
    header.add_sample(sample)
    calls = calls.sort_values(["contig", "pos", "ref", "alt"], key=lambda s: s.map(list(contigs).index) if s.name == "contig" else s)
    with pysam.VariantFile(str(path), "w", header=header) as out:
        for row in calls.itertuples(index=False):
            record = out.new_record(contig=row.contig, start=int(row.pos), alleles=(row.ref, row.alt))
            qual = getattr(row, "qual", float("nan"))
            if qual == qual:
                record.qual = float(qual)
            record.samples[sample]["GT"] = (0, 1) if int(row.genotype) == 1 else (1, 1)
            if hasattr(row, "gq"):
                record.samples[sample]["GQ"] = int(row.gq)
            if hasattr(row, "depth"):
                record.samples[sample]["DP"] = int(row.depth)
                if hasattr(row, "alt_count"):
                    record.samples[sample]["AD"] = (max(int(row.depth) - int(row.alt_count), 0), int(row.alt_count))
            out.write(record)
    return Path(path)

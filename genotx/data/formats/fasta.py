"""FASTA files: a streaming reader whose errors name the file, the line and the record.

Accepted: plain or gzip-compressed (``.gz``) text; one ``>name [description]`` header per record;
the sequence on one or several lines; blank lines, Windows line endings and lower case accepted
(sequences are returned upper-case). Letters are checked against ``alphabet`` line by line, so a
wrong character is reported with its record name, line and column before anything else is done.

* :func:`iter_fasta` yields ``(name, sequence)`` one record at a time (constant memory);
* :func:`read_fasta` returns a ``pandas.DataFrame`` with columns ``name`` and ``sequence``;
* :func:`looks_like_fasta` tells a FASTA file from a table by its first non-blank character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from genotx.data.formats.text import open_text
from genotx.errors import InputError

__all__ = ["iter_fasta", "fasta_records", "read_fasta", "looks_like_fasta", "header_lines", "DNA"]

DNA = "ACGTN"  # default alphabet: DNA with N for unknown bases


def _open_text(path: Path):
    return open_text(path, what="FASTA file")


def looks_like_fasta(path: str | Path) -> bool:
    """True if the first non-blank character of the (possibly gzipped) file is ``>``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("\\n>seq1\\nACGT\\n")
    >>> looks_like_fasta(p)
    True
    """
    with _open_text(Path(path)) as handle:
        try:
            for line in handle:
                if line.strip():
                    return line.lstrip().startswith(">")
        except InputError:  # not text: not FASTA either (the caller's reader says why)
            return False
    return False


def iter_fasta(path: str | Path, *, alphabet: str = DNA) -> Iterator[tuple[str, str]]:
    """Yield ``(name, sequence)`` per record; ``name`` is the header's first word.

    Raises :class:`~genotx.errors.InputError` naming the file and line for: a sequence line before
    any header, a header without a name, a name given to two records, a record without sequence, a
    character outside ``alphabet`` (case-insensitive), bytes that are not UTF-8 text or a damaged gzip.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.fa"
    >>> _ = p.write_text(">a first\\nACG\\ntt\\n\\n>b\\nNNAC\\n")
    >>> list(iter_fasta(p))
    [('a', 'ACGTT'), ('b', 'NNAC')]
    >>> _ = p.write_text(">a\\nACGT\\n>b\\nACXT\\n")
    >>> list(iter_fasta(p))
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...x.fa, line 4: record 'b': character 'X' at column 3 is not one of ACGTN. Fix: use only ACGTN (N for an unknown base)
    """
    path = Path(path)
    with _open_text(path) as handle:
        for name, sequence, _ in fasta_records(enumerate(handle, start=1), str(path), alphabet=alphabet):
            yield name, sequence


def fasta_records(lines: Iterable[tuple[int, str]], where: str, *, alphabet: str = DNA) -> Iterator[tuple[str, str, int]]:
    """``(name, sequence, header line)`` per record of numbered text lines (the parser behind :func:`iter_fasta`).

    Examples
    --------
    >>> list(fasta_records(enumerate([">a", "AC", ">a", "GT"], start=1), "x.fa"))
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: x.fa, line 3: record name 'a' was already used on line 1. Fix: give every record its own name
    """
    allowed = set(alphabet.upper()) | set(alphabet.lower())
    bad_char = re.compile("[^" + re.escape("".join(sorted(allowed))) + "]")
    name: str | None = None
    header_line = 0
    chunks: list[str] = []
    seen: dict[str, int] = {}  # a second record of one name would silently replace the first downstream
    for line_no, line in lines:
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            if name is not None:
                yield name, _finish(where, name, header_line, chunks), header_line
            words = line[1:].split()
            if not words:
                raise InputError(where, "header '>' has no record name", line=line_no, fix="write '>name' before each sequence")
            name, header_line, chunks = words[0], line_no, []
            if name in seen:
                raise InputError(where, f"record name {name!r} was already used on line {seen[name]}", line=line_no,
                                 fix="give every record its own name")
            seen[name] = line_no
            continue
        if name is None:
            raise InputError(
                where, "sequence line before any '>' header", line=line_no,
                fix="start the file with a header line such as '>seq1' (or give a CSV with a 'sequence' column)",
            )
        line = line.replace(" ", "")
        found = bad_char.search(line)
        if found:
            raise InputError(
                where, f"record {name!r}: character {found.group()!r} at column {found.start() + 1} is not one of {alphabet}",
                line=line_no, fix=f"use only {alphabet}" + (" (N for an unknown base)" if "N" in alphabet else ""),
            )
        chunks.append(line.upper())
    if name is None:
        raise InputError(where, "no FASTA records ('>' headers) found", fix="write '>name' lines followed by sequence lines")
    yield name, _finish(where, name, header_line, chunks), header_line


def _finish(where: str, name: str, header_line: int, chunks: list[str]) -> str:
    sequence = "".join(chunks)
    if not sequence:
        raise InputError(where, f"record {name!r} has no sequence", line=header_line, fix="add its sequence below the header or remove the record")
    return sequence


def read_fasta(path: str | Path, *, alphabet: str = DNA, length: int | None = None) -> pd.DataFrame:
    """All records as a DataFrame (``name``, ``sequence``); ``length`` demands one exact length.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.fa"
    >>> _ = p.write_text(">a\\nACGT\\n>b\\nACG\\n")
    >>> read_fasta(p)["sequence"].tolist()
    ['ACGT', 'ACG']
    >>> read_fasta(p, length=4)
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...x.fa, line 3: record 'b' has length 3, expected 4. Fix: give sequences of exactly 4 letters
    """
    path = Path(path)
    with _open_text(path) as handle:
        records = list(fasta_records(enumerate(handle, start=1), str(path), alphabet=alphabet))
    names, sequences, lines = ([r[i] for r in records] for i in range(3))
    frame = pd.DataFrame({"name": names, "sequence": sequences})
    if length is not None:
        wrong = frame["sequence"].str.len() != length
        if wrong.any():
            row = int(wrong.to_numpy().nonzero()[0][0])
            raise InputError(
                str(path), f"record {names[row]!r} has length {len(sequences[row])}, expected {length}",
                line=lines[row], fix=f"give sequences of exactly {length} letters",
            )
    return frame


def header_lines(path: Path) -> list[int]:
    """Line numbers of the headers (a second pass, only when an error must name a line)."""
    with _open_text(path) as handle:
        return [i for i, line in enumerate(handle, start=1) if line.lstrip().startswith(">")]

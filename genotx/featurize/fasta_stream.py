"""Stream FASTA (and CSV) files into sequence features in bounded memory.

A FASTA file is read in binary chunks (``chunk_bytes``, 8 MiB by default) that always end at a
record boundary; a record longer than a chunk grows the buffer, so records may span any number of
reads. Each chunk is parsed with numpy only: one scan for newlines, headers are the lines starting
with ``>``, and for the common layout (one sequence line per record, all of one length) the
sequences are gathered straight out of the read buffer as ``(n, length)`` rows without per-line
Python. Wrapped or ragged records take a slower general path (newlines deleted with
``bytes.translate``). The rows then go through the same kernels as :mod:`genotx.seq.codes`
(same alphabets, same N/X rule, same errors, here naming the file, record, position and line).

Record names are the header up to its first whitespace. ``\\r\\n`` line ends, blank lines and
``.gz`` files are accepted. Peak memory is about two chunks plus what is returned: use the
``iter_*`` functions to process files larger than memory batch by batch.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genotx.errors import InputError
from genotx.seq.codes import _bad_character, _check_k, _check_out, _codec, _count_block, _indices_flat, _one_hot_flat

__all__ = ["FastaBatch", "iter_fasta", "count_fasta_records", "fasta_one_hot", "iter_fasta_one_hot", "fasta_kmer_counts", "iter_csv_one_hot"]

CHUNK_BYTES = 8 << 20  # small chunks keep parse temporaries in recycled heap memory (no page faults)
_NL, _CR, _GT = 10, 13, 62


@dataclass(frozen=True)
class FastaBatch:
    """Complete records of one chunk: names, sequence bytes (newlines removed) and where they came from.

    ``codes[offsets[i]:offsets[i + 1]]`` are the ASCII bytes of record ``first + i``; ``lines[i]`` is
    the 1-based line of its header. ``seg_starts``/``seg_lines`` map an offset in ``codes`` back to
    the file line that holds it (for error messages).
    """

    names: list[str]
    codes: np.ndarray
    offsets: np.ndarray
    first: int
    lines: np.ndarray
    seg_starts: np.ndarray
    seg_lines: np.ndarray
    nbytes: int = 0  # size of the file text the batch was parsed from

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def line_of(self, offset: int) -> int:
        """File line (1-based) holding byte ``offset`` of ``codes``."""
        return int(self.seg_lines[np.searchsorted(self.seg_starts, offset, side="right") - 1])

    def rows(self, where: str) -> np.ndarray:
        """The sequences as a ``(n, length)`` uint8 array; all records must have one length."""
        lengths = np.diff(self.offsets)
        if len(lengths) and (lengths != lengths[0]).any():
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise InputError(
                where, f"record {self.first + bad} ({self.names[bad]!r}) has length {lengths[bad]}, record {self.first} has {lengths[0]}",
                line=int(self.lines[bad]), fix="use records of one length (or fasta_kmer_counts)",
            )
        return self.codes.reshape(len(lengths), int(lengths[0]) if len(lengths) else 0)


def _open(path: str | os.PathLike):
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such file", fix="check the path")
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_chunks(path: str | os.PathLike, chunk_bytes: int) -> Iterator[bytes | memoryview]:
    """Yield buffers of whole records (each ends with a newline); the last record may span reads."""
    if chunk_bytes < 1:
        raise InputError("chunk_bytes", f"expected a positive size, got {chunk_bytes}", fix="use e.g. 64 << 20")
    with _open(path) as handle:
        size = chunk_bytes if str(path).endswith(".gz") else min(chunk_bytes, os.path.getsize(path) + 1)
        buf = bytearray(max(size, 1))
        filled, eof = 0, False
        while not eof:
            with memoryview(buf) as view:
                while filled < len(buf):
                    got = handle.readinto(view[filled:])
                    if not got:
                        eof = True
                        break
                    filled += got
            if eof:
                if filled:
                    yield bytes(buf[:filled]) + (b"" if buf[filled - 1] == _NL else b"\n")
                return
            cut = buf.rfind(b"\n>", 0, filled) + 1  # start of the last (maybe incomplete) record
            if cut <= 0:  # one record fills the buffer: grow it and read on
                buf = buf + bytearray(len(buf))
                continue
            with memoryview(buf) as view:  # zero-copy; parsed (and copied out) before the buffer moves on
                yield view[:cut]
            buf[: filled - cut] = buf[cut:filled]
            filled -= cut


def _line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, before ``\\r\\n``) of every line of a buffer that ends with a newline."""
    newlines = np.flatnonzero(buf == _NL)
    starts = np.empty_like(newlines)
    starts[:1] = 0
    starts[1:] = newlines[:-1] + 1
    if not (buf == _CR).any():  # no Windows line ends: skip the per-line check
        return starts, newlines
    carriage = (newlines > starts) & (buf[np.maximum(newlines - 1, 0)] == _CR)
    return starts, newlines - carriage


def _header_ids(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """Header text after ``>`` up to the first whitespace, for many headers at once (no per-header Python)."""
    if not len(starts):
        return []
    # every header's text plus one separator byte, gathered in one go and split by str.split in C
    lengths = ends - starts  # text after '>' plus one byte (the newline or '\r') used as separator
    base = np.cumsum(lengths) - lengths
    text = buf[np.repeat(starts + 1 - base, lengths) + np.arange(int(lengths.sum()))]
    text[base + lengths - 1] = _NL
    blank = (text == 32) | (text == 9)
    if blank.any():  # descriptions: cut each header at its first space or tab
        space = np.append(np.flatnonzero(blank), len(text))
        cut = np.minimum(space[np.searchsorted(space, base)], base + lengths - 1)
        keep = np.zeros(len(text) + 1, dtype=np.int8)
        np.add.at(keep, cut, 1)  # inside [cut, end of header): dropped
        np.add.at(keep, base + lengths - 1, -1)
        text = text[np.cumsum(keep[:-1]) == 0]
    return text.tobytes().decode("utf-8", errors="replace").split("\n")[:-1]


def _parse(chunk: bytes | memoryview, *, first: int, line0: int, where: str, names: bool) -> tuple[FastaBatch, int]:
    """Parse one buffer of whole records; returns the batch and the number of lines consumed."""
    buf = np.frombuffer(chunk, dtype=np.uint8)
    starts, ends = _line_bounds(buf)
    nonempty = ends > starts
    header = nonempty & (buf[np.minimum(starts, len(buf) - 1)] == _GT)
    head = np.flatnonzero(header)
    if nonempty.any() and (not len(head) or np.argmax(nonempty) < head[0]):
        line = line0 + int(np.argmax(nonempty))
        raise InputError(where, "sequence data before the first '>' header", line=line, fix="start every record with a '>name' line")
    ids = _header_ids(buf, starts[head], ends[head]) if names else []
    n = len(head)
    lines = line0 + head
    following = np.minimum(head + 1, len(starts) - 1)
    seq = np.flatnonzero(nonempty & ~header)
    single = len(seq) == n and (n == 0 or (seq == head + 1).all())
    if single:  # one sequence line per record: gather rows straight out of the buffer
        begin, length = starts[following], ends[following] - starts[following]
        if n and (length == length[0]).all():
            width = int(length[0])
            window = np.lib.stride_tricks.as_strided(buf, shape=(len(buf) - width + 1, width), strides=(1, 1), writeable=False)
            codes = window[begin].reshape(-1) if width else np.zeros(0, dtype=np.uint8)
            offsets = np.arange(n + 1, dtype=np.int64) * width
            batch = FastaBatch(ids, codes, offsets, first, lines, offsets[:-1], lines + 1, len(buf))
            return batch, len(starts)
    # general path: sequence lines of any widths; drop newlines, then cut out each record
    record = np.cumsum(header)[seq] - 1
    seg_len = ends[seq] - starts[seq]
    packed = b"".join(chunk[s:e] for s, e in zip(starts[seq].tolist(), ends[seq].tolist()))
    per_record = np.bincount(record, weights=seg_len, minlength=n).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_record)])
    seg_starts = np.cumsum(seg_len) - seg_len
    batch = FastaBatch(ids, np.frombuffer(packed, dtype=np.uint8), offsets, first, lines, seg_starts, line0 + seq, len(buf))
    return batch, len(starts)


def iter_fasta(path: str | os.PathLike, *, chunk_bytes: int = CHUNK_BYTES, names: bool = True) -> Iterator[FastaBatch]:
    """Yield :class:`FastaBatch` objects of complete records, about ``chunk_bytes`` of file each.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.fa"
    >>> _ = path.write_text(">a first\\nACGT\\n>b\\nAC\\nGT\\n")
    >>> [(b.names, b.codes.tobytes()) for b in iter_fasta(path)]
    [(['a', 'b'], b'ACGTACGT')]
    """
    first, line0 = 0, 1
    for chunk in _read_chunks(path, chunk_bytes):
        batch, used = _parse(chunk, first=first, line0=line0, where=str(path), names=names)
        first += len(batch)
        line0 += used
        if len(batch):
            yield batch


def count_fasta_records(path: str | os.PathLike, *, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Number of records (lines starting with ``>``), by a fast byte count."""
    total, previous = 0, b"\n"
    with _open(path) as handle:
        while block := handle.read(chunk_bytes):
            total += block.count(b"\n>") + (previous == b"\n" and block[:1] == b">")
            previous = block[-1:]
    return total


def _one_hot_batch(batch: FastaBatch, out: np.ndarray, codec, where: str) -> None:
    rows = batch.rows(where)
    bad = _one_hot_flat(rows.reshape(-1), out.reshape(-1), codec)
    if bad >= 0:
        row, col = divmod(bad, rows.shape[1])
        _raise_bad(batch, codec, where, row, col)


def _raise_bad(batch: FastaBatch, codec, where: str, row: int, col: int) -> None:
    offset = int(batch.offsets[row]) + col
    err = _bad_character(where, codec, batch.first + row, col, int(batch.codes[offset]), line=batch.line_of(offset))
    if batch.names:
        err = InputError(where, err.problem.replace(f"record {batch.first + row}", f"record {batch.first + row} ({batch.names[row]!r})", 1), line=err.line, fix=err.fix)
    raise err


def iter_fasta_one_hot(
    path: str | os.PathLike, *, alphabet: str = "ACGT", dtype: type | np.dtype = np.uint8, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[list[str], np.ndarray]]:
    """Yield ``(names, one_hot)`` per chunk, ``one_hot`` shaped ``(batch, length, len(alphabet))``.

    All records must have one length. Memory stays bounded whatever the file size.
    """
    codec = _codec(alphabet)
    length = None
    for batch in iter_fasta(path, chunk_bytes=chunk_bytes):
        rows = batch.rows(str(path))
        if length is None:
            length = rows.shape[1]
        elif rows.shape[1] != length:
            raise InputError(str(path), f"record {batch.first} ({batch.names[0]!r}) has length {rows.shape[1]}, record 0 has {length}", line=int(batch.lines[0]), fix="use records of one length")
        out = np.empty((len(batch), length, codec.size), dtype=dtype)
        _one_hot_batch(batch, out, codec, str(path))
        yield batch.names, out


def fasta_one_hot(
    path: str | os.PathLike,
    *,
    alphabet: str = "ACGT",
    dtype: type | np.dtype = np.uint8,
    out: np.ndarray | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[list[str], np.ndarray]:
    """Read a FASTA file of equal-length records into names and one ``(n, length, A)`` one-hot array.

    The output is allocated once, sized from the file size and the first chunk's bytes per record
    (untouched spare rows cost no memory; the result is then a view of the first ``n`` rows), and
    filled chunk by chunk: peak memory is the output plus a few chunks. ``out=`` writes into a
    buffer that must have exactly one row per record.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.fa"
    >>> _ = path.write_text(">s1\\nACGN\\n>s2\\nacgt\\n")
    >>> names, x = fasta_one_hot(path)
    >>> names, x.shape, x[0, 3].tolist()
    (['s1', 's2'], (2, 4, 4), [0, 0, 0, 0])
    """
    codec = _codec(alphabet)
    where = str(path)
    given = out is not None
    names: list[str] = []
    length, n = None, 0
    for batch in iter_fasta(path, chunk_bytes=chunk_bytes):
        rows = batch.rows(where)
        if length is None:
            length = rows.shape[1]
            if given:
                _check_out(out, (out.shape[0] if out.ndim == 3 else -1, length, codec.size))
            else:
                out = np.empty((_capacity(path, batch, chunk_bytes), length, codec.size), dtype=dtype)
        elif rows.shape[1] != length:
            raise InputError(where, f"record {batch.first} ({batch.names[0]!r}) has length {rows.shape[1]}, record 0 has {length}", line=int(batch.lines[0]), fix="use records of one length")
        n = batch.first + len(batch)
        if n > len(out):
            if given:
                raise InputError("out", f"{where} has more than {len(out)} records, out has {len(out)} rows", fix="allocate one row per record")
            grown = np.empty((max(n, len(out) + len(out) // 2), length, codec.size), dtype=out.dtype)
            grown[: batch.first] = out[: batch.first]
            out = grown
        _one_hot_batch(batch, out[batch.first : n], codec, where)
        names.extend(batch.names)
    if out is None:
        return names, np.empty((0, 0, codec.size), dtype=dtype)
    if given and n != len(out):
        raise InputError("out", f"{where} has {n} records, out has {len(out)} rows", fix="allocate one row per record")
    return names, out if n == len(out) else out[:n]


def _capacity(path: str | os.PathLike, batch: FastaBatch, chunk_bytes: int) -> int:
    """Rows to allocate: exact count for gzip, else the file size over the first chunk's bytes per record."""
    if str(path).endswith(".gz"):
        return count_fasta_records(path, chunk_bytes=chunk_bytes)
    per_record = max(batch.nbytes / max(len(batch), 1), 1.0)
    return int(os.path.getsize(path) / per_record * 1.02) + 64


def fasta_kmer_counts(
    path: str | os.PathLike, *, k: int = 3, alphabet: str = "ACGT", normalize: bool = True, chunk_bytes: int = CHUNK_BYTES
) -> tuple[list[str], np.ndarray]:
    """k-mer profiles ``float32 (n, A**k)`` of a FASTA file with records of any length (streamed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.fa"
    >>> _ = path.write_text(">a\\nAAA\\n>b\\nAC\\nGT\\n")
    >>> names, counts = fasta_kmer_counts(path, k=2, normalize=False)
    >>> names, counts.sum(axis=1).tolist(), int(counts[1, 6])  # b: AC CG GT
    (['a', 'b'], [2.0, 3.0], 1)
    """
    codec = _codec(alphabet)
    _check_k(k, codec.size)
    n = count_fasta_records(path, chunk_bytes=chunk_bytes)
    counts = np.zeros((n, codec.size**k), dtype=np.float32)
    names: list[str] = []
    for batch in iter_fasta(path, chunk_bytes=chunk_bytes):
        try:
            _count_block(batch.codes, batch.offsets, batch.first, codec, k, counts, where=str(path))
        except InputError:  # re-raise naming the record's id and its file line
            _, bad = _indices_flat(batch.codes, codec)
            row = int(np.searchsorted(batch.offsets, bad, side="right")) - 1
            _raise_bad(batch, codec, str(path), row, bad - int(batch.offsets[row]))
        names.extend(batch.names)
    if normalize:
        counts /= np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return names, counts


def iter_csv_one_hot(
    path: str | os.PathLike,
    *,
    column: str = "sequence",
    alphabet: str = "ACGT",
    dtype: type | np.dtype = np.uint8,
    chunk_rows: int = 200_000,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_row, one_hot)`` for a CSV/TSV column of equal-length sequences, ``chunk_rows`` at a time.

    Errors name the file, the line (header is line 1) and the position.
    """
    import pandas as pd

    from genotx.seq.codes import one_hot

    where = str(path)
    sep = "\t" if where.endswith((".tsv", ".tsv.gz")) else ","
    if not Path(path).is_file():
        raise InputError(where, "no such file", fix="check the path")
    header = pd.read_csv(path, sep=sep, nrows=0).columns
    if column not in header:
        raise InputError(where, f"no column {column!r} (columns: {', '.join(map(str, header))})", line=1, fix="name the sequence column with column=")
    reader = pd.read_csv(path, sep=sep, usecols=[column], dtype=str, keep_default_na=False, chunksize=chunk_rows)
    first, length = 0, None
    for frame in reader:
        seqs = frame[column].tolist()
        try:
            x = one_hot(seqs, alphabet=alphabet, dtype=dtype, name=where)
        except InputError as err:
            raise _csv_error(err, where, first) from None
        if length is not None and x.shape[1] != length and len(x):
            raise InputError(where, f"row {first} has length {x.shape[1]}, row 0 has {length}", line=first + 2, fix="use sequences of one length")
        length = x.shape[1] if length is None else length
        yield first, x
        first += len(frame)


def _csv_error(err: InputError, where: str, first: int) -> InputError:
    """Re-state a record-numbered error with the CSV line (header = line 1, no multi-line fields)."""
    import re

    match = re.search(r"record (\d+)", err.problem)
    if not match:
        return err
    row = first + int(match.group(1))
    problem = err.problem.replace(match.group(0), f"row {row}", 1)
    return InputError(where, problem, line=row + 2, fix=err.fix)

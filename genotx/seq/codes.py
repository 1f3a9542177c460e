"""Sequence encoding: one documented module for DNA, RNA and protein.

Accepted inputs (``seqs``), one sequence per record:

* a list, tuple or pandas Series of ``str`` (or of ``bytes``);
* a numpy array of ``str`` (dtype ``U``), of ``bytes`` (dtype ``S``, read in place: zero-copy) or of
  ``object``.

:func:`one_hot`, :func:`positional_kmers` and :func:`encode_indices` need one length for all records;
:func:`kmer_counts` and :func:`gc_fraction` also take records of different lengths. Output shapes
and dtypes (axis order N, L, C):

* :func:`one_hot` -> ``uint8`` array ``(n, length, len(alphabet))`` (``dtype=``/``out=`` to choose);
* :func:`encode_indices` -> ``uint8`` ``(n, length)``, letter index, ``len(alphabet)`` for N/X;
* :func:`positional_kmers` -> ``uint8`` ``(n, (length - k + 1) * len(alphabet)**k)``;
* :func:`kmer_counts` -> ``float32`` ``(n, len(alphabet)**k)``;
* :func:`gc_fraction` -> ``float32`` ``(n,)``.

Rule for ambiguous letters: ``N`` (DNA/RNA) and ``X`` (protein and other alphabets) encode as an
all-zero column (index ``len(alphabet)``), and a k-mer that contains one is not counted. Any other
character outside the alphabet raises :class:`~genotx.errors.InputError` naming the record and the
position (1-based). Lower case is accepted. ``U`` and ``T`` are the same letter for DNA/RNA.

How it is fast (pure numpy, no per-base Python): the ASCII bytes are read in blocks of 64 Ki bases
that stay in cache. For a 4-letter alphabet each byte is replicated into 4 lanes of a ``uint32``
(one multiply by ``0x01010101``) and compared with the tiled alphabet bytes, writing the one-hot
straight into the output; one ``min`` over the block (as ``uint32``) proves every base matched a
letter. A block with lower case or N is redone on bytes folded to upper case (``& 0xDF``) and
accepted when the bases that matched nothing are exactly its N count; anything else (U/T aliases,
bad bytes, other alphabets) goes through one 256-entry byte table (``bytes.translate``), which also
finds the first bad character. Lists of ``str`` are
joined and encoded block by block, so no full-size copy of the input is made. Streaming FASTA and
CSV readers that feed these kernels chunk by chunk are in :mod:`genotx.featurize.fasta_stream`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError

__all__ = ["ALPHABETS", "BASES", "encode_bases", "decode_bases", "reverse_complement", "encode_indices", "one_hot", "positional_kmers", "kmer_counts", "gc_fraction"]

ALPHABETS = {"dna": "ACGT", "rna": "ACGU", "protein": "ACDEFGHIKLMNPQRSTVWY"}
_BAD = 255  # table value for a byte outside the alphabet
_BLOCK_BASES = 1 << 16  # bases per kernel step: input, scratch and output stay in L2 cache
_BLOCK_BYTES = 1 << 20  # ASCII bytes per block of records read from a list of str
_MULT4 = np.uint32(0x01010101)  # replicates a byte into the four bytes of a uint32
_ONE_BYTE = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.bool_))

Seqs = Sequence[str] | Sequence[bytes] | np.ndarray


# -- alphabets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Codec:
    """Byte tables for one alphabet (built once, shared, read-only)."""

    alphabet: str
    size: int
    letters: np.ndarray  # uint8 (size,): the alphabet's bytes as given
    index: bytes  # 256-byte table: byte -> letter index, blank -> size, other -> 255
    canon: bytes  # 256-byte table: byte -> its alphabet letter as given, blank -> 0, other -> 255
    blank: str  # the ambiguous letter (N or X), encoded as an all-zero column
    block: int  # bases per kernel step
    tile: np.ndarray  # letters repeated ``block`` times, compared against replicated bytes


@functools.lru_cache(maxsize=32)
def _codec(alphabet: str) -> _Codec:
    if not isinstance(alphabet, str) or not alphabet or not all(32 < ord(c) < 127 for c in alphabet):
        raise InputError("alphabet", f"got {alphabet!r}", fix=f"pass printable ASCII letters, e.g. one of {sorted(ALPHABETS.values())}")
    if len(set(alphabet.upper())) != len(alphabet):
        raise InputError("alphabet", f"{alphabet!r} repeats a letter (case-insensitively)", fix="list each letter once")
    nucleic = alphabet.upper() in (ALPHABETS["dna"], ALPHABETS["rna"])
    blank = "N" if nucleic else "X"
    size = len(alphabet)
    index = np.full(256, _BAD, dtype=np.uint8)
    canon = np.full(256, _BAD, dtype=np.uint8)
    if blank not in alphabet.upper():
        for char in (blank, blank.lower()):
            index[ord(char)], canon[ord(char)] = size, 0
    for i, letter in enumerate(alphabet):
        aliases = "TU" if nucleic and letter.upper() in "TU" else letter.upper()  # T and U: one letter
        for char in aliases + aliases.lower():
            index[ord(char)], canon[ord(char)] = i, ord(letter)
    letters = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8)
    block = max(1024, min(_BLOCK_BASES, (1 << 20) // size))
    return _Codec(alphabet, size, letters, index.tobytes(), canon.tobytes(), blank, block, np.tile(letters, block))


def _bad_character(where: str, codec: _Codec, record: int, position: int, char: int, *, line: int | None = None) -> InputError:
    shown = repr(chr(char)) if 32 <= char < 127 else f"byte 0x{char:02x}"
    return InputError(
        where, f"record {record}: character {shown} at position {position + 1} is not in alphabet {codec.alphabet}",
        line=line, fix=f"use only those letters ({codec.blank} for unknown)",
    )


# -- inputs -------------------------------------------------------------------------------------


class _Rows:
    """Equal-length sequences, readable as blocks of ``(rows, length)`` uint8 ASCII codes."""

    def __init__(self, seqs: Seqs, *, name: str) -> None:
        self.name = name
        self._array: np.ndarray | None = None  # (n, length) uint8 when the input can be viewed in place
        self._items: list | None = None
        if isinstance(seqs, (str, bytes)):
            raise InputError(name, "got one string, expected a sequence of strings", fix="wrap it in a list")
        arr = seqs if isinstance(seqs, np.ndarray) else None
        if arr is not None and arr.dtype.kind in "SU":
            self._from_fixed_width(arr.reshape(-1) if arr.ndim != 1 else arr)
            return
        if arr is not None and arr.dtype != object:
            raise InputError(name, f"expected strings, got dtype {arr.dtype}", fix="pass a list of str")
        items = seqs.tolist() if hasattr(seqs, "tolist") else list(seqs)
        self.n = len(items)
        self._items = items
        if self.n == 0:
            self.length = 0
            return
        first = items[0]
        if not isinstance(first, (str, bytes)):
            raise InputError(name, f"record 0 is {type(first).__name__}, expected str", fix="pass a list of str")
        try:
            lengths = np.fromiter(map(len, items), dtype=np.int64, count=self.n)
        except TypeError:
            bad = next(i for i, s in enumerate(items) if not isinstance(s, (str, bytes)))
            raise InputError(name, f"record {bad} is {type(items[bad]).__name__}, expected str", fix="pass a list of str") from None
        self.length = int(lengths[0])
        if (lengths != self.length).any():
            bad = int(np.flatnonzero(lengths != self.length)[0])
            raise InputError(
                name, f"record {bad} has length {lengths[bad]}, record 0 has {self.length}",
                fix="pad or trim all sequences to one length (or use kmer_counts)",
            )

    def _from_fixed_width(self, arr: np.ndarray) -> None:
        self.n = len(arr)
        width = arr.dtype.itemsize // (4 if arr.dtype.kind == "U" else 1)
        if self.n == 0 or width == 0:
            self.length, self._array = 0, np.zeros((self.n, 0), dtype=np.uint8)
            return
        lengths = np.char.str_len(arr)
        self.length = int(lengths[0])
        if (lengths != self.length).any():
            bad = int(np.flatnonzero(lengths != self.length)[0])
            raise InputError(
                self.name, f"record {bad} has length {lengths[bad]}, record 0 has {self.length}",
                fix="pad or trim all sequences to one length (or use kmer_counts)",
            )
        if arr.dtype.kind == "S":
            codes = np.ascontiguousarray(arr).view(np.uint8).reshape(self.n, width)
        else:  # UCS-4 code points: check they are ASCII, then narrow
            wide = np.ascontiguousarray(arr).view(np.uint32).reshape(self.n, width)[:, : self.length]
            if wide.size and wide.max() > 127:
                row, col = np.argwhere(wide > 127)[0]
                raise InputError(self.name, f"record {row}: non-ASCII character at position {col + 1}", fix="use sequence letters only")
            codes = wide.astype(np.uint8)
        self._array = codes[:, : self.length]

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_row, codes)`` with ``codes`` a C-contiguous ``(rows, length)`` uint8 array."""
        if self._array is not None:
            rows = max(1, (1 << 24) // max(self.length, 1))
            for start in range(0, self.n, rows):
                yield start, np.ascontiguousarray(self._array[start : start + rows])
            return
        rows = max(1, _BLOCK_BYTES // max(self.length, 1))
        items = self._items
        as_bytes = isinstance(items[0], bytes) if items else False
        for start in range(0, self.n, rows):
            chunk = items[start : start + rows]
            if as_bytes:
                try:
                    raw = b"".join(chunk)
                except TypeError:
                    raise self._type_error(chunk, start) from None
            else:
                try:
                    raw = "".join(chunk).encode("ascii")
                except TypeError:
                    raise self._type_error(chunk, start) from None
                except UnicodeEncodeError as err:
                    row, col = divmod(err.start, self.length)
                    raise InputError(
                        self.name, f"record {start + row}: non-ASCII character {err.object[err.start]!r} at position {col + 1}",
                        fix="use sequence letters only",
                    ) from None
            yield start, np.frombuffer(raw, dtype=np.uint8).reshape(len(chunk), self.length)

    def _type_error(self, chunk: list, start: int) -> InputError:
        kind = type(chunk[0])
        bad = next(i for i, s in enumerate(chunk) if not isinstance(s, kind))
        return InputError(self.name, f"record {start + bad} is {type(chunk[bad]).__name__}, record 0 is {kind.__name__}", fix="pass only str")


def _ragged(seqs: Seqs, *, name: str, block: int = 4 * _BLOCK_BYTES) -> tuple[int, Iterator[tuple[int, np.ndarray, np.ndarray]]]:
    """Number of records and an iterator of ``(first_row, codes, offsets)`` blocks (flat uint8 + offsets)."""
    if isinstance(seqs, (str, bytes)):
        raise InputError(name, "got one string, expected a sequence of strings", fix="wrap it in a list")
    if isinstance(seqs, np.ndarray) and seqs.dtype.kind not in "SUO":
        raise InputError(name, f"expected strings, got dtype {seqs.dtype}", fix="pass a list of str")
    items = seqs.tolist() if hasattr(seqs, "tolist") else list(seqs)
    try:
        lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    except TypeError:
        bad = next(i for i, s in enumerate(items) if not isinstance(s, (str, bytes)))
        raise InputError(name, f"record {bad} is {type(items[bad]).__name__}, expected str", fix="pass a list of str") from None
    return len(items), _ragged_blocks(items, lengths, name=name, block=block)


def _ragged_blocks(items: list, lengths: np.ndarray, *, name: str, block: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    ends = np.cumsum(lengths)
    start = 0
    while start < len(items):
        # records until ~block bases (at least one record)
        base0 = ends[start] - lengths[start]
        stop = max(start + 1, int(np.searchsorted(ends, base0 + block, side="right")))
        chunk = items[start:stop]
        offsets = np.concatenate([[0], ends[start:stop] - base0])
        try:
            raw = b"".join(chunk) if isinstance(chunk[0], bytes) else "".join(chunk).encode("ascii")
        except TypeError:
            kind = type(chunk[0])
            bad = next(i for i, s in enumerate(chunk) if not isinstance(s, kind))
            raise InputError(name, f"record {start + bad} is {type(chunk[bad]).__name__}, expected {kind.__name__}", fix="pass only str") from None
        except UnicodeEncodeError as err:
            row = int(np.searchsorted(offsets, err.start, side="right")) - 1
            raise InputError(
                name, f"record {start + row}: non-ASCII character {err.object[err.start]!r} at position {err.start - offsets[row] + 1}",
                fix="use sequence letters only",
            ) from None
        yield start, np.frombuffer(raw, dtype=np.uint8), offsets
        start = stop


# -- kernels on flat ASCII bytes ----------------------------------------------------------------


def _translate(codes: np.ndarray, table: bytes) -> np.ndarray:
    """One 256-entry byte table applied to a uint8 array (C speed, ~4x numpy fancy indexing)."""
    return np.frombuffer(codes.tobytes().translate(table), dtype=np.uint8).reshape(codes.shape)


def _indices_flat(codes: np.ndarray, codec: _Codec) -> tuple[np.ndarray, int]:
    """Letter indices of flat uint8 bytes and the offset of the first bad byte (-1 if none)."""
    idx = _translate(codes, codec.index)
    if idx.size and idx.max() == _BAD:
        return idx, int(np.argmax(idx == _BAD))
    return idx, -1


def _one_hot_flat(codes: np.ndarray, out: np.ndarray, codec: _Codec) -> int:
    """Write the one-hot of flat uint8 ``codes`` (m,) into ``out`` (m * size,), any numeric dtype.

    Returns the offset of the first byte outside the alphabet (``out`` is then partly written), or -1.
    A 4-letter block tries, in order: the raw bytes (upper case, no blank: one ``min`` proves every
    base hit a letter); the bytes folded to upper case (``& 0xDF``: exact for letters), accepted when
    the bases that hit no letter are exactly the blank letters (two counts); the byte table (T/U
    aliases, bad bytes). The next block starts at the stage that worked (at most the second).
    """
    size, step = codec.size, codec.block
    direct = out.dtype in _ONE_BYTE
    target = out.view(np.bool_) if direct else None
    scratch = None if direct else np.empty(step * size, dtype=np.bool_)
    if size == 4:
        rep = np.empty(step, dtype=np.uint32)
        folded = np.empty(step, dtype=np.uint8)
        blank = ord(codec.blank) if codec.blank not in codec.alphabet.upper() else -1
        foldable = codec.alphabet.isalpha()  # '& 0xDF' is exact case folding for letters only
    stage = 0
    for s in range(0, codes.size, step):
        e = min(s + step, codes.size)
        k = e - s
        block = codes[s:e]
        hot = target[s * size : e * size] if direct else scratch[: k * size]
        tile = codec.tile[: k * size]
        done = False
        if size == 4 and stage == 0:
            np.multiply(block, _MULT4, out=rep[:k], casting="unsafe")
            np.equal(rep[:k].view(np.uint8), tile, out=hot)
            done = k == 0 or bool(np.minimum.reduce(hot.view(np.uint32)))
            stage = 0 if done else 1
        if size == 4 and not done and foldable:  # lower case and blanks: fold, then count the misses
            up = np.bitwise_and(block, 0xDF, out=folded[:k])
            np.multiply(up, _MULT4, out=rep[:k], casting="unsafe")
            np.equal(rep[:k].view(np.uint8), tile, out=hot)
            misses = k - np.count_nonzero(hot.view(np.uint32))
            done = misses == 0 or (blank >= 0 and misses == np.count_nonzero(up == blank))
            stage = 1
        if not done:  # T/U aliases or a bad byte: the byte table
            canon = _translate(block, codec.canon)
            if canon.max() == _BAD:
                return s + int(np.argmax(canon == _BAD))
            if size == 4:
                np.multiply(canon, _MULT4, out=rep[:k], casting="unsafe")
                np.equal(rep[:k].view(np.uint8), tile, out=hot)
            else:
                np.equal(np.repeat(canon, size), tile, out=hot)
        if not direct:
            np.copyto(out[s * size : e * size], hot, casting="unsafe")
    return -1


# -- public API ---------------------------------------------------------------------------------


def encode_indices(seqs: Seqs, *, alphabet: str = "ACGT", name: str = "sequences") -> np.ndarray:
    """Letter indices ``uint8 (n, length)``; the blank letter (N/X) maps to ``len(alphabet)``.

    Examples
    --------
    >>> encode_indices(["ACGNT"]).tolist()
    [[0, 1, 2, 4, 3]]
    """
    codec = _codec(alphabet)
    rows = _Rows(seqs, name=name)
    out = np.empty((rows.n, rows.length), dtype=np.uint8)
    for start, codes in rows.blocks():
        idx, bad = _indices_flat(codes.reshape(-1), codec)
        if bad >= 0:
            row, col = divmod(bad, rows.length)
            raise _bad_character(name, codec, start + row, col, int(codes.reshape(-1)[bad]))
        out[start : start + len(codes)] = idx.reshape(codes.shape)
    return out


def one_hot(
    seqs: Seqs,
    *,
    alphabet: str = "ACGT",
    name: str = "sequences",
    dtype: type | np.dtype = np.uint8,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One-hot ``(n, length, len(alphabet))``; N/X is an all-zero column.

    Parameters
    ----------
    seqs : list of str, pandas Series or numpy array of str/bytes
        Records of one length (see the module docstring).
    alphabet : str
        Letters in column order (``ALPHABETS`` holds DNA, RNA and protein).
    name : str
        What the error messages call the input (a file or column name).
    dtype : numpy dtype
        Output dtype (``uint8`` by default; ``bool``/``int8`` cost the same, ``float32`` is cast
        block by block without a full-size temporary).
    out : numpy array, optional
        A C-contiguous ``(n, length, len(alphabet))`` buffer to write into and return (its dtype is
        used; ``dtype`` is ignored). Reusing one buffer skips the allocation and page faults.

    Examples
    --------
    >>> one_hot(["ACGNT"])[0].T.tolist()
    [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1]]
    >>> one_hot(["MX"], alphabet=ALPHABETS["protein"]).sum(axis=2).tolist()
    [[1, 0]]
    """
    codec = _codec(alphabet)
    rows = _Rows(seqs, name=name)
    shape = (rows.n, rows.length, codec.size)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    else:
        _check_out(out, shape)
    flat = out.reshape(-1)
    for start, codes in rows.blocks():
        k = codes.size
        bad = _one_hot_flat(codes.reshape(-1), flat[start * rows.length * codec.size :][: k * codec.size], codec)
        if bad >= 0:
            row, col = divmod(bad, rows.length)
            raise _bad_character(name, codec, start + row, col, int(codes.reshape(-1)[bad]))
    return out


def _check_out(out: np.ndarray, shape: tuple[int, ...]) -> None:
    if not isinstance(out, np.ndarray) or out.shape != shape:
        got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
        raise InputError("out", f"expected an array of shape {shape}, got {got}", fix="allocate np.empty(shape, np.uint8)")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise InputError("out", "the buffer must be C-contiguous and writeable", fix="allocate it with np.empty")
    if out.dtype.kind not in "buif":
        raise InputError("out", f"dtype {out.dtype} is not numeric", fix="use uint8, bool, int8 or float32")


def _kmer_codes(idx: np.ndarray, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int64) and validity of the k-mers starting at each of the ``len - k + 1`` windows (last axis)."""
    windows = idx.shape[-1] - k + 1
    code = np.zeros(idx.shape[:-1] + (windows,), dtype=np.int64)
    valid = np.ones(code.shape, dtype=bool)
    for j in range(k):  # k is tiny; vectorised over every record and position
        part = idx[..., j : j + windows]
        valid &= part < size
        code *= size
        code += np.minimum(part, size - 1)
    return code, valid


def _check_k(k: int, size: int) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError("k", f"expected a positive integer, got {k!r}", fix="use k=1, 2, 3...")
    if size**k > 1 << 24:
        raise InputError("k", f"{size}**{k} k-mers are too many to count", fix="use a smaller k")


def positional_kmers(seqs: Seqs, *, k: int = 2, alphabet: str = "ACGT", name: str = "sequences") -> np.ndarray:
    """Position-specific k-mer indicators ``uint8 (n, (L-k+1) * A**k)`` (k-mers containing N: zeros).

    Examples
    --------
    >>> positional_kmers(["ACG"], k=2).reshape(2, 16).argmax(axis=1).tolist()  # AC, CG
    [1, 6]
    """
    codec = _codec(alphabet)
    _check_k(k, codec.size)
    idx = encode_indices(seqs, alphabet=alphabet, name=name)
    n, length = idx.shape
    windows = max(length - k + 1, 0)
    width = codec.size**k
    out = np.zeros((n, windows * width), dtype=np.uint8)
    if windows == 0 or n == 0:
        return out
    flat = out.reshape(-1)
    step = max(1, (1 << 22) // windows)
    for start in range(0, n, step):  # bounded int64 temporaries
        code, valid = _kmer_codes(idx[start : start + step], k, codec.size)
        slot = np.arange(start * windows, start * windows + code.size, dtype=np.int64).reshape(code.shape)
        flat[(slot * width + code)[valid]] = 1
    return out


def kmer_counts(
    seqs: Seqs, *, k: int = 3, alphabet: str = "ACGT", normalize: bool = True, name: str = "sequences"
) -> np.ndarray:
    """k-mer count profile ``float32 (n, A**k)``, records of any length; normalised to frequencies.

    k-mers that contain the blank letter (N/X) are skipped; a record with no complete k-mer is a row
    of zeros.

    Examples
    --------
    >>> kmer_counts(["AAAA"], k=2, normalize=False)[0, 0]
    np.float32(3.0)
    >>> kmer_counts(["ACG", "TTNTT"], k=2, normalize=False).sum(axis=1).tolist()
    [2.0, 2.0]
    """
    codec = _codec(alphabet)
    _check_k(k, codec.size)
    n, blocks = _ragged(seqs, name=name, block=1 << 18)  # int64 temporaries stay in cache
    width = codec.size**k
    counts = np.zeros((n, width), dtype=np.float32)
    for start, codes, offsets in blocks:
        _count_block(codes, offsets, start, codec, k, counts, where=name)
    if normalize:
        counts /= np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return counts


def _count_block(
    codes: np.ndarray, offsets: np.ndarray, start: int, codec: _Codec, k: int, counts: np.ndarray, *, where: str, lines: np.ndarray | None = None
) -> None:
    """Add the k-mer counts of one block (flat ASCII ``codes`` + record ``offsets``) into ``counts[start:]``.

    Every window gets a code; a window holding the blank letter or crossing a record end is sent to
    an extra bin that is dropped, so one ``bincount`` does all records without a boolean compress.
    """
    idx, bad = _indices_flat(codes, codec)
    if bad >= 0:
        row = int(np.searchsorted(offsets, bad, side="right")) - 1
        line = None if lines is None else int(lines[row])
        raise _bad_character(where, codec, start + row, bad - int(offsets[row]), int(codes[bad]), line=line)
    size, width = codec.size, codec.size**k
    lengths = np.diff(offsets)
    n_block, total = len(lengths), idx.size
    # digits in int64; the blank letter weighs ``width`` so any window holding it codes >= width
    digit = idx.astype(np.int64)
    digit[idx == size] = width
    digit = np.concatenate([digit, np.full(k - 1, width, dtype=np.int64)])  # tail windows: dropped
    code = digit[:total].copy()
    for j in range(1, k):
        code *= size
        code += digit[j : j + total]
    np.minimum(code, width, out=code)  # one extra bin per record collects every dropped window
    if n_block and lengths.min() == lengths.max():
        length = int(lengths[0])
        code2 = code.reshape(n_block, length)
        code2[:, max(length - k + 1, 0) :] = width  # windows crossing the record end
        code2 += np.arange(0, n_block * (width + 1), width + 1, dtype=np.int64)[:, None]
        key = code
    else:
        for j in range(1, k):
            pos = offsets[1:] - j
            code[pos[(pos >= offsets[:-1]) & (pos < total)]] = width
        key = code + np.repeat(np.arange(0, n_block * (width + 1), width + 1, dtype=np.int64), lengths)
    binned = np.bincount(key, minlength=n_block * (width + 1)).reshape(n_block, width + 1)
    counts[start : start + n_block] += binned[:, :width]


@functools.lru_cache(maxsize=1)
def _gc_table() -> bytes:
    """Byte -> 1 for A/T/U, 3 for G/C (so sum(x >> 1) counts G/C), 0 for N, 255 for anything else."""
    table = np.full(256, _BAD, dtype=np.uint8)
    for chars, value in (("ATUatu", 1), ("GCgc", 3), ("Nn", 0)):
        table[np.frombuffer(chars.encode(), dtype=np.uint8)] = value
    return table.tobytes()


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-record sums (int64) of a flat uint8 array split at ``offsets``."""
    lengths = np.diff(offsets)
    if len(lengths) and lengths.min() == lengths.max():
        return values.reshape(len(lengths), -1).sum(axis=1, dtype=np.int64)
    sums = np.zeros(len(lengths), dtype=np.int64)
    full = lengths > 0
    if full.any():  # reduceat over non-empty records only (their starts strictly increase)
        sums[full] = np.add.reduceat(values, offsets[:-1][full], dtype=np.int64)
    return sums


def gc_fraction(seqs: Seqs, *, name: str = "sequences") -> np.ndarray:
    """Fraction of G or C among called bases (not N), ``float32 (n,)``; records of any length.

    Examples
    --------
    >>> gc_fraction(["GGCA", "ATNN"]).tolist()
    [0.75, 0.0]
    """
    n, blocks = _ragged(seqs, name=name)
    out = np.empty(n, dtype=np.float32)
    for start, codes, offsets in blocks:
        value = _translate(codes, _gc_table())
        if value.size and value.max() == _BAD:
            bad = int(np.argmax(value == _BAD))
            row = int(np.searchsorted(offsets, bad, side="right")) - 1
            raise _bad_character(name, _codec(ALPHABETS["dna"]), start + row, bad - int(offsets[row]), int(codes[bad]))
        gc = _segment_sums(value >> 1, offsets)
        called = _segment_sums(value, offsets) - 2 * gc
        out[start : start + len(gc)] = gc / np.maximum(called, 1)
    return out


# -- integer base codes (reads, genomes) -------------------------------------------------------

#: integer base codes of reads and genomes: A C G T N = 0 1 2 3 4 (uint8)
BASES = "ACGTN"
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def encode_bases(sequence: str) -> np.ndarray:
    """DNA string -> uint8 codes (A C G T = 0..3; anything else = 4)."""
    return _CODE[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]


def decode_bases(codes: np.ndarray) -> str:
    """uint8 codes -> DNA string."""
    return np.frombuffer(np.frombuffer(b"ACGTN", dtype=np.uint8)[np.asarray(codes)].tobytes(), dtype="S1").tobytes().decode()


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of coded bases along the last axis."""
    return _COMPLEMENT[codes[..., ::-1]]

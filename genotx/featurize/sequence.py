"""Sequence encoding: one documented module for DNA, RNA and protein.

Accepted inputs: a sequence of ``str`` (list, tuple, pandas Series or numpy array of str), all of
one length for one-hot. Output shapes and dtypes:

* :func:`one_hot` -> ``uint8`` array ``(n, length, len(alphabet))`` (axis order N, L, C);
* :func:`positional_kmers` -> ``uint8`` ``(n, (length - k + 1) * len(alphabet)**k)``;
* :func:`kmer_counts` -> ``float32`` ``(n, len(alphabet)**k)``;
* :func:`gc_fraction` -> ``float32`` ``(n,)``.

Rule for ambiguous bases: ``N`` (DNA/RNA) and ``X`` (protein) encode as an all-zero column; any
other character outside the alphabet raises :class:`~genotx.errors.InputError` naming the record and
the position. Lower case is accepted. ``U`` and ``T`` are the same letter for DNA/RNA.

Everything goes through one 256-entry ``uint8`` lookup table on the raw bytes, so no Python loop runs
per base (only one ``str.join`` per batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genotx.errors import InputError

__all__ = ["ALPHABETS", "encode_indices", "one_hot", "positional_kmers", "kmer_counts", "gc_fraction"]

ALPHABETS = {"dna": "ACGT", "rna": "ACGU", "protein": "ACDEFGHIKLMNPQRSTVWY"}
_UNKNOWN = 255  # lookup value for a byte outside the alphabet


def _lookup(alphabet: str) -> tuple[np.ndarray, int]:
    """uint8 table: byte -> index in alphabet; 'blank' (N or X) -> len(alphabet); others -> 255."""
    table = np.full(256, _UNKNOWN, dtype=np.uint8)
    for i, letter in enumerate(alphabet):
        table[ord(letter)] = table[ord(letter.lower())] = i
    blank = len(alphabet)
    if alphabet in (ALPHABETS["dna"], ALPHABETS["rna"]):
        for letter in "TUtu":  # DNA and RNA share one letter for T/U
            table[ord(letter)] = 3
        table[ord("N")] = table[ord("n")] = blank
    else:
        table[ord("X")] = table[ord("x")] = blank
    return table, blank


def _as_bytes(seqs: Sequence[str], *, name: str) -> np.ndarray:
    """(n, length) uint8 view of equal-length ASCII sequences."""
    if isinstance(seqs, str):
        raise InputError(name, "got one string, expected a sequence of strings", fix="wrap it in a list")
    arr = np.asarray(seqs)
    n = len(arr)
    if n == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    if arr.dtype.kind == "U" or arr.dtype == object:
        lengths = np.char.str_len(arr.astype(str)) if arr.dtype == object else np.char.str_len(arr)
        if (lengths != lengths[0]).any():
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise InputError(
                name, f"record {bad} has length {lengths[bad]}, record 0 has {lengths[0]}",
                fix="pad or trim all sequences to one length (or use kmer_counts)",
            )
        try:
            raw = "".join(arr.tolist()).encode("ascii")
        except UnicodeEncodeError as err:
            raise InputError(name, f"non-ASCII character at offset {err.start}", fix="use sequence letters only") from None
        return np.frombuffer(raw, dtype=np.uint8).reshape(n, int(lengths[0]))
    raise InputError(name, f"expected strings, got dtype {arr.dtype}", fix="pass a list of str")


def encode_indices(seqs: Sequence[str], *, alphabet: str = "ACGT", name: str = "sequences") -> np.ndarray:
    """Letter indices ``uint8 (n, length)``; the blank letter (N/X) maps to ``len(alphabet)``.

    Examples
    --------
    >>> encode_indices(["ACGNT"]).tolist()
    [[0, 1, 2, 4, 3]]
    """
    table, _ = _lookup(alphabet)
    idx = table[_as_bytes(seqs, name=name)]
    if (idx == _UNKNOWN).any():
        row, col = np.argwhere(idx == _UNKNOWN)[0]
        char = chr(_as_bytes(seqs, name=name)[row, col])
        raise InputError(
            name, f"record {row}: character {char!r} at position {col + 1} is not in alphabet {alphabet}",
            fix="use only those letters (N or X for unknown)",
        )
    return idx


def one_hot(seqs: Sequence[str], *, alphabet: str = "ACGT", name: str = "sequences") -> np.ndarray:
    """One-hot ``uint8 (n, length, len(alphabet))``; N/X is an all-zero column.

    Examples
    --------
    >>> one_hot(["ACGNT"])[0].T.tolist()
    [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1]]
    """
    idx = encode_indices(seqs, alphabet=alphabet, name=name)
    # an identity with an extra all-zero row for the blank letter, gathered by index: one pass
    eye = np.vstack([np.eye(len(alphabet), dtype=np.uint8), np.zeros((1, len(alphabet)), np.uint8)])
    return eye[idx]


def positional_kmers(seqs: Sequence[str], *, k: int = 2, alphabet: str = "ACGT", name: str = "sequences") -> np.ndarray:
    """Position-specific k-mer indicators ``uint8 (n, (L-k+1) * A**k)`` (k-mers containing N: zeros).

    Examples
    --------
    >>> positional_kmers(["ACG"], k=2).reshape(2, 16).argmax(axis=1).tolist()  # AC, CG
    [1, 6]
    """
    idx = encode_indices(seqs, alphabet=alphabet, name=name).astype(np.int64)
    n, length = idx.shape
    a = len(alphabet)
    windows = length - k + 1
    code = np.zeros((n, windows), dtype=np.int64)
    valid = np.ones((n, windows), dtype=bool)
    for j in range(k):  # k is tiny; loop over k-mer offsets, vectorized over all rows and positions
        part = idx[:, j : j + windows]
        valid &= part < a
        code = code * a + np.minimum(part, a - 1)
    out = np.zeros((n, windows, a**k), dtype=np.uint8)
    rows, cols = np.nonzero(valid)
    out[rows, cols, code[rows, cols]] = 1
    return out.reshape(n, windows * a**k)


def kmer_counts(seqs: Sequence[str], *, k: int = 3, alphabet: str = "ACGT", normalize: bool = True, name: str = "sequences") -> np.ndarray:
    """k-mer count profile ``float32 (n, A**k)`` (equal-length sequences), normalised to frequencies.

    Examples
    --------
    >>> kmer_counts(["AAAA"], k=2, normalize=False)[0, 0]
    np.float32(3.0)
    """
    onehot_pos = positional_kmers(seqs, k=k, alphabet=alphabet, name=name)
    n = onehot_pos.shape[0]
    counts = onehot_pos.reshape(n, -1, len(alphabet) ** k).sum(axis=1, dtype=np.float32)
    if normalize:
        counts /= np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return counts


def gc_fraction(seqs: Sequence[str], *, name: str = "sequences") -> np.ndarray:
    """Fraction of G or C among called bases, ``float32 (n,)``.

    Examples
    --------
    >>> gc_fraction(["GGCA", "ATNN"]).tolist()
    [0.75, 0.0]
    """
    idx = encode_indices(seqs, alphabet="ACGT", name=name)
    called = (idx < 4).sum(axis=1)
    gc = ((idx == 1) | (idx == 2)).sum(axis=1)
    return (gc / np.maximum(called, 1)).astype(np.float32)

"""A small short-read aligner for small genomes: unique k-mer seeds, then banded affine-gap alignment.

:class:`KmerAligner` indexes the k-mers that occur once in the reference. Each read (and its
reverse complement) is seeded with k-mers every few bases; the strand with more seed hits wins and
the median seed diagonal places the read. The read is then aligned end to end inside a band of
``band`` bases around that diagonal with an affine gap score (Gotoh), vectorised over all reads at
once (one numpy step per read base and band cell, never one per read). Ties prefer matches on the
way back, so gaps come out left-aligned, as callers expect. Mapping quality: 60 with >= 3 agreeing
seeds, 30 with 2, 10 with 1; reads with none (or inside repeats) stay unmapped.

Scores (BWA-like): match +1, mismatch -4, gap of length n: -(5 + n).

Examples
--------
>>> import numpy as np
>>> from genotx.seq.codes import encode_bases as encode
>>> rng = np.random.default_rng(0)
>>> ref = "".join(rng.choice(list("ACGT"), 400))
>>> read = ref[100:140] + ref[143:203]            # a 3-bp deletion
>>> hit = KmerAligner(ref, k=11).align(encode(read)[None, :])
>>> int(hit.start[0]), hit.cigars[0]
(100, '40M3D60M')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.seq.codes import encode_bases as encode, reverse_complement

__all__ = ["KmerAligner", "Alignments"]

MATCH, MISMATCH, GAP_OPEN, GAP_EXTEND = 1, -4, 5, 1
_NEG = -(10**6)


@dataclass(frozen=True)
class Alignments:
    """Per read: ``mapped`` (bool), ``start`` (0-based leftmost reference base), ``reverse``, ``mapq``,
    ``cigars`` (SAM CIGAR strings; ``'*'`` when unmapped) and ``score``."""

    mapped: np.ndarray
    start: np.ndarray
    reverse: np.ndarray
    mapq: np.ndarray
    cigars: list[str]
    score: np.ndarray


def _kmer_codes(codes: np.ndarray, k: int, offsets: np.ndarray | None = None) -> np.ndarray:
    """Integer code of the k-mers starting at ``offsets`` (default: all) along the last axis; -1 if an N is inside."""
    if offsets is None:
        offsets = np.arange(codes.shape[-1] - k + 1)
    windows = codes[..., offsets[:, None] + np.arange(k)[None, :]].astype(np.int64)
    weights = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
    value = (np.minimum(windows, 3) * weights).sum(-1)
    return np.where((windows > 3).any(-1), -1, value)


class KmerAligner:
    """Index ``reference`` (a string) once; :meth:`align` maps coded reads (n, L)."""

    def __init__(self, reference: str, *, k: int = 15, step: int = 6, band: int = 8) -> None:
        self.reference = reference
        self.codes = encode(reference)
        self.k, self.step, self.band = k, step, band
        kmers = _kmer_codes(self.codes, k)
        order = np.argsort(kmers, kind="stable")
        sorted_kmers = kmers[order]
        unique, first, counts = np.unique(sorted_kmers, return_index=True, return_counts=True)
        keep = (counts == 1) & (unique >= 0)
        self._keys = unique[keep]
        self._pos = order[first[keep]]

    def _seed(self, reads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Median diagonal and number of agreeing seeds per read, for one orientation."""
        length = reads.shape[1]
        offsets = np.arange(0, length - self.k + 1, self.step)
        kmers = _kmer_codes(reads, self.k, offsets)
        at = np.searchsorted(self._keys, kmers)
        at = np.minimum(at, len(self._keys) - 1)
        found = (self._keys[at] == kmers) & (kmers >= 0)
        diag = np.where(found, self._pos[at] - offsets[None, :], np.nan)
        median = np.nanmedian(np.where(found.any(1)[:, None], diag, 0.0), axis=1)
        agree = (np.abs(diag - median[:, None]) <= self.band // 2).sum(1)
        return np.rint(median).astype(np.int64), agree

    def align(self, reads: np.ndarray, *, chunk: int = 4000) -> Alignments:
        """Align coded reads (n, L) given in sequencing orientation."""
        reads = np.asarray(reads, dtype=np.uint8)
        rc = reverse_complement(reads)
        d_fwd, n_fwd = self._seed(reads)
        d_rev, n_rev = self._seed(rc)
        reverse = n_rev > n_fwd
        diag = np.where(reverse, d_rev, d_fwd)
        seeds = np.maximum(n_fwd, n_rev)
        oriented = np.where(reverse[:, None], rc, reads)
        mapped = seeds > 0
        start = np.full(len(reads), -1, dtype=np.int64)
        score = np.zeros(len(reads), dtype=np.int64)
        cigars = ["*"] * len(reads)
        # fast path: a read with at most one mismatch on its seed diagonal aligns best ungapped
        # (one mismatch costs 5; any gap costs at least 6 plus the base it skips)
        length = reads.shape[1]
        padded = np.concatenate([np.full(length, 5, np.uint8), self.codes, np.full(length, 5, np.uint8)])
        ungapped = padded[np.clip(diag, -length, len(self.codes))[:, None] + length + np.arange(length)[None, :]]
        mismatches = (ungapped != oriented).sum(1)
        easy = mapped & (mismatches <= 1) & (diag >= 0) & (diag + length <= len(self.codes))
        start[easy] = diag[easy]
        score[easy] = length - (MATCH - MISMATCH) * mismatches[easy]
        for r in np.flatnonzero(easy):
            cigars[r] = f"{length}M"
        idx = np.flatnonzero(mapped & ~easy)
        for lo in range(0, len(idx), chunk):
            part = idx[lo : lo + chunk]
            s, c, sc = self._banded(oriented[part], diag[part])
            start[part], score[part] = s, sc
            for j, r in enumerate(part):
                cigars[r] = c[j]
        inside = mapped & (start >= 0) & (start + reads.shape[1] <= len(self.codes) + self.band)
        mapq = np.select([seeds >= 3, seeds == 2, seeds == 1], [60, 30, 10], 0).astype(np.uint8)
        mapq[~inside] = 0
        cigars = [c if ok else "*" for c, ok in zip(cigars, inside)]
        return Alignments(inside, np.where(inside, start, -1), reverse, mapq, cigars, score)

    def _banded(self, reads: np.ndarray, diag: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
        n, length = reads.shape
        band = self.band
        width = 2 * band + 1
        padded = np.concatenate([np.full(band + length, 5, np.uint8), self.codes, np.full(band + length, 5, np.uint8)])
        cols = (diag[:, None] - band + band + length) + np.arange(length + 2 * band)[None, :]
        ref_window = padded[cols]  # ref_window[:, t] = reference[diag - band + t]; 5 = off the end
        H = np.zeros((n, width), np.int64)  # free start anywhere in the band
        I = np.full((n, width), _NEG, np.int64)
        H_from = np.zeros((n, length + 1, width), np.uint8)  # 0 M, 1 I, 2 D
        I_open = np.zeros((n, length + 1, width), bool)
        D_open = np.zeros((n, length + 1, width), bool)
        rows = np.arange(n)
        ramp = np.arange(width, dtype=np.int64)[None, :]
        for i in range(1, length + 1):
            r = ref_window[:, i - 1 : i - 1 + width]
            b = reads[:, i - 1][:, None]
            s = np.where(r == 5, -50, np.where((r == b) & (b < 4), MATCH, MISMATCH))
            M = H + s
            # insertion (read base, no reference): from (i-1, k+1)
            H_up = np.concatenate([H[:, 1:], np.full((n, 1), _NEG)], axis=1)
            I_up = np.concatenate([I[:, 1:], np.full((n, 1), _NEG)], axis=1)
            open_i = H_up - GAP_OPEN - GAP_EXTEND
            ext_i = I_up - GAP_EXTEND
            I = np.maximum(open_i, ext_i)
            I_open[:, i] = open_i >= ext_i
            best = np.maximum(M, I)
            # deletion (reference base, no read) from (i, k-1): opening from a deletion is never better
            # than extending it, so D[k] = max_{j<k} best[j] - open - extend * (k - j): a running maximum
            lifted = best + GAP_EXTEND * ramp
            run = np.maximum.accumulate(lifted, axis=1)
            D = np.concatenate([np.full((n, 1), _NEG), run[:, :-1] - GAP_OPEN - GAP_EXTEND * ramp[:, 1:]], axis=1)
            D_open[:, i, 1:] = lifted[:, :-1] >= run[:, :-1]
            src = np.where(M >= I, 0, 1)
            src = np.where(D > best, 2, src)
            H_from[:, i] = src
            H = np.maximum(best, D)
        # end: best over the band of M or I states at i = L (a trailing deletion never helps)
        end_k = np.argmax(H, axis=1)
        final = H[rows, end_k]
        # traceback, vectorised over reads
        ops = np.full((n, 2 * (length + width) + 2), 9, np.uint8)
        i = np.full(n, length)
        k = end_k.copy()
        state = H_from[rows, i, k].astype(np.int64)
        step = 0
        while (i > 0).any() and step < ops.shape[1]:
            live = i > 0
            st = np.where(live, state, 9)
            ops[:, step] = st
            # move
            m = live & (st == 0)
            ins = live & (st == 1)
            dele = live & (st == 2)
            new_state = state.copy()
            # I: (i-1, k+1); opened -> H_from there, else stay I
            opened_i = I_open[rows, i, k]
            # D: (i, k-1)
            opened_d = D_open[rows, i, k]
            i_new = np.where(m | ins, i - 1, i)
            k_new = np.where(ins, k + 1, np.where(dele, k - 1, k))
            k_new = np.clip(k_new, 0, width - 1)
            i_new = np.maximum(i_new, 0)
            h_next = H_from[rows, i_new, k_new].astype(np.int64)
            new_state = np.where(m, h_next, new_state)
            new_state = np.where(ins, np.where(opened_i, h_next, 1), new_state)
            new_state = np.where(dele, np.where(opened_d, h_next, 2), new_state)
            i, k, state = np.where(live, i_new, i), np.where(live, k_new, k), np.where(live, new_state, state)
            step += 1
        start = diag - band + k  # reference offset where the alignment starts (k at i = 0)
        cigars = [_cigar(ops[r, :step][::-1]) for r in range(n)]
        return start, cigars, final


def _cigar(ops: np.ndarray) -> str:
    ops = ops[ops != 9]
    if len(ops) == 0:
        return "*"
    if (ops == ops[0]).all():
        return f"{len(ops)}{'MID'[ops[0]]}"
    change = np.flatnonzero(np.r_[True, ops[1:] != ops[:-1], True])
    letters = "MID"
    return "".join(f"{change[j + 1] - change[j]}{letters[ops[change[j]]]}" for j in range(len(change) - 1))

"""Seeded simulation of a diploid sample and its Illumina-like single-end reads from a real genome.

:func:`simulate_variants` places SNVs and small insertions/deletions (heterozygous or homozygous) on
a reference, left-normalised and VCF-style (``pos`` is 0-based; indels carry their anchor base).
:func:`haplotypes` applies them to two haplotypes. :func:`simulate_reads` samples reads from both
haplotypes at a given coverage, in sequencing orientation (half from the reverse strand), with an
Illumina-like error profile: base qualities that fall along the read (per-read offset, per-base noise,
occasional low-quality dips), substitutions drawn from the (slightly under-stated) quality, a
substitution bias, and rare indel errors that are likelier in homopolymers.

Bases are coded ``A C G T N`` = 0 1 2 3 4 (uint8); reads are ``(n_reads, read_length)`` arrays.

Examples
--------
>>> import numpy as np
>>> genome = "ACGT" * 500
>>> truth = simulate_variants(genome, random_state=0, variant_rate=0.02)
>>> sorted(set(truth["kind"])) <= ["deletion", "insertion", "snv"]
True
>>> reads = simulate_reads(haplotypes(genome, truth), coverage=5, read_length=50, random_state=0)
>>> reads.bases.shape[1], reads.bases.dtype.name
(50, 'uint8')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.seq.codes import encode_bases, reverse_complement
from genotx.seq.variants import normalize_variant

__all__ = ["simulate_variants", "haplotypes", "simulate_reads", "Reads"]

def simulate_variants(
    genome: str,
    *,
    random_state: int = 0,
    variant_rate: float = 1 / 80,
    indel_fraction: float = 0.3,
    hom_fraction: float = 0.35,
    max_indel: int = 6,
    min_spacing: int = 12,
    margin: int = 150,
) -> pd.DataFrame:
    """Known variants of one diploid sample: columns ``pos ref alt kind genotype haplotype``.

    ``genotype`` counts alt copies (1 or 2); ``haplotype`` is 0/1 for a heterozygote, -1 for a homozygote.
    Indels are 1..``max_indel`` bp (geometric), a third of insertions duplicate the following bases
    (tandem repeats). Variants are left-normalised and at least ``min_spacing`` bp apart.
    """
    rng = np.random.default_rng(random_state)
    n = len(genome)
    count = rng.poisson(variant_rate * (n - 2 * margin))
    spots = np.sort(rng.choice(np.arange(margin, n - margin), size=count, replace=False))
    rows, last_end = [], -10**9
    for p in spots:
        p = int(p)
        u = rng.random()
        length = int(min(rng.geometric(0.55), max_indel))
        if u >= indel_fraction:
            ref = genome[p]
            transitions = {"A": "G", "G": "A", "C": "T", "T": "C"}
            alt = transitions[ref] if rng.random() < 2 / 3 else rng.choice([b for b in "ACGT" if b not in (ref, transitions[ref])])
            kind = "snv"
        elif u < indel_fraction / 2:
            ref, alt, kind = genome[p : p + 1 + length], genome[p], "deletion"
        else:
            if rng.random() < 1 / 3:
                inserted = genome[p + 1 : p + 1 + length]
            else:
                inserted = "".join(rng.choice(list("ACGT"), size=length))
            ref, alt, kind = genome[p], genome[p] + inserted, "insertion"
        if "N" in ref:
            continue
        p, ref, alt = normalize_variant(p, ref, alt, genome)
        if p - last_end < min_spacing:
            continue
        hom = rng.random() < hom_fraction
        rows.append((p, ref, alt, kind, 2 if hom else 1, -1 if hom else int(rng.integers(2))))
        last_end = p + len(ref)
    return pd.DataFrame(rows, columns=["pos", "ref", "alt", "kind", "genotype", "haplotype"])


def haplotypes(genome: str, variants: pd.DataFrame) -> tuple[str, str]:
    """The sample's two haplotype sequences (variants must not overlap)."""
    out = []
    for h in (0, 1):
        carried = variants[(variants["haplotype"] == -1) | (variants["haplotype"] == h)].sort_values("pos")
        pieces, cursor = [], 0
        for pos, ref, alt in zip(carried["pos"], carried["ref"], carried["alt"]):
            pieces += [genome[cursor:pos], alt]
            cursor = pos + len(ref)
        pieces.append(genome[cursor:])
        out.append("".join(pieces))
    return out[0], out[1]


@dataclass(frozen=True)
class Reads:
    """Simulated reads in sequencing orientation: ``bases``/``quals`` (n, L) uint8; provenance per read."""

    bases: np.ndarray
    quals: np.ndarray
    haplotype: np.ndarray
    start: np.ndarray
    reverse: np.ndarray

    def __len__(self) -> int:
        return len(self.bases)


def _qualities(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """Illumina-like base qualities: high at the 5' end, falling towards 3', noisy, with dips."""
    along = np.arange(length) / max(length - 1, 1)
    mean = 38.0 - 14.0 * along**2
    q = mean[None, :] + rng.normal(0, 2.5, size=(n, 1)) + rng.normal(0, 3.0, size=(n, length))
    dips = rng.random((n, length)) < 0.015
    q[dips] = rng.uniform(2, 14, size=int(dips.sum()))
    bad_tail = rng.random(n) < 0.05  # a few reads lose quality over their last third
    tail = along[None, :] > 0.66
    q = np.where(bad_tail[:, None] & tail, q - rng.uniform(10, 25, size=(n, 1)), q)
    return np.clip(np.rint(q), 2, 41).astype(np.uint8)


def _homopolymer_run(fragment: np.ndarray) -> np.ndarray:
    """Length of the homopolymer run each base belongs to."""
    change = np.r_[True, fragment[1:] != fragment[:-1]]
    run_id = np.cumsum(change) - 1
    return np.bincount(run_id)[run_id]


def simulate_reads(
    haps: tuple[str, str],
    *,
    coverage: float = 30.0,
    read_length: int = 100,
    random_state: int = 0,
    miscalibration: float = 1.25,
    indel_error_rate: float = 2e-4,
    systematic: bool = True,
) -> Reads:
    """Single-end reads from both haplotypes (``coverage`` in total), with Illumina-like errors.

    A base of quality Q is wrong with probability ``miscalibration * 10**(-Q/10)`` (qualities are
    slightly optimistic, as raw Illumina qualities are); wrong bases favour A<->C and G<->T. Indel
    errors occur at ``indel_error_rate`` per base, times the homopolymer length for runs of 4 or more.
    With ``systematic``, a base that follows GG in the read is misread at a rate drawn per site and
    strand (Beta(0.4, 6), mean 6%), at high quality: strand-specific systematic errors.
    """
    rng = np.random.default_rng(random_state)
    codes = [encode_bases(h) for h in haps]
    per_hap = [int(round(coverage * len(c) / (2 * read_length))) for c in codes]
    pad = 8
    bases, which, starts = [], [], []
    for h, (c, n) in enumerate(zip(codes, per_hap)):
        s = rng.integers(0, len(c) - read_length - pad, size=n)
        window = c[s[:, None] + np.arange(read_length + pad)[None, :]]
        bases.append(window)
        which.append(np.full(n, h, dtype=np.int8))
        starts.append(s)
    frag = np.concatenate(bases)
    hap = np.concatenate(which)
    start = np.concatenate(starts)
    n = len(frag)
    # rare indel errors, likelier in homopolymers: applied to the fragment before it is read
    out = frag[:, :read_length].copy()
    expected = indel_error_rate * read_length * 1.5
    hit = np.flatnonzero(rng.random(n) < expected)
    for r in hit:
        f = frag[r]
        runs = _homopolymer_run(f[:read_length])
        weight = np.where(runs >= 4, runs, 1).astype(float)
        at = int(rng.choice(read_length, p=weight / weight.sum()))
        if rng.random() < 0.5:  # deletion of 1 base
            g = np.r_[f[:at], f[at + 1 :]]
        else:  # insertion: duplicate the base
            g = np.r_[f[: at + 1], f[at:]]
        out[r] = g[:read_length]
    reverse = rng.random(n) < 0.5
    out[reverse] = reverse_complement(out[reverse])
    quals = _qualities(rng, n, read_length)
    p_error = np.minimum(miscalibration * 10.0 ** (-quals.astype(float) / 10.0), 0.75)
    wrong = rng.random((n, read_length)) < p_error
    # substitution spectrum: partner base twice as likely as the other two (A<->C, G<->T)
    partner = np.array([1, 0, 3, 2, 4], dtype=np.uint8)
    shift = rng.integers(1, 4, size=(n, read_length)).astype(np.uint8)
    random_other = (out + shift) % 4
    use_partner = rng.random((n, read_length)) < 0.5
    replacement = np.where(use_partner, partner[out], random_other)
    replacement = np.where(replacement == out, (out + 1) % 4, replacement).astype(np.uint8)
    out = np.where(wrong & (out < 4), replacement, out).astype(np.uint8)
    if systematic:
        # systematic, strand-specific errors after a GG motif (read orientation), as in Illumina data
        # (Nakamura et al. 2011): each haplotype site and strand has its own rate; base quality stays high
        j = np.arange(read_length)[None, :]
        site = np.where(reverse[:, None], start[:, None] + read_length - 1 - j, start[:, None] + j)
        rates = [rng.beta(0.4, 6.0, size=(2, len(c) + read_length)) for c in codes]
        rate = np.zeros((n, read_length))
        for h in (0, 1):
            mine = hap == h
            rate[mine] = rates[h][reverse[mine].astype(int)[:, None], site[mine]]
        motif = np.zeros((n, read_length), bool)
        motif[:, 2:] = (out[:, :-2] == 2) & (out[:, 1:-1] == 2)
        hit = motif & (rng.random((n, read_length)) < rate)
        out = np.where(hit & (out < 4), partner[out], out).astype(np.uint8)
    order = np.argsort(rng.random(n), kind="stable")  # sequencer order, not genome order
    return Reads(out[order], quals[order], hap[order], start[order], reverse[order])

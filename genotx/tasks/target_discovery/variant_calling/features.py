"""Candidate variants and DeepVariant-style pileup tensors from aligned reads.

:func:`find_candidates` is a sensitive allele counter (as DeepVariant's): at each reference position
the most frequent non-reference base is a candidate SNV when it is seen in >= ``min_count`` reads and
>= ``min_snv_fraction`` of them; each read-supported indel (left-normalised) is a candidate when seen
in >= ``min_count`` reads and >= ``min_indel_fraction`` of the depth.

:func:`model_frame` is what every variant_calling model receives (``fit(X, y)``, ``predict_proba(X)``):
the candidate table plus ``pileup`` (each row's tensor), ``bam`` and ``reference`` (the files the
candidate was read from, for a caller that reads the alignments itself). :func:`model_input` builds
it for a part of the task's Dataset (tensors from ``arrays``, files from ``context``).

:func:`pileup_tensors` turns each candidate into a float32 tensor of shape
``(CHANNELS, rows, 2 * half_window + 1)``: one row per read overlapping the candidate (at most
``rows``, a seeded subsample when deeper), one column per reference position centred on it. Channels:

====  ===================  ==========================================================
 0    read base            A .25, C .5, G .75, T 1, N .1, deleted -.5; 0 where not covered
 1    base quality         Phred / 40 (0 for deleted or uncovered)
 2    mapping quality      MAPQ / 60 over the read's covered columns
 3    strand               +1 forward, -1 reverse over covered columns (0 = no read)
 4    supports candidate   +1 the read carries the candidate allele, -1 it does not
 5    differs from ref     1 where the read base (or a deletion) differs from the reference
 6    insertion            length of an insertion after the position / 6 (capped at 1)
 7    reference base       the reference base code, painted down every row
====  ===================  ==========================================================

Examples
--------
>>> CHANNELS
8
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from genotx.bio.alignments import DELETED, UNCOVERED, ReadImages
from genotx.data.dataset import Dataset
from genotx.seq.codes import encode_bases as encode

__all__ = ["CHANNELS", "MODEL_COLUMNS", "find_candidates", "pileup_tensors", "base_counts", "model_frame", "model_input"]

#: the columns :func:`model_frame` adds to the candidate table
MODEL_COLUMNS = ("pileup", "bam", "reference")

CHANNELS = 8
_BASE_VALUE = np.array([0.25, 0.5, 0.75, 1.0, 0.1, -0.5, 0.0], dtype=np.float32)  # index code (+1 for -1 -> 6)


def base_counts(images: ReadImages, length: int) -> np.ndarray:
    """(length, 6) read counts of A, C, G, T, N and deletion at every reference position."""
    counts = np.zeros((length, 6), np.int64)
    rows, cols = np.nonzero(images.base != UNCOVERED)
    pos = images.start[rows] + cols
    np.add.at(counts, (pos, images.base[rows, cols].astype(np.int64)), 1)
    return counts


def find_candidates(
    images: ReadImages,
    reference: str,
    *,
    min_count: int = 2,
    min_snv_fraction: float = 0.12,
    min_indel_fraction: float = 0.06,
) -> pd.DataFrame:
    """Candidate alleles: columns ``contig pos ref alt kind depth alt_count`` (0-based ``pos``)."""
    ref_codes = encode(reference)
    counts = base_counts(images, len(reference))
    depth = counts.sum(1)
    alt_counts = counts[:, :4].copy()
    known = ref_codes < 4
    alt_counts[np.flatnonzero(known), ref_codes[known]] = 0
    best = alt_counts.argmax(1)
    best_count = alt_counts.max(1)
    ok = known & (best_count >= min_count) & (best_count >= min_snv_fraction * np.maximum(depth, 1))
    pos = np.flatnonzero(ok)
    snvs = pd.DataFrame({
        "pos": pos, "ref": [reference[p] for p in pos], "alt": ["ACGT"[b] for b in best[pos]], "kind": "snv",
        "depth": depth[pos], "alt_count": best_count[pos],
    })
    frames = [snvs]
    if len(images.indels):
        events = images.indels.drop_duplicates(["read", "pos", "ref", "alt"])
        grouped = events.groupby(["pos", "ref", "alt"], sort=True).size().rename("alt_count").reset_index()
        grouped["depth"] = depth[np.minimum(grouped["pos"].to_numpy(), len(reference) - 1)]
        grouped["kind"] = np.where(grouped["ref"].str.len() > grouped["alt"].str.len(), "deletion", "insertion")
        keep = (grouped["alt_count"] >= min_count) & (grouped["alt_count"] >= min_indel_fraction * np.maximum(grouped["depth"], 1))
        frames.append(grouped[keep])
    out = pd.concat(frames, ignore_index=True).sort_values(["pos", "kind", "alt"], kind="stable").reset_index(drop=True)
    out.insert(0, "contig", images.contig)
    return out[["contig", "pos", "ref", "alt", "kind", "depth", "alt_count"]].astype({"pos": np.int64, "depth": np.int64, "alt_count": np.int64})


def _support(images: ReadImages, candidates: pd.DataFrame, reads: np.ndarray) -> np.ndarray:
    """(n_candidates, rows) +1 where the read carries the candidate allele, -1 otherwise, 0 no read."""
    support = np.where(reads >= 0, -1.0, 0.0).astype(np.float32)
    is_snv = (candidates["kind"] == "snv").to_numpy()
    pos = candidates["pos"].to_numpy()
    if is_snv.any():
        idx = np.flatnonzero(is_snv)
        r = reads[idx]
        col = pos[idx][:, None] - images.start[np.maximum(r, 0)]
        inside = (r >= 0) & (col >= 0) & (col < images.base.shape[1])
        got = images.base[np.maximum(r, 0), np.clip(col, 0, images.base.shape[1] - 1)]
        alt = np.array(["ACGT".index(a) for a in candidates["alt"].to_numpy()[idx]])[:, None]
        support[idx] = np.where(inside & (got == alt), 1.0, support[idx])
    if (~is_snv).any() and len(images.indels):
        carried = set(zip(images.indels["read"], images.indels["pos"], images.indels["ref"], images.indels["alt"]))
        for i in np.flatnonzero(~is_snv):
            row = candidates.iloc[i]
            for j, r in enumerate(reads[i]):
                if r >= 0 and (int(r), int(row["pos"]), row["ref"], row["alt"]) in carried:
                    support[i, j] = 1.0
    return support


def _select_reads(images: ReadImages, pos: np.ndarray, rows: int, random_state: int) -> np.ndarray:
    """(n_candidates, rows) read indices overlapping each position (-1 pad), seeded subsample."""
    out = np.full((len(pos), rows), -1, np.int64)
    span = images.base.shape[1]
    for i, p in enumerate(pos):
        lo = np.searchsorted(images.start, p - span, side="left")
        hi = np.searchsorted(images.start, p, side="right")
        idx = np.arange(lo, hi)
        idx = idx[images.end[idx] > p]
        if len(idx) > rows:
            rng = np.random.default_rng((random_state, int(p)))
            idx = np.sort(rng.choice(idx, size=rows, replace=False))
        out[i, : len(idx)] = idx
    return out


def pileup_tensors(
    images: ReadImages,
    candidates: pd.DataFrame,
    reference: str,
    *,
    rows: int = 40,
    half_window: int = 12,
    random_state: int = 0,
) -> np.ndarray:
    """Pileup tensors (n_candidates, CHANNELS, rows, 2 * half_window + 1), float32."""
    width = 2 * half_window + 1
    n = len(candidates)
    out = np.zeros((n, CHANNELS, rows, width), np.float32)
    if n == 0:
        return out
    pos = candidates["pos"].to_numpy(np.int64)
    reads = _select_reads(images, pos, rows, random_state)
    have = reads >= 0
    r = np.maximum(reads, 0)
    cols = pos[:, None] - half_window + np.arange(width)[None, :]  # (n, W) reference positions
    rel = cols[:, None, :] - images.start[r][:, :, None]  # (n, R, W)
    span = images.base.shape[1]
    inside = have[:, :, None] & (rel >= 0) & (rel < span)
    relc = np.clip(rel, 0, span - 1)
    base = np.where(inside, images.base[r[:, :, None], relc], UNCOVERED)
    qual = np.where(inside, images.qual[r[:, :, None], relc], 0)
    insert = np.where(inside, images.insert[r[:, :, None], relc], 0)
    covered = base != UNCOVERED
    padded_ref = np.concatenate([encode(reference), np.full(width, 4, np.uint8)])
    ref = np.where((cols >= 0) & (cols < len(reference)), padded_ref[np.clip(cols, 0, len(reference) - 1)], 4)  # (n, W)
    out[:, 0] = _BASE_VALUE[np.where(base == UNCOVERED, 6, base)]
    out[:, 1] = np.where(covered & (base != DELETED), qual / 40.0, 0.0)
    out[:, 2] = np.where(covered, (images.mapq[r] / 60.0)[:, :, None], 0.0)
    out[:, 3] = np.where(covered, np.where(images.reverse[r], -1.0, 1.0)[:, :, None], 0.0)
    out[:, 4] = np.where(covered, _support(images, candidates, reads)[:, :, None], 0.0)
    out[:, 5] = covered & (base != ref[:, None, :])
    out[:, 6] = np.minimum(insert / 6.0, 1.0)
    out[:, 7] = _BASE_VALUE[ref][:, None, :]
    return out


def model_frame(candidates: pd.DataFrame, tensors: np.ndarray, *, bam, reference: str) -> pd.DataFrame:
    """The candidates with their ``pileup`` tensors (views, not copies) and the ``bam`` (one path, or
    one per row) and ``reference`` they were read from: the ``X`` of every variant_calling model.

    >>> frame = model_frame(pd.DataFrame({"pos": [3, 9]}), np.zeros((2, CHANNELS, 4, 5), np.float32), bam="s.bam", reference="r.fa")
    >>> list(frame.columns), frame["pileup"].iloc[1].shape
    (['pos', 'pileup', 'bam', 'reference'], (8, 4, 5))
    """
    tensors = np.asarray(tensors)
    if len(tensors) != len(candidates):
        raise ValueError(f"{len(tensors)} pileup tensors for {len(candidates)} candidates")
    return candidates.assign(pileup=list(tensors) if len(tensors) else [], bam=bam, reference=str(reference))


def model_input(part: Dataset) -> pd.DataFrame:
    """:func:`model_frame` of a part of the task's Dataset (its rows' tensors, BAMs and reference)."""
    bams: Mapping[str, str] = part.context["bams"]
    return model_frame(part.inputs, part.arrays["tensors"], bam=part.inputs["sample"].map(bams).to_numpy(),
                       reference=part.context["reference_fasta"])

"""Genome scan: every site of each guide with up to k mismatches (and optionally one 1-nt bulge),
both strands, NGG and NAG PAMs, streamed contig by contig from a FASTA file.

How it is fast (numpy only, no per-position Python):

1. each contig is encoded once to 2-bit codes (A C G T = 0..3; N and IUPAC letters = 4) and
   reverse-complemented once; the minus strand is scanned as a plus strand and its coordinates
   mapped back;
2. the contig is cut into blocks (``block`` bases, overlapping by one site length), so memory stays
   bounded whatever the chromosome size;
3. in a block, the PAM is checked first for every position at once (two comparisons per PAM
   pattern), leaving ~1/8 of positions as candidates; their protospacers (19, 20 or 21 nt) are
   packed into one ``uint64`` each (2 bits per base, 20 gathers) once for all guides;
4. per guide (and per bulge pattern): XOR with the guide's packed word, fold each 2-bit pair into
   one bit (``(x | x >> 1) & 0b0101...``, the DNA-bulge base masked out) and count mismatches with
   ``np.bitwise_count``: five vector operations over the candidates;
5. candidates whose window holds an N take an exact per-position path (N is a mismatch).

A site is reported once per guide, strand and PAM position: the alignment with the fewest edits
(mismatches + bulge; ties: no bulge first). Bulges (``bulges=True``): an RNA bulge (a guide base
without partner, spacer index 1-18) or a DNA bulge (one extra genomic base before spacer index 1-19),
each with up to ``max_mismatches`` mismatches besides. Coordinates are 0-based, half-open, on the
plus strand; ``site_sequence`` is read on the guide's strand, 5' -> 3', PAM last.

:func:`reference_scan` is the same search written plainly (a Python loop over positions, guides and
patterns): the test and the benchmark check the fast scan against it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.featurize.fasta_stream import iter_fasta
from genotx.tasks.therapeutics.crispr_off_target.features import SPACER, aligned_pair

__all__ = ["scan_genome", "scan_sequence", "reference_scan", "iter_contigs", "aligned_sites", "SCAN_COLUMNS", "DEFAULT_PAMS"]

DEFAULT_PAMS = ("NGG", "NAG")
SCAN_COLUMNS = ("guide_id", "chrom", "start", "end", "strand", "site_sequence", "mismatches", "bulge", "bulge_index")
_MAX_SITE = SPACER + 1 + 3  # a DNA-bulged protospacer + PAM
_KINDS = ("none", "rna", "dna")

# FASTA bytes -> codes: ACGT (either case) 0..3; N and IUPAC ambiguity letters 4; anything else 255
_TABLE = np.full(256, 255, np.uint8)
for _i, _b in enumerate("ACGT"):
    _TABLE[ord(_b)] = _TABLE[ord(_b.lower())] = _i
for _b in "NRYSWKMBDHVU":
    _TABLE[ord(_b)] = _TABLE[ord(_b.lower())] = 4
_TABLE[ord("U")] = _TABLE[ord("u")] = 3
_COMPLEMENT = np.array([3, 2, 1, 0, 4], np.uint8)
_LETTERS = np.frombuffer(b"ACGTN", np.uint8)


@dataclass(frozen=True)
class _Pattern:
    """One way a guide can sit on a window of ``width`` bases (the PAM follows at ``width``)."""

    guide_id: int
    kind: int  # 0 none, 1 RNA bulge, 2 DNA bulge
    bulge: int  # spacer index, -1 for none
    expect: np.ndarray  # uint8 (width,), 255 = the extra (unpaired) genomic base
    word: np.uint64
    mask: np.uint64


def _patterns(guides: np.ndarray, bulges: bool) -> dict[int, list[_Pattern]]:
    out: dict[int, list[_Pattern]] = {SPACER: []}
    if bulges:
        out[SPACER - 1], out[SPACER + 1] = [], []
    for gid, g in enumerate(guides):
        variants = [(0, -1, g)]
        if bulges:
            variants += [(1, b, np.delete(g, b)) for b in range(1, SPACER - 1)]
            variants += [(2, b, np.insert(g, b, 255)) for b in range(1, SPACER)]
        for kind, b, expect in variants:
            word = mask = 0
            for e in expect.tolist():
                word, mask = word << 2, mask << 2
                if e != 255:
                    word |= e
                    mask |= 1
            out[len(expect)].append(_Pattern(gid, kind, b, expect.astype(np.uint8), np.uint64(word), np.uint64(mask)))
    return out


def _guide_codes(guides: Sequence[str]) -> np.ndarray:
    codes = np.zeros((len(guides), SPACER), np.uint8)
    for i, g in enumerate(guides):
        g = str(g).upper()
        c = _TABLE[np.frombuffer(g.encode("ascii", errors="replace"), np.uint8)]
        if len(g) != SPACER or (c > 3).any():
            raise InputError("guides", f"guide {i} ({g!r}) is not a 20-nt spacer of A/C/G/T", fix="give 20-nt spacers (PAM not included)")
        codes[i] = c
    return codes


def _pam_codes(pams: Sequence[str]) -> list[np.ndarray]:
    out = []
    for pam in pams:
        text = str(pam).upper()
        if len(text) != 3 or set(text) - set("ACGTN"):
            raise InputError("pams", f"PAM {pam!r} is not 3 letters of A/C/G/T/N", fix="write e.g. NGG")
        out.append(_TABLE[np.frombuffer(text.encode(), np.uint8)])
    return out


def _pam_ok(sub: np.ndarray, offset: int, n: int, pams: list[np.ndarray]) -> np.ndarray:
    ok = np.zeros(n, bool)
    for pam in pams:
        hit = np.ones(n, bool)
        for k, code in enumerate(pam.tolist()):
            if code < 4:
                hit &= sub[offset + k: offset + k + n] == code
        ok |= hit
    return ok


def _pack(sub: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bases from each start packed 2 bits per base into a ``uint64`` (5' base highest)."""
    windows = np.zeros((len(starts), 24), np.uint8)  # left-padded to 24 bases = 6 bytes
    windows[:, 24 - width:] = np.lib.stride_tricks.sliding_window_view(sub, width)[starts]
    nibbles = (windows[:, 0::2] << 2) | windows[:, 1::2]
    packed = np.zeros((len(starts), 8), np.uint8)
    packed[:, 2:] = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return packed.view(">u8").ravel().astype(np.uint64)


def _scan_strand(s: np.ndarray, patterns: dict[int, list[_Pattern]], pams: list[np.ndarray], k: int, block: int,
                 found: dict[str, list]) -> None:
    """Append every hit of ``patterns`` on the plus strand of ``s`` (codes) to ``found``."""
    for b0 in range(0, len(s), block):
        sub = s[b0: b0 + block + _MAX_SITE - 1]
        n_where = np.flatnonzero(sub > 3)
        for width, group in patterns.items():
            n_pos = min(block, len(sub) - width - 3 + 1)
            if n_pos <= 0 or not group:
                continue
            cand = np.flatnonzero(_pam_ok(sub, width, n_pos, pams))
            if not len(cand):
                continue
            if len(n_where):  # windows holding an N take the exact path
                first_n = np.searchsorted(n_where, cand)  # the first N at or after each start
                nxt = n_where[np.minimum(first_n, len(n_where) - 1)]
                has_n = (first_n < len(n_where)) & (nxt < cand + width)
                clean, dirty = cand[~has_n], cand[has_n]
            else:
                clean, dirty = cand, cand[:0]
            words = _pack(sub, clean, width)  # once for every guide
            for pat in group:
                x = words ^ pat.word
                mm = np.bitwise_count((x | (x >> np.uint64(1))) & pat.mask)
                hit = np.flatnonzero(mm <= k)
                _record(found, pat, width, b0 + clean[hit], mm[hit])
                if len(dirty):  # exact per-position count (N never matches)
                    counted = np.zeros(len(dirty), np.int16)
                    for j, e in enumerate(pat.expect.tolist()):
                        if e != 255:
                            counted += sub[dirty + j] != e
                    keep = counted <= k
                    _record(found, pat, width, b0 + dirty[keep], counted[keep])


def _record(found: dict[str, list], pat: _Pattern, width: int, starts: np.ndarray, mismatches: np.ndarray) -> None:
    if len(starts):
        found["guide_id"].append(np.full(len(starts), pat.guide_id, np.int32))
        found["kind"].append(np.full(len(starts), pat.kind, np.int8))
        found["bulge"].append(np.full(len(starts), pat.bulge, np.int8))
        found["width"].append(np.full(len(starts), width, np.int8))
        found["pos"].append(starts.astype(np.int64))
        found["mismatches"].append(np.asarray(mismatches, np.int16))


def _best_per_site(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (guide, contig, strand, PAM position): fewest edits, then no bulge, then the lowest index."""
    if frame.empty:
        return frame
    frame = frame.assign(_edits=frame["mismatches"] + (frame["kind"] > 0), _pam=frame["pos"] + frame["width"])
    frame = frame.sort_values(["guide_id", "chrom_index", "strand", "_pam", "_edits", "kind", "bulge"], kind="stable")
    frame = frame.drop_duplicates(["guide_id", "chrom_index", "strand", "_pam"])
    return frame.drop(columns=["_edits", "_pam"])


def scan_sequence(codes: np.ndarray, guides: Sequence[str], *, chrom: str = "seq", max_mismatches: int = 4,
                  pams: Sequence[str] = DEFAULT_PAMS, bulges: bool = False, block: int = 1 << 22) -> pd.DataFrame:
    """Scan one contig given as codes (A C G T = 0..3, other = 4); returns the columns of :data:`SCAN_COLUMNS`.

    Examples
    --------
    >>> seq = "TT" + "ACGTACGTACGTACGTACGT" + "AGG" + "TT"
    >>> hits = scan_sequence(_TABLE[np.frombuffer(seq.encode(), np.uint8)], ["ACGTACGTACGTACGTACGA"], max_mismatches=1)
    >>> hits[["start", "end", "strand", "site_sequence", "mismatches"]].values.tolist()
    [[2, 25, '+', 'ACGTACGTACGTACGTACGTAGG', 1]]
    """
    if not 0 <= max_mismatches <= 8:
        raise InputError("max_mismatches", f"{max_mismatches} is out of range", fix="use 0 to 8")
    if block < 1:
        raise InputError("block", f"{block} is not a positive block size", fix="use e.g. 4194304")
    gcodes = _guide_codes(guides)
    patterns = _patterns(gcodes, bulges)
    pam_codes = _pam_codes(pams)
    codes = np.minimum(np.asarray(codes, np.uint8), 4)  # any non-ACGT code is an unknown base
    frames = []
    for strand, s in (("+", codes), ("-", _COMPLEMENT[codes[::-1]])):
        found: dict[str, list] = {key: [] for key in ("guide_id", "kind", "bulge", "width", "pos", "mismatches")}
        _scan_strand(s, patterns, pam_codes, max_mismatches, block, found)
        if found["pos"]:
            part = pd.DataFrame({key: np.concatenate(v) for key, v in found.items()})
            part["strand"] = strand
            part["chrom_index"] = 0
            part = _best_per_site(part)
            span = part["width"].to_numpy(np.int64) + 3
            pos = part["pos"].to_numpy()
            part["site_sequence"] = _site_strings(s, pos, span)
            part["start"] = pos if strand == "+" else len(codes) - pos - span
            frames.append(part)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCAN_COLUMNS})
    out = pd.concat(frames, ignore_index=True).rename(columns={"bulge": "bulge_index"})
    out["end"] = out["start"] + out["width"].astype(np.int64) + 3
    out["chrom"] = chrom
    out["bulge"] = np.array(_KINDS)[out["kind"].to_numpy()]
    out["bulge_index"] = out["bulge_index"].astype(int)
    out["mismatches"] = out["mismatches"].astype(int)
    return out.sort_values(["guide_id", "start", "strand"], ignore_index=True)[list(SCAN_COLUMNS)]


def _site_strings(s: np.ndarray, pos: np.ndarray, span: np.ndarray) -> np.ndarray:
    out = np.empty(len(pos), dtype=object)
    for width in np.unique(span):
        rows = np.flatnonzero(span == width)
        idx = pos[rows, None] + np.arange(width)[None, :]
        out[rows] = _LETTERS[s[idx]].view(f"S{width}").ravel().astype(str)
    return out


def iter_contigs(path: str | os.PathLike, *, chunk_bytes: int = 64 << 20) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, codes)`` per FASTA record (plain or .gz), one contig in memory at a time.

    Letters A/C/G/T (either case) become 0..3, N and the IUPAC ambiguity letters 4; any other byte is
    an :class:`~genotx.errors.InputError` naming the file, line and record.
    """
    where = str(path)
    seen: dict[str, int] = {}  # name -> line: a repeated name would make two contigs' coordinates indistinguishable
    for batch in iter_fasta(path, chunk_bytes=chunk_bytes):
        for r in range(len(batch)):
            name, line = batch.names[r], int(batch.lines[r])
            if name in seen:
                raise InputError(where, f"record name {name!r} is used twice (first at line {seen[name]})", line=line,
                                 fix="give every contig a unique name (the first word after '>')")
            seen[name] = line
            a, b = int(batch.offsets[r]), int(batch.offsets[r + 1])
            codes = _TABLE[batch.codes[a:b]]
            bad = np.flatnonzero(codes == 255)
            if len(bad):
                char = chr(int(batch.codes[a + bad[0]]))
                raise InputError(where, f"record {batch.names[r]!r}: character {char!r} at position {int(bad[0]) + 1} is not a "
                                 "DNA letter", line=batch.line_of(a + int(bad[0])), fix="use A/C/G/T/N (IUPAC letters read as N)")
            if b == a:
                raise InputError(where, f"record {batch.names[r]!r} has no sequence", line=int(batch.lines[r]),
                                 fix="remove the record or add its sequence")
            yield batch.names[r], codes


def scan_genome(guides: Sequence[str], reference: str | os.PathLike, *, max_mismatches: int = 4,
                pams: Sequence[str] = DEFAULT_PAMS, bulges: bool = False, block: int = 1 << 22) -> pd.DataFrame:
    """Every site of every guide in a FASTA genome (see the module docstring), contig by contig.

    Returns :data:`SCAN_COLUMNS`: ``guide_id`` (index into ``guides``), ``chrom``, ``start``, ``end``
    (0-based, half-open, plus strand), ``strand``, ``site_sequence`` (guide strand, PAM last),
    ``mismatches``, ``bulge`` (``none``/``rna``/``dna``) and ``bulge_index`` (spacer index, -1 for none).
    """
    frames = [scan_sequence(codes, guides, chrom=name, max_mismatches=max_mismatches, pams=pams, bulges=bulges, block=block)
              for name, codes in iter_contigs(reference)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCAN_COLUMNS})
    return pd.concat(frames, ignore_index=True).sort_values("guide_id", kind="stable", ignore_index=True)


def aligned_sites(hits: pd.DataFrame, guides: Sequence[str]) -> pd.DataFrame:
    """The aligned ``guide``/``site`` pair of each scan hit (the model inputs)."""
    spacers = np.asarray([str(g).upper() for g in guides], dtype=object)[hits["guide_id"].to_numpy(int)]
    pairs = [aligned_pair(g, s, rna_bulge=int(i) if k == "rna" else -1, dna_bulge=int(i) if k == "dna" else -1)
             for g, s, k, i in zip(spacers, hits["site_sequence"], hits["bulge"], hits["bulge_index"])]
    return pd.DataFrame({"guide": [p[0] for p in pairs], "site": [p[1] for p in pairs]}, index=hits.index)


# ---- the straightforward reference ------------------------------------------------------------------


def _plain_patterns(guide: str, bulges: bool) -> list[tuple[int, int, str]]:
    out = [(0, -1, guide)]
    if bulges:
        out += [(1, b, guide[:b] + guide[b + 1:]) for b in range(1, SPACER - 1)]
        out += [(2, b, guide[:b] + "." + guide[b:]) for b in range(1, SPACER)]
    return out


def _revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def reference_scan(guides: Sequence[str], records: Iterable[tuple[str, str]], *, max_mismatches: int = 4,
                   pams: Sequence[str] = DEFAULT_PAMS, bulges: bool = False) -> pd.DataFrame:
    """The same search as :func:`scan_sequence`, written as plain loops over positions (slow; a check).

    ``records`` are ``(name, sequence)`` pairs; letters other than A/C/G/T never match.
    """
    rows = []
    guides = [str(g).upper() for g in guides]
    for chrom_index, (name, seq) in enumerate(records):
        seq = seq.upper()
        for strand, s in (("+", seq), ("-", _revcomp(seq))):
            for pos in range(len(s)):
                for gid, guide in enumerate(guides):
                    for kind, bulge, expect in _plain_patterns(guide, bulges):
                        width = len(expect)
                        if pos + width + 3 > len(s):
                            continue
                        pam = s[pos + width: pos + width + 3]
                        if not any(all(p == "N" or p == q for p, q in zip(pattern, pam)) for pattern in pams):
                            continue
                        mismatches = 0
                        for e, q in zip(expect, s[pos: pos + width]):
                            if e != "." and e != q:
                                mismatches += 1
                                if mismatches > max_mismatches:
                                    break
                        if mismatches <= max_mismatches:
                            start = pos if strand == "+" else len(s) - pos - width - 3
                            rows.append({"guide_id": gid, "chrom": name, "chrom_index": chrom_index, "start": start,
                                         "end": start + width + 3, "strand": strand, "pos": pos, "width": width,
                                         "site_sequence": s[pos: pos + width + 3], "mismatches": mismatches,
                                         "kind": kind, "bulge": bulge})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCAN_COLUMNS})
    frame = _best_per_site(frame).rename(columns={"bulge": "bulge_index"})
    frame["bulge"] = np.array(_KINDS)[frame["kind"].to_numpy()]
    return frame.sort_values(["guide_id", "chrom_index", "start", "strand"], ignore_index=True)[list(SCAN_COLUMNS)]

"""Variants as mutation lists: one token per changed slot of the wild type, written the DMS way.

Grammar (positions count along the wild type from ``first``, e.g. 561 for the AAV2 VP1 region 561-588):

* ``K444T``: the wild-type letter, the position, the new letter (``*`` a stop, ``-`` a deletion);
* ``588+1G``: the 1st residue inserted after position 588 (``588+2A`` the 2nd; ``560+1S`` before 561).

A variant is its tokens joined by spaces in position order (:func:`canonical`); ``""`` is the wild
type. The slot of a token is the token without its last letter, so two variants differ at the slots
where their letters differ (the Hamming distance the design protocol uses). Converters read equal-
length sequences (:func:`from_sequences`), Bryant 2021's case-coded region strings
(:func:`from_case_coded`) and FLIP's upper-case regions with insertions (:func:`from_regions`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["TOKEN", "parse", "canonical", "slot", "position", "from_sequences", "from_case_coded", "from_regions",
           "apply", "check_wild_type"]

TOKEN = re.compile(r"(?P<wt>[A-Z*-])(?P<pos>\d+)(?P<new>[A-Z*-])|(?P<after>\d+)\+(?P<k>[1-9]\d*)(?P<ins>[A-Z])")


def slot(token: str) -> str:
    """The slot a token changes: the token without its new letter (``K444T`` -> ``K444``)."""
    return token[:-1]


def position(token: str) -> tuple[int, int]:
    """Sort key: (position, 0) for a change of a wild-type residue, (position, k) for an insertion after it."""
    match = TOKEN.fullmatch(token)
    if match is None:
        raise ValueError(f"{token!r} is not a mutation (write e.g. K444T, or 588+1G for an insertion)")
    if match["pos"] is not None:
        return int(match["pos"]), 0
    return int(match["after"]), int(match["k"])


def parse(text: str) -> list[str]:
    """The tokens of one variant (spaces, commas, semicolons or ``:`` between them; ``""``/``WT`` = wild type).

    Raises ``ValueError`` naming the bad token; a change to the same letter or two changes of one slot are refused.

    >>> parse("A522S, K444T")
    ['K444T', 'A522S']
    """
    text = "" if text is None else str(text).strip()
    if text.upper() in ("", "WT", "WILDTYPE", "WILD_TYPE", "NAN"):
        return []
    tokens = [t for t in re.split(r"[\s,;:]+", text) if t]
    for t in tokens:
        match = TOKEN.fullmatch(t)
        if match is None:
            raise ValueError(f"{t!r} is not a mutation (write e.g. K444T, or 588+1G for an insertion)")
        if match["pos"] is not None and match["wt"] == match["new"]:
            raise ValueError(f"{t!r} changes a residue to itself")
    if len({slot(t) for t in tokens}) < len(tokens):
        raise ValueError(f"{text!r} changes one position twice")
    return sorted(tokens, key=position)


def canonical(tokens: Iterable[str]) -> str:
    """Tokens in position order joined by spaces (the one spelling of a variant).

    >>> canonical(["588+1G", "D561A"])
    'D561A 588+1G'
    """
    return " ".join(sorted(tokens, key=position))


def check_wild_type(tokens: Sequence[str], wild_type: str, first: int) -> str | None:
    """None when every token's wild-type letter and position fit ``wild_type``, else what is wrong.

    >>> check_wild_type(["K2T"], "MKV", 1), check_wild_type(["A2T"], "MKV", 1)
    (None, 'A2T: position 2 is K in the wild type')
    """
    last = first + len(wild_type) - 1
    for t in tokens:
        match = TOKEN.fullmatch(t)
        at = int(match["pos"] if match["pos"] is not None else match["after"])
        if not (first - (match["pos"] is None) <= at <= last):
            return f"{t}: position {at} is outside the wild type ({first}-{last})"
        if match["pos"] is not None and wild_type[at - first] != match["wt"]:
            return f"{t}: position {at} is {wild_type[at - first]} in the wild type"
    return None


def from_sequences(sequences: Sequence[str], wild_type: str, *, first: int = 1) -> list[str]:
    """Equal-length sequences -> canonical mutation lists against ``wild_type`` (vectorised).

    >>> from_sequences(["MKV", "MRA"], "MKV")
    ['', 'K2R V3A']
    """
    n, length = len(sequences), len(wild_type)
    if n == 0:
        return []
    codes = np.frombuffer("".join(sequences).encode("ascii"), dtype=np.uint8)
    if codes.size != n * length:
        raise ValueError(f"every sequence must have the wild type's length {length}")
    codes = codes.reshape(n, length)
    wild = np.frombuffer(wild_type.encode("ascii"), dtype=np.uint8)
    rows, cols = np.nonzero(codes != wild[None, :])
    out = [[] for _ in range(n)]
    for r, c in zip(rows.tolist(), cols.tolist()):  # row-major: positions already in order
        out[r].append(f"{wild_type[c]}{c + first}{chr(codes[r, c])}")
    return [" ".join(t) for t in out]


def from_case_coded(sequence: str, wild_region: str, *, first: int) -> str:
    """Bryant 2021's region string -> a mutation list: one upper-case letter (or ``*``) per wild-type
    position, lower-case letters are residues inserted after the preceding position.

    >>> from_case_coded("DaEGf", "DEE", first=561)
    '561+1A E563G 563+1F'
    """
    tokens, anchor, inserted = [], first - 1, 0
    for char in sequence.strip():
        if char.islower():
            inserted += 1
            tokens.append(f"{anchor}+{inserted}{char.upper()}")
            continue
        anchor, inserted = anchor + 1, 0
        if anchor - first >= len(wild_region):
            raise ValueError(f"{sequence!r} has more than {len(wild_region)} region residues (upper case)")
        if char != wild_region[anchor - first]:
            tokens.append(f"{wild_region[anchor - first]}{anchor}{char}")
    if anchor - first + 1 != len(wild_region):
        raise ValueError(f"{sequence!r} has {anchor - first + 1} region residues (upper case), not {len(wild_region)}")
    return " ".join(tokens)


def from_regions(regions: Sequence[str], wild_region: str, *, first: int) -> list[str | None]:
    """Upper-case regions (substitutions and insertions, no deletions) -> mutation lists, the
    insertions placed where they cost the fewest substitutions (ties: the 3'-most placement, the
    HGVS rule). A region shorter than the wild type gives None. Vectorised per region length.

    >>> from_regions(["DEE", "DGEE", "AE"], "DEE", first=561)
    ['', '561+1G', None]
    """
    out: list[str | None] = [None] * len(regions)
    lengths = np.array([len(r) for r in regions])
    wild = np.frombuffer(wild_region.encode("ascii"), dtype=np.uint8)
    m = len(wild)
    for length in np.unique(lengths[lengths >= m]):
        idx = np.flatnonzero(lengths == length)
        seqs = np.frombuffer("".join(regions[i] for i in idx).encode("ascii"), dtype=np.uint8).reshape(len(idx), length)
        extra = length - m
        inf = np.iinfo(np.int32).max // 2
        # cost[i, j]: fewest substitutions placing the first i residues with j of them on wild-type positions
        cost = np.full((len(idx), length + 1, m + 1), inf, dtype=np.int32)
        cost[:, 0, 0] = 0
        for i in range(1, length + 1):
            for j in range(max(0, i - extra), min(i, m) + 1):
                best = cost[:, i - 1, j] if i - 1 >= j else np.full(len(idx), inf, np.int32)  # residue i inserted
                if j > 0:
                    best = np.minimum(best, cost[:, i - 1, j - 1] + (seqs[:, i - 1] != wild[j - 1]))
                cost[:, i, j] = best
        for row, k in enumerate(idx):
            tokens, i, j, inserted = [], length, m, []
            while i > 0:
                residue = chr(seqs[row, i - 1])
                as_insert = i - 1 >= j and cost[row, i - 1, j] == cost[row, i, j]
                if as_insert:  # prefer the insertion when tied, walking 3' -> 5': insertions end up 3'-most
                    inserted.append(residue)
                else:
                    tokens.extend(f"{first + j - 1}+{n + 1}{c}" for n, c in enumerate(reversed(inserted)))
                    inserted = []
                    if residue != wild_region[j - 1]:
                        tokens.append(f"{wild_region[j - 1]}{first + j - 1}{residue}")
                    j -= 1
                i -= 1
            tokens.extend(f"{first - 1}+{n + 1}{c}" for n, c in enumerate(reversed(inserted)))
            out[k] = canonical(tokens)
    return out


def apply(tokens: Sequence[str], wild_type: str, *, first: int = 1) -> str:
    """The sequence of a variant: substitutions applied, insertions inserted, deletions (``-``) dropped.

    >>> apply(["K2R", "2+1G", "V3-"], "MKV")
    'MRG'
    """
    residues = list(wild_type)
    inserts: dict[int, list[tuple[int, str]]] = {}
    for t in tokens:
        match = TOKEN.fullmatch(t)
        if match["pos"] is not None:
            residues[int(match["pos"]) - first] = match["new"]
        else:
            inserts.setdefault(int(match["after"]) - first, []).append((int(match["k"]), match["ins"]))
    out = [c for _, c in sorted(inserts.get(-1, []))]
    for i, r in enumerate(residues):
        out.append(r)
        out.extend(c for _, c in sorted(inserts.get(i, [])))
    return "".join(c for c in out if c != "-")

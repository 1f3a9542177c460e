"""Guide-site pairs: the alignment read into arrays, and the features the learned models see.

A pair is two aligned strings of one length (columns ``guide`` and ``site`` of the task's inputs):

* ``guide``: the 20-nt spacer (5' -> 3') then ``NGG``; a ``-`` marks a DNA bulge (an extra site base);
* ``site``: the genomic protospacer on the guide's strand then its 3-nt PAM; a ``-`` marks an RNA
  bulge (a guide base with no partner).

Without gaps both are 23 nt. Spacer index 0 is the guide's 5' end (PAM-distal; CFD position 1) and
19 the PAM-proximal base (CFD position 20). Bases A, C, G, T = 0..3; ``N`` (4) in the site pairs with
anything (an unknown base is not counted as a mismatch).

:func:`encode_pairs` -> :class:`PairCodes`; :func:`mismatch_types` -> ``int8 (n, 20)`` (-1 = none,
else ``guide base * 3 + rank of the site base among the other three``: 12 types);
:func:`pair_features` -> ``float32 (n, 398)`` for tree models; :func:`product_design` -> the 0/1
design matrix of the position x type product model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.seq.codes import encode_bases

__all__ = ["PairCodes", "encode_pairs", "mismatch_types", "pair_features", "product_design", "aligned_pair",
           "N_PRODUCT_FEATURES", "SPACER", "PAM"]

SPACER = 20
PAM = 3
_LENGTH = SPACER + PAM


@dataclass(frozen=True)
class PairCodes:
    """The alignment of ``n`` pairs as arrays.

    ``guide`` ``uint8 (n, 20)`` spacer bases; ``site`` ``uint8 (n, 20)`` the site base facing each
    guide base (4 = N or no partner); ``rna_bulge`` ``int8 (n,)`` spacer index of an unpaired guide
    base (-1: none); ``dna_bulge`` ``int8 (n,)`` spacer index ``i`` such that an extra site base lies
    between guide bases ``i - 1`` and ``i`` (-1: none); ``pam`` ``uint8 (n, 3)`` the site's PAM.
    """

    guide: np.ndarray
    site: np.ndarray
    rna_bulge: np.ndarray
    dna_bulge: np.ndarray
    pam: np.ndarray

    def __len__(self) -> int:
        return len(self.guide)


def _as_strings(values: Sequence[str] | pd.Series) -> np.ndarray:
    return np.asarray(pd.Series(values, dtype=object).astype(str).str.upper().to_numpy(), dtype=object)


def encode_pairs(guides: Sequence[str], sites: Sequence[str], *, where: str = "pairs") -> PairCodes:
    """Read aligned guide/site strings (see the module docstring) into :class:`PairCodes`.

    Examples
    --------
    >>> c = encode_pairs(["ACGTACGTACGTACGTACGTNGG"], ["ACGTACGTACGTACGTACTTAGG"])
    >>> int(c.site[0, 18]), c.pam[0].tolist(), int(c.rna_bulge[0])
    (3, [0, 2, 2], -1)
    >>> c = encode_pairs(["ACGTACGTAC-GTACGTACGTNGG"], ["ACGTACGTACAGTACGTACGTTGG"])  # extra site A
    >>> int(c.dna_bulge[0]), c.site[0].tolist() == c.guide[0].tolist()
    (10, True)
    """
    g_all, s_all = _as_strings(guides), _as_strings(sites)
    if len(g_all) != len(s_all):
        raise InputError(where, f"{len(g_all)} guides but {len(s_all)} sites", fix="give one site per guide")
    n = len(g_all)
    out = PairCodes(np.zeros((n, SPACER), np.uint8), np.zeros((n, SPACER), np.uint8), np.full(n, -1, np.int8),
                    np.full(n, -1, np.int8), np.zeros((n, PAM), np.uint8))
    if n == 0:
        return out
    plain = np.array([len(g) == _LENGTH and len(s) == _LENGTH and "-" not in g and "-" not in s for g, s in zip(g_all, s_all)])
    if plain.any():  # the common case: one vectorised pass
        g = encode_bases("".join(g_all[plain])).reshape(-1, _LENGTH)
        s = encode_bases("".join(s_all[plain])).reshape(-1, _LENGTH)
        out.guide[plain], out.site[plain], out.pam[plain] = g[:, :SPACER], s[:, :SPACER], s[:, SPACER:]
    for row in np.flatnonzero(~plain):
        _encode_gapped(out, row, g_all[row], s_all[row], where)
    bad = (out.guide > 3).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(where, f"row {row}: guide {g_all[row]!r} has a base other than A/C/G/T in its spacer",
                         fix="give the 20-nt spacer in A/C/G/T")
    return out


def _encode_gapped(out: PairCodes, row: int, guide: str, site: str, where: str) -> None:
    if len(guide) != len(site) or not _LENGTH - 1 <= len(guide.replace("-", "")) <= _LENGTH:
        raise InputError(where, f"row {row}: guide {guide!r} and site {site!r} are not an alignment of a 20-nt spacer + PAM",
                         fix="give aligned strings of one length (23 without gaps; '-' marks a bulge)")
    if len(guide.replace("-", "")) != _LENGTH or guide.count("-") + site.count("-") > 1 or site.endswith(("-",)) \
            or "-" in site[-PAM:] or "-" in guide[-PAM:]:
        raise InputError(where, f"row {row}: guide {guide!r} / site {site!r} is not a 20-nt spacer + PAM with at most one "
                         "1-nt bulge inside the spacer", fix="one '-' at most, in the spacer, in either string")
    gi = 0
    for column, (a, b) in enumerate(zip(guide[:-PAM], site[:-PAM])):
        if a == "-":  # extra site base: a DNA bulge before guide index gi
            if gi == 0:
                raise InputError(where, f"row {row}: a DNA bulge before the first spacer base", fix="trim the site's 5' base")
            out.dna_bulge[row] = gi
            continue
        out.guide[row, gi] = encode_bases(a)[0]
        if b == "-":
            out.rna_bulge[row] = gi
            out.site[row, gi] = 4
        else:
            out.site[row, gi] = encode_bases(b)[0]
        gi += 1
    out.pam[row] = encode_bases(site[-PAM:])


def mismatch_types(codes: PairCodes) -> np.ndarray:
    """``int8 (n, 20)``: -1 where the bases pair (or the site base is N / missing), else the type 0..11.

    >>> c = encode_pairs(["A" * 20 + "NGG"], ["C" + "A" * 19 + "TGG"])
    >>> mismatch_types(c)[0, :2].tolist()
    [0, -1]
    """
    g, s = codes.guide.astype(np.int16), codes.site.astype(np.int16)
    kind = g * 3 + s - (s > g)
    return np.where((g != s) & (s < 4), kind, -1).astype(np.int8)


def aligned_pair(guide: str, site: str, *, rna_bulge: int = -1, dna_bulge: int = -1, extra: str = "N") -> tuple[str, str]:
    """Aligned strings of a 20-nt guide and a site built around it (the inverse of :func:`encode_pairs`).

    ``site`` is the ungapped site (20 +- 1 nt + PAM). With ``rna_bulge=i`` the site lacks a partner for
    guide base ``i``; with ``dna_bulge=i`` the site has one extra base before guide base ``i``.

    >>> aligned_pair("ACGTACGTACGTACGTACGT", "ACGTACGTACGTACGTACGAGG", rna_bulge=19)
    ('ACGTACGTACGTACGTACGTNGG', 'ACGTACGTACGTACGTACG-AGG')
    """
    g = guide[:SPACER] + "NGG"
    if rna_bulge >= 0:
        return g, site[:rna_bulge] + "-" + site[rna_bulge:]
    if dna_bulge >= 0:
        return g[:dna_bulge] + "-" + g[dna_bulge:], site
    return g, site


def _counts(mm: np.ndarray, codes: PairCodes) -> np.ndarray:
    hit = mm >= 0
    return np.column_stack([
        hit.sum(axis=1), hit[:, 12:].sum(axis=1), hit[:, 8:12].sum(axis=1), hit[:, :8].sum(axis=1),  # total, seed, middle, distal
        (codes.rna_bulge >= 0) | (codes.dna_bulge >= 0),
        np.where(hit.any(axis=1), SPACER - 1 - np.argmax(hit[:, ::-1], axis=1), -1),  # the most PAM-proximal mismatch
        np.where(hit.any(axis=1), np.argmax(hit, axis=1), -1),
    ])


def pair_features(frame: pd.DataFrame) -> np.ndarray:
    """Features of each pair for a tree model, ``float32 (n, 398)``.

    Mismatch type one-hot per spacer position (240), mismatch indicators (20), counts (total, seed
    13-20, middle 9-12, distal 1-8), any bulge, most PAM-proximal and most distal mismatch (7), RNA
    and DNA bulge position one-hot (40), PAM 2nd/3rd base one-hot (8), spacer one-hot (80), spacer
    GC fraction (1) and the bulge kinds (2). Guide-only columns let a model learn a guide's own
    tolerance of mismatches.
    """
    codes = encode_pairs(frame["guide"], frame["site"], where="pair_features")
    n = len(codes)
    mm = mismatch_types(codes)
    onehot = np.zeros((n, SPACER, 12), np.float32)
    r, c = np.nonzero(mm >= 0)
    onehot[r, c, mm[r, c]] = 1
    bulge = np.zeros((n, 2, SPACER), np.float32)
    for k, where in enumerate((codes.rna_bulge, codes.dna_bulge)):
        rows = np.flatnonzero(where >= 0)
        bulge[rows, k, where[rows]] = 1
    pam = np.zeros((n, 2, 4), np.float32)
    for k in range(2):
        known = codes.pam[:, k + 1] < 4
        pam[np.flatnonzero(known), k, codes.pam[known, k + 1]] = 1
    spacer = np.eye(4, dtype=np.float32)[codes.guide].reshape(n, -1)
    gc = np.isin(codes.guide, (1, 2)).mean(axis=1, dtype=np.float32)
    return np.hstack([
        onehot.reshape(n, -1), (mm >= 0).astype(np.float32), _counts(mm, codes).astype(np.float32),
        bulge.reshape(n, -1), pam.reshape(n, -1), spacer, gc[:, None],
        np.column_stack([codes.rna_bulge >= 0, codes.dna_bulge >= 0]).astype(np.float32),
    ])


#: columns of :func:`product_design`: 20 x 12 mismatch types, 15 non-GG PAM dinucleotides, 20 RNA and 19 DNA bulge positions
N_PRODUCT_FEATURES = SPACER * 12 + 15 + SPACER + (SPACER - 1)


def product_design(frame: pd.DataFrame) -> np.ndarray:
    """0/1 design of the position x mismatch-type product model, ``float32 (n, 314)``: a linear model
    on it in log space is ``log activity = b + sum of the factors present`` (a learned CFD-like table).

    A PAM with N in its 2nd or 3rd base counts as GG.
    """
    codes = encode_pairs(frame["guide"], frame["site"], where="product_design")
    n = len(codes)
    x = np.zeros((n, N_PRODUCT_FEATURES), np.float32)
    mm = mismatch_types(codes)
    r, c = np.nonzero(mm >= 0)
    x[r, c * 12 + mm[r, c]] = 1
    p2, p3 = codes.pam[:, 1].astype(int), codes.pam[:, 2].astype(int)
    dinuc = np.where((p2 < 4) & (p3 < 4), p2 * 4 + p3, 10)  # 10 = GG
    rows = np.flatnonzero(dinuc != 10)
    x[rows, SPACER * 12 + dinuc[rows] - (dinuc[rows] > 10)] = 1
    base = SPACER * 12 + 15
    rows = np.flatnonzero(codes.rna_bulge >= 0)
    x[rows, base + codes.rna_bulge[rows].astype(int)] = 1
    rows = np.flatnonzero(codes.dna_bulge >= 1)
    x[rows, base + SPACER + codes.dna_bulge[rows].astype(int) - 1] = 1
    return x

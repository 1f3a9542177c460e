"""CRISPR guide features: melting temperature, microhomology, PAM-context interactions.

Inputs are DNA sequences of one length (a sequence of ``str``; see :mod:`genotx.seq.codes`
for the accepted containers, letters and the ``N`` rule). The SpCas9 30-mer layout used by Rule Set 2
(Doench et al. 2016) and Azimuth is, 0-based: ``[0, 4)`` 5' context, ``[4, 24)`` the 20-nt spacer,
``[24, 27)`` the NGG PAM, ``[27, 30)`` 3' context; Cas9 cuts between indices 20 and 21.

* :func:`melting_temperature` -> ``float64 (n,)``: nearest-neighbour Tm (degrees C), the same
  numbers as Biopython's ``Bio.SeqUtils.MeltingTemp.Tm_NN`` with its defaults (Allawi & SantaLucia
  1997 table, 50 mM Na+, 25 nM of each strand, entropy salt correction), computed for all rows at once;
* :func:`segment_melting_temperatures` -> ``float64 (n, 4)``: Tm of the whole 30-mer and of spacer
  positions 16-20, 8-15 and 3-7 (the Rule Set 2 thermodynamic features);
* :func:`microhomology_scores` -> ``float32 (n, 3)``: Bae et al. (2014) microhomology score,
  out-of-frame score and number of microhomologies around the cut site;
* :func:`pam_context` -> ``uint8 (n, 16)``: one-hot of the (N of NGG, base after the PAM) pair.

``N`` bases: a nearest-neighbour step touching ``N`` gets the mean of the 16 table values, a terminal
``N`` the mean of the A/T and G/C initiation terms; ``N`` never matches in a microhomology.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genotx.seq.codes import encode_indices

__all__ = [
    "CUT_SITE",
    "SPACER",
    "TM_SEGMENTS",
    "melting_temperature",
    "segment_melting_temperatures",
    "microhomology_scores",
    "pam_context",
]

SPACER = slice(4, 24)
CUT_SITE = 21  # Cas9 cuts between 30-mer indices 20 and 21 (3 nt 5' of the PAM)
#: 30-mer slices of the Rule Set 2 Tm features: whole 30-mer, spacer 16-20, 8-15, 3-7 (1-based)
TM_SEGMENTS: tuple[slice, ...] = (slice(0, 30), slice(19, 24), slice(11, 19), slice(6, 11))

# Allawi & SantaLucia (1997) nearest-neighbour parameters (dH kcal/mol, dS cal/K/mol), Biopython's
# DNA_NN3; keys are "top 5'->3' / bottom 3'->5'".
_NN = {
    "AA/TT": (-7.9, -22.2), "AT/TA": (-7.2, -20.4), "TA/AT": (-7.2, -21.3), "CA/GT": (-8.5, -22.7),
    "GT/CA": (-8.4, -22.4), "CT/GA": (-7.8, -21.0), "GA/CT": (-8.2, -22.2), "CG/GC": (-10.6, -27.2),
    "GC/CG": (-9.8, -24.4), "GG/CC": (-8.0, -19.9),
}
_INIT_AT, _INIT_GC = (2.3, 4.1), (0.1, -2.8)  # terminal A/T and G/C base pairs
_R = 1.987  # cal/K/mol


def _nn_tables() -> tuple[np.ndarray, np.ndarray]:
    """dH and dS ``(5, 5)`` indexed by (base, next base) with A,C,G,T,N = 0..4 (N: table mean)."""
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    dh, ds = np.zeros((5, 5)), np.zeros((5, 5))
    for i, a in enumerate("ACGT"):
        for j, b in enumerate("ACGT"):
            key = f"{a}{b}/{complement[a]}{complement[b]}"
            dh[i, j], ds[i, j] = _NN[key] if key in _NN else _NN[key[::-1]]
    for table in (dh, ds):
        table[4, :] = table[:, 4] = table[:4, :4].mean()
    return dh, ds


_DH, _DS = _nn_tables()
_INIT_DH = np.array([_INIT_AT[0], _INIT_GC[0], _INIT_GC[0], _INIT_AT[0], (_INIT_AT[0] + _INIT_GC[0]) / 2])
_INIT_DS = np.array([_INIT_AT[1], _INIT_GC[1], _INIT_GC[1], _INIT_AT[1], (_INIT_AT[1] + _INIT_GC[1]) / 2])


def _tm_from_indices(idx: np.ndarray, *, na_mM: float, strand_nM: float) -> np.ndarray:
    """Tm of every row of letter indices ``(n, L)`` (A,C,G,T,N = 0..4), L >= 2."""
    length = idx.shape[1]
    dh = _DH[idx[:, :-1], idx[:, 1:]].sum(axis=1) + _INIT_DH[idx[:, 0]] + _INIT_DH[idx[:, -1]]
    ds = _DS[idx[:, :-1], idx[:, 1:]].sum(axis=1) + _INIT_DS[idx[:, 0]] + _INIT_DS[idx[:, -1]]
    ds = ds + 0.368 * (length - 1) * np.log(na_mM * 1e-3)  # entropy salt correction (method 5)
    k = (strand_nM - strand_nM / 2.0) * 1e-9  # two non-self-complementary strands, equal amounts
    return 1000.0 * dh / (ds + _R * np.log(k)) - 273.15


def melting_temperature(seqs: Sequence[str], *, na_mM: float = 50.0, strand_nM: float = 25.0, name: str = "sequences") -> np.ndarray:
    """Nearest-neighbour melting temperature (degrees C) of each DNA duplex, ``float64 (n,)``.

    Same formula and defaults as Biopython's ``Tm_NN(seq)`` (``DNA_NN3``, ``Na=50``, ``dnac1 =
    dnac2 = 25``, ``saltcorr=5``), vectorised over rows; sequences must share one length >= 2.

    Examples
    --------
    >>> melting_temperature(["ACGTACGTACGTACGTACGT", "GGGGGCCCCCAAAAATTTTT"]).round(2).tolist()
    [53.1, 53.51]
    """
    idx = encode_indices(seqs, alphabet="ACGT", name=name).astype(np.intp)
    if idx.shape[0] == 0:
        return np.zeros(0)
    if idx.shape[1] < 2:
        from genotx.errors import InputError

        raise InputError(name, f"sequences of length {idx.shape[1]} have no nearest neighbours", fix="give at least 2 nt")
    return _tm_from_indices(idx, na_mM=na_mM, strand_nM=strand_nM)


def segment_melting_temperatures(seqs: Sequence[str], *, segments: tuple[slice, ...] = TM_SEGMENTS, name: str = "sequences") -> np.ndarray:
    """Tm of each ``segments`` slice of each sequence, ``float64 (n, len(segments))``.

    The default slices are Rule Set 2's: the whole 30-mer and spacer positions 16-20, 8-15 and 3-7.

    Examples
    --------
    >>> segment_melting_temperatures(["ACGT" * 7 + "AC"], segments=(slice(0, 8), slice(0, 30))).round(1).tolist()
    [[12.5, 61.2]]
    """
    idx = encode_indices(seqs, alphabet="ACGT", name=name).astype(np.intp)
    out = np.zeros((idx.shape[0], len(segments)))
    if idx.shape[0]:
        for j, segment in enumerate(segments):  # a handful of slices, each vectorised over all rows
            out[:, j] = _tm_from_indices(idx[:, segment], na_mM=50.0, strand_nM=25.0)
    return out


def microhomology_scores(seqs: Sequence[str], *, cut: int = CUT_SITE, length_weight: float = 20.0, name: str = "sequences") -> np.ndarray:
    """Microhomology-mediated deletion scores around a cut site, ``float32 (n, 3)``.

    Columns: ``mh_score``, ``oof_score``, ``n_microhomologies``, as in Bae et al. (2014, Nat
    Methods 11:705), the scorer Azimuth uses. A microhomology is a maximal run of >= 2 identical bases
    ``seq[i:i+k] == seq[j:j+k]`` with the left copy 5' of ``cut`` and the right copy 3' of it; deleting
    ``seq[i:j]`` has length ``d = j - i`` and scores ``100 * round(exp(-d / length_weight), 3) * (k +
    GC count among the first two bases)``. ``mh_score`` sums the scores, ``oof_score`` is the share
    (in %) from deletions whose length is not a multiple of 3 (NaN without any microhomology).
    With a 30-mer only 21 nt left and 9 nt right of the cut are seen (Bae et al. used 30 + 30), so
    longer deletions are missed.

    Examples
    --------
    >>> microhomology_scores(["GCAATTTGCAA"], cut=5).tolist()  # GCAA at 0 and 7 -> one deletion of 7
    [[423.0, 100.0, 1.0]]
    """
    idx = encode_indices(seqs, alphabet="ACGT", name=name)
    n, length = idx.shape
    mh = np.zeros(n)
    oof = np.zeros(n)
    count = np.zeros(n)
    is_gc = (idx == 1) | (idx == 2)
    for d in range(1, length):  # one deletion length (diagonal) at a time, vectorised over rows
        lo, hi = max(0, cut - d), min(cut, length - d)  # left copy in [0, cut), right copy in [cut, L)
        if hi - lo < 2:
            continue
        left, right = idx[:, lo:hi], idx[:, lo + d : hi + d]
        same = (left == right) & (left < 4)
        edges = np.diff(np.pad(same, ((0, 0), (1, 1))).astype(np.int8), axis=1)
        rows, starts = np.nonzero(edges == 1)  # row-major: starts and ends pair up in order
        _, ends = np.nonzero(edges == -1)
        keep = ends - starts >= 2
        rows, starts, k = rows[keep], starts[keep] + lo, (ends - starts)[keep]
        gc = is_gc[rows, starts].astype(int) + is_gc[rows, starts + 1]
        score = 100.0 * np.round(np.exp(-d / length_weight), 3) * (k + gc)
        np.add.at(mh, rows, score)
        np.add.at(count, rows, 1)
        if d % 3:
            np.add.at(oof, rows, score)
    with np.errstate(invalid="ignore", divide="ignore"):
        oof_share = np.where(mh > 0, 100.0 * oof / mh, np.nan)
    return np.column_stack([mh, oof_share, count]).astype(np.float32)


def pam_context(seqs: Sequence[str], *, n_position: int = 24, x_position: int = 27, name: str = "sequences") -> np.ndarray:
    """One-hot ``uint8 (n, 16)`` of the pair (N of NGG, base after the PAM): Rule Set 2's NGGX.

    Examples
    --------
    >>> int(pam_context(["A" * 24 + "CGGT" + "AA"])[0].argmax())  # C then T: 1 * 4 + 3
    7
    """
    idx = encode_indices(seqs, alphabet="ACGT", name=name)
    out = np.zeros((idx.shape[0], 16), dtype=np.uint8)
    if idx.shape[0]:
        a, b = idx[:, n_position].astype(int), idx[:, x_position].astype(int)
        ok = (a < 4) & (b < 4)
        out[np.flatnonzero(ok), (a * 4 + b)[ok]] = 1
    return out

"""Semi-synthetic CRISPR off-target activity: real guides, planted candidate sites, MOFF-rule activity.

:func:`simulate_off_target_sites` takes real 20-nt spacers and real factor tables (MOFF's single-
mismatch, PAM and pairwise-position factors, passed in as arrays) and returns candidate sites with a
known, noisy activity. It writes nothing.

Candidate sites per guide (seeded):

* ``mismatch``: 1-6 spacer mismatches (weights 20/22/20/16/12/10 %) at uniform positions, each base
  replaced by one of the three others;
* ``pam_only``: a perfect spacer next to a non-NGG PAM;
* ``rna_bulge`` / ``dna_bulge``: one 1-nt bulge (a guide base without partner, at spacer index 1-18;
  or an extra site base before spacer index 1-19) plus 0-3 mismatches;
* ``on_target`` (``on_target=True``): each guide's own site (perfect spacer, NGG), expected activity 1.

Kinds are drawn with probabilities 75 / 5 / 10 / 10 %; the on-target site is one more row per guide.

Every site draws its PAM: NGG 70 %, NAG 15 %, NGA 7 %, any other NNN with a non-GG 2nd/3rd base 8 %
(pam_only sites never NGG); the PAM's first base is uniform.

Activity relative to the guide's on-target site (MOFF's combination rules, Shen et al. 2022; the
bulge term and the guide propensity are genotx's own rules, stated here):

``expected = min(1, MDE * CE * GOP**m * PAM * BULGE)`` with ``MDE`` the product of the single-mismatch
factors, ``CE`` the geometric mean of the pairwise factors of all mismatched positions raised to
``m - 1`` (1 when m < 2), ``m`` the number of spacer mismatches, ``PAM`` the product of the factors of
non-G bases at the PAM's 2nd and 3rd positions, ``BULGE`` = 0.5 x the geometric mean of the 12
mismatch factors at the bulged index (the smaller of the two flanking indices for a DNA bulge), and
``GOP`` a guide's own tolerance of mismatches in (0.6, 0.95): a logistic function of its spacer GC
content plus a seeded guide-specific term (MOFF predicts GOP with a network; that model is not used).
The observed ``activity = clip(expected * lognormal(sigma = noise, mean 1) + normal(0, background), 0, 1)``:
multiplicative assay noise plus a background (1 % of the on-target cleavage by default) below which
sites cannot be told apart, as in a real assay.

Layout of the tables: bases A, C, G, T = 0..3; spacer index 0 = the guide's 5' (PAM-distal) end.
``mismatch`` ``(20, 4, 4)`` factor of guide base g facing site base s; ``pam`` ``(2, 4)`` factor of each
base at the PAM's 2nd / 3rd position (G = 1); ``pairs`` ``(20, 20)`` symmetric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from genotx.errors import InputError

__all__ = ["simulate_off_target_sites", "guide_propensity", "KINDS"]

KINDS = ("mismatch", "pam_only", "rna_bulge", "dna_bulge", "on_target")
_KIND_P = (0.75, 0.05, 0.10, 0.10)
_MISMATCH_P = np.array([0.20, 0.22, 0.20, 0.16, 0.12, 0.10])  # 1..6 mismatches
_BULGE_MISMATCH_P = np.array([0.35, 0.35, 0.20, 0.10])  # 0..3 mismatches beside a bulge
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def _codes(guides: Sequence[str]) -> np.ndarray:
    table = np.full(256, 255, np.uint8)
    for i, b in enumerate(b"ACGT"):
        table[b] = i
    joined = "".join(guides).upper().encode("ascii", errors="replace")
    codes = table[np.frombuffer(joined, np.uint8)]
    if len(joined) != 20 * len(guides) or (codes == 255).any():
        raise InputError("guides", "every guide must be a 20-nt spacer of A/C/G/T", fix="pass 20-nt spacers (no PAM)")
    return codes.reshape(len(guides), 20)


def guide_propensity(guides: Sequence[str], *, random_state: int = 0) -> np.ndarray:
    """Each guide's tolerance of mismatches (MOFF's GOP role), in (0.6, 0.95): GC-rich guides tolerate more.

    >>> p = guide_propensity(["GCGCGCGCGCGCGCGCGCGC", "ATATATATATATATATATAT"])
    >>> bool(p[0] > p[1]), bool(((p > 0.6) & (p < 0.95)).all())
    (True, True)
    """
    codes = _codes(guides)
    gc = np.isin(codes, (1, 2)).mean(axis=1)
    z = np.random.default_rng(random_state).normal(size=len(codes))
    return 0.6 + 0.35 / (1.0 + np.exp(-(8.0 * (gc - 0.5) + 0.6 * z)))


def _check_tables(mismatch: np.ndarray, pam: np.ndarray, pairs: np.ndarray) -> None:
    for name, arr, shape in (("mismatch", mismatch, (20, 4, 4)), ("pam", pam, (2, 4)), ("pairs", pairs, (20, 20))):
        if np.shape(arr) != shape or not np.all(np.isfinite(arr)) or np.any(np.asarray(arr) <= 0):
            raise InputError(name, f"expected a positive finite array of shape {shape}, got {np.shape(arr)}",
                             fix="pass the MOFF tables in the documented layout")


def simulate_off_target_sites(
    guides: Sequence[str],
    *,
    mismatch: np.ndarray,
    pam: np.ndarray,
    pairs: np.ndarray,
    sites_per_guide: int = 40,
    on_target: bool = True,
    noise: float = 0.5,
    background: float = 0.01,
    random_state: int = 0,
) -> pd.DataFrame:
    """Candidate sites of each guide with their true (``expected``) and observed (``activity``) activity.

    Returns one row per site: ``guide_id`` (index into ``guides``), ``spacer``, ``guide`` and ``site``
    (the aligned pair: 20 + 3 nt, ``-`` for a bulge, the guide's PAM written ``NGG``), ``site_sequence``
    (ungapped), ``kind`` (one of :data:`KINDS`), ``n_mismatches``, ``pam``, ``propensity`` (the guide's
    GOP), ``expected`` and ``activity``.

    Examples
    --------
    >>> m, p, q = np.full((20, 4, 4), 0.5), np.full((2, 4), 0.2), np.full((20, 20), 0.8)
    >>> sites = simulate_off_target_sites(["ACGT" * 5], mismatch=m, pam=p, pairs=q, sites_per_guide=5)
    >>> len(sites), bool(sites["activity"].between(0, 1).all()), sites["kind"].iloc[-1]
    (6, True, 'on_target')
    """
    mismatch, pam, pairs = (np.asarray(a, float) for a in (mismatch, pam, pairs))
    _check_tables(mismatch, pam, pairs)
    if sites_per_guide < 1 or noise < 0 or background < 0:
        raise InputError("simulate_off_target_sites", "sites_per_guide must be >= 1, noise and background >= 0",
                         fix="use e.g. 40, 0.5 and 0.01")
    codes = _codes(guides)
    rng = np.random.default_rng(random_state)
    gop = guide_propensity(guides, random_state=random_state + 1)
    log_m = np.log(mismatch)
    log_pairs = np.log(pairs)
    np.fill_diagonal(log_pairs, 0.0)
    off = ~np.eye(4, dtype=bool)
    bulge_log = np.log(0.5) + np.array([log_m[i][off].mean() for i in range(20)])  # per spacer index
    n = len(codes) * sites_per_guide
    guide_id = np.repeat(np.arange(len(codes)), sites_per_guide)
    spacer = codes[guide_id]
    kind = rng.choice(len(_KIND_P), size=n, p=_KIND_P)
    rna, dna = kind == 2, kind == 3
    m = np.where(kind == 0, 1 + rng.choice(6, size=n, p=_MISMATCH_P), rng.choice(4, size=n, p=_BULGE_MISMATCH_P))
    m[kind == 1] = 0
    bulge = np.full(n, -1)
    bulge[rna] = rng.integers(1, 19, size=rna.sum())
    bulge[dna] = rng.integers(1, 20, size=dna.sum())
    keys = rng.random((n, 20))
    keys[np.flatnonzero(rna), bulge[rna]] = 2.0  # an unpaired guide base is never also a mismatch
    chosen = keys.argsort(axis=1).argsort(axis=1) < m[:, None]
    site = ((spacer + chosen * rng.integers(1, 4, size=(n, 20))) % 4).astype(np.uint8)
    c = chosen.astype(float)
    log_a = (log_m[np.arange(20)[None, :], spacer, site] * c).sum(axis=1) + m * np.log(gop[guide_id])
    n_pairs = np.maximum(m * (m - 1) / 2, 1)
    log_a += np.where(m >= 2, (m - 1) * ((c @ log_pairs) * c).sum(axis=1) / 2 / n_pairs, 0.0)
    p2, p3 = _draw_pams(rng, kind == 1)
    log_a += np.log(pam[0, p2]) + np.log(pam[1, p3])
    log_a[rna] += bulge_log[bulge[rna]]
    log_a[dna] += np.minimum(bulge_log[bulge[dna] - 1], bulge_log[bulge[dna]])
    pam_codes = np.column_stack([rng.integers(0, 4, size=n), p2, p3]).astype(np.uint8)
    extra = rng.integers(0, 4, size=n)
    if on_target:  # each guide's own site (perfect spacer, NGG): activity 1 before noise
        g = len(codes)
        guide_id, kind, m = np.r_[guide_id, np.arange(g)], np.r_[kind, np.full(g, 4)], np.r_[m, np.zeros(g, int)]
        bulge, site, log_a = np.r_[bulge, np.full(g, -1)], np.vstack([site, codes]), np.r_[log_a, np.zeros(g)]
        pam_codes = np.vstack([pam_codes, np.column_stack([rng.integers(0, 4, size=g), np.full((g, 2), 2)]).astype(np.uint8)])
        extra = np.r_[extra, np.zeros(g, int)]
        order = np.argsort(guide_id, kind="stable")
        guide_id, kind, m, bulge, site, log_a, pam_codes, extra = (a[order] for a in (guide_id, kind, m, bulge, site, log_a, pam_codes, extra))
        n = len(guide_id)
    frame = _frame(guides, guide_id, kind, m, bulge, site, pam_codes, extra)
    frame["propensity"] = gop[guide_id]
    expected = np.minimum(1.0, np.exp(log_a))
    observed = expected * np.exp(noise * rng.normal(size=n) - noise**2 / 2) + background * rng.normal(size=n)
    frame["expected"] = expected
    frame["activity"] = np.clip(observed, 0.0, 1.0)
    return frame


_OTHER_PAMS = np.array([(a, b) for a in range(4) for b in range(4) if (a, b) not in ((2, 2), (0, 2), (2, 0))])


def _draw_pams(rng: np.random.Generator, never_gg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PAM 2nd/3rd bases: GG 70 %, AG 15 %, GA 7 %, the 13 others 8 % (never GG where ``never_gg``)."""
    u = rng.random(len(never_gg))
    u = np.where(never_gg, 0.70 + 0.30 * u, u)
    other = _OTHER_PAMS[rng.integers(len(_OTHER_PAMS), size=len(u))]
    p2 = np.select([u < 0.70, u < 0.85, u < 0.92], [2, 0, 2], other[:, 0])
    p3 = np.select([u < 0.70, u < 0.85, u < 0.92], [2, 2, 0], other[:, 1])
    return p2, p3


def _frame(guides, guide_id, kind, m, bulge, site, pam_codes, extra) -> pd.DataFrame:
    spacers = np.array([str(g).upper() for g in guides], dtype=object)[guide_id]
    site_text = _BASES[site].view("S20").ravel().astype(str).astype(object)
    pam_text = _BASES[pam_codes].view("S3").ravel().astype(str).astype(object)
    guide_aln = spacers + "NGG"
    site_aln = site_text + pam_text
    sequence = site_aln.copy()
    for k in np.flatnonzero((kind == 2) | (kind == 3)):
        b, s = bulge[k], site_text[k]
        if kind[k] == 2:  # RNA bulge: the site has no base facing guide base b
            site_aln[k] = s[:b] + "-" + s[b + 1:] + pam_text[k]
            sequence[k] = s[:b] + s[b + 1:] + pam_text[k]
        else:  # DNA bulge: one extra site base before guide base b
            guide_aln[k] = spacers[k][:b] + "-" + spacers[k][b:] + "NGG"
            site_aln[k] = sequence[k] = s[:b] + "ACGT"[extra[k]] + s[b:] + pam_text[k]
    return pd.DataFrame({
        "guide_id": guide_id, "spacer": spacers, "guide": guide_aln, "site": site_aln, "site_sequence": sequence,
        "kind": np.array(KINDS)[kind], "n_mismatches": m, "pam": pam_text,
    })

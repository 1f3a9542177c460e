"""Semi-synthetic drug-combination screens: real monotherapy potencies, Hill-curve dose-response
matrices and a planted, known interaction that depends on drug structure and cell-line features.

:func:`simulate_synergy_screen` takes real parts as arrays and returns a :class:`SynergyScreen`; it
writes nothing. The real parts (passed in by the caller):

* ``log_ic50`` ``(n_cells, n_drugs)``: measured monotherapy ln IC50 (e.g. GDSC2, µM); NaN = not measured;
* ``drug_features`` ``(n_drugs, f)``: a structural description of each drug (e.g. Morgan bits);
* ``cell_features`` ``(n_cells, g)``: binary genomic alterations of each cell line (e.g. TP53
  mutation, CDKN2A loss, MYC gain).

What is simulated (seeded, stated here so a report can say it):

1. **Monotherapy curves**: drug ``d`` in cell ``c`` follows ``E(x) = emax_d x^h / (x^h + ec50^h)``
   with a per-drug slope ``h_d`` (log-normal, median 1, clipped to [0.5, 2.5]) and maximum
   ``emax_d`` (0.7-1.0); ``ec50`` is set so that the curve crosses 50 % exactly at the real IC50
   (``E(IC50_cd) = 0.5``): the curves are anchored on the real measurements.
2. **Doses**: ``n_doses`` concentrations per drug, ``dose_step``-fold apart, centred on the drug's
   median real IC50 over the cell lines (as a screen designs its plates), plus the zero dose.
3. **Planted interaction** ``delta(a, b, c)``: drugs are softly assigned to ``n_classes`` structural
   classes (k-means on the standardised ``drug_features``; membership ``p_d`` = softmax of minus the
   squared distance to each centre over its median); a symmetric class-by-class matrix ``A``
   (seeded normal entries, scaled by ``strength``; same-class pairs lean antagonistic) says how each
   pair of classes interacts, and each class pair is tied to one cell feature ``g_kl`` whose presence
   switches the interaction on: ``delta = sum_kl p_ak p_bl A_kl (0.2 + 1.6 x_c,g_kl)``. So the
   interaction depends on both drugs' structure and on the cell line's genomic alterations, and
   ``delta(a, b, c) = delta(b, a, c)``.
4. **Combination response**: a potency shift: in the presence of drug B at effect ``E_b``, drug A
   acts as if its dose were ``x_a exp(delta E_b)`` (and vice versa), and the two shifted effects
   combine by Bliss independence: ``E = E_a' + E_b' - E_a' E_b'``. ``delta = 0`` gives a
   Bliss-independent surface (Bliss score 0); ``delta > 0`` synergy, ``< 0`` antagonism.
5. **Measurement noise**: every well (controls and monotherapy wells included) is measured once as
   ``100 E + normal(0, noise)`` percent inhibition.

Triplets: every unordered pair of distinct drugs in every cell line, kept with probability
``fraction`` (both drugs need a measured IC50 in that cell line).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.errors import InputError

__all__ = ["SynergyScreen", "simulate_synergy_screen", "structural_classes", "planted_interaction"]


@dataclass(frozen=True)
class SynergyScreen:
    """A simulated screen (positions index the caller's drugs and cell lines).

    ``triplets``: DataFrame ``drug_a, drug_b, cell`` (positions; ``drug_a < drug_b``);
    ``doses_a``/``doses_b`` ``(n, n_doses + 1)`` (first column 0); ``response`` and ``expected_response``
    ``(n, n_doses + 1, n_doses + 1)`` percent inhibition, observed (noisy) and noise-free;
    ``interaction`` ``(n,)`` the planted ``delta``; the truth behind it: ``membership``
    ``(n_drugs, n_classes)``, ``class_matrix`` ``(n_classes, n_classes)``, ``class_feature``
    ``(n_classes, n_classes)`` (column of ``cell_features`` that switches each class pair on), and
    the monotherapy curves ``emax``, ``slope`` (per drug) and ``ec50`` ``(n_cells, n_drugs)``.
    """

    triplets: pd.DataFrame
    doses_a: np.ndarray
    doses_b: np.ndarray
    response: np.ndarray
    expected_response: np.ndarray
    interaction: np.ndarray
    membership: np.ndarray
    class_matrix: np.ndarray
    class_feature: np.ndarray
    emax: np.ndarray
    slope: np.ndarray
    ec50: np.ndarray


def _hill(dose: np.ndarray, emax: np.ndarray, ec50: np.ndarray, slope: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        z = slope * (np.log(np.maximum(dose, 1e-300)) - np.log(ec50))
    out = emax / (1.0 + np.exp(-np.clip(z, -50, 50)))
    return np.where(dose > 0, out, 0.0)


def structural_classes(drug_features: np.ndarray, n_classes: int, *, random_state: int = 0) -> np.ndarray:
    """Soft membership ``(n_drugs, n_classes)`` of each drug in k-means classes of its standardised features.

    >>> x = np.r_[np.zeros((3, 4)), np.ones((3, 4))] + np.arange(6)[:, None] * 0.01
    >>> p = structural_classes(x, 2)
    >>> bool((p.argmax(1)[:3] != p.argmax(1)[3:]).all()), np.allclose(p.sum(1), 1)
    (True, True)
    """
    from sklearn.cluster import KMeans

    x = np.asarray(drug_features, float)
    keep = x.std(axis=0) > 0
    z = (x[:, keep] - x[:, keep].mean(axis=0)) / x[:, keep].std(axis=0)
    km = KMeans(n_clusters=n_classes, n_init=10, random_state=random_state).fit(z)
    d2 = ((z[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
    scale = np.median(d2) or 1.0
    logits = -d2 / scale * 4.0  # sharp but soft: a drug between two classes shares them
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def planted_interaction(membership: np.ndarray, class_matrix: np.ndarray, class_feature: np.ndarray,
                        cell_features: np.ndarray, drug_a: np.ndarray, drug_b: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``delta(a, b, c) = sum_kl p_ak p_bl A_kl (0.2 + 1.6 x[c, g_kl])`` for each triplet (symmetric in a, b).

    >>> p = np.eye(2); A = np.array([[0.0, 1.0], [1.0, 0.0]]); g = np.array([[0, 0], [0, 0]])
    >>> planted_interaction(p, A, g, np.array([[1.0], [0.0]]), np.array([0, 1]), np.array([1, 0]), np.array([0, 1])).tolist()
    [1.8, 0.2]
    """
    x = np.asarray(cell_features, float)
    switch = 0.2 + 1.6 * x[cell][:, class_feature]  # (n, K, K)
    pa, pb = membership[drug_a], membership[drug_b]
    return np.einsum("nk,nl,kl,nkl->n", pa, pb, class_matrix, switch)


def simulate_synergy_screen(
    log_ic50: np.ndarray,
    drug_features: np.ndarray,
    cell_features: np.ndarray,
    *,
    fraction: float = 0.4,
    n_doses: int = 5,
    dose_step: float = 3.0,
    n_classes: int = 6,
    strength: float = 1.2,
    noise: float = 5.0,
    random_state: int = 0,
) -> SynergyScreen:
    """Simulate a drug-combination screen over real monotherapy IC50s (see the module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> screen = simulate_synergy_screen(rng.normal(size=(4, 5)), rng.integers(0, 2, (5, 16)),
    ...                                  rng.integers(0, 2, (4, 3)), fraction=1.0, n_classes=2)
    >>> len(screen.triplets), screen.response.shape[1:], bool(np.isfinite(screen.interaction).all())
    (40, (6, 6), True)
    """
    log_ic50 = np.asarray(log_ic50, float)
    drug_features = np.asarray(drug_features, float)
    cell_features = np.asarray(cell_features, float)
    n_cells, n_drugs = log_ic50.shape
    if drug_features.shape[0] != n_drugs or cell_features.shape[0] != n_cells:
        raise InputError("simulate_synergy_screen", f"log_ic50 is {log_ic50.shape} but drug_features has "
                         f"{drug_features.shape[0]} rows and cell_features {cell_features.shape[0]}",
                         fix="pass one feature row per drug (columns of log_ic50) and per cell line (rows)")
    if not 0 < fraction <= 1 or n_doses < 2 or dose_step <= 1 or noise < 0 or not 1 <= n_classes <= n_drugs:
        raise InputError("simulate_synergy_screen", "fraction must be in (0, 1], n_doses >= 2, dose_step > 1, "
                         "noise >= 0 and 1 <= n_classes <= n_drugs", fix="use e.g. fraction=0.4, n_doses=5, dose_step=3")
    rng = np.random.default_rng(random_state)
    # 1. monotherapy curves anchored on the real IC50s
    slope = np.clip(np.exp(rng.normal(0.0, 0.3, n_drugs)), 0.5, 2.5)
    emax = 0.7 + 0.3 * rng.beta(4.0, 1.5, n_drugs)
    ic50 = np.exp(log_ic50)
    ec50 = ic50 / (0.5 / (emax - 0.5)) ** (1.0 / slope)  # emax u/(1+u) = 0.5 at the IC50
    # 2. doses centred on each drug's median IC50
    centre = np.exp(np.nanmedian(log_ic50, axis=0))
    steps = dose_step ** (np.arange(n_doses) - (n_doses - 1) / 2)
    doses = np.column_stack([np.zeros(n_drugs), centre[:, None] * steps[None, :]])
    # 3. the planted interaction
    membership = structural_classes(drug_features, n_classes, random_state=random_state)
    upper = rng.normal(0.0, 1.0, (n_classes, n_classes))
    class_matrix = strength * (np.triu(upper) + np.triu(upper, 1).T)
    class_matrix[np.diag_indices(n_classes)] = -0.3 * strength * np.abs(np.diag(upper))  # same class: mostly additive or worse
    feature = rng.integers(0, cell_features.shape[1], (n_classes, n_classes))
    class_feature = np.triu(feature) + np.triu(feature, 1).T
    # triplets: unordered pairs x cell lines, both IC50s measured, kept with probability `fraction`
    a, b = np.triu_indices(n_drugs, k=1)
    cells = np.repeat(np.arange(n_cells), len(a))
    a, b = np.tile(a, n_cells), np.tile(b, n_cells)
    keep = np.isfinite(log_ic50[cells, a]) & np.isfinite(log_ic50[cells, b]) & (rng.random(len(a)) < fraction)
    a, b, cells = a[keep], b[keep], cells[keep]
    delta = planted_interaction(membership, class_matrix, class_feature, cell_features, a, b, cells)
    # 4. the combination surface: potency shift by the partner's effect, then Bliss
    da, db = doses[a], doses[b]
    xa, xb = da[:, :, None], db[:, None, :]
    pa = (emax[a][:, None, None], ec50[cells, a][:, None, None], slope[a][:, None, None])
    pb = (emax[b][:, None, None], ec50[cells, b][:, None, None], slope[b][:, None, None])
    ea, eb = _hill(xa, *pa), _hill(xb, *pb)
    shift = delta[:, None, None]
    ea2, eb2 = _hill(xa * np.exp(shift * eb), *pa), _hill(xb * np.exp(shift * ea), *pb)
    expected = 100.0 * (ea2 + eb2 - ea2 * eb2)
    # 5. one noisy measurement per well
    observed = expected + rng.normal(0.0, noise, expected.shape)
    triplets = pd.DataFrame({"drug_a": a, "drug_b": b, "cell": cells})
    return SynergyScreen(triplets, da, db, observed, expected, delta, membership, class_matrix, class_feature, emax,
                         slope, ec50)

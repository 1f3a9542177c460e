"""Synergy scores of dose-response matrices: Bliss, HSA, Loewe and ZIP, vectorised over many matrices.

Input layout (one or many matrices):

* ``response``: ``float (n, n_a + 1, n_b + 1)`` (or one ``(n_a + 1, n_b + 1)`` matrix) of percent
  inhibition (0 = untreated control, 100 = every cell killed); row ``i`` is drug A's ``i``-th dose,
  column ``j`` drug B's; row 0 / column 0 are the zero doses, so ``response[:, 1:, 0]`` is drug A
  alone and ``response[:, 0, 1:]`` drug B alone. Missing wells are NaN.
* ``doses_a`` ``(n, n_a + 1)`` and ``doses_b`` ``(n, n_b + 1)``: concentrations (any one unit per
  drug), the first of each 0.

Each score is the mean, over the combination wells (both doses > 0), of the observed response
minus the reference model's expected response, in percentage points (> 0: synergy). The conventions
are SynergyFinder's (Ianevski et al. 2017/2022, as DrugComb computes its ``synergy_*`` columns):

* **HSA** (highest single agent): expected = the larger of the two observed monotherapy responses;
* **Bliss** independence: expected = ``y_a + y_b - y_a * y_b / 100`` of the observed monotherapies;
* **Loewe** additivity: expected ``y`` solves ``d_a / D_a(y) + d_b / D_b(y) = 1`` on the fitted
  monotherapy curves (``D(y)`` the dose that alone gives ``y``); where no ``y`` below the smaller
  fitted maximum solves it, the expected response is the larger single-agent response (HSA), as
  SynergyFinder does;
* **ZIP** (zero interaction potency, Yadav et al. 2015): each row's (and column's) response over the
  varying drug's doses is refitted by a Hill curve whose baseline is the other drug's fitted
  monotherapy response at that row's dose and whose maximum is 100 %; the row and column fits are
  averaged and compared with the Bliss expectation of the fitted monotherapy curves (delta score).

Monotherapy curves are 3-parameter Hill curves (baseline 0, maximum ``emax``, ``ec50``, ``slope``)
fitted by a batched Levenberg-Marquardt least-squares search (:func:`fit_hill`); every matrix of a
batch is fitted at once, so 25,000 matrices score in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from genotx.errors import InputError

__all__ = ["METHODS", "hill", "fit_hill", "bliss", "hsa", "loewe", "zip_score", "synergy_scores", "HillFit"]

METHODS = ("bliss", "loewe", "hsa", "zip")
_TINY = 1e-12


def hill(dose: np.ndarray, emax: np.ndarray, ec50: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Fraction of effect of a Hill curve (baseline 0): ``emax * d^h / (d^h + ec50^h)``; 0 at dose 0.

    >>> float(hill(np.array(2.0), 1.0, 2.0, 1.0)), float(hill(np.array(0.0), 1.0, 2.0, 1.0))
    (0.5, 0.0)
    """
    dose = np.asarray(dose, float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        u = np.exp(slope * (np.log(np.maximum(dose, _TINY)) - np.log(ec50)))
        out = emax * u / (1.0 + u)
        out = np.where(np.isinf(u), emax, out)
    return np.where(dose > 0, out, 0.0)


class HillFit:
    """Fitted monotherapy curves of a batch: arrays ``emax`` (fraction), ``ec50`` and ``slope``."""

    def __init__(self, emax: np.ndarray, ec50: np.ndarray, slope: np.ndarray) -> None:
        self.emax, self.ec50, self.slope = emax, ec50, slope

    def _params(self, ndim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        shape = (-1,) + (1,) * (ndim - 1)  # one curve per leading index, broadcast over the rest
        return self.emax.reshape(shape), self.ec50.reshape(shape), self.slope.reshape(shape)

    def __call__(self, dose: np.ndarray) -> np.ndarray:
        """Effect (fraction) at ``dose`` ``(n, ...)``."""
        return hill(dose, *self._params(np.ndim(dose)))

    def dose_for(self, effect: np.ndarray) -> np.ndarray:
        """Dose giving ``effect`` (fraction) alone, ``(n, ...)``; ``inf`` at or above ``emax``."""
        emax, ec50, slope = self._params(np.ndim(effect))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = effect / (emax - effect)
            dose = ec50 * np.exp(np.log(np.maximum(ratio, _TINY)) / slope)
        return np.where((effect < emax) & (ratio > 0), dose, np.where(effect <= 0, 0.0, np.inf))


def _solve(a: list[list[np.ndarray]], g: list[np.ndarray]) -> list[np.ndarray]:
    """Solve many 2x2 or 3x3 symmetric systems ``a x = g`` in closed form (``a[i][j]``, ``g[i]``: one
    value per system); batched LAPACK calls are slow for systems this small."""
    if len(g) == 2:
        det = a[0][0] * a[1][1] - a[0][1] * a[1][0]
        return [(g[0] * a[1][1] - a[0][1] * g[1]) / det, (a[0][0] * g[1] - a[1][0] * g[0]) / det]
    (a00, a01, a02), (_, a11, a12), (_, _, a22) = a
    c00, c01, c02 = a11 * a22 - a12 * a12, a02 * a12 - a01 * a22, a01 * a12 - a02 * a11  # adjugate (symmetric)
    c11, c12, c22 = a00 * a22 - a02 * a02, a01 * a02 - a00 * a12, a00 * a11 - a01 * a01
    det = a00 * c00 + a01 * c01 + a02 * c02
    return [(c00 * g[0] + c01 * g[1] + c02 * g[2]) / det, (c01 * g[0] + c11 * g[1] + c12 * g[2]) / det,
            (c02 * g[0] + c12 * g[1] + c22 * g[2]) / det]


def _levenberg_marquardt(model: Callable, theta: np.ndarray, x: np.ndarray, y: np.ndarray, mask: np.ndarray,
                         *, clip: Callable[[np.ndarray], np.ndarray], n_iter: int = 40) -> np.ndarray:
    """Least squares of many small curves at once: ``model(theta, x) -> (prediction, [d prediction /
    d theta_i])`` with ``theta (n, p)`` (p = 2 or 3) and ``x, y, mask (n, k)``; ``clip`` keeps the
    parameters in their range. Each curve has its own damping; a step is kept only if it lowers
    that curve's squared error. Arrays are held as ``(k, n)``: sums over a curve's points are then
    k vector additions."""
    x, y, w = np.ascontiguousarray(x.T), np.ascontiguousarray(np.where(mask, y, 0.0).T), mask.T.astype(float)
    p = theta.shape[1]
    pred, jac = model(theta, x)
    current = (w * (pred - y) ** 2).sum(axis=0)
    damping = np.full(len(theta), 1e-2)
    for _ in range(n_iter):
        wj = [w * j for j in jac]
        jtj = [[(wj[r] * jac[c]).sum(axis=0) for c in range(p)] for r in range(p)]
        grad = [-(wj[r] * (pred - y)).sum(axis=0) for r in range(p)]
        for r in range(p):
            jtj[r][r] = jtj[r][r] * (1.0 + damping) + 1e-9 * damping
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.column_stack(_solve(jtj, grad))
        trial = clip(theta + np.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0))
        trial_pred, trial_jac = model(trial, x)
        trial_cost = (w * (trial_pred - y) ** 2).sum(axis=0)
        better = trial_cost < current
        theta = np.where(better[:, None], trial, theta)
        pred = np.where(better, trial_pred, pred)
        jac = [np.where(better, t, j) for t, j in zip(trial_jac, jac)]
        current = np.where(better, trial_cost, current)
        damping = np.clip(np.where(better, damping / 3.0, damping * 4.0), 1e-9, 1e9)
    return theta


def _hill_model(theta: np.ndarray, logx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hill curve with baseline 0 in parameters (emax, log ec50, log slope) at log doses ``(k, n)``."""
    emax, logc, logh = theta[:, 0], theta[:, 1], theta[:, 2]
    h = np.exp(logh)
    z = np.clip(h * (logx - logc), -50, 50)
    u = np.exp(z)
    s = u / (1.0 + u)
    pred = emax * s
    ds_dz = s * (1.0 - s)
    return pred, [s, emax * ds_dz * (-h), emax * ds_dz * z]


def fit_hill(doses: np.ndarray, effects: np.ndarray) -> HillFit:
    """Fit a 3-parameter Hill curve (baseline 0) to each row of ``effects`` (fractions) at ``doses``.

    Zero doses and NaN effects are ignored; the slope is kept in [0.1, 10], ``emax`` in [0, 1.5] and
    the ``ec50`` within 100-fold of the tested range.

    Examples
    --------
    >>> d = np.array([[0.5, 1.0, 2.0, 4.0, 8.0]])
    >>> fit = fit_hill(d, hill(d, 0.9, 2.0, 1.5))
    >>> [round(float(v[0]), 4) for v in (fit.emax, fit.ec50, fit.slope)]
    [0.9, 2.0, 1.5]
    """
    doses, effects = np.atleast_2d(np.asarray(doses, float)), np.atleast_2d(np.asarray(effects, float))
    mask = (doses > 0) & np.isfinite(effects)
    logx = np.log(np.where(doses > 0, doses, 1.0))
    lo = np.where(mask, logx, np.inf).min(axis=1)
    hi = np.where(mask, logx, -np.inf).max(axis=1)
    lo, hi = np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(hi), hi, 0.0)
    top = np.clip(np.nanmax(np.where(mask, effects, np.nan), axis=1, initial=-np.inf), 0.05, 1.2)
    top = np.where(np.isfinite(top), top, 0.5)
    # start: ec50 at the dose whose effect is nearest half the largest effect
    half = np.abs(np.where(mask, effects, np.inf) - top[:, None] / 2).argmin(axis=1)
    theta = np.column_stack([top, logx[np.arange(len(logx)), half], np.zeros(len(logx))])
    span = np.log(100.0)

    def clip(t):
        return np.column_stack([np.clip(t[:, 0], 0.0, 1.5), np.clip(t[:, 1], lo - span, hi + span),
                                np.clip(t[:, 2], np.log(0.1), np.log(10.0))])

    theta = _levenberg_marquardt(_hill_model, clip(theta), logx, effects, mask, clip=clip)
    return HillFit(theta[:, 0], np.exp(theta[:, 1]), np.exp(theta[:, 2]))


def _zip_model(baseline: np.ndarray) -> Callable:
    """Hill curve rising from ``baseline`` (per row) to 1, in parameters (log m, log slope)."""
    def model(theta, logx):
        logm, logl = theta[:, 0], theta[:, 1]
        lam = np.exp(logl)
        z = np.clip(lam * (logx - logm), -50, 50)
        s = 1.0 / (1.0 + np.exp(-z))
        span = 1.0 - baseline
        pred = baseline + span * s
        ds_dz = s * (1.0 - s)
        return pred, [span * ds_dz * (-lam), span * ds_dz * z]
    return model


# -- input checks ------------------------------------------------------------------------------
def _responses(response) -> tuple[np.ndarray, bool]:
    """``response`` as a batch ``(n, n_a + 1, n_b + 1)`` and whether one matrix was given."""
    response = np.asarray(response, float)
    single = response.ndim == 2
    response = response[None] if single else response
    if response.ndim != 3 or response.shape[1] < 2 or response.shape[2] < 2:
        raise InputError("response", f"expected (n, n_a + 1, n_b + 1) matrices with at least one dose each, got shape "
                         f"{response.shape}", fix="pass a matrix whose row 0 and column 0 are the zero doses")
    return response, single


def _batch(response, doses_a, doses_b) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    response, single = _responses(response)
    doses_a = np.atleast_2d(np.asarray(doses_a, float))
    doses_b = np.atleast_2d(np.asarray(doses_b, float))
    n, ra, rb = response.shape
    if doses_a.shape != (n, ra) or doses_b.shape != (n, rb):
        raise InputError("doses", f"doses_a {doses_a.shape} / doses_b {doses_b.shape} do not match the response "
                         f"{response.shape}", fix="give (n, n_a + 1) and (n, n_b + 1) concentrations, the first 0")
    if (doses_a[:, 0] != 0).any() or (doses_b[:, 0] != 0).any() or (doses_a[:, 1:] <= 0).any() or (doses_b[:, 1:] <= 0).any():
        raise InputError("doses", "the first dose of each drug must be 0 and the others > 0",
                         fix="put the untreated row/column first")
    return response, doses_a, doses_b, single


def _mean_excess(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    excess = observed[:, 1:, 1:] - expected
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.where(np.isfinite(excess), excess, np.nan), axis=(1, 2))


def _out(values: np.ndarray, single: bool):
    return float(values[0]) if single else values


# -- the reference models -----------------------------------------------------------------------
def hsa(response, doses_a=None, doses_b=None):
    """Highest-single-agent score(s).

    >>> m = np.array([[0, 20, 40], [10, 30, 55], [30, 50, 70]], float)
    >>> hsa(m)
    18.75
    """
    r, single = _responses(response)
    expected = np.maximum(r[:, 1:, :1], r[:, :1, 1:])
    return _out(_mean_excess(r, expected), single)


def bliss(response, doses_a=None, doses_b=None):
    """Bliss-independence score(s) from the observed monotherapies.

    >>> m = np.array([[0, 20, 40], [10, 30, 55], [30, 50, 70]], float)
    >>> bliss(m)
    7.25
    """
    r, single = _responses(response)
    ya, yb = r[:, 1:, :1], r[:, :1, 1:]
    return _out(_mean_excess(r, ya + yb - ya * yb / 100.0), single)


def _monotherapy_fits(r: np.ndarray, da: np.ndarray, db: np.ndarray) -> tuple[HillFit, HillFit]:
    return fit_hill(da[:, 1:], r[:, 1:, 0] / 100.0), fit_hill(db[:, 1:], r[:, 0, 1:] / 100.0)


def _loewe_expected(fa: HillFit, fb: HillFit, da: np.ndarray, db: np.ndarray, n_iter: int = 45) -> np.ndarray:
    """Loewe-additive response (fraction) at every combination well ``(n, n_a, n_b)``, by bisection on
    the effect ``y`` of ``d_a / D_a(y) + d_b / D_b(y) = 1`` (the left side falls as ``y`` rises)."""
    shape = (len(da), da.shape[1] - 1, db.shape[1] - 1)
    ea, eb = fa(da[:, 1:])[:, :, None], fb(db[:, 1:])[:, None, :]
    hsa_fallback = np.maximum(ea, eb)
    (ma, ca, ha), (mb, cb, hb) = fa._params(3), fb._params(3)
    # d / D(y) = exp(log(d / ec50) - log(y / (emax - y)) / slope)
    la, lb = np.log(da[:, 1:, None] / ca), np.log(db[:, None, 1:] / cb)
    top = np.broadcast_to(np.minimum(ma, mb), shape)

    def excess(y):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ly = np.log(y)
            fa_ = np.exp(la - (ly - np.log(np.maximum(ma - y, 0.0))) / ha)
            fb_ = np.exp(lb - (ly - np.log(np.maximum(mb - y, 0.0))) / hb)
        return fa_ + fb_ - 1.0

    lo, hi = np.zeros(shape), top * (1.0 - 1e-9)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        up = excess(mid) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    solved = (excess(top * (1.0 - 1e-9)) <= 0) & (top > 0)
    return np.where(solved, (lo + hi) / 2, hsa_fallback)


def loewe(response, doses_a, doses_b):
    """Loewe-additivity score(s) on fitted monotherapy curves.

    A sham combination (a drug with itself: response of the summed dose) scores 0:

    >>> d = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    >>> m = 100 * hill(d[:, None] + d[None, :], 1.0, 1.0, 1.0)
    >>> abs(loewe(m, d, d)) < 1e-3
    True
    """
    r, da, db, single = _batch(response, doses_a, doses_b)
    fa, fb = _monotherapy_fits(r, da, db)
    return _out(_mean_excess(r, 100.0 * _loewe_expected(fa, fb, da, db)), single)


def zip_score(response, doses_a, doses_b):
    """ZIP delta score(s) (Yadav et al. 2015).

    A Bliss-independent surface of two full-efficacy drugs scores 0:

    >>> d = np.array([0.0, 0.25, 1.0, 4.0, 16.0])
    >>> ya, yb = hill(d, 1.0, 1.0, 1.0), hill(d, 1.0, 2.0, 1.5)
    >>> m = 100 * (ya[:, None] + yb[None, :] - ya[:, None] * yb[None, :])
    >>> abs(zip_score(m, d, d)) < 1e-3
    True
    """
    r, da, db, single = _batch(response, doses_a, doses_b)
    return _out(_zip(r, da, db), single)


def _zip(r: np.ndarray, da: np.ndarray, db: np.ndarray) -> np.ndarray:
    fa, fb = _monotherapy_fits(r, da, db)
    ya, yb = fa(da[:, 1:]), fb(db[:, 1:])  # fitted monotherapies (n, n_a), (n, n_b)
    combined = r[:, 1:, 1:] / 100.0
    # rows: drug B fixed at each of its doses, drug A varies from B's fitted effect; columns: the same, transposed
    rows = _slices(combined.transpose(0, 2, 1), da[:, 1:], yb, fa).transpose(0, 2, 1)
    cols = _slices(combined, db[:, 1:], ya, fb)
    expected = ya[:, :, None] + yb[:, None, :] - ya[:, :, None] * yb[:, None, :]
    delta = 100.0 * ((rows + cols) / 2.0 - expected)
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.where(np.isfinite(combined), delta, np.nan), axis=(1, 2))


def _slices(effects: np.ndarray, doses: np.ndarray, baseline: np.ndarray, start: HillFit) -> np.ndarray:
    """ZIP's refit of every slice ``effects[:, k, :]`` (the varying drug at ``doses``, the other fixed at
    its k-th dose, whose fitted effect is ``baseline[:, k]``); the varying drug's own fit starts it."""
    n, k, m = effects.shape
    fitted = _refit(effects.reshape(-1, m), np.repeat(doses, k, axis=0), baseline.reshape(-1),
                    np.repeat(start.ec50, k), np.repeat(start.slope, k))
    return fitted.reshape(n, k, m)


def _refit(effects: np.ndarray, doses: np.ndarray, baseline: np.ndarray, ec50: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """ZIP's curve through one row: baseline fixed, maximum 1; the fitted values at the row's doses."""
    mask = np.isfinite(effects)
    logx = np.log(doses)
    baseline = np.clip(baseline, 0.0, 0.999)
    lo, hi = logx.min(axis=1), logx.max(axis=1)
    span = np.log(100.0)

    def clip(t):
        return np.column_stack([np.clip(t[:, 0], lo - span, hi + span), np.clip(t[:, 1], np.log(0.1), np.log(10.0))])

    theta = clip(np.column_stack([np.log(ec50), np.log(slope)]))
    model = _zip_model(baseline)
    theta = _levenberg_marquardt(model, theta, logx, effects, mask, clip=clip)
    return model(theta, logx.T)[0].T


_FUNCTIONS = {"bliss": bliss, "hsa": hsa, "loewe": loewe, "zip": zip_score}


def synergy_scores(response, doses_a, doses_b, *, methods: Sequence[str] = METHODS) -> pd.DataFrame:
    """Every score of ``methods`` for each matrix: one row per matrix, one column per method.

    >>> m = np.array([[0, 20, 40], [10, 30, 55], [30, 50, 70]], float)
    >>> synergy_scores(m[None], [[0, 1, 2]], [[0, 1, 2]], methods=("bliss", "hsa")).round(2).to_dict("records")
    [{'bliss': 7.25, 'hsa': 18.75}]
    """
    unknown = [m for m in methods if m not in _FUNCTIONS]
    if unknown:
        raise InputError("methods", f"unknown synergy score(s) {unknown}", fix=f"use some of {list(METHODS)}")
    r, da, db, _ = _batch(response, doses_a, doses_b)
    return pd.DataFrame({m: np.atleast_1d(_FUNCTIONS[m](r, da, db)) for m in methods})

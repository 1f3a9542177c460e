"""Two-sample Mendelian randomization estimators on harmonised summary statistics.

Input: per variant *j* its association with the exposure ``bx`` (standard error ``bxse``) and with
the outcome ``by`` (``byse``), both per copy of the same effect allele (:class:`SummaryStats`, or a
DataFrame with TwoSampleMR's columns ``beta_exposure, se_exposure, beta_outcome, se_outcome``).

Estimators (each returns an :class:`~genotx.evaluate.protocols.Estimate`: estimate, SE,
normal-theory CI, p-value and extras):

* :func:`ivw`: inverse-variance weighted, first-order weights ``bx^2 / byse^2``; ``effects="fixed"``
  or multiplicative ``"random"`` (SE scaled by ``max(1, residual SE)``), as R MendelianRandomization.
* :func:`mr_egger`: weighted regression of ``by`` on ``bx`` with an intercept after orienting every
  variant so that ``bx > 0``; multiplicative random-effects SE; intercept test for directional
  pleiotropy; Rucker's Q and I^2_GX (Bowden et al. 2016).
* :func:`weighted_median`: Bowden et al. (2016) interpolated weighted median of the ratio estimates
  ``by / bx`` with weights ``bx^2 / byse^2``; SE from a seeded parametric bootstrap.
* :func:`weighted_mode`: Hartwig et al. (2017) mode of a weighted normal kernel density of the ratio
  estimates (bandwidth ``phi * 0.9 * min(sd, mad) / J^(1/5)``, second-order "delta" weights by
  default); SE = MAD of a seeded parametric bootstrap.

Plus :func:`cochran_q` (heterogeneity), :func:`leave_one_out` and :func:`analyse` (all of them on one
data set). Every function takes the data as its one positional argument; options are keyword-only.
:class:`MRMethod` is a task baseline: a scikit-learn-style estimator (``get_params``, ``clone``) whose
contract is the estimation protocol's ``estimate(frame) -> Estimate``; it learns nothing, so ``fit``
is a no-op.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator

from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.protocols import Estimate
from genotx.simulate.mr import HARMONISED_COLUMNS

__all__ = [
    "SummaryStats",
    "MRMethod",
    "METHODS",
    "HARMONISED_COLUMNS",
    "ivw",
    "mr_egger",
    "weighted_median",
    "weighted_mode",
    "cochran_q",
    "leave_one_out",
    "analyse",
    "as_summary",
]


@dataclass(frozen=True, kw_only=True)
class SummaryStats:
    """Harmonised variant-exposure (``bx``, ``bxse``) and variant-outcome (``by``, ``byse``) effects.

    Examples
    --------
    >>> s = SummaryStats(bx=[0.1, 0.2, 0.3], bxse=[0.01] * 3, by=[0.05, 0.1, 0.15], byse=[0.02] * 3)
    >>> len(s), s.ratio.round(2).tolist()
    (3, [0.5, 0.5, 0.5])
    """

    bx: np.ndarray
    bxse: np.ndarray
    by: np.ndarray
    byse: np.ndarray
    variants: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arrays = {}
        for name in ("bx", "bxse", "by", "byse"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.ndim != 1:
                raise InputError("SummaryStats", f"{name} must be one-dimensional, got shape {value.shape}", fix="pass one value per variant")
            if not np.isfinite(value).all():
                raise InputError("SummaryStats", f"{name} has missing or infinite values at variant(s) "
                                 f"{np.flatnonzero(~np.isfinite(value))[:5].tolist()}", fix="drop those variants")
            arrays[name] = value
        if len({len(v) for v in arrays.values()}) != 1:
            raise InputError("SummaryStats", f"bx, bxse, by, byse have lengths {[len(v) for v in arrays.values()]}",
                             fix="pass aligned arrays, one value per variant")
        for name in ("bxse", "byse"):
            if (arrays[name] <= 0).any():
                raise InputError("SummaryStats", f"{name} must be > 0 (variant {int(np.flatnonzero(arrays[name] <= 0)[0])})",
                                 fix="standard errors are positive")
        if (arrays["bx"] == 0).any():
            raise InputError("SummaryStats", f"bx is 0 at variant {int(np.flatnonzero(arrays['bx'] == 0)[0])}",
                             fix="a variant with no exposure association is not an instrument; drop it")
        for name, value in arrays.items():
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        n = len(arrays["bx"])
        variants = tuple(str(v) for v in self.variants) or tuple(f"v{i + 1}" for i in range(n))
        if len(variants) != n:
            raise InputError("SummaryStats", f"{len(variants)} variant names for {n} variants", fix="one name per variant")
        object.__setattr__(self, "variants", variants)

    def __len__(self) -> int:
        return len(self.bx)

    @property
    def ratio(self) -> np.ndarray:
        """Per-variant Wald ratio estimates ``by / bx``."""
        return self.by / self.bx

    def drop(self, index: int) -> "SummaryStats":
        keep = np.arange(len(self)) != index
        return SummaryStats(bx=self.bx[keep], bxse=self.bxse[keep], by=self.by[keep], byse=self.byse[keep],
                            variants=tuple(np.asarray(self.variants, dtype=object)[keep]))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "SummaryStats":
        """From TwoSampleMR-style harmonised columns (``SNP`` optional)."""
        missing = [c for c in HARMONISED_COLUMNS if c not in frame]
        if missing:
            raise InputError("SummaryStats.from_frame", f"missing column(s) {missing}", fix=f"provide {list(HARMONISED_COLUMNS)}")
        names = tuple(frame["SNP"].astype(str)) if "SNP" in frame else ()
        bx, bxse, by, byse = (frame[c].to_numpy(float) for c in HARMONISED_COLUMNS)
        return cls(bx=bx, bxse=bxse, by=by, byse=byse, variants=names)


def as_summary(data: SummaryStats | pd.DataFrame) -> SummaryStats:
    """Accept a :class:`SummaryStats` or a harmonised DataFrame."""
    return data if isinstance(data, SummaryStats) else SummaryStats.from_frame(data)


def _normal_result(estimate: float, se: float, alpha: float, **extra) -> Estimate:
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(abs(estimate / se)) if se > 0 else float("nan")
    return Estimate(float(estimate), float(se), float(estimate - z * se), float(estimate + z * se), float(p), extra)


def _need(data: SummaryStats, n: int, method: str) -> None:
    if len(data) < n:
        raise InputError(method, f"needs at least {n} variants, got {len(data)}", fix="add variants or use another method")


def cochran_q(data: SummaryStats | pd.DataFrame) -> dict[str, float]:
    """Cochran's Q of the IVW fit (first-order weights), its p-value and I^2 = (Q - df) / Q.

    Examples
    --------
    >>> s = SummaryStats(bx=[1.0, 1.0, 1.0], bxse=[0.1] * 3, by=[1.0, 2.0, 3.0], byse=[1.0] * 3)
    >>> cochran_q(s)["q"]
    2.0
    """
    data = as_summary(data)
    _need(data, 2, "cochran_q")
    w = data.bx**2 / data.byse**2
    estimate = np.sum(data.bx * data.by / data.byse**2) / np.sum(w)
    q = float(np.sum((data.by - estimate * data.bx) ** 2 / data.byse**2))
    df = len(data) - 1
    return {"q": q, "q_df": float(df), "q_p": float(stats.chi2.sf(q, df)), "i2": float(max(0.0, (q - df) / q)) if q > 0 else 0.0}


def ivw(data: SummaryStats | pd.DataFrame, *, effects: Literal["random", "fixed"] = "random", alpha: float = 0.05) -> Estimate:
    """Inverse-variance weighted estimate (first-order weights).

    ``effects="random"`` multiplies the fixed-effect SE by ``max(1, sqrt(Q / (J - 1)))``.

    Examples
    --------
    >>> s = SummaryStats(bx=[0.1, 0.2, 0.3], bxse=[0.01] * 3, by=[0.05, 0.1, 0.15], byse=[0.02] * 3)
    >>> round(ivw(s).estimate, 6)
    0.5
    """
    data = as_summary(data)
    _need(data, 1, "ivw")
    if effects not in ("random", "fixed"):
        raise InputError("ivw", f"effects must be 'random' or 'fixed', got {effects!r}", fix="choose one of the two")
    w = data.bx**2 / data.byse**2
    estimate = np.sum(data.bx * data.by / data.byse**2) / np.sum(w)
    se = 1.0 / np.sqrt(np.sum(w))
    extra: dict = {"effects": effects}
    if len(data) >= 2:
        het = cochran_q(data)
        residual_se = float(np.sqrt(het["q"] / het["q_df"]))
        extra.update(het, residual_se=residual_se)
        if effects == "random":
            se *= max(1.0, residual_se)
    return _normal_result(estimate, se, alpha, **extra)


def _isq_gx(bx: np.ndarray, bxse: np.ndarray) -> float:
    """I^2_GX of Bowden et al. (2016): NOME-violation index for MR-Egger (1 = no dilution)."""
    w = 1.0 / bxse**2
    y = np.abs(bx)
    q = np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2)
    return float(max(0.0, (q - (len(y) - 1)) / q)) if q > 0 else 0.0


def mr_egger(data: SummaryStats | pd.DataFrame, *, alpha: float = 0.05) -> Estimate:
    """MR-Egger: weighted regression with intercept on variants oriented to ``bx > 0``.

    The slope is the causal estimate; the intercept estimates average directional pleiotropy
    (``intercept_p`` tests it is zero). SEs are multiplicative random effects
    (``max(1, residual SE)``), CIs and p-values normal, as R MendelianRandomization's defaults.

    Examples
    --------
    >>> s = SummaryStats(bx=[0.1, 0.2, 0.3, 0.4], bxse=[0.01] * 4, by=[0.06, 0.11, 0.16, 0.21], byse=[0.02] * 4)
    >>> r = mr_egger(s)
    >>> round(r.estimate, 6), round(r.extra["intercept"], 6)
    (0.5, 0.01)
    """
    data = as_summary(data)
    _need(data, 3, "mr_egger")
    sign = np.sign(data.bx)
    bx, by = data.bx * sign, data.by * sign
    w = 1.0 / data.byse**2
    X = np.column_stack([np.ones(len(bx)), bx])
    xtw = X.T * w
    gram_inv = np.linalg.inv(xtw @ X)
    coef = gram_inv @ (xtw @ by)
    resid = by - X @ coef
    df = len(bx) - 2
    rucker_q = float(np.sum(w * resid**2))
    sigma = float(np.sqrt(rucker_q / df))
    se_int, se_slope = np.sqrt(np.diag(gram_inv)) * max(1.0, sigma)
    z = stats.norm.ppf(1 - alpha / 2)
    extra = {
        "intercept": float(coef[0]),
        "intercept_se": float(se_int),
        "intercept_ci_low": float(coef[0] - z * se_int),
        "intercept_ci_high": float(coef[0] + z * se_int),
        "intercept_p": float(2 * stats.norm.sf(abs(coef[0] / se_int))),
        "residual_se": sigma,
        "rucker_q": rucker_q,
        "rucker_q_df": float(df),
        "rucker_q_p": float(stats.chi2.sf(rucker_q, df)),
        "i2_gx": _isq_gx(data.bx, data.bxse),
    }
    return _normal_result(coef[1], se_slope, alpha, **extra)


def _weighted_median_rows(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Bowden's interpolated weighted median along the last axis (rows of ``values``)."""
    values = np.atleast_2d(values)
    weights = np.broadcast_to(weights, values.shape)
    order = np.argsort(values, axis=-1)
    v = np.take_along_axis(values, order, axis=-1)
    w = np.take_along_axis(weights, order, axis=-1)
    cum = (np.cumsum(w, axis=-1) - 0.5 * w) / w.sum(axis=-1, keepdims=True)
    below = np.clip((cum < 0.5).sum(axis=-1) - 1, 0, v.shape[-1] - 2)[:, None]
    lo_v, hi_v = np.take_along_axis(v, below, -1), np.take_along_axis(v, below + 1, -1)
    lo_c, hi_c = np.take_along_axis(cum, below, -1), np.take_along_axis(cum, below + 1, -1)
    return (lo_v + (hi_v - lo_v) * (0.5 - lo_c) / (hi_c - lo_c))[:, 0]


def weighted_median(
    data: SummaryStats | pd.DataFrame, *, n_boot: int = 1000, random_state: int = 0, alpha: float = 0.05
) -> Estimate:
    """Weighted median of the ratio estimates (weights ``bx^2 / byse^2``), bootstrap SE.

    The bootstrap redraws ``bx ~ N(bx, bxse)`` and ``by ~ N(by, byse)`` ``n_boot`` times (seeded)
    and keeps the original weights, as Bowden et al. (2016).

    Examples
    --------
    >>> s = SummaryStats(bx=[0.1, 0.1, 0.1], bxse=[0.01] * 3, by=[0.01, 0.02, 0.03], byse=[0.01] * 3)
    >>> round(weighted_median(s, n_boot=50).estimate, 6)
    0.2
    """
    data = as_summary(data)
    _need(data, 3, "weighted_median")
    weights = data.bx**2 / data.byse**2
    estimate = float(_weighted_median_rows(data.ratio, weights)[0])
    rng = np.random.default_rng(random_state)
    bx = rng.normal(data.bx, data.bxse, size=(n_boot, len(data)))
    by = rng.normal(data.by, data.byse, size=(n_boot, len(data)))
    se = float(np.std(_weighted_median_rows(by / bx, weights), ddof=1))
    return _normal_result(estimate, se, alpha, n_boot=n_boot)


def _mad(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """R's ``mad``: median absolute deviation scaled by 1.4826."""
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis)


def _kde_mode_rows(values: np.ndarray, weights: np.ndarray, phi: float, *, n: int = 512) -> np.ndarray:
    """Mode of a weighted normal KDE per row, computed as R's ``density()`` does.

    Bandwidth ``max(1e-8, phi * 0.9 * min(sd, mad) / J^(1/5))``; linear binning of the points on
    ``n`` bins over ``[min - 7h, max + 7h]``, FFT convolution with the normal kernel, then linear
    interpolation onto ``n`` points over ``[min - 3h, max + 3h]``; the first grid point of highest
    density is the mode. Vectorised over rows (bootstrap replicates).
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    rows, size = values.shape
    weights = np.broadcast_to(weights / np.sum(weights, axis=-1, keepdims=True), values.shape)
    spread = np.minimum(np.std(values, axis=-1, ddof=1), _mad(values))
    h = np.maximum(1e-8, phi * 0.9 * spread / size**0.2)[:, None]
    start, stop = values.min(axis=-1, keepdims=True) - 3 * h, values.max(axis=-1, keepdims=True) + 3 * h
    lo, up = start - 4 * h, stop + 4 * h
    delta = (up - lo) / (n - 1)
    pos = (values - lo) / delta
    ix = np.clip(np.floor(pos).astype(int), 0, n - 2)
    fx = pos - ix
    offset = (np.arange(rows) * 2 * n)[:, None]
    binned = np.bincount((offset + ix).ravel(), (weights * (1 - fx)).ravel(), minlength=rows * 2 * n)
    binned += np.bincount((offset + ix + 1).ravel(), (weights * fx).ravel(), minlength=rows * 2 * n)
    binned = binned.reshape(rows, 2 * n)
    kords = np.linspace(0.0, 1.0, 2 * n)[None, :] * 2 * (up - lo)
    kords[:, n + 1:] = -kords[:, n - 1:0:-1]
    kernel = np.exp(-0.5 * (kords / h) ** 2) / (h * np.sqrt(2 * np.pi))
    dens = np.fft.irfft(np.fft.rfft(binned, axis=-1) * np.conj(np.fft.rfft(kernel, axis=-1)), n=2 * n, axis=-1)
    dens = np.maximum(0.0, dens[:, :n])
    grid = start + (stop - start) * np.linspace(0.0, 1.0, n)[None, :]
    at = (grid - lo) / delta
    k = np.clip(np.floor(at).astype(int), 0, n - 2)
    frac = at - k
    curve = np.take_along_axis(dens, k, -1) * (1 - frac) + np.take_along_axis(dens, k + 1, -1) * frac
    return grid[np.arange(rows), curve.argmax(axis=-1)]


def weighted_mode(
    data: SummaryStats | pd.DataFrame,
    *,
    phi: float = 1.0,
    se_ratio: Literal["delta", "first_order"] = "delta",
    n_boot: int = 1000,
    random_state: int = 0,
    alpha: float = 0.05,
) -> Estimate:
    """Hartwig's weighted mode-based estimate (MBE) with a seeded parametric-bootstrap SE (MAD).

    Weights are ``1 / se_ratio^2`` with the second-order (delta) SE of each ratio estimate, or the
    first-order ``byse / |bx|`` (NOME). The bootstrap redraws each ratio from ``N(ratio, se_ratio)``.

    Examples
    --------
    >>> s = SummaryStats(bx=[0.1] * 5, bxse=[0.01] * 5, by=[0.02, 0.02, 0.02, 0.021, 0.09], byse=[0.01] * 5)
    >>> round(weighted_mode(s, n_boot=20).estimate, 1)
    0.2
    """
    data = as_summary(data)
    _need(data, 3, "weighted_mode")
    if se_ratio not in ("delta", "first_order"):
        raise InputError("weighted_mode", f"se_ratio must be 'delta' or 'first_order', got {se_ratio!r}", fix="choose one")
    ratio = data.ratio
    se = data.byse / np.abs(data.bx)
    if se_ratio == "delta":
        se = np.sqrt(data.byse**2 / data.bx**2 + data.by**2 * data.bxse**2 / data.bx**4)
    weights = 1.0 / se**2
    estimate = float(_kde_mode_rows(ratio, weights, phi)[0])
    rng = np.random.default_rng(random_state)
    boot = _kde_mode_rows(rng.normal(ratio, se, size=(n_boot, len(data))), weights, phi)
    boot_se = float(_mad(boot))
    return _normal_result(estimate, boot_se, alpha, n_boot=n_boot, phi=phi, se_ratio=se_ratio)


def leave_one_out(data: SummaryStats | pd.DataFrame, *, effects: Literal["random", "fixed"] = "random",
                  alpha: float = 0.05) -> pd.DataFrame:
    """IVW re-estimated leaving out each variant in turn (one row per left-out variant)."""
    data = as_summary(data)
    _need(data, 3, "leave_one_out")
    rows = []
    for i, name in enumerate(data.variants):
        r = ivw(data.drop(i), effects=effects, alpha=alpha)
        rows.append({"left_out": name, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p})
    return pd.DataFrame(rows)


METHODS: dict[str, Callable[..., Estimate]] = {
    "ivw": ivw,
    "mr_egger": mr_egger,
    "weighted_median": weighted_median,
    "weighted_mode": weighted_mode,
}


class MRMethod(BaseEstimator):
    """A configured MR estimator (a task baseline): ``MRMethod("ivw").estimate(frame) -> Estimate``.

    ``frame`` is a DataFrame with :data:`HARMONISED_COLUMNS` (``SNP`` optional) or a
    :class:`SummaryStats`. Each method takes the parameters its function has (``effects`` for
    ``ivw``; ``n_boot``, ``random_state`` for the bootstrap of ``weighted_median`` and
    ``weighted_mode``; ``phi``, ``se_ratio`` for ``weighted_mode``; ``alpha`` for all) and ignores
    the rest. ``fit`` learns nothing (MR estimates from the data it is given); it exists so that the
    engine can cache a baseline like any other.

    Examples
    --------
    >>> s = SummaryStats(bx=[0.1, 0.2, 0.3], bxse=[0.01] * 3, by=[0.05, 0.1, 0.15], byse=[0.02] * 3)
    >>> round(MRMethod("ivw", effects="fixed").estimate(s).estimate, 3)
    0.5
    """

    def __init__(self, method: str = "ivw", *, effects: Literal["random", "fixed"] = "random", n_boot: int = 1000,
                 phi: float = 1.0, se_ratio: Literal["delta", "first_order"] = "delta", alpha: float = 0.05,
                 random_state: int = 0) -> None:
        self.method = method
        self.effects = effects
        self.n_boot = n_boot
        self.phi = phi
        self.se_ratio = se_ratio
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X=None, y=None) -> MRMethod:  # noqa: ARG002 - nothing to learn
        """No-op: an MR estimate is computed from the summary statistics passed to :meth:`estimate`."""
        return self

    def estimate(self, data: SummaryStats | pd.DataFrame) -> Estimate:
        if self.method not in METHODS:
            raise UnknownNameError("MR method", self.method, METHODS)
        fn = METHODS[self.method]
        accepted = inspect.signature(fn).parameters
        return fn(as_summary(data), **{k: v for k, v in self.get_params().items() if k != "method" and k in accepted})


def analyse(data: SummaryStats | pd.DataFrame, *, random_state: int = 0, n_boot: int = 1000) -> dict:
    """Every estimator, heterogeneity (Cochran's and Rucker's Q, I^2_GX) and IVW leave-one-out on one data set.

    Examples
    --------
    >>> s = SummaryStats(bx=[0.1, 0.2, 0.3, 0.4], bxse=[0.01] * 4, by=[0.06, 0.11, 0.16, 0.21], byse=[0.02] * 4)
    >>> out = analyse(s, n_boot=20)
    >>> sorted(out["methods"]), out["n_variants"], len(out["leave_one_out"])
    (['ivw', 'mr_egger', 'weighted_median', 'weighted_mode'], 4, 4)
    """
    data = as_summary(data)
    methods = {name: MRMethod(name, random_state=random_state, n_boot=n_boot).estimate(data).to_dict() for name in METHODS}
    egger = mr_egger(data).extra
    heterogeneity = {**cochran_q(data), **{k: egger[k] for k in ("rucker_q", "rucker_q_df", "rucker_q_p", "i2_gx")}}
    return {"methods": methods, "heterogeneity": heterogeneity,
            "leave_one_out": leave_one_out(data).to_dict(orient="records"), "n_variants": len(data)}

"""CpG neighbourhood features from bisulfite-sequencing counts, vectorised over sorted positions.

Input: per CpG site its ``position`` (bp), a ``region`` label (chromosome or genomic block; neighbours
never cross regions) and, per sample, methylated reads ``m`` and total reads ``cov`` (0 = not
observed). Output: one row per site describing its neighbourhood **without using the site's own
reads** in any sample:

* ``{s}_u{j}_*`` / ``{s}_d{j}_*`` for the ``j``-th nearest observed CpG upstream / downstream
  (``dist`` in bp, ``beta`` = m / cov, ``cov``); NaN where the region has no such neighbour;
* ``{s}_mean{k}``: mean beta of the ``k`` nearest observed neighbours (either side);
* ``{s}_w{w}_beta`` / ``_cov`` / ``_low``: read-pooled beta, total reads and the fraction of observed
  CpGs with beta < 0.5 within ``w`` bp (self excluded); one-sided read-pooled betas
  ``{s}_wu{w}_beta`` / ``{s}_wd{w}_beta``;
* ``{s}_kern{l}``: coverage- and distance-weighted beta, weight ``cov * exp(-d / l)``;
* ``site_*``: CpG spacing only (sample-independent): distance to the nearest CpG site on each side
  and the number of CpG sites within ``w`` bp. No reference sequence is needed, so these are the
  only "sequence context" features.

Neighbour lookups use ``np.searchsorted`` on the sorted (region, position) keys: no per-CpG loop.

The task's model inputs are :func:`neighbourhood_features` (this task's neighbours, windows and
kernels, reads pooled over the samples given); the baselines read all of them
(:func:`feature_columns`) or the 10 nearest observed CpGs only (:func:`nearest10`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from genotx.data.cache import cached_array

__all__ = ["cpg_neighbourhood", "NEIGHBOUR_MEAN_K", "neighbourhood_features", "feature_columns", "nearest10",
           "cached_neighbourhood_features", "NEIGHBOURS", "WINDOWS", "KERNELS", "PREFIX", "TRIVIAL_K"]

NEIGHBOUR_MEAN_K: tuple[int, ...] = (2, 4, 10)
NEIGHBOURS = 10  # observed CpGs kept on each side
WINDOWS = (100, 300, 1000, 3000, 10000, 50000)
KERNELS = (30, 100, 300, 1000)
TRIVIAL_K = 4  # neighbour_mean: mean beta of the 4 nearest observed CpGs
PREFIX = "n"  # neighbour features from reads pooled over the samples given
_FEATURE_VERSION = 1
_SHIFT = np.int64(1) << np.int64(32)  # positions < 2**32; region codes occupy the high bits


def _keys(position: np.ndarray, region: np.ndarray | None) -> np.ndarray:
    codes = np.zeros(len(position), dtype=np.int64) if region is None else pd.factorize(region, sort=True)[0].astype(np.int64)
    return codes * _SHIFT + position.astype(np.int64)


def _window_sums(keys: np.ndarray, obs_keys: np.ndarray, cumsums: Sequence[np.ndarray], lo_off: int, hi_off: int) -> list[np.ndarray]:
    """Sums over observed sites with key in [key + lo_off, key + hi_off] (windows cannot leave a region)."""
    lo = np.searchsorted(obs_keys, keys + lo_off, "left")
    hi = np.searchsorted(obs_keys, keys + hi_off, "right")
    return [c[hi] - c[lo] for c in cumsums]


def _sample_features(
    keys: np.ndarray, position: np.ndarray, m: np.ndarray, cov: np.ndarray, *, prefix: str, k: int,
    windows: Sequence[int], kernels: Sequence[int],
) -> dict[str, np.ndarray]:
    m = np.asarray(m, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    observed = cov > 0
    obs_keys, obs_pos = keys[observed], position[observed].astype(np.float64)
    obs_beta = m[observed] / cov[observed]
    obs_cov = cov[observed]
    n_obs = len(obs_keys)
    region_of = keys >> np.int64(32)
    obs_region = obs_keys >> np.int64(32)
    out: dict[str, np.ndarray] = {}
    left = np.searchsorted(obs_keys, keys, "left")  # obs[left - 1] is the nearest strictly upstream
    right = np.searchsorted(obs_keys, keys, "right")  # obs[right] is the nearest strictly downstream
    dists, betas, covs = [], [], []
    for side in ("u", "d"):
        for j in range(1, k + 1):
            idx = left - j if side == "u" else right + j - 1
            valid = (idx >= 0) & (idx < n_obs)
            idx = np.clip(idx, 0, max(n_obs - 1, 0))
            if n_obs:
                valid &= obs_region[idx] == region_of
                dist = np.where(valid, np.abs(obs_pos[idx] - position), np.nan)
                beta = np.where(valid, obs_beta[idx], np.nan)
                depth = np.where(valid, obs_cov[idx], np.nan)
            else:
                dist = beta = depth = np.full(len(keys), np.nan)
            out[f"{prefix}_{side}{j}_dist"], out[f"{prefix}_{side}{j}_beta"], out[f"{prefix}_{side}{j}_cov"] = dist, beta, depth
            dists.append(dist)
            betas.append(beta)
            covs.append(depth)
    dist, beta, depth = np.column_stack(dists), np.column_stack(betas), np.column_stack(covs)
    order = np.argsort(np.where(np.isnan(dist), np.inf, dist), axis=1, kind="stable")
    nearest = np.take_along_axis(beta, order, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for n in NEIGHBOUR_MEAN_K:
            if n <= 2 * k:
                chosen = nearest[:, :n]
                count = np.sum(~np.isnan(chosen), axis=1)
                out[f"{prefix}_mean{n}"] = np.where(count > 0, np.nansum(chosen, axis=1) / np.maximum(count, 1), np.nan)
        for scale in kernels:
            weight = np.nan_to_num(depth * np.exp(-dist / scale))
            total = weight.sum(axis=1)
            out[f"{prefix}_kern{scale}"] = np.where(total > 0, np.nansum(weight * beta, axis=1) / np.where(total > 0, total, 1), np.nan)
        per_site = (m[observed], obs_cov, (obs_beta < 0.5).astype(np.float64), np.ones(n_obs))
        cumsums = [np.concatenate([[0.0], np.cumsum(x)]) for x in per_site]
        own = [np.where(observed, m, 0.0), np.where(observed, cov, 0.0), np.where(observed, (m < 0.5 * cov), 0.0),
               observed.astype(np.float64)]
        for w in windows:
            for name, lo_off, hi_off in (("w", -w, w), ("wu", -w, -1), ("wd", 1, w)):
                sm, sc, low, cnt = _window_sums(keys, obs_keys, cumsums, lo_off, hi_off)
                if name == "w":  # the two-sided window contains the site itself: take its reads out
                    sm, sc, low, cnt = (total - mine for total, mine in zip((sm, sc, low, cnt), own))
                out[f"{prefix}_{name}{w}_beta"] = np.where(sc > 0, sm / np.where(sc > 0, sc, 1), np.nan)
                if name == "w":
                    out[f"{prefix}_{name}{w}_cov"] = sc
                    out[f"{prefix}_{name}{w}_low"] = np.where(cnt > 0, low / np.where(cnt > 0, cnt, 1), np.nan)
    return out


def cpg_neighbourhood(
    position: np.ndarray,
    samples: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    region: np.ndarray | None = None,
    k: int = 10,
    windows: Sequence[int] = (100, 300, 1000, 3000, 10000, 50000),
    kernels: Sequence[int] = (100, 1000),
) -> pd.DataFrame:
    """Neighbourhood features of every CpG site (own reads never used), see the module docstring.

    ``samples`` maps a prefix to ``(methylated_reads, coverage)`` arrays aligned with ``position``.
    Sites must be unique within a region; they need not be sorted (the output keeps input order).

    Examples
    --------
    >>> pos = np.array([100, 110, 130, 5000])
    >>> f = cpg_neighbourhood(pos, {"s": (np.array([9, 0, 8, 1]), np.array([10, 0, 10, 10]))}, k=1)
    >>> f["s_u1_beta"].astype(float).round(2).tolist()  # nearest observed upstream CpG; 110 has no reads
    [nan, 0.9, 0.9, 0.8]
    >>> f["site_u1_dist"].tolist()[:3], f["s_mean2"].astype(float).round(2).tolist()
    ([nan, 10.0, 20.0], [0.8, 0.85, 0.5, 0.8])
    """
    position = np.asarray(position, dtype=np.int64)
    if position.ndim != 1 or (len(position) and (position.min() < 0 or position.max() >= _SHIFT)):
        raise ValueError("position must be a 1-D array of non-negative integers below 2**32")
    keys = _keys(position, None if region is None else np.asarray(region))
    order = np.argsort(keys, kind="stable")
    skeys, spos = keys[order], position[order]
    if len(skeys) > 1 and (np.diff(skeys) == 0).any():
        raise ValueError("CpG positions must be unique within a region")
    features: dict[str, np.ndarray] = {}
    # sample-independent spacing: nearest CpG sites and site density
    sregion = skeys >> np.int64(32)
    same_prev = np.r_[False, sregion[1:] == sregion[:-1]]
    same_next = np.r_[sregion[:-1] == sregion[1:], False]
    gap = np.diff(spos).astype(np.float64)
    features["site_u1_dist"] = np.where(same_prev, np.r_[np.nan, gap], np.nan)
    features["site_d1_dist"] = np.where(same_next, np.r_[gap, np.nan], np.nan)
    for w in windows:
        features[f"site_w{w}_n"] = (np.searchsorted(skeys, skeys + w, "right") - np.searchsorted(skeys, skeys - w, "left") - 1).astype(np.float64)
    for prefix, (m, cov) in samples.items():
        m, cov = np.asarray(m)[order], np.asarray(cov)[order]
        features.update(_sample_features(skeys, spos, m, cov, prefix=prefix, k=k, windows=windows, kernels=kernels))
    frame = pd.DataFrame({name: values.astype(np.float32) for name, values in features.items()})
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return frame.iloc[inverse].reset_index(drop=True)


def neighbourhood_features(position: np.ndarray, samples: list[tuple[np.ndarray, np.ndarray]], *, region: np.ndarray) -> pd.DataFrame:
    """Task features: the neighbourhood of each CpG from reads pooled over ``samples`` (own reads excluded)."""
    m = np.sum([np.asarray(s[0], dtype=np.int64) for s in samples], axis=0)
    cov = np.sum([np.asarray(s[1], dtype=np.int64) for s in samples], axis=0)
    return cpg_neighbourhood(position, {PREFIX: (m, cov)}, region=region, k=NEIGHBOURS, windows=WINDOWS, kernels=KERNELS)


def cached_neighbourhood_features(position: np.ndarray, samples: list[tuple[np.ndarray, np.ndarray]], *,
                                  region: np.ndarray, data_id: object) -> tuple[np.ndarray, list[str]]:
    """:func:`neighbourhood_features` as ``float32`` and its column names, cached on disk by the data's
    identity ``data_id`` (e.g. its files' sha256) and this task's feature settings."""
    names = list(neighbourhood_features(np.arange(3) * 10, [(np.ones(3), np.ones(3))], region=np.zeros(3)).columns)

    def compute() -> np.ndarray:
        return neighbourhood_features(position, samples, region=region).to_numpy(np.float32)

    key = ("methylation_state", _FEATURE_VERSION, data_id, NEIGHBOURS, WINDOWS, KERNELS, names)
    return cached_array(key, compute), names


def feature_columns(frame: pd.DataFrame, *, nearest: int | None = None) -> np.ndarray:
    """All neighbourhood features, or only the ``nearest`` observed CpGs' distance/beta/coverage."""
    if nearest is None:
        columns = [c for c in frame.columns if c.startswith((f"{PREFIX}_", "site_"))]
    else:
        per_side = nearest // 2
        columns = [f"{PREFIX}_{side}{j}_{what}" for side in "ud" for j in range(1, per_side + 1) for what in ("dist", "beta", "cov")]
    return frame[columns].to_numpy(np.float32)


def nearest10(frame: pd.DataFrame) -> np.ndarray:
    """The 10 nearest observed CpGs' (5 per side) distance, beta and coverage."""
    return feature_columns(frame, nearest=10)

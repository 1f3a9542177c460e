"""Simulated mouse and human expression driven by real pathway footprints (labelled by activity).

Each sample ``i`` of species ``s`` has 14 pathway activities ``a_i ~ N(0, I)`` (the label) and
log-expression over a shared gene panel (human symbols)

    x_i = mu_s + effect * W_s a_i + L_s f_i + e_i,

where ``W_s`` are the footprint weights (genes x pathways; real PROGENy weights), ``mu_s`` the
baseline expression (real for human: PANC1 means), ``L_s f_i`` a species-specific low-rank nuisance
(``n_factors`` random factors: strain, tissue, batch) and ``e_i`` gene-wise noise with real
replicate standard deviations. The species shift (mouse only) is simulated: per-gene baseline
offsets, per-gene response scales (log-normal), a fraction of each gene's response re-assigned to
another gene's footprint (``divergence``), independent nuisance loadings and 20% more noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SpeciesShift", "simulate_species"]


@dataclass(frozen=True)
class SpeciesShift:
    """How much the simulated mouse differs from human (all gene-wise, drawn once per seed)."""

    baseline_sd: float = 0.7  # per-gene offset of mouse baseline log-expression
    response_log_sd: float = 0.4  # per-gene log-normal scale of the mouse response
    divergence: float = 0.3  # 1 - rho: the share of each gene's response that is species-specific
    noise_ratio: float = 1.2  # mouse noise sd / human noise sd


def _draws(n: int, n_genes: int, n_pathways: int, n_factors: int, loading_sd: float, seed: int):
    rng = np.random.default_rng(seed)
    activity = rng.normal(size=(n, n_pathways))
    loadings = rng.normal(0.0, loading_sd, size=(n_factors, n_genes))
    factors = rng.normal(size=(n, n_factors))
    noise = rng.normal(size=(n, n_genes))
    return activity, factors @ loadings, noise


def simulate_species(weights_human: np.ndarray, weights_mouse: np.ndarray, *, baseline: np.ndarray, noise_sd: np.ndarray,
                     n_mouse: int = 300, n_human: int = 200, effect: float = 0.04, n_factors: int = 10,
                     loading_sd: float = 0.3, shift: SpeciesShift = SpeciesShift(), random_state: int = 0) -> dict[str, np.ndarray]:
    """Mouse and human samples: ``{"mouse_x", "mouse_y", "human_x", "human_y"}`` (samples x genes / pathways).

    Examples
    --------
    >>> w = np.eye(4)[:, :2] * 10
    >>> out = simulate_species(w, w, baseline=np.zeros(4), noise_sd=np.full(4, 0.1), n_mouse=5, n_human=3, effect=1.0)
    >>> out["mouse_x"].shape, out["human_y"].shape
    ((5, 4), (3, 2))
    """
    weights_human = np.asarray(weights_human, dtype=np.float64)
    weights_mouse = np.asarray(weights_mouse, dtype=np.float64)
    n_genes, n_pathways = weights_human.shape
    rng = np.random.default_rng(random_state)
    offset = rng.normal(0.0, shift.baseline_sd, n_genes)
    scale = np.exp(rng.normal(0.0, shift.response_log_sd, n_genes))
    rho = 1.0 - shift.divergence
    swapped = weights_mouse[rng.permutation(n_genes)]
    mouse_w = (rho * weights_mouse + np.sqrt(1.0 - rho**2) * swapped) * scale[:, None]
    seeds = rng.integers(0, 2**31 - 1, size=2)
    out = {}
    for name, n, w, mu, sd, seed in (("mouse", n_mouse, mouse_w, baseline + offset, noise_sd * shift.noise_ratio, seeds[0]),
                                     ("human", n_human, weights_human, baseline, noise_sd, seeds[1])):
        activity, nuisance, noise = _draws(n, n_genes, n_pathways, n_factors, loading_sd, int(seed))
        out[f"{name}_x"] = mu + effect * activity @ w.T + nuisance + noise * sd
        out[f"{name}_y"] = activity
    return out

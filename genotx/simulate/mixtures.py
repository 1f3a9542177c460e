"""Pseudo-bulk mixtures of labelled single cells with known cell-type proportions.

A mixture ``i`` is built as deconvolution benchmarks build them (Scaden, Menden et al. 2020;
Avila Cobos et al. 2020): proportions ``p_i ~ Dirichlet(alpha)`` over the ``K`` types, cell counts
``c_i ~ Multinomial(n_cells, p_i)``, ``c_ik`` cells of type ``k`` drawn with replacement from the
pool, and the mixture's expression is the mean of their (linear-scale, per-cell normalised)
profiles times gene-wise log-normal technical noise with mean 1:

    x_ig = (1 / n_cells) * sum_{cells j of i} e_jg * exp(sigma * z_ig - sigma^2 / 2),   z ~ N(0, 1).

The truth is the realised cell fraction ``c_i / n_cells`` (not ``p_i``), so it is exactly what the
mixture contains. The cells of every mixture are returned, so a caller can prove that two sets of
mixtures never share a cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["Mixtures", "pseudo_bulk"]


@dataclass(frozen=True)
class Mixtures:
    """Simulated mixtures: ``expression`` (mixtures x genes, float64), ``proportions`` (mixtures x
    types, rows sum to 1), ``cells`` (mixtures x n_cells, row positions of the cells drawn) and the
    ``types`` (column order of ``proportions``)."""

    expression: np.ndarray
    proportions: np.ndarray
    cells: np.ndarray
    types: tuple[str, ...]


def pseudo_bulk(
    expression,
    labels: Sequence,
    *,
    n_mixtures: int,
    n_cells: int = 500,
    alpha: float | Sequence[float] = 1.0,
    noise_sd: float = 0.1,
    types: Sequence[str] | None = None,
    pool: np.ndarray | None = None,
    random_state: int = 0,
) -> Mixtures:
    """``n_mixtures`` pseudo-bulk samples of the cells in ``pool`` (default: every cell).

    Parameters
    ----------
    expression : array or sparse matrix, cells x genes
        Linear-scale expression (e.g. ``expm1`` of log-normalised counts); never log values.
    labels : sequence, one per cell
        The cell type of each cell.
    n_mixtures, n_cells : int
        Number of mixtures, and of cells drawn (with replacement) into each.
    alpha : float or one per type
        Dirichlet concentration; 1.0 is uniform over the simplex.
    noise_sd : float
        Sigma of the gene-wise multiplicative log-normal noise (0 for none).
    types : sequence of str, optional
        Column order of the proportions (default: sorted distinct labels). Every type must have at
        least one cell in ``pool``.
    pool : int array, optional
        Row positions of the cells that may be drawn.
    random_state : int
        Seed.

    Examples
    --------
    >>> e = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    >>> m = pseudo_bulk(e, ["a", "a", "b"], n_mixtures=4, n_cells=10, noise_sd=0.0, random_state=0)
    >>> m.types, m.proportions.sum(axis=1).round(6).tolist(), m.cells.shape
    (('a', 'b'), [1.0, 1.0, 1.0, 1.0], (4, 10))
    >>> bool(np.allclose(m.expression[:, 1], 2.0 * m.proportions[:, 1]))  # gene 2 is b's alone
    True
    """
    labels = np.asarray(labels).astype(str)
    n_total = expression.shape[0]
    if len(labels) != n_total:
        raise ValueError(f"expression has {n_total} cells but {len(labels)} labels were given")
    if n_mixtures < 1 or n_cells < 1:
        raise ValueError(f"n_mixtures and n_cells must be >= 1, got {n_mixtures} and {n_cells}")
    if noise_sd < 0:
        raise ValueError(f"noise_sd must be >= 0, got {noise_sd}")
    pool = np.arange(n_total) if pool is None else np.asarray(pool, dtype=np.int64)
    types = tuple(str(t) for t in (sorted(set(labels[pool])) if types is None else types))
    k = len(types)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (k,))
    if (alpha <= 0).any():
        raise ValueError("alpha must be > 0")
    # the pool's cells grouped by type: members[starts[t] : starts[t] + sizes[t]] are type t's cells
    code = {t: i for i, t in enumerate(types)}
    pool_codes = np.array([code.get(t, -1) for t in labels[pool]])
    pool = pool[pool_codes >= 0]
    pool_codes = pool_codes[pool_codes >= 0]
    order = np.argsort(pool_codes, kind="stable")
    members = pool[order]
    sizes = np.bincount(pool_codes, minlength=k)
    if (sizes == 0).any():
        raise ValueError(f"types without a cell in the pool: {[t for t, s in zip(types, sizes) if s == 0]}")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]

    rng = np.random.default_rng(random_state)
    p = rng.dirichlet(alpha, size=n_mixtures)
    counts = np.vstack([rng.multinomial(n_cells, row) for row in p])
    cell_type = np.repeat(np.tile(np.arange(k), n_mixtures), counts.ravel()).reshape(n_mixtures, n_cells)
    pick = np.floor(rng.random((n_mixtures, n_cells)) * sizes[cell_type]).astype(np.int64)
    cells = members[starts[cell_type] + pick]

    weights = sparse.csr_matrix(
        (np.full(cells.size, 1.0 / n_cells), (np.repeat(np.arange(n_mixtures), n_cells), cells.ravel())),
        shape=(n_mixtures, n_total),
    )  # duplicate (mixture, cell) entries are summed: a cell drawn twice counts twice
    mixed = weights @ expression
    mixed = np.asarray(mixed.toarray() if sparse.issparse(mixed) else mixed, dtype=np.float64)
    if noise_sd > 0:
        mixed *= np.exp(noise_sd * rng.standard_normal(mixed.shape) - noise_sd**2 / 2)
    return Mixtures(mixed, counts / n_cells, cells, types)

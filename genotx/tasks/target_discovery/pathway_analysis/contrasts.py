"""Per-gene contrast statistics (moderated t) of the three real experiments.

:func:`moderated_t` is limma's empirical Bayes t (Smyth 2004, ``eBayes`` without trend or robust
options): the genes' residual variances are shrunk toward a prior fitted to their distribution
(``fitFDist``: moments of log variances), which steadies t statistics of 3 + 3 or 4 paired samples.
It is written here (about 30 lines) because no maintained Python package pinned by genotx has it.

Contrasts (gene symbols; positive t = higher in the first group named):

* ``foxa2_knockout``: PANC1 FOXA2 knockout vs wild type, 3 + 3 (PROGENy ``vignette_data``, log2
  expression; genes missing in fewer than 2 samples of a group are kept with their own df);
* ``dexamethasone``: airway smooth muscle, dexamethasone vs untreated, paired by the 4 donor lines
  (log2 CPM, prior count 0.5; genes with CPM >= 1 in at least 4 samples);
* ``bcr_abl``: B-lineage ALL, BCR/ABL (37) vs NEG (42) (RMA log2; probe sets mapped to Entrez ids,
  then current symbols; per gene the probe set of largest interquartile range).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from genotx.errors import InputError

__all__ = ["moderated_t", "two_group", "paired", "foxa2_knockout", "dexamethasone", "bcr_abl", "CONTRASTS"]


def _trigamma_inverse(x: float) -> float:
    """y with trigamma(y) = x (limma's Newton iteration)."""
    if x > 1e7:
        return 1.0 / np.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(50):
        tri = special.polygamma(1, y)
        step = tri * (1.0 - tri / x) / special.polygamma(2, y)
        y += step
        if -step / y < 1e-8:
            break
    return float(y)


def moderated_t(coef: np.ndarray, s2: np.ndarray, df: np.ndarray, unscaled_sd: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """limma's moderated t and its two-sided p-value, and the fitted prior (``d0``, ``s0_sq``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s2 = rng.chisquare(4, size=2000) / 4 * 0.2  # residual variances with 4 df around 0.2
    >>> t, p, prior = moderated_t(np.zeros(2000), s2, np.full(2000, 4.0), np.full(2000, 0.5))
    >>> prior["d0"] > 20, round(prior["s0_sq"], 2)  # no extra spread: a strong prior near 0.2
    (True, 0.2)
    """
    coef, s2, df, unscaled_sd = (np.asarray(a, dtype=np.float64) for a in (coef, s2, df, unscaled_sd))
    ok = np.isfinite(s2) & (s2 > 0) & (df > 0)
    if ok.sum() < 3:
        raise InputError("moderated_t", "fewer than 3 genes have a residual variance", fix="give more genes or replicates")
    e = np.log(s2[ok]) - special.digamma(df[ok] / 2) + np.log(df[ok] / 2)
    evar = e.var(ddof=1) - special.polygamma(1, df[ok] / 2).mean()
    if evar > 0:
        d0 = 2 * _trigamma_inverse(evar)
        s0_sq = float(np.exp(e.mean() + special.digamma(d0 / 2) - np.log(d0 / 2)))
        post = (d0 * s0_sq + df * s2) / (d0 + df)
    else:  # no extra spread: every gene gets the prior variance
        d0, s0_sq = np.inf, float(np.exp(e.mean()))
        post = np.full_like(s2, s0_sq)
    t = coef / (np.sqrt(post) * unscaled_sd)
    total = np.minimum(df + d0, ok.sum() * df.max())  # limma caps the total df at the pooled residual df
    p = 2 * stats.t.sf(np.abs(t), total)
    return t, p, {"d0": float(d0), "s0_sq": s0_sq}


def _table(genes, coef, t, p, prior) -> pd.DataFrame:
    out = pd.DataFrame({"logfc": coef, "t": t, "p_value": p}, index=pd.Index(genes, name="gene"))
    out.attrs["prior"] = prior
    return out.dropna(subset=["t"])


def two_group(values: pd.DataFrame, first: list[str], second: list[str]) -> pd.DataFrame:
    """Moderated t of ``first`` minus ``second`` (genes x samples; NaN allowed, >= 2 values per group)."""
    a, b = values[first].to_numpy(np.float64), values[second].to_numpy(np.float64)
    na, nb = np.isfinite(a).sum(axis=1), np.isfinite(b).sum(axis=1)
    keep = (na >= 2) & (nb >= 2)
    a, b, na, nb = a[keep], b[keep], na[keep], nb[keep]
    ma, mb = np.nanmean(a, axis=1), np.nanmean(b, axis=1)
    ss = np.nansum((a - ma[:, None]) ** 2, axis=1) + np.nansum((b - mb[:, None]) ** 2, axis=1)
    df = (na + nb - 2).astype(np.float64)
    t, p, prior = moderated_t(ma - mb, ss / df, df, np.sqrt(1 / na + 1 / nb))
    return _table(values.index[keep], ma - mb, t, p, prior)


def paired(values: pd.DataFrame, treated: list[str], control: list[str]) -> pd.DataFrame:
    """Moderated t of treated minus control, paired column by column (``treated[i]`` with ``control[i]``)."""
    diff = values[treated].to_numpy(np.float64) - values[control].to_numpy(np.float64)
    n = diff.shape[1]
    t, p, prior = moderated_t(diff.mean(axis=1), diff.var(axis=1, ddof=1), np.full(len(diff), n - 1.0),
                              np.full(len(diff), 1 / np.sqrt(n)))
    return _table(values.index, diff.mean(axis=1), t, p, prior)


def _first_per_symbol(table: pd.DataFrame, symbols: pd.Series, order: np.ndarray) -> pd.DataFrame:
    """Rows renamed to gene symbols; of rows sharing a symbol, the one first in ``order`` (descending)."""
    frame = table.assign(_symbol=symbols.reindex(table.index).to_numpy(), _order=order)
    frame = frame.dropna(subset=["_symbol"]).sort_values("_order", ascending=False, kind="stable")
    frame = frame.drop_duplicates("_symbol").set_index("_symbol").drop(columns="_order")
    frame.index.name = "gene"
    return frame


def foxa2_knockout(panc1: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """PANC1 FOXA2 knockout minus wild type (log2 expression, genes as rows; a duplicated gene's first row)."""
    panc1 = panc1[~panc1.index.duplicated()]
    condition = design.set_index("sample")["condition"].reindex(panc1.columns).astype(str)
    ko = [c for c, v in condition.items() if "FOXA2KO" in v]
    wt = [c for c, v in condition.items() if v.endswith(".WT")]
    return two_group(panc1, ko, wt)


def dexamethasone(counts: pd.DataFrame, samples: pd.DataFrame, ensembl_to_symbol: pd.Series) -> pd.DataFrame:
    """airway: dexamethasone minus untreated, paired by cell line (log2 CPM of expressed genes)."""
    samples = samples.set_index("sample")
    lib = counts.sum(axis=0)
    cpm = counts / lib * 1e6
    expressed = (cpm >= 1).sum(axis=1) >= 4
    logcpm = np.log2((counts[expressed] + 0.5) / (lib + 1) * 1e6)
    treated, control = [], []
    for cell, rows in samples.groupby("cell", sort=True):
        dex = rows.index[rows["dex"] == "trt"]
        untreated = rows.index[rows["dex"] == "untrt"]
        if len(dex) == 1 and len(untreated) == 1:
            treated.append(dex[0])
            control.append(untreated[0])
    table = paired(logcpm, treated, control)
    return _first_per_symbol(table, ensembl_to_symbol, logcpm.loc[table.index].mean(axis=1).to_numpy())


def bcr_abl(expression: pd.DataFrame, phenotype: pd.DataFrame, probe_to_symbol: pd.Series) -> pd.DataFrame:
    """B-lineage ALL: BCR/ABL minus NEG; per gene the probe set of largest interquartile range."""
    phenotype = phenotype.set_index("sample")
    b_cell = phenotype["BT"].astype(str).str.startswith("B")
    bcr = list(phenotype.index[b_cell & (phenotype["mol.biol"] == "BCR/ABL")])
    neg = list(phenotype.index[b_cell & (phenotype["mol.biol"] == "NEG")])
    table = two_group(expression, bcr, neg)
    values = expression.loc[table.index, bcr + neg].to_numpy()
    iqr = np.subtract(*np.percentile(values, [75, 25], axis=1))
    return _first_per_symbol(table, probe_to_symbol, iqr)


CONTRASTS = ("foxa2_knockout", "dexamethasone", "bcr_abl")

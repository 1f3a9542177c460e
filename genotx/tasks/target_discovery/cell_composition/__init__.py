"""Cell-type composition (deconvolution): a mixed sample's expression + a labelled single-cell
reference -> the proportion of each cell type in the sample.

Data (semi-synthetic): 700 real PBMCs of 10x Genomics' 68k PBMC data as reduced and labelled by
scanpy (``pbmc68k_reduced``: 765 genes, 10 types in ``bulk_labels``; ``.raw.X`` is log-normalised,
``expm1`` gives the linear scale used for mixing). For each of 5 partitions the cells of every type
are split in two halves (seeded, stratified): 2,000 pseudo-bulk mixtures are built from the
*reference* half and 200 from the *held-out* half (:func:`genotx.simulate.mixtures.pseudo_bulk`:
proportions ~ Dirichlet(1), 500 cells drawn per mixture, gene-wise log-normal noise sd 0.1; the
truth is the realised cell fraction). The two halves never share a cell (``arrays["cells"]`` names
each mixture's cells; every run records ``shared_cells = 0``). Second source ``decoupler_pbmc3k``:
160 real pbmc3k cells (8 types x 20, decoupleR's Seurat object), its 1,645 variable genes, built the
same way.

Split ``held_out_cells``: the seed picks partition ``seed % 5``; models learn from its reference
mixtures and are scored on its held-out mixtures. The reference enters every model as training
mixtures ``(X, y)`` simulated from its cells, never as a side channel: the four baselines, and any
estimator of a user's, share one scikit-learn contract, and ``predict`` trains on mixtures of the
user's reference through the same ``training_data`` hook. Rare types have few cells (CD4+/CD45RA+/
CD25- naive T: 8 in all, 4 per half), so the held-out half's profile of such a type differs from the
reference half's: that, not noise, is what makes the four T-cell subsets hard.

Models (:mod:`.models`): ``adaptive_nnls`` (NNLS whose signature is re-estimated on the batch of
mixtures being deconvolved, types kept by Hungarian matching to the reference; transductive: a
mixture's answer depends on the others in its batch; a batch of fewer than 20 mixtures, or whose
compositions vary too little to inform the profiles, gets plain NNLS), ``nnls`` (NNLS on the
signature, genes weighted by 1/sqrt(mean)), ``nusvr`` (CIBERSORT-style nu-SVR; slow: 3 libsvm fits
per mixture), ``scaden`` (Scaden-style MLP ensemble trained on the reference mixtures) and ``mean``
(the training mean, ~1/10 each: the floor). Metrics: ``pearson_flat`` (Pearson r over every
(mixture, type) pair) and ``rmse``; per-type r and RMSE, with the cells behind each type, in the
run's details.

``genotx predict cell_composition --input bulk.csv --out proportions.csv [--reference ref.h5ad
--option label=cell_type]`` deconvolves your bulk table against your reference (default: all 700
PBMCs); see :mod:`.io` for the accepted files.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.text import read_text
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.simulate.mixtures import pseudo_bulk
from genotx.tasks.spec import Dataset, PredictOption, TaskSpec
from genotx.tasks.target_discovery.cell_composition.io import Reference, ReferenceFile, read_bulk, read_reference, reference_genes
from genotx.tasks.target_discovery.cell_composition.models import (
    MeanProportions, NuSVRDeconvolution, ScadenMLP, SignatureNNLS, proportions_frame,
)
from genotx.tasks.target_discovery.cell_composition.protocol import Deconvolution
from genotx.tasks.target_discovery.cell_composition.splits import CellPartitionSplit

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "training_data", "read_input", "format_predictions",
           "reference_mixtures", "PREDICT_OPTIONS", "INPUT_OPTIONS", "TRAIN_OPTIONS"]

log = logging.getLogger(__name__)

SPEC = TaskSpec(
    name="cell_composition",
    number=5,
    stage="target_discovery",
    title="Cell-type composition",
    formulation="a mixed sample's expression (bulk or spot) + a labelled single-cell reference -> cell-type proportions",
    protocol="supervised",
    target="regression",
    data_kind="semi-synthetic",
    sources=("scanpy_pbmc68k_reduced", "decoupler_pbmc3k"),
    splits=("held_out_cells",),
    metrics=("pearson_flat", "rmse"),
    baselines=("adaptive_nnls", "nnls", "nusvr", "scaden", "mean"),
    trivial="mean",
    reference='nusvr',
    data_note="Semi-synthetic: pseudo-bulk mixtures of real labelled PBMCs (scanpy pbmc68k_reduced, 700 cells, "
    "10 types) with known proportions (Dirichlet(1), 500 cells per mixture, log-normal noise sd 0.1). Training "
    "mixtures use one half of each type's cells, test mixtures the other half (no shared cell). "
    "adaptive_nnls is transductive: it adapts the signature to the whole test batch of 200 mixtures "
    "(it needs a batch whose compositions vary; otherwise it is plain NNLS).",
    citation="Zheng et al. (2017) Nat Commun 8:14049; Newman et al. (2015) Nat Methods 12:453 (CIBERSORT); "
    "Menden et al. (2020) Sci Adv 6:eaba2619 (Scaden); Chu et al. (2022) Nat Cancer 3:505 (BayesPrism)",
)

DEFAULT_SOURCE = "scanpy_pbmc68k_reduced"
#: how each source is read: its label column and the genes kept (pbmc68k_reduced is already 765 HVGs)
READ = {"scanpy_pbmc68k_reduced": {"label": "bulk_labels"},
        "decoupler_pbmc3k": {"label": "cell_type", "genes": "highly_variable"}}
N_PARTITIONS = 5
N_TRAIN = 2000  # mixtures of each partition's reference half
N_TEST = 200  # mixtures of each partition's held-out half
MIXTURE = {"n_cells": 500, "alpha": 1.0, "noise_sd": 0.1}


@lru_cache(maxsize=2)
def _source_reference(source: str) -> Reference:
    return read_reference(source_files(source)["h5ad"], **READ[source])


def halves(labels: np.ndarray, *, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Each type's cells split in two halves (seeded): (reference positions, held-out positions).

    Examples
    --------
    >>> ref, held = halves(np.array(list("aaaabbc")), random_state=0)
    >>> sorted(ref.tolist() + held.tolist()) == list(range(7)), len(np.intersect1d(ref, held))
    (True, 0)
    """
    rng = np.random.default_rng(random_state)
    reference = []
    for label in sorted(set(labels)):
        cells = rng.permutation(np.flatnonzero(labels == label))
        reference.append(cells[: max(1, len(cells) // 2)] if len(cells) > 1 else cells)
    reference = np.sort(np.concatenate(reference))
    held_out = np.setdiff1d(np.arange(len(labels)), reference)
    return reference, held_out


def load(*, source: str = DEFAULT_SOURCE) -> Dataset:
    """Pseudo-bulk mixtures (rows) x genes, their true proportions, partition and side of every row."""
    ref = _source_reference(source)
    types = ref.types
    inputs, targets, cells, groups = [], [], [], []
    for partition in range(N_PARTITIONS):
        reference, held_out = halves(ref.labels, random_state=partition)
        for side, pool, n in (("reference", reference, N_TRAIN), ("held_out", held_out, N_TEST)):
            mix = pseudo_bulk(ref.expression, ref.labels, n_mixtures=n, pool=pool, types=types,
                              random_state=1000 * partition + (side == "held_out"), **MIXTURE)
            inputs.append(mix.expression.astype(np.float32))
            targets.append(mix.proportions)
            cells.append(mix.cells.astype(np.int32))
            groups.append(pd.DataFrame({"partition": partition, "side": side,
                                        "mixture": [f"p{partition}_{side}_{i}" for i in range(n)]}))
    groups = pd.concat(groups, ignore_index=True)
    frame = pd.DataFrame(np.vstack(inputs), columns=list(ref.genes), index=groups["mixture"].to_numpy())
    return Dataset(
        "cell_composition", frame, np.vstack(targets), groups,
        meta={"sources": (source,), "data_kind": SPEC.data_kind,
              "simulated": f"pseudo-bulk mixtures of the real cells: {MIXTURE}, {N_PARTITIONS} partitions x "
                           f"({N_TRAIN} reference + {N_TEST} held-out) mixtures"},
        arrays={"cells": np.vstack(cells)},
        context={"types": types, "cell_labels": ref.labels, "cell_ids": ref.cells, "genes": ref.genes},
    )


SPLITS = {"held_out_cells": CellPartitionSplit()}

MODELS = {
    "adaptive_nnls": lambda random_state=0: SignatureNNLS(adapt_to_batch=True, prior_strength=0.01),
    "nnls": lambda random_state=0: SignatureNNLS(),
    "nusvr": lambda random_state=0: NuSVRDeconvolution(),
    "scaden": lambda random_state=0: ScadenMLP(random_state=random_state),
    "mean": lambda random_state=0: MeanProportions(),
}

PROTOCOL = Deconvolution()


# ---- a user's files -------------------------------------------------------------------------------

PREDICT_OPTIONS = {
    "reference": PredictOption(ReferenceFile, help="your labelled single-cell .h5ad (default: the 700 pbmc68k PBMCs)"),
    "label": PredictOption(str, help="the obs column of cell types in --reference (default: cell_type, celltype, ...)"),
    "orientation": ("auto", "genes_x_samples", "samples_x_genes"),  # how the bulk table is laid out
    "values": ("auto", "linear", "log1p", "log2"),  # the bulk values' scale (auto refuses log values)
}
INPUT_OPTIONS = ("reference", "label", "orientation", "values")
TRAIN_OPTIONS = ("reference", "label")


def reference_mixtures(reference: Reference, *, n_mixtures: int | None = None, random_state: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training mixtures of every cell of a reference (``N_TRAIN`` by default): (mixtures x genes, mixtures x types)."""
    mix = pseudo_bulk(reference.expression, reference.labels, n_mixtures=n_mixtures or N_TRAIN, random_state=random_state,
                      **MIXTURE)
    return (pd.DataFrame(mix.expression, columns=list(reference.genes)),
            pd.DataFrame(mix.proportions, columns=list(mix.types)))


def _user_reference(reference: str | Path | None, label: str | None) -> Reference:
    if reference is None:
        if label is not None:
            raise InputError("label", "a label column was named but no reference file", fix="give --reference ref.h5ad too")
        return _source_reference(DEFAULT_SOURCE)
    return read_reference(reference, label=label)


def training_data(dataset: Dataset, *, reference: str | Path | None = None, label: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # noqa: ARG001 - engine hook signature
    """What ``genotx predict`` trains on: mixtures of every cell of the reference (default: all 700 PBMCs)."""
    return reference_mixtures(_user_reference(reference, label))


def read_input(path: str | Path, *, reference: str | Path | None = None, label: str | None = None,
               orientation: str = "auto", values: str = "auto") -> pd.DataFrame:
    """A bulk expression table (genes x samples or samples x genes, detected; see :mod:`.io`) as
    samples x the reference's genes. The reference (default: pbmc68k_reduced) is only checked here:
    its gene names and, for your own file, its label column."""
    read_text(Path(path), what="CSV or TSV table")  # the user's file is checked before any reference is read
    if reference is None:
        if label is not None:
            raise InputError("label", "a label column was named but no reference file", fix="give --reference ref.h5ad too")
        genes = _source_reference(DEFAULT_SOURCE).genes
    else:
        genes = reference_genes(reference)
    return read_bulk(path, genes=genes, orientation=orientation, values=values)


def format_predictions(frame: pd.DataFrame, estimator) -> pd.DataFrame:
    """One row per sample: ``sample``, the proportion of each cell type (summing to 1), the number
    of reference genes found in your file, how the file was read (``genes_x_samples`` or
    ``samples_x_genes``) and, for ``adaptive_nnls``, whether the batch was large enough to adapt."""
    genes = list(getattr(estimator, "feature_names_in_", frame.columns))
    X = frame.reindex(columns=genes)  # a reference gene absent from the file is NaN: signature models skip it
    missing = X.isna().all(axis=0)
    if missing.any():
        log.warning("%d of %d reference genes are not in the bulk file; the model uses the other %d",
                    int(missing.sum()), len(genes), int((~missing).sum()))
    out = proportions_frame(estimator.predict(X), estimator.types_, index=X.index)
    out.insert(0, "sample", X.index.to_numpy())
    out["n_genes_matched"] = frame.attrs.get("n_genes_matched", int((~missing).sum()))
    out["input_orientation"] = frame.attrs.get("orientation", "samples_x_genes")
    if getattr(estimator, "adapt_to_batch", False):
        out["batch_adapted"] = estimator.adapts(X)
    return out.reset_index(drop=True)

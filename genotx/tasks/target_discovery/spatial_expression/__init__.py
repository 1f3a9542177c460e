"""Spatial expression from histology: the H&E image patch at a Visium spot -> the expression of
each gene at that spot (ST-Net's formulation, He et al. 2020).

Data (real, TINY): squidpy's co-registered test pair, 49 Visium spots of adult mouse brain cortex x
1,999 highly variable genes (log-normalised; 598 are zero in every spot) and the H&E crop they sit
in (950 x 1717 px at full resolution, a spot ~89 px wide). Each spot's input is the patch of 1.3
spot diameters around it (116 px; neighbouring spots' patches share no pixel) resampled to 64 x 64
RGB, cut once at load (:mod:`.features`). With 40 training spots every number here is noisy: report
the mean and spread over seeds, never one run.

Splits: ``spatial_blocks`` (5 folds, each holding out one k-means block of ~10 neighbouring spots;
the seed moves the blocks) and ``random_spots`` (shuffled 5-fold over spots: the held-out spots'
neighbours train the model, so it is the optimistic estimate, shown beside).

Metrics (:mod:`.protocol`: every r is computed within a held-out fold): ``pearson_top50_genes``
(mean r over the 50 genes most variable on the fold's training spots), ``median_column_pearson``
(median r over genes), ``genes_beat_mean`` (genes ranking held-out spots better than chance at
permutation p < 0.05, beside ``genes_beat_mean_chance``, the count a model without signal gets) and
``rmse``. The per-gene mean predicts a constant: r = 0 and no gene beats it, but it is hard to beat
on rmse. Beside every run, ``pearson_top50_genes_position``: the same metric for a ridge on the spot
coordinates alone (location, not histology).

Baselines (:mod:`.models`): ``texture_ridge`` (colour, stain and texture features + ridge; default),
``cnn`` (a small CNN on the patches, trained with flips and turns) and ``mean``. On held-out blocks
both image models rank the top genes a little (r ~0.06-0.09, more genes than chance) but no better
than location alone, and the random-spot split roughly doubles every score: on one tiny slide,
neither has shown that it reads tissue rather than where the tissue is.

``genotx predict spatial_expression --input <Space Ranger outs folder> --out pred.h5ad`` (or an
image with ``-o positions=tissue_positions.csv -o spot_diameter=<px>``): the model trained on the
49 mouse cortex spots predicts its 1,999 genes at each of your spots (:mod:`.io`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor

from genotx.data.formats.visium import read_image
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.tasks.spec import Dataset, PredictOption, TaskSpec
from genotx.tasks.target_discovery.spatial_expression.features import PATCH_PIXELS, PATCH_SCALE, cut_patches
from genotx.tasks.target_discovery.spatial_expression.io import Spots, predictions_anndata, read_spots
from genotx.tasks.target_discovery.spatial_expression.models import PatchCNN, texture_ridge
from genotx.tasks.target_discovery.spatial_expression.protocol import SpatialExpression
from genotx.tasks.target_discovery.spatial_expression.splits import RandomSpots, SpatialBlocks

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "PREDICT_OPTIONS", "INPUT_OPTIONS", "read_input",
           "format_predictions", "write_predictions"]

SPEC = TaskSpec(
    name='spatial_expression',
    number=4,
    stage='target_discovery',
    title='Spatial expression from histology',
    formulation='H&E image patch at a Visium spot -> expression of each gene at that spot',
    protocol='supervised',
    target='regression',
    data_kind='real',
    sources=('squidpy_visium_test',),
    splits=('spatial_blocks', 'random_spots'),
    metrics=('pearson_top50_genes', 'median_column_pearson', 'genes_beat_mean', 'genes_beat_mean_chance', 'rmse',
             'pearson_top50_genes_position'),
    baselines=('texture_ridge', 'cnn', 'mean'),
    trivial='mean',
    data_note='TINY real data: 49 Visium spots (mouse brain cortex) x 1,999 genes with their co-registered H&E '
    '(squidpy test fixture). 40 training spots per fold: results are noisy, so report mean +- std over 3 seeds; '
    'per-gene r is computed within held-out spatial blocks, top-50 genes are chosen on training spots only; '
    'spot position alone (pearson_top50_genes_position) does as well as the image models.',
    citation='He et al. (2020) Nat Biomed Eng 4:827 (ST-Net); Palla et al. (2022) Nat Methods 19:171 (squidpy); '
    '10x Genomics Visium V1_Adult_Mouse_Brain',
)

DEFAULT_SOURCE = "squidpy_visium_test"


@lru_cache(maxsize=1)
def _slide(source: str) -> tuple:
    """(expression AnnData, RGB image, spot diameter in pixels) of the default slide, checked."""
    import anndata

    files = source_files(source)
    adata = anndata.read_h5ad(files["h5ad"])
    image = read_image(files["image"])
    try:
        ((_, info),) = adata.uns["spatial"].items()
        diameter = float(info["scalefactors"]["spot_diameter_fullres"])
        xy = np.asarray(adata.obsm["spatial"], dtype=np.float64)
    except (KeyError, ValueError, TypeError) as err:
        raise InputError(str(files["h5ad"]), f"has no Visium layout ({type(err).__name__}: {err})", fix="re-fetch the source") from None
    if xy.shape != (adata.n_obs, 2) or (xy < 0).any() or (xy >= np.array(image.shape[1::-1])).any():
        raise InputError(str(files["h5ad"]), "obsm['spatial'] does not lie inside the image", fix="re-fetch the source")
    return adata, image, diameter


def load(*, source: str = DEFAULT_SOURCE) -> Dataset:
    """Patches (spots x 64 x 64 x 3, uint8) as inputs, log-normalised expression (spots x genes) as target."""
    adata, image, diameter = _slide(source)
    xy = np.asarray(adata.obsm["spatial"], dtype=np.float64)
    patches = cut_patches(image, xy, side=PATCH_SCALE * diameter)
    expression = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    groups = pd.DataFrame({"spot": adata.obs_names.astype(str), "x": xy[:, 0], "y": xy[:, 1]})
    return Dataset(
        "spatial_expression", patches, expression.astype(np.float32), groups,
        meta={"sources": (source,), "data_kind": SPEC.data_kind,
              "patches": f"{PATCH_SCALE} spot diameters ({PATCH_SCALE * diameter:.0f} px) around each spot, resampled to "
                         f"{PATCH_PIXELS} x {PATCH_PIXELS}"},
        context={"genes": tuple(adata.var_names.astype(str)), "spot_diameter_px": diameter},
    )


SPLITS = {"spatial_blocks": SpatialBlocks(n_folds=5), "random_spots": RandomSpots(n_folds=5)}

MODELS = {
    "texture_ridge": lambda random_state=0: texture_ridge(),  # noqa: ARG005 - deterministic
    "cnn": lambda random_state=0: PatchCNN(random_state=random_state),
    "mean": lambda random_state=0: DummyRegressor(strategy="mean"),  # noqa: ARG005 - deterministic
}

PROTOCOL = SpatialExpression(n_top=50)


# ---- a user's slide --------------------------------------------------------------------------------

PREDICT_OPTIONS = {
    "positions": PredictOption(Path, help="tissue positions CSV (Space Ranger layout) when --input is an image; pixels of that image"),
    "spot_diameter": PredictOption(float, low=1.0, help="width of a spot in pixels of the --input image (image input only)"),
    "image": ("auto", "hires", "lowres"),  # which Space Ranger image the patches come from (auto: hires unless blank)
    "spots": ("in_tissue", "all"),  # the barcodes of the matrix / in-tissue positions, or every position
}
INPUT_OPTIONS = ("positions", "spot_diameter", "image", "spots")


def read_input(path: str | Path, *, positions: str | Path | None = None, spot_diameter: float | None = None,
               image: str = "auto", spots: str = "in_tissue") -> Spots:
    """A Space Ranger ``outs`` folder (filtered_feature_bc_matrix.h5 + spatial/), or an H&E image with
    ``positions=`` (tissue positions CSV in that image's pixels) and ``spot_diameter=`` (pixels): the
    image patch at every spot, cut at the slide's own scale (see :mod:`.io`)."""
    return read_spots(path, positions=positions, spot_diameter=spot_diameter, image=image, spots=spots)


def format_predictions(spots: Spots, estimator) -> "anndata.AnnData":  # noqa: F821
    """Your spots x the model's genes as AnnData (see :func:`write_predictions`)."""
    adata, _, _ = _slide(DEFAULT_SOURCE)
    genes = list(adata.var_names.astype(str))
    # log-normalised expression is never negative; a model far from its training slide can say so
    predicted = np.clip(np.asarray(estimator.predict(spots.patches), dtype=np.float64).reshape(len(spots), -1), 0.0, None)
    if predicted.shape[1] != len(genes):
        raise InputError("model", f"predicts {predicted.shape[1]} genes, the training slide has {len(genes)}",
                         fix="retrain: remove the cached model under ~/.cache/genotx/models")
    steps = getattr(estimator, "steps", None)
    model = type(estimator).__name__ + (f"({', '.join(name for name, _ in steps)})" if steps else "")
    about = {"task": SPEC.name, "model": model, "values": "predicted log-normalised expression (clipped at 0)",
             "training_data": "49 Visium spots of adult mouse brain cortex (squidpy test pair): 1,999 genes",
             "note": "predictions of a model trained on 49 spots of one mouse slide; expect little beyond tissue "
                     "density and colour on other tissues, species or stains"}
    return predictions_anndata(spots, predicted, genes, about)


def write_predictions(result, path: str | Path) -> None:
    """An h5ad of your spots x the model's 1,999 genes (the mouse cortex genes of the training slide,
    whatever your matrix measures): X = predicted log-normalised expression, obs = your positions,
    obsm['spatial'] = your full-resolution pixel coordinates, uns['spatial'] = your images and scale
    factors (scanpy's layout), var['measured_in_input'] = whether your matrix has the gene,
    uns['genotx'] = the model and how the patches were cut."""
    result.write_h5ad(path)

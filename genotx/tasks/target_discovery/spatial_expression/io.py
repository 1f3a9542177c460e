"""A user's slide -> image patches at its spots, and predictions -> an AnnData like scanpy's Visium one.

Accepted inputs:

* a Space Ranger ``outs`` folder (:mod:`genotx.data.formats.visium`): the spots are the barcodes of
  ``filtered_feature_bc_matrix.h5`` when it is there, else the positions with ``in_tissue == 1``
  (``spots=all``: every position). Patches are cut from ``tissue_hires_image.png`` (``image=auto``
  falls back to the lowres image when the hires one is missing or blank) at the positions times the
  image's scale factor, a spot being ``spot_diameter_fullres`` times that factor wide;
* an image file (PNG, JPEG, TIFF) with ``positions=`` a tissue positions CSV (either Space Ranger
  layout) whose pixel coordinates are pixels of THAT image, and ``spot_diameter=`` the width of a spot
  in those pixels.

A spot more than one spot diameter outside the image is refused (its coordinates are of another image).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.visium import IMAGES, read_image, read_positions, read_visium, visium_files
from genotx.errors import InputError
from genotx.tasks.target_discovery.spatial_expression.features import PATCH_PIXELS, PATCH_SCALE, cut_patches

__all__ = ["Spots", "read_spots", "predictions_anndata", "SMALL_SPOT_PX"]

log = logging.getLogger(__name__)

SMALL_SPOT_PX = 16  # below this many image pixels per spot a patch is mostly interpolation


@dataclass
class Spots:
    """The spots of a user's slide: their patches, positions and where the patches were cut."""

    patches: np.ndarray
    obs: pd.DataFrame
    spatial: np.ndarray
    library_id: str
    scalefactors: dict[str, float]
    images: dict[str, np.ndarray] = field(default_factory=dict)
    measured_genes: tuple[str, ...] = ()
    cut: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.patches)


def _blank(image: np.ndarray) -> bool:
    return bool(np.ptp(image.reshape(-1, image.shape[-1]), axis=0).max() == 0)


def _check_inside(path: Path, image: np.ndarray, centres: np.ndarray, barcodes, diameter: float, fix: str) -> None:
    height, width = image.shape[:2]
    outside = ((centres < -diameter) | (centres > np.array([width, height]) + diameter)).any(axis=1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputError(str(path), f"{int(outside.sum())} of {len(centres)} spots lie outside the {width} x {height} image, "
                         f"e.g. {barcodes[i]!r} at x={centres[i, 0]:.0f}, y={centres[i, 1]:.0f}", fix=fix)


def _from_folder(folder: Path, *, image: str, spots: str) -> Spots:
    files = visium_files(folder)
    adata = read_visium(folder, counts=files["counts"] is not None, images=tuple(IMAGES))
    obs = read_positions(files["positions"]) if spots == "all" else adata.obs
    ((library, info),) = adata.uns["spatial"].items()
    images, factors = info["images"], info["scalefactors"]
    choice = _choose_image(folder, images, factors, image)
    scale = factors[f"tissue_{choice}_scalef"]
    spatial = obs[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(np.float64)
    diameter = factors["spot_diameter_fullres"] * scale
    centres = spatial * scale
    _check_inside(folder, images[choice], centres, obs.index, diameter, fix="use the positions and images of one Space Ranger run")
    return Spots(cut_patches(images[choice], centres, side=PATCH_SCALE * diameter), obs.copy(), spatial, library, factors,
                 images, tuple(adata.var_names), {"image": IMAGES[choice], "scale_factor": scale, "spot_diameter_px": diameter})


def _choose_image(folder: Path, images: dict, factors: dict, image: str) -> str:
    wanted = ("hires", "lowres") if image == "auto" else (image,)
    for name in wanted:
        if name not in images:
            continue
        if f"tissue_{name}_scalef" not in factors:
            raise InputError(str(folder), f"scalefactors_json.json has no 'tissue_{name}_scalef' for {IMAGES[name]}",
                             fix="use the scale factors of the same Space Ranger run")
        if _blank(images[name]) and image == "auto" and name == "hires" and "lowres" in images:
            log.warning("%s: %s is blank (one colour); patches are cut from %s", folder, IMAGES[name], IMAGES["lowres"])
            continue
        if _blank(images[name]):
            raise InputError(str(folder), f"{IMAGES[name]} is blank (one colour)", fix="give the tissue image Space Ranger wrote")
        return name
    raise InputError(str(folder), f"has no {' or '.join(IMAGES[n] for n in wanted)} (in spatial/)",
                     fix="copy Space Ranger's spatial/ folder beside filtered_feature_bc_matrix.h5")


def _from_image(path: Path, *, positions: str | Path | None, spot_diameter: float | None, spots: str) -> Spots:
    if positions is None or spot_diameter is None:
        raise InputError(str(path), "is an image: its spots need positions and a spot size",
                         fix="add --option positions=tissue_positions.csv --option spot_diameter=<pixels per spot in this image>, "
                             "or give the Space Ranger folder instead")
    image = read_image(path)
    table = read_positions(positions)
    if spots == "in_tissue":
        table = table[table["in_tissue"] == 1]
        if table.empty:
            raise InputError(str(positions), "has no spot with in_tissue = 1", fix="add --option spots=all to use every position")
    spatial = table[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(np.float64)
    _check_inside(Path(positions), image, spatial, table.index, spot_diameter,
                  fix="the positions must be pixel coordinates of this image (for Space Ranger's hires or lowres image, "
                      "give the Space Ranger folder: its scale factors are applied)")
    factors = {"spot_diameter_fullres": float(spot_diameter), "tissue_hires_scalef": 1.0}
    return Spots(cut_patches(image, spatial, side=PATCH_SCALE * spot_diameter), table.copy(), spatial, path.stem, factors,
                 {}, (), {"image": path.name, "scale_factor": 1.0, "spot_diameter_px": float(spot_diameter)})


def read_spots(path: str | Path, *, positions: str | Path | None = None, spot_diameter: float | None = None,
               image: str = "auto", spots: str = "in_tissue") -> Spots:
    """Patches at the spots of a Space Ranger folder, or of an image with a positions CSV (module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "not found", fix="give a Space Ranger 'outs' folder or an H&E image file")
    if path.is_dir():
        if positions is not None or spot_diameter is not None:
            raise InputError(str(path), "is a Space Ranger folder: positions and spot size are read from it",
                             fix="drop --option positions / spot_diameter (they are for an image file)")
        found = _from_folder(path, image=image, spots=spots)
    else:
        if image != "auto":
            raise InputError(str(path), f"image={image} picks an image of a Space Ranger folder", fix="give the folder, or drop the option")
        found = _from_image(path, positions=positions, spot_diameter=spot_diameter, spots=spots)
    if not len(found):
        raise InputError(str(path), "has no spots", fix="check in_tissue in the positions, or add --option spots=all")
    size = found.cut["spot_diameter_px"]
    found.cut.update(patch_side_px=PATCH_SCALE * size, patch_pixels=PATCH_PIXELS)
    if size < SMALL_SPOT_PX:
        log.warning("%s: a spot is %.1f px wide in %s: patches are upsampled %.0fx and show colour more than tissue",
                    path, size, found.cut["image"], PATCH_PIXELS / (PATCH_SCALE * size))
    return found


def predictions_anndata(spots: Spots, predicted: np.ndarray, genes: list[str], about: dict) -> "anndata.AnnData":  # noqa: F821
    """Spots x the model's genes (predicted values), with the input's positions as scanpy keeps them."""
    import anndata

    measured = set(spots.measured_genes)
    var = pd.DataFrame({"measured_in_input": [g in measured for g in genes]}, index=pd.Index(genes, dtype=str))
    obs = spots.obs.copy()
    obs.index = obs.index.astype(str)
    adata = anndata.AnnData(np.asarray(predicted, dtype=np.float32), obs=obs, var=var)
    adata.obsm["spatial"] = spots.spatial
    adata.uns["spatial"] = {spots.library_id: {"images": dict(spots.images), "scalefactors": dict(spots.scalefactors)}}
    adata.uns["genotx"] = {**about, **{k: (float(v) if isinstance(v, float | np.floating) else v) for k, v in spots.cut.items()},
                           "n_model_genes_measured_in_input": int(var["measured_in_input"].sum())}
    return adata

"""10x Genomics Visium (Space Ranger) output folders as AnnData, shaped as scanpy's ``read_visium``.

A Space Ranger ``outs/`` folder holds (spatial files are also found directly in the folder, a flat
copy as genotx's cache keeps them):

=====================================  ==========================================================
``filtered_feature_bc_matrix.h5``      counts, 10x HDF5: ``matrix/{data,indices,indptr,shape}``
                                       (features x barcodes, CSC), ``matrix/barcodes``,
                                       ``matrix/features/{id,name,feature_type}``
``spatial/tissue_positions.csv``       Space Ranger >= 2.0, one header line; or the older
``spatial/tissue_positions_list.csv``  without header. Columns: barcode, in_tissue (0/1),
                                       array_row, array_col, pxl_row_in_fullres, pxl_col_in_fullres
``spatial/scalefactors_json.json``     ``spot_diameter_fullres``, ``tissue_hires_scalef``,
                                       ``tissue_lowres_scalef``, ``fiducial_diameter_fullres``
``spatial/tissue_hires_image.png``     the H&E image downscaled (hires: <= 2,000 px; lowres: 600 px)
``spatial/tissue_lowres_image.png``
=====================================  ==========================================================

:func:`read_visium` returns spots x genes (``X`` counts, CSR float32; only "Gene Expression"
features, names made unique as scanpy does), ``obs`` = the position columns, ``obsm["spatial"]`` =
(x, y) = (``pxl_col_in_fullres``, ``pxl_row_in_fullres``) full-resolution pixel coordinates (float64)
and ``uns["spatial"][library_id]`` = ``{"images": {"hires", "lowres"}: uint8 (height, width, 3),
"scalefactors": {...}, "metadata": {"chemistry_description", "software_version"}}``. A pixel
coordinate times ``tissue_hires_scalef`` is a pixel of the hires image. Every malformed file raises
:class:`~genotx.errors.InputError` naming the file (and line) and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from genotx.errors import InputError

__all__ = ["read_visium", "read_10x_h5", "read_positions", "read_scalefactors", "read_image", "visium_files",
           "POSITION_COLUMNS", "IMAGES"]

POSITION_COLUMNS = ("in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres")
IMAGES = {"hires": "tissue_hires_image.png", "lowres": "tissue_lowres_image.png"}
_FOLDER_FIX = ("point at a Space Ranger 'outs' folder (filtered_feature_bc_matrix.h5 and spatial/ with "
               "tissue_positions.csv, scalefactors_json.json and the tissue images)")


def visium_files(folder: str | Path, *, count_file: str = "filtered_feature_bc_matrix.h5") -> dict[str, Path | None]:
    """Where each file of a Space Ranger folder is (``None`` when absent): ``counts``, ``positions``,
    ``scalefactors``, ``hires``, ``lowres``. A file of ``spatial/`` is also taken from the folder itself."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "is not a folder" if folder.exists() else "folder not found", fix=_FOLDER_FIX)

    def find(name: str) -> Path | None:
        return next((p for p in (folder / "spatial" / name, folder / name) if p.is_file()), None)

    counts = folder / count_file
    return {"counts": counts if counts.is_file() else None,
            "positions": find("tissue_positions.csv") or find("tissue_positions_list.csv"),
            "scalefactors": find("scalefactors_json.json"),
            **{name: find(file) for name, file in IMAGES.items()}}


def read_positions(path: str | Path) -> pd.DataFrame:
    """A tissue positions CSV (with or without the header line) indexed by barcode, columns
    :data:`POSITION_COLUMNS` (integers; pixel coordinates as float64).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tissue_positions_list.csv"
    >>> _ = p.write_text("AAAC-1,1,50,102,8513,9811\\nAAAG-1,0,59,19,9605,4104\\n")
    >>> read_positions(p).loc["AAAC-1", ["in_tissue", "pxl_col_in_fullres"]].tolist()
    [1.0, 9811.0]
    >>> _ = p.write_text("AAAC-1,1,50,102,8513\\n")
    >>> read_positions(p)
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...tissue_positions_list.csv, line 1: has 5 fields, expected 6 (barcode, in_tissue, array_row, array_col, pxl_row_in_fullres, pxl_col_in_fullres). Fix: ...
    """
    path = Path(path)
    fix = "write one spot per line as Space Ranger does: barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres"
    if not path.is_file():
        raise InputError(str(path), "file not found" if not path.exists() else "is not a file", fix=fix)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = 1 if lines and lines[0].split(",")[0].strip().lower() == "barcode" else 0
    rows = []
    for number, line in enumerate(lines[header:], start=header + 1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 6:
            raise InputError(str(path), f"has {len(fields)} fields, expected 6 (barcode, {', '.join(POSITION_COLUMNS)})",
                             line=number, fix=fix)
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            bad = next(v for v in fields[1:] if not _is_number(v))
            raise InputError(str(path), f"non-numeric value {bad!r} for spot {fields[0]!r}", line=number, fix=fix) from None
        if not np.isfinite(values).all() or values[0] not in (0.0, 1.0):
            raise InputError(str(path), f"spot {fields[0]!r}: in_tissue must be 0 or 1 and coordinates finite", line=number, fix=fix)
        rows.append((number, fields[0], *values))
    if not rows:
        raise InputError(str(path), "has no spots", fix=fix)
    frame = pd.DataFrame(rows, columns=["line", "barcode", *POSITION_COLUMNS])
    repeated = frame["barcode"].duplicated()
    if repeated.any():
        first = frame[repeated].iloc[0]
        raise InputError(str(path), f"barcode {first['barcode']!r} appears twice", line=int(first["line"]), fix="list each spot once")
    frame = frame.drop(columns="line").set_index("barcode")
    return frame.astype({c: np.int64 for c in POSITION_COLUMNS[:3]})


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_scalefactors(path: str | Path) -> dict[str, float]:
    """``scalefactors_json.json`` as {name: float}; ``spot_diameter_fullres`` must be there and positive."""
    path = Path(path)
    fix = 'write Space Ranger\'s JSON, e.g. {"spot_diameter_fullres": 89.4, "tissue_hires_scalef": 0.15, "tissue_lowres_scalef": 0.045}'
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(str(path), f"cannot be read ({err.strerror})", fix=fix) from None
    except json.JSONDecodeError as err:
        raise InputError(str(path), f"is not JSON ({err.msg})", line=err.lineno, fix=fix) from None
    if not isinstance(raw, dict):
        raise InputError(str(path), "is not a JSON object", fix=fix)
    factors = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value <= 0:
            raise InputError(str(path), f"{key!r} is {value!r}, not a positive number", fix=fix)
        factors[key] = float(value)
    if "spot_diameter_fullres" not in factors:
        raise InputError(str(path), "has no 'spot_diameter_fullres'", fix=fix)
    return factors


def read_image(path: str | Path) -> np.ndarray:
    """An image file (PNG, JPEG, TIFF... whatever Pillow opens) as uint8 (height, width, 3) RGB;
    16-bit images are scaled to 8 bits, an alpha channel is dropped."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    fix = "give an RGB image file (PNG, JPEG or TIFF) of the tissue"
    if not path.is_file():
        raise InputError(str(path), "file not found" if not path.exists() else "is not a file", fix=fix)
    Image.MAX_IMAGE_PIXELS = None  # full-resolution slides are large on purpose; this is the user's own file
    try:
        with Image.open(path) as image:
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.float64)
                array = (255.0 * array / max(float(array.max()), 1.0)).astype(np.uint8)
                return np.repeat(array[..., None], 3, axis=2)
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(str(path), f"is not a readable image ({err})", fix=fix) from None


def read_10x_h5(path: str | Path, *, gene_expression_only: bool = True) -> "anndata.AnnData":  # noqa: F821
    """A 10x HDF5 feature-barcode matrix (Cell Ranger >= 3 / Space Ranger; or the older per-genome
    layout) as barcodes x features AnnData: ``X`` counts (CSR float32), ``var`` = ``gene_ids``,
    ``feature_types``, ``genome`` (names made unique: a repeated name gets ``-1``, ``-2``...)."""
    import anndata
    import h5py

    path = Path(path)
    fix = "give Space Ranger's filtered_feature_bc_matrix.h5 (HDF5, not the .mtx folder)"
    if not path.is_file():
        raise InputError(str(path), "file not found", fix=fix)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(str(path), f"is not an HDF5 file ({err})", fix=fix) from None
    with handle:
        group = handle["matrix"] if "matrix" in handle else (handle[next(iter(handle))] if len(handle) == 1 else None)
        needed = ("data", "indices", "indptr", "shape", "barcodes")
        if not isinstance(group, h5py.Group) or any(k not in group for k in needed):
            raise InputError(str(path), f"is not a 10x matrix (no group with {', '.join(needed)})", fix=fix)
        n_features, n_barcodes = (int(v) for v in group["shape"][:])
        try:
            X = sparse.csr_matrix((group["data"][:].astype(np.float32), group["indices"][:], group["indptr"][:]),
                                  shape=(n_barcodes, n_features))
        except ValueError as err:
            raise InputError(str(path), f"matrix arrays do not fit its shape ({err})", fix=fix) from None
        barcodes = _strings(group["barcodes"][:])
        if "features" in group:  # Cell Ranger >= 3
            features = group["features"]
            names, ids = _strings(features["name"][:]), _strings(features["id"][:])
            kinds = _strings(features["feature_type"][:]) if "feature_type" in features else ["Gene Expression"] * n_features
            genome = _strings(features["genome"][:]) if "genome" in features else [""] * n_features
        elif "gene_names" in group and "genes" in group:  # Cell Ranger 2: one group per genome
            names, ids = _strings(group["gene_names"][:]), _strings(group["genes"][:])
            kinds, genome = ["Gene Expression"] * n_features, [group.name.strip("/")] * n_features
        else:
            raise InputError(str(path), "has no feature names (matrix/features/name)", fix=fix)
        attrs = {k: _scalar(v) for k, v in handle.attrs.items() if k in ("chemistry_description", "software_version", "library_ids")}
    if len(barcodes) != n_barcodes or len(names) != n_features:
        raise InputError(str(path), f"{len(barcodes)} barcodes and {len(names)} features for a {n_features} x {n_barcodes} matrix", fix=fix)
    var = pd.DataFrame({"gene_ids": ids, "feature_types": kinds, "genome": genome}, index=_unique(names))
    adata = anndata.AnnData(X, obs=pd.DataFrame(index=pd.Index(barcodes, dtype=str)), var=var)
    adata.uns["10x_metadata"] = attrs
    if gene_expression_only:
        adata = adata[:, adata.var["feature_types"].to_numpy() == "Gene Expression"].copy()
    return adata


def _strings(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _scalar(value):
    value = np.asarray(value).ravel()
    value = value[0] if len(value) else ""
    return value.decode() if isinstance(value, bytes) else value.item() if hasattr(value, "item") else value


def _unique(names: list[str]) -> pd.Index:
    """Names made unique as scanpy's ``var_names_make_unique``: the second ``X`` becomes ``X-1``..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}-{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return pd.Index(out, dtype=str)


def read_visium(folder: str | Path, *, count_file: str = "filtered_feature_bc_matrix.h5", counts: bool = True,
                library_id: str | None = None, images: tuple[str, ...] = ("hires", "lowres")) -> "anndata.AnnData":  # noqa: F821
    """A Space Ranger folder as spots x genes AnnData (see the module docstring for the layout).

    ``counts=False`` reads the positions alone (spots with ``in_tissue == 1``, no genes): enough to
    cut image patches when the counts are not at hand. ``images`` names the tissue images to load
    (those absent are skipped; ``()`` loads none).
    """
    import anndata

    files = visium_files(folder, count_file=count_file)
    for name in ("positions", "scalefactors"):
        if files[name] is None:
            wanted = "spatial/tissue_positions.csv (or tissue_positions_list.csv)" if name == "positions" else "spatial/scalefactors_json.json"
            raise InputError(str(folder), f"has no {wanted}", fix=_FOLDER_FIX)
    positions = read_positions(files["positions"])
    if counts:
        if files["counts"] is None:
            raise InputError(str(folder), f"has no {count_file}", fix=_FOLDER_FIX + ", or read the positions alone (counts=False)")
        adata = read_10x_h5(files["counts"])
        missing = adata.obs_names.difference(positions.index)
        if len(missing):
            raise InputError(str(files["positions"]), f"has no position for {len(missing)} barcode(s) of {files['counts'].name}, "
                             f"e.g. {missing[0]!r}", fix="use the positions file of the same Space Ranger run")
    else:
        adata = anndata.AnnData(obs=pd.DataFrame(index=positions.index[positions["in_tissue"] == 1]))
        adata.uns["10x_metadata"] = {}
    adata.obs = adata.obs.join(positions, how="left")
    adata.obsm["spatial"] = adata.obs[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(np.float64)
    meta = adata.uns.pop("10x_metadata")
    library = library_id or str(meta.pop("library_ids", "") or Path(folder).resolve().name)
    loaded = {name: read_image(files[name]) for name in images if files.get(name) is not None}
    adata.uns["spatial"] = {library: {"images": loaded, "scalefactors": read_scalefactors(files["scalefactors"]),
                                      "metadata": {k: str(v) for k, v in meta.items()}}}
    return adata

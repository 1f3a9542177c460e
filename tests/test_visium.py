"""The Visium / Space Ranger folder reader: a tiny folder written here (both positions layouts, flat
or with spatial/), every malformed file refused with its name (and line), and squidpy's real
minimal folder (slow: fetches the sdist)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genotx.data.formats.visium import read_10x_h5, read_positions, read_scalefactors, read_visium
from genotx.errors import InputError

BARCODES = ["AAAC-1", "AAAG-1", "AACT-1"]
POSITIONS = ["AAAC-1,1,0,0,30,10", "AAAG-1,1,0,2,30,50", "AACT-1,1,1,1,60,30", "AATT-1,0,1,3,60,70"]


def write_h5(path: Path, *, counts=None, names=("Gapdh", "Actb", "Gapdh"), barcodes=BARCODES, kinds=None) -> Path:
    """A 10x HDF5 matrix (Cell Ranger 3 layout: features x barcodes, CSC)."""
    import h5py
    from scipy import sparse

    counts = np.array([[1, 0, 2], [0, 3, 0], [4, 0, 5]]) if counts is None else np.asarray(counts)  # barcodes x features
    csc = sparse.csc_matrix(counts.T)
    with h5py.File(path, "w") as f:
        f.attrs["software_version"] = "spaceranger-test"
        m = f.create_group("matrix")
        m["data"], m["indices"], m["indptr"] = csc.data.astype(np.int32), csc.indices, csc.indptr
        m["shape"] = np.array(csc.shape, dtype=np.int32)
        m["barcodes"] = np.array([b.encode() for b in barcodes])
        feats = m.create_group("features")
        feats["name"] = np.array([n.encode() for n in names])
        feats["id"] = np.array([f"ENSMUSG{i:05d}".encode() for i in range(len(names))])
        feats["feature_type"] = np.array([k.encode() for k in (kinds or ["Gene Expression"] * len(names))])
        feats["genome"] = np.array([b"mm10"] * len(names))
    return path


def write_folder(root: Path, *, flat: bool = False, header: bool = False, hires: bool = True) -> Path:
    """A Space Ranger 'outs' folder: 3 spots in tissue (1 out), 3 features, an 80 x 100 hires image."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    spatial = root if flat else root / "spatial"
    spatial.mkdir(exist_ok=True)
    write_h5(root / "filtered_feature_bc_matrix.h5")
    name = "tissue_positions.csv" if header else "tissue_positions_list.csv"
    lines = (["barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres"] if header else []) + POSITIONS
    (spatial / name).write_text("\n".join(lines) + "\n")
    (spatial / "scalefactors_json.json").write_text(json.dumps(
        {"spot_diameter_fullres": 20.0, "tissue_hires_scalef": 1.0, "tissue_lowres_scalef": 0.5, "fiducial_diameter_fullres": 30.0}))
    rng = np.random.default_rng(0)
    if hires:
        Image.fromarray(rng.integers(0, 256, size=(80, 100, 3), dtype=np.uint8)).save(spatial / "tissue_hires_image.png")
    Image.fromarray(rng.integers(0, 256, size=(40, 50, 4), dtype=np.uint8)).save(spatial / "tissue_lowres_image.png")
    return root


@pytest.mark.parametrize(("flat", "header"), [(False, False), (False, True), (True, False)])
def test_a_space_ranger_folder_reads_as_scanpy_does(tmp_path, flat, header):
    adata = read_visium(write_folder(tmp_path / "outs", flat=flat, header=header))
    assert adata.shape == (3, 3) and adata.obs_names.tolist() == BARCODES
    assert adata.var_names.tolist() == ["Gapdh", "Actb", "Gapdh-1"]  # unique, as scanpy's var_names_make_unique
    np.testing.assert_array_equal(adata.X.toarray(), [[1, 0, 2], [0, 3, 0], [4, 0, 5]])
    # obsm["spatial"] is (x, y) = (pxl_col_in_fullres, pxl_row_in_fullres)
    np.testing.assert_array_equal(adata.obsm["spatial"], [[10, 30], [50, 30], [30, 60]])
    assert adata.obs["array_col"].tolist() == [0, 2, 1] and adata.obs["in_tissue"].eq(1).all()
    ((library, info),) = adata.uns["spatial"].items()
    assert library == "outs" and info["scalefactors"]["spot_diameter_fullres"] == 20.0
    assert info["images"]["hires"].shape == (80, 100, 3) and info["images"]["lowres"].shape == (40, 50, 3)  # alpha dropped
    assert info["images"]["hires"].dtype == np.uint8 and info["metadata"]["software_version"] == "spaceranger-test"


def test_positions_alone_give_the_in_tissue_spots(tmp_path):
    folder = write_folder(tmp_path / "outs")
    (folder / "filtered_feature_bc_matrix.h5").unlink()
    adata = read_visium(folder, counts=False, images=())
    assert adata.obs_names.tolist() == BARCODES and adata.n_vars == 0 and adata.uns["spatial"]["outs"]["images"] == {}
    with pytest.raises(InputError, match="has no filtered_feature_bc_matrix.h5"):
        read_visium(folder)


def test_only_gene_expression_features_are_kept(tmp_path):
    path = write_h5(tmp_path / "m.h5", kinds=["Gene Expression", "Antibody Capture", "Gene Expression"])
    assert read_10x_h5(path).var_names.tolist() == ["Gapdh", "Gapdh-1"]
    assert read_10x_h5(path, gene_expression_only=False).n_vars == 3


@pytest.mark.parametrize(("text", "message", "line"), [
    ("AAAC-1,1,0,0,30\n", "has 5 fields, expected 6", 1),
    ("AAAC-1,1,0,0,30,10\nAAAG-1,1,0,x,30,50\n", "non-numeric value 'x' for spot 'AAAG-1'", 2),
    ("barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\nA-1,2,0,0,1,1\n", "in_tissue must be 0 or 1", 2),
    ("AAAC-1,1,0,0,30,10\nAAAC-1,1,0,2,30,50\n", "barcode 'AAAC-1' appears twice", 2),
    ("AAAC-1,1,0,0,inf,10\n", "coordinates finite", 1),
    ("\n\n", "has no spots", None),
])
def test_bad_positions_are_refused_with_their_line(tmp_path, text, message, line):
    path = tmp_path / "tissue_positions_list.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        read_positions(path)
    assert err.value.line == line and err.value.fix and "tissue_positions_list.csv" in str(err.value)


@pytest.mark.parametrize(("text", "message"), [
    ('{"spot_diameter_fullres": 89.4,', "is not JSON"),
    ('{"tissue_hires_scalef": 0.15}', "has no 'spot_diameter_fullres'"),
    ('{"spot_diameter_fullres": -3}', "not a positive number"),
    ('[1, 2]', "is not a JSON object"),
])
def test_bad_scale_factors_are_refused(tmp_path, text, message):
    path = tmp_path / "scalefactors_json.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_scalefactors(path)


def test_missing_and_malformed_files_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        read_visium(tmp_path / "nowhere")
    folder = write_folder(tmp_path / "outs")
    (folder / "spatial" / "scalefactors_json.json").unlink()
    with pytest.raises(InputError, match="has no spatial/scalefactors_json.json") as err:
        read_visium(folder)
    assert "Space Ranger 'outs' folder" in err.value.fix
    folder = write_folder(tmp_path / "outs2")
    (folder / "spatial" / "tissue_positions_list.csv").unlink()
    with pytest.raises(InputError, match="has no spatial/tissue_positions.csv"):
        read_visium(folder)
    folder = write_folder(tmp_path / "outs3")
    (folder / "filtered_feature_bc_matrix.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="is not an HDF5 file"):
        read_visium(folder)
    folder = write_folder(tmp_path / "outs4")
    write_h5(folder / "filtered_feature_bc_matrix.h5", barcodes=["AAAC-1", "AAAG-1", "GGGG-1"])
    with pytest.raises(InputError, match="no position for 1 barcode.*'GGGG-1'"):
        read_visium(folder)
    folder = write_folder(tmp_path / "outs5")
    (folder / "spatial" / "tissue_hires_image.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(InputError, match="tissue_hires_image.png: is not a readable image"):
        read_visium(folder)


def test_a_file_that_is_not_a_10x_matrix_is_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["something"] = np.zeros(3)
        f["other"] = np.zeros(3)
    with pytest.raises(InputError, match="is not a 10x matrix"):
        read_10x_h5(tmp_path / "x.h5")


@pytest.mark.slow
def test_squidpy_minimal_space_ranger_folder():
    from genotx.data.source import source_files

    folder = source_files("squidpy_spaceranger_minimal")["counts"].parent  # the cache keeps the files flat
    adata = read_visium(folder)
    assert adata.shape == (100, 100) and adata.var["genome"].eq("GRCh38").all()
    assert adata.obs_names[0] == "AAACAAGTATCTCCCA-1"
    np.testing.assert_array_equal(adata.obsm["spatial"][0], [9811, 8513])  # pxl_col, pxl_row of its first line
    info = adata.uns["spatial"]["custom"]
    assert info["images"]["hires"].shape == (2000, 2000, 3) and info["images"]["lowres"].shape == (600, 600, 3)
    assert info["scalefactors"]["tissue_lowres_scalef"] == pytest.approx(0.045004502)
    assert int(adata.X.sum()) == 932

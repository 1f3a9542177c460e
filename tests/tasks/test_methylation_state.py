"""methylation_state: neighbourhood features, labels, the R data reader, user files, and the real data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from genotx.data.dataset import Dataset
from genotx.errors import InputError
from genotx.tasks.target_discovery import methylation_state as ms
from genotx.tasks.target_discovery.methylation_state.features import cpg_neighbourhood
from genotx.tasks.target_discovery.methylation_state.protocol import MethylationState, ceiling_details


def _toy(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    position = np.cumsum(rng.integers(2, 400, size=n))
    cov = rng.integers(0, 15, size=n)
    m = rng.binomial(cov, rng.uniform(size=n))
    region = np.repeat(["a", "b", "c"], n // 3)
    return position, m, cov, region


# --- neighbourhood features ------------------------------------------------------------------------


def test_own_reads_never_change_own_features():
    position, m, cov, region = _toy()
    base = cpg_neighbourhood(position, {"s": (m, cov)}, region=region)
    for i in (0, 17, 150, 299):
        m2, cov2 = m.copy(), cov.copy()
        m2[i], cov2[i] = 50, 50  # the site's own reads change drastically
        changed = cpg_neighbourhood(position, {"s": (m2, cov2)}, region=region)
        pd.testing.assert_series_equal(base.iloc[i], changed.iloc[i], check_names=False)


def test_features_match_a_brute_force_loop_and_never_cross_regions():
    position, m, cov, region = _toy(n=90, seed=1)
    f = cpg_neighbourhood(position, {"s": (m, cov)}, region=region, k=2, windows=(500,), kernels=(100,))
    beta = np.where(cov > 0, m / np.maximum(cov, 1), np.nan)
    for i in range(len(position)):  # test-only loop over a tiny input
        same = (region == region[i]) & (cov > 0)
        up = np.flatnonzero(same & (position < position[i]))[::-1]
        down = np.flatnonzero(same & (position > position[i]))
        for side, idx in (("u", up), ("d", down)):
            for j in (1, 2):
                got = f.loc[i, f"s_{side}{j}_beta"]
                want = beta[idx[j - 1]] if len(idx) >= j else np.nan
                np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
        win = same & (np.abs(position - position[i]) <= 500) & (np.arange(len(position)) != i)
        want_beta = m[win].sum() / cov[win].sum() if cov[win].sum() else np.nan
        np.testing.assert_allclose(f.loc[i, "s_w500_beta"], want_beta, rtol=1e-5, equal_nan=True)
        sites = (region == region[i]) & (np.abs(position - position[i]) <= 500)
        assert f.loc[i, "site_w500_n"] == sites.sum() - 1


def test_input_order_is_kept():
    position, m, cov, region = _toy(seed=2)
    f = cpg_neighbourhood(position, {"s": (m, cov)}, region=region)
    perm = np.random.default_rng(0).permutation(len(position))
    g = cpg_neighbourhood(position[perm], {"s": (m[perm], cov[perm])}, region=region[perm])
    pd.testing.assert_frame_equal(f.iloc[perm].reset_index(drop=True), g)


def test_duplicate_positions_refused():
    with pytest.raises(ValueError, match="unique"):
        cpg_neighbourhood(np.array([5, 5]), {"s": (np.array([1, 1]), np.array([2, 2]))})


# --- labels, trivial baseline ----------------------------------------------------------------------


def test_labels_use_the_coverage_floor_and_drop_ties():
    keep, y = ms.methylation_labels(np.array([5, 1, 3, 4, 9, 0]), np.array([6, 6, 6, 4, 10, 0]))
    assert keep.tolist() == [True, True, False, False, True, False]
    assert y.tolist() == [1, 0, 1]


def test_neighbour_mean_uses_base_rate_where_no_neighbour():
    X = pd.DataFrame({f"{ms.PREFIX}_mean{ms.TRIVIAL_K}": [0.9, np.nan, 0.1]})
    model = ms.NeighbourMeanClassifier().fit(X, np.array([1, 1, 0]))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], [0.9, 2 / 3, 0.1])
    assert model.predict(X).tolist() == [1, 1, 0]


def test_replicate_ceiling():
    groups = pd.DataFrame({"replicate2_beta": [0.9, 0.1, 0.8, np.nan], "replicate2_coverage": [5, 6, 7, 0]})
    got = ms.replicate_ceiling(groups, np.array([1, 0, 1, 1]))
    assert got == {"auroc": 1.0, "n": 3}


def test_protocol_reports_the_ceiling_per_fold_in_the_details():
    from genotx.evaluate.outcome import Outcome

    predictions = pd.DataFrame({
        "block": ["a", "a", "b", "b"], "coverage": [5, 6, 25, 30], "replicate2_beta": [0.9, 0.2, 0.1, 0.7], "replicate2_coverage": [3, 4, 5, 6],
        "y_true": [1, 0, 0, 1], "y_pred": [0.8, 0.3, 0.4, 0.9], "fold": ["f0", "f0", "f1", "f1"],
    })
    outcome = Outcome({}, 0, 4, [], predictions)
    assert isinstance(ms.PROTOCOL, MethylationState) and ms.PROTOCOL.coverage_floor == ms.COVERAGE_FLOOR
    ms.PROTOCOL.finish(None, None, outcome, [], split="region_blocks", model="lgbm", seed=0)
    got = outcome.details
    assert got["replicate_ceiling_auroc"] == 1.0 and got["replicate_ceiling_n"] == 4
    assert got["replicate_ceiling_auroc_rep2_cov5"] == 1.0  # rep-2 coverage >= 5 leaves rows 3 and 4
    assert got["replicate_ceiling_auroc_per_fold"] == {"f0": 1.0, "f1": 1.0}
    assert got["n_test_blocks"] == 2 and got["methylated_fraction_test"] == 0.5
    assert got["auroc_by_label_coverage"][">=20"] == {"auroc": 1.0, "n": 2}
    assert got["auroc_by_label_coverage"]["10-19"]["n"] == 0
    assert ceiling_details(predictions, coverage_floor=7)["label"].startswith("replicate 1, >= 7 reads")


def test_cross_validate_runs_a_users_estimator_under_the_protocol():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    from genotx.engine.runner import run

    position, m, cov, region = _toy(n=900, seed=5)
    X = ms.neighbourhood_features(position, [(m, cov)], region=region)
    beta = m / np.maximum(cov, 1)
    y = (beta > 0.5).astype(int)  # the toy's label: its own beta, which replicate 2 "measures" again
    groups = pd.DataFrame({"block": np.repeat([f"b{i}" for i in range(9)], 100), "coverage": cov + 5,
                           "replicate2_beta": beta, "replicate2_coverage": cov + 1})
    data = Dataset("methylation_state", X, y, groups, meta={"data_kind": "simulated"})
    estimator = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression())
    record, outcome = run("methylation_state", estimator=estimator, split="region_blocks_5fold", dataset=data)
    assert record.n_folds == 5 and 0 <= record.metrics["auroc"] <= 1
    assert outcome.details["replicate_ceiling_auroc"] == 1.0 and outcome.details["replicate_ceiling_auroc"] <= 1 and len(outcome.details["replicate_ceiling_auroc_per_fold"]) == 5


def test_format_predictions_keeps_raw_columns_and_ignores_own_reads(tmp_path):
    position, m, cov, region = _toy(n=600, seed=4)
    X = ms.neighbourhood_features(position, [(m, cov)], region=region)
    model = ms.MODELS["lgbm"](random_state=0).fit(X, (np.arange(len(X)) % 3 > 0).astype(int))
    path = tmp_path / "r.csv"
    path.write_text("position,methylated_reads,coverage\n100,9,10\n130,0,0\n170,1,10\n")
    frame = ms.read_input(path)
    out = ms.format_predictions(frame, model)
    assert list(out.columns) == ["chrom", "position", "methylated_reads", "coverage", "observed_beta", "probability_methylated"]
    assert out["probability_methylated"].between(0, 1).all() and np.isnan(out.loc[1, "observed_beta"])
    path.write_text(path.read_text().replace("130,0,0", "130,7,7"))  # only the middle CpG's own reads change
    changed = ms.format_predictions(ms.read_input(path), model)
    assert changed.loc[1, "probability_methylated"] == out.loc[1, "probability_methylated"]
    assert changed.loc[1, "observed_beta"] == 1.0


def test_models_fit_on_toy_features():
    position, m, cov, region = _toy(n=600, seed=3)
    X = ms.neighbourhood_features(position, [(m, cov)], region=region)
    y = (np.arange(len(X)) % 3 > 0).astype(int)
    for name in ms.MODELS:
        p = ms.MODELS[name](random_state=0).fit(X, y).predict_proba(X)[:, 1]
        assert p.shape == (len(X),) and np.isfinite(p).all()


# --- the R data reader -----------------------------------------------------------------------------


def test_read_rda_roundtrip_and_strip_code(tmp_path):
    import rdata
    from rdata.parser import RObject, RObjectInfo, RObjectType

    from genotx.data.formats.rdata import read_rda, strip_code

    path = tmp_path / "x.rda"
    rdata.write_rda(path, {"counts": np.array([3, 1, 4], dtype=np.int32), "name": np.array(["a"])})
    assert read_rda(path)["counts"].tolist() == [3, 1, 4]
    parsed = rdata.parser.parse_file(path)
    closure = RObject(RObjectInfo(RObjectType.CLO, object=False, attributes=False, tag=False, gp=0, reference=0),
                      (None, None), None, None, None)
    root = parsed.object  # pairlist (car, cdr): put a closure in front of the first object
    with_code = dataclasses.replace(parsed, object=dataclasses.replace(root, value=(closure, root)))
    with pytest.raises(Exception):  # noqa: B017 - rdata cannot convert code
        rdata.conversion.convert(with_code)
    cleaned = rdata.conversion.convert(strip_code(with_code))
    assert cleaned["counts"].tolist() == [3, 1, 4]


def test_read_rda_errors(tmp_path):
    from genotx.data.formats.rdata import read_rda

    with pytest.raises(InputError, match="file not found"):
        read_rda(tmp_path / "missing.rda")
    bad = tmp_path / "bad.rda"
    bad.write_bytes(b"not an R file at all")
    with pytest.raises(InputError, match="cannot parse"):
        read_rda(bad)


# --- a user's file ---------------------------------------------------------------------------------


def _write(tmp_path, text, name="region.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_input_csv_and_bismark(tmp_path):
    frame = ms.read_input(_write(tmp_path, "chr,pos,m,cov\nchr1,100,9,10\nchr1,120,0,0\nchr1,180,2,10\nchr2,100,5,5\n"))
    assert list(frame.columns[:4]) == ["chrom", "position", "methylated_reads", "coverage"]
    assert np.isnan(frame.loc[3, "n_u1_beta"])  # chr2 sees no chr1 neighbour
    np.testing.assert_allclose(frame.loc[1, ["n_u1_beta", "n_d1_beta"]].astype(float), [0.9, 0.2], rtol=1e-6)
    bismark = _write(tmp_path, "chr1\t100\t100\t90\t9\t1\nchr1\t180\t180\t20\t2\t8\n", name="x.cov")
    frame = ms.read_input(bismark)
    assert frame["coverage"].tolist() == [10, 10]


def test_read_input_second_replicate_is_pooled(tmp_path):
    frame = ms.read_input(_write(tmp_path, "position,methylated_reads,coverage,methylated_reads_2,coverage_2\n"
                                            "100,1,2,3,4\n150,0,1,0,1\n"))
    np.testing.assert_allclose(float(frame.loc[1, "n_u1_beta"]), 4 / 6, rtol=1e-6)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("position,methylated_reads,coverage\n100,1,2\n200,5,3\n", 3, "exceeds"),
        ("position,methylated_reads,coverage\n100,1,2\n100,1,2\n", 3, "earlier line"),
        ("position,methylated_reads,coverage\n100,1,2\n200,x,3\n", 3, "non-numeric"),
        ("position,methylated_reads,coverage\n100,1,2\n-5,1,3\n", 3, "non-negative integer"),
        ("position,methylated_reads,coverage\n100,1.5,2\n", 2, "non-negative integer"),
        ("pos,beta\n100,0.5\n", 1, "missing column"),
    ],
)
def test_read_input_errors_name_the_line(tmp_path, text, line, message):
    with pytest.raises(InputError, match=message) as err:
        ms.read_input(_write(tmp_path, text))
    assert err.value.line == line


@pytest.mark.parametrize("value", ["1e30", "inf", "10000000000"])
@pytest.mark.parametrize("column", ["coverage", "methylated_reads"])
def test_read_input_refuses_an_impossible_read_count(tmp_path, column, value):
    """Issue 15: coverage 1e30 overflowed int64 and shifted the neighbours' predictions."""
    row = {"position": "200", "methylated_reads": "1", "coverage": "2"}
    row[column] = value
    text = "position,methylated_reads,coverage\n100,1,2\n" + ",".join(row.values()) + "\n300,1,2\n"
    with pytest.raises(InputError, match="more reads than a CpG can have|non-finite") as err:
        ms.read_input(_write(tmp_path, text))
    assert err.value.line == 3 and "Fix:" in str(err.value)


def test_read_input_refuses_an_impossible_count_in_a_bismark_file(tmp_path):
    path = _write(tmp_path, "chr1\t100\t100\t90\t9\t1\nchr1\t180\t180\t20\t2\t1e30\n", name="x.cov")
    with pytest.raises(InputError, match="more reads than a CpG can have|non-finite") as err:
        ms.read_input(path)
    assert err.value.line == 2


def test_read_input_refuses_a_folder_and_an_empty_file(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        ms.read_input(tmp_path)
    with pytest.raises(InputError, match="is empty"):
        ms.read_input(_write(tmp_path, "", name="empty.csv"))


def test_read_input_never_loads_the_task_data(tmp_path, monkeypatch):
    from genotx.tasks.target_discovery.methylation_state import io

    monkeypatch.setattr(io, "read_counts", lambda *a, **k: pytest.fail("read_input must not read the training data"))
    monkeypatch.setattr(ms, "load", lambda *a, **k: pytest.fail("read_input must not load the task"))
    assert len(ms.read_input(_write(tmp_path, "position,methylated_reads,coverage\n100,1,2\n150,0,1\n"))) == 2


def test_bismark_error_names_the_line(tmp_path):
    path = _write(tmp_path, "chr1\t100\t100\t90\t9\t1\nchr1\t180\t180\t20\t9\t1\n", name="x.cov")
    with pytest.raises(InputError, match="earlier line|exceeds") as err:
        ms.read_input(_write(tmp_path, "chr1\t100\t100\t90\t9\t1\nchr1\t100\t100\t90\t9\t1\n", name="y.cov"))
    assert err.value.line == 2
    assert len(ms.read_input(path)) == 2


# --- the real data (slow) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset():
    return ms.load()


@pytest.mark.slow
def test_real_data_shape_and_labels(dataset):
    assert 380_000 < len(dataset) < 400_000
    assert 0.8 < dataset.target.mean() < 0.9
    assert dataset.groups["block"].nunique() == 36
    assert not dataset.inputs.columns.str.contains("own").any()


@pytest.mark.slow
def test_region_blocks_never_cross(dataset):
    for split, splitter in ms.SPLITS.items():
        for fold in splitter.split(dataset.groups, random_state=0):
            train = set(dataset.groups["block"].iloc[fold.train])
            test = set(dataset.groups["block"].iloc[fold.test])
            assert train and test and not train & test, split


@pytest.mark.slow
def test_lgbm_beats_neighbour_mean_on_held_out_blocks(dataset):
    from genotx.engine.runner import run

    lgbm, outcome = run("methylation_state", model="lgbm", split="region_blocks", dataset=dataset)
    trivial, _ = run("methylation_state", model="neighbour_mean", split="region_blocks", dataset=dataset)
    assert lgbm.metrics["auroc"] > trivial.metrics["auroc"] + 0.02, (lgbm.metrics, trivial.metrics)
    assert lgbm.metrics["auroc"] > 0.89
    ceiling = outcome.details["replicate_ceiling_auroc"]
    assert lgbm.metrics["auroc"] < ceiling < 0.99  # neighbours alone stay below replicate agreement


@pytest.mark.slow
def test_predict_on_a_user_region(tmp_path, monkeypatch):
    from genotx.data.source import source_files

    counts = pd.read_parquet(source_files("bsseq_chr22_imr90")["counts"])
    region = counts[(counts.position >= 30_000_000) & (counts.position < 30_200_000)]
    good = tmp_path / "region.csv"
    region.rename(columns={"m1": "methylated_reads", "cov1": "coverage"})[["position", "methylated_reads", "coverage"]].to_csv(good, index=False)
    from genotx.engine.predict import predict_file

    out = predict_file("methylation_state", good, tmp_path / "out.csv")
    result = pd.read_csv(out)
    from genotx.tasks.registry import Task

    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    pd.testing.assert_frame_equal(pd.read_csv(predict_file("methylation_state", good, tmp_path / "again.csv")), result)
    assert len(result) == len(region) and result["probability_methylated"].between(0, 1).all()
    covered = result[result.coverage >= 5]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(covered.observed_beta > 0.5, covered.probability_methylated) > 0.8
    bad = tmp_path / "bad.csv"
    bad.write_text("position,methylated_reads,coverage\n100,1,2\n200,9,3\n")
    with pytest.raises(InputError, match="line 3"):
        predict_file("methylation_state", bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()

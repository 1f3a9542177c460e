"""Patient stratification: survival tools on simulated cohorts, the user file path, and the task end
to end on the real GSE7390 cohort (risk C-index vs the constant floor, subgroups, rules, stability)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.compare import compare_survival
from sksurv.metrics import concordance_index_censored

import genotx
from genotx.data.cohorts import breast_cohort_genes, read_breast_cohort
from genotx.data.dataset import Dataset
from genotx.data.source import use_local
from genotx.engine.predict import fitted_model
from genotx.errors import InputError
from genotx.tasks.clinical import patient_stratification as ps
from genotx.tasks.clinical.patient_stratification import models as ps_models
from genotx.tasks.clinical.patient_stratification.models import (
    ClusterRisk,
    ConstantRisk,
    NeuralCox,
    RiskGroups,
    Subgroups,
    bootstrap_stability,
    cox_score_z,
    kaplan_meier_curves,
    logrank_p,
    subgroup_rules,
    surv_array,
)


def _cohort(n: int = 240, seed: int = 0):
    """Three expression clusters with different hazards; feature g0 drives risk; no tied times."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 3, n)
    centres = np.array([[-2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [2.0, 0.0, 2.0]])
    X = pd.DataFrame(centres[cluster] + rng.normal(scale=0.5, size=(n, 3)), columns=["g0", "g1", "g2"])
    hazard = np.exp(1.2 * X["g0"].to_numpy())
    time = rng.exponential(1.0 / hazard) + rng.uniform(0, 1e-6, n)
    censor = rng.exponential(2.0, n)
    y = surv_array(time <= censor, np.minimum(time, censor))
    return X, y, cluster


def _c(y, risk) -> float:
    return concordance_index_censored(y["event"], y["time"], risk)[0]


def test_cox_score_test_equals_the_logrank_test_for_a_binary_covariate():
    X, y, _ = _cohort()
    binary = (X["g0"] > 0).to_numpy(float)
    z = cox_score_z(binary[:, None], y)[0]
    chisq = compare_survival(y, binary.astype(int))[0]
    assert z**2 == pytest.approx(chisq, rel=1e-9)  # no ties: score test == log-rank
    assert z > 0  # the high-g0 group has events earlier


def test_constant_risk_is_the_half_floor():
    X, y, _ = _cohort()
    model = ConstantRisk().fit(X, y)
    assert _c(y, model.predict(X)) == 0.5 and set(model.predict_group(X)) == {0}


def test_cluster_risk_finds_the_clusters_ordered_by_hazard():
    X, y, cluster = _cohort()
    model = ClusterRisk(n_clusters=3, random_state=0).fit(X, y)
    groups = model.predict_group(X)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(cluster, groups) > 0.9
    # cluster 0 (g0 = -2) is the lowest-risk group, cluster 2 (g0 = +2) the highest
    assert np.bincount(groups[cluster == 0]).argmax() == 0 and np.bincount(groups[cluster == 2]).argmax() == 2
    assert _c(y, model.predict(X)) > 0.7


def test_survival_aware_clustering_selects_the_risk_gene():
    X, y, _ = _cohort()
    model = ClusterRisk(n_clusters=2, n_select=1, random_state=0).fit(X, y)
    assert model.selected_features_ == ["g0"]


def test_risk_groups_cut_training_risk_into_tertiles():
    from sklearn.linear_model import LinearRegression

    X, y, _ = _cohort()
    model = RiskGroups(LinearRegression(), n_groups=3).fit(X, X["g0"].to_numpy())
    counts = np.bincount(model.predict_group(X))
    assert len(counts) == 3 and counts.min() >= 75


def test_neural_cox_learns_a_strong_signal():
    X, y, _ = _cohort(n=300, seed=1)
    model = NeuralCox(hidden=(8,), epochs=150, patience=30, random_state=0).fit(X.iloc[:200], y[:200])
    assert _c(y[200:], model.predict(X.iloc[200:])) > 0.7


def test_logrank_km_rules_and_stability_on_separated_groups():
    X, y, cluster = _cohort()
    assert logrank_p(y, cluster) < 1e-6
    assert np.isnan(logrank_p(y, np.zeros(len(y))))
    curves = kaplan_meier_curves(y, cluster, labels={0: "low", 1: "mid", 2: "high"})
    assert set(curves) == {"low", "mid", "high"}
    assert curves["low"]["survival"][0] <= 1.0 and len(curves["low"]["time"]) == len(curves["low"]["ci_low"])
    rules = subgroup_rules(X, cluster, labels={0: "low", 1: "mid", 2: "high"})
    assert rules["cv_accuracy"] > 0.9 and "g0" in rules["text"]
    assert all(r["rule"] for group in rules["rules"].values() for r in group)
    ari = bootstrap_stability(ClusterRisk(n_clusters=3), X, y=y, reference=cluster, n_boot=5, random_state=0)
    assert ari.shape == (5,) and ari.min() > 0.8


def test_subgroups_keep_their_rule_tree_and_never_refit_it(monkeypatch):
    X, y, cluster = _cohort()
    model = Subgroups(ClusterRisk(n_clusters=3, random_state=0), features=lambda f: f.reset_index(drop=True),
                      min_samples_leaf=5).fit(X, y)
    floor = Subgroups(ConstantRisk(), features=lambda f: f.reset_index(drop=True)).fit(X, y)
    monkeypatch.setattr(ps_models, "fit_rule_tree", lambda *a, **k: pytest.fail("the rule tree was refitted"))
    rules = model.rules(X)
    assert rules["rule"].str.len().min() > 0 and set(rules["rule_group"]) == {"low", "intermediate", "high"}
    agree = np.mean(np.array(model.group_names(model.predict_group(X))) == rules["rule_group"].to_numpy())
    assert agree > 0.9  # the tree reproduces the subgroups it describes
    assert floor.rules(X)["rule"].eq("everyone").all() and set(floor.rules(X)["rule_group"]) == {"all"}


# --- toy cohorts with the real columns, under the task's protocol ------------------------------------


def _toy_dataset(n: int = 150, seed: int = 0) -> Dataset:
    """Clinical columns + three genes; g0 drives the hazard."""
    X, y, _ = _cohort(n, seed)
    rng = np.random.default_rng(seed + 100)  # clinical values independent of the clusters and times
    inputs = pd.DataFrame({"age": rng.integers(30, 70, n).astype(float), "size": rng.uniform(0.5, 4, n),
                           "grade": rng.choice(["well differentiated", "intermediate", "poorly differentiated"], n),
                           "er": rng.choice(["positive", "negative"], n)})
    inputs = pd.concat([inputs, X.rename(columns=lambda c: f"X{c}_at")], axis=1)
    groups = pd.DataFrame({"patient": [f"p{i}" for i in range(n)], "event": y["event"].astype(int), "er": inputs["er"]})
    return Dataset("patient_stratification", inputs, y, groups, meta={"sources": (), "data_kind": "simulated"})


def test_protocol_on_a_toy_cohort_scores_risk_subgroups_and_the_full_cohort():
    data = _toy_dataset()
    record, outcome = genotx.run("patient_stratification", model="clinical_cox", dataset=data)
    genes, _ = genotx.run("patient_stratification", model="survival_clusters", dataset=data)
    floor, _ = genotx.run("patient_stratification", model="constant", dataset=data)
    assert list(record.metrics) == list(ps.SPEC.metrics) == list(floor.metrics)
    assert floor.metrics["c_index"] == 0.5 and np.isnan(floor.metrics["logrank_p"]) and np.isnan(floor.metrics["stability_ari"])
    assert abs(record.metrics["c_index"] - 0.5) < 0.15  # clinical variables are noise here
    assert genes.metrics["c_index"] > 0.7 and genes.metrics["logrank_p"] < 1e-4  # g0 drives risk
    assert record.metrics["c_index"] == pytest.approx(np.mean([f["c_index"] for f in record.fold_metrics]))
    assert set(record.details["km_out_of_fold"]) == {"low", "intermediate", "high"}
    assert len(record.details["stability_ari_per_resample"]) == ps.N_BOOT and outcome.predictions is None


def test_your_own_risk_model_runs_under_the_protocol():
    from sklearn.pipeline import make_pipeline
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from genotx.featurize.transformer import Featurizer
    from genotx.tasks.clinical.patient_stratification.features import encode_all

    own = make_pipeline(Featurizer(encode_all, cache=False), CoxPHSurvivalAnalysis(alpha=1.0))
    record, _ = genotx.run("patient_stratification", estimator=own, dataset=_toy_dataset())
    assert record.metrics["c_index"] > 0.7  # no predict_group: no subgroups, so no log-rank or stability
    assert np.isnan(record.metrics["logrank_p"]) and np.isnan(record.metrics["stability_ari"])


# --- the cohort reader and the user file path (a tiny cohort file: no task data is loaded) ----------


_ARFF_HEADER = ("@relation r\n@attribute age numeric\n@attribute size numeric\n"
                "@attribute grade {well differentiated,intermediate,poorly differentiated,unkown}\n"
                "@attribute er {negative,positive}\n@attribute t.tdm numeric\n@attribute e.tdm {0,1}\n"
                "@attribute X1_at numeric\n@attribute 'X2_at' numeric\n@data\n")


@pytest.fixture
def two_genes(tmp_path):
    arff = tmp_path / "cohort.arff"
    arff.write_text(_ARFF_HEADER + "45,2.0,unkown,positive,1200,1,8.1,7.0\n60,1.5,?,negative,3000,0,9.0,6.5\n")
    use_local("sksurv_breast_cancer", {"arff": arff})
    yield ("X1_at", "X2_at")
    use_local("sksurv_breast_cancer", {})


def test_cohort_reader_and_its_header_read_agree(two_genes):
    cohort = read_breast_cohort()
    assert breast_cohort_genes() == two_genes
    assert cohort.columns.tolist() == ["patient", "age", "size", "grade", "er", *two_genes, "event", "time"]
    assert cohort["grade"].tolist() == ["unknown", "unknown"] and cohort["event"].tolist() == [True, False]
    assert cohort["patient"].tolist() == ["GSE7390_001", "GSE7390_002"]
    data = ps.load()
    assert data.target.dtype.names == ("event", "time") and data.meta["genes"] == list(two_genes)


def _patients(tmp_path, rows: list[str]):
    path = tmp_path / "patients.csv"
    path.write_text("patient,age,size,grade,er,X1_at,2_at\n" + "\n".join(rows) + "\n")
    return path


def test_read_input_accepts_the_training_columns(tmp_path, monkeypatch, two_genes):
    monkeypatch.setattr("genotx.data.cohorts.read_arff", lambda *_: pytest.fail("read_input loaded the cohort"))
    frame = ps.read_input(_patients(tmp_path, ["p1,45,2.0,Intermediate,positive,8.1,7.0", "p2,50,1.5,unkown,NEGATIVE,9.0,6.5"]))
    assert list(frame.columns) == ["patient", "age", "size", "grade", "er", "X1_at", "X2_at"]
    assert frame["grade"].tolist() == ["intermediate", "unknown"] and frame["er"].tolist() == ["positive", "negative"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("p2,50,1.5,grade 5,positive,9.0,6.5", "grade"),
        ("p2,50,1.5,intermediate,maybe,9.0,6.5", "er"),
        ("p2,50,1.5,intermediate,positive,,6.5", "empty"),
        ("p2,fifty,1.5,intermediate,positive,9.0,6.5", "non-numeric"),
    ],
)
def test_bad_patient_files_name_the_line(tmp_path, two_genes, row, message):
    path = _patients(tmp_path, ["p1,45,2.0,intermediate,positive,8.1,7.0", row])
    with pytest.raises(InputError, match=message) as err:
        ps.read_input(path)
    assert err.value.line == 3


def test_missing_gene_column_is_reported_on_the_header(tmp_path, two_genes):
    path = tmp_path / "p.csv"
    path.write_text("age,size,grade,er,X1_at\n45,2.0,intermediate,positive,8.1\n")
    with pytest.raises(InputError, match="X2_at") as err:
        ps.read_input(path)
    assert err.value.line == 1


def test_format_predictions_reads_the_fitted_rule_tree(tmp_path, monkeypatch):
    data = _toy_dataset()
    model = ps.MODELS["survival_clusters"]().fit(data.inputs, data.target)
    monkeypatch.setattr(ps_models, "fit_rule_tree", lambda *a, **k: pytest.fail("the rule tree was refitted"))
    frame = data.inputs.iloc[:6].assign(patient=[f"p{i}" for i in range(6)])
    out = ps.format_predictions(frame[["patient", *data.inputs.columns]], model)
    assert out.columns.tolist() == ["patient", "risk", "risk_group", "rule", "rule_group"]
    assert set(out["risk_group"]) <= {"low", "intermediate", "high"} and out["rule"].str.len().min() > 0
    np.testing.assert_array_equal(out["risk"], model.predict(data.inputs.iloc[:6]))


# --- real cohort, end to end --------------------------------------------------------------------

@pytest.fixture(scope="module")
def cohort():
    return ps.load()


@pytest.mark.slow
def test_cohort_and_folds(cohort):
    assert len(cohort) == 198 and len(cohort.meta["genes"]) == 76
    assert int(cohort.target["event"].sum()) == 51
    folds = ps.SPLITS["cv5"].split(cohort.groups, random_state=0)
    tested = np.concatenate([f.test for f in folds])
    assert len(folds) == 5 and sorted(tested.tolist()) == list(range(198))
    for fold in folds:
        assert not set(fold.train) & set(fold.test)
        assert 9 <= cohort.groups["event"].to_numpy()[fold.test].sum() <= 11  # stratified on the event


@pytest.mark.slow
def test_cox_beats_the_constant_floor_and_defines_readable_subgroups(cohort):
    cox, _ = genotx.run("patient_stratification", model="coxph", dataset=cohort)
    floor, _ = genotx.run("patient_stratification", model="constant", dataset=cohort)
    assert floor.metrics["c_index"] == 0.5
    assert cox.metrics["c_index"] > 0.62 and cox.metrics["c_index"] > floor.metrics["c_index"] + 0.1
    assert min(f["c_index"] for f in cox.fold_metrics) > 0.5
    assert cox.metrics["logrank_p"] < 0.01  # out-of-fold risk tertiles separate survival
    assert -1.0 <= cox.metrics["stability_ari"] <= 1.0
    assert len(cox.details["stability_ari_per_resample"]) == ps.N_BOOT
    rules = cox.details["rules"]["rules"]
    assert set(rules) == {"low", "intermediate", "high"}
    assert all(r["rule"] and r["n"] > 0 for group in rules.values() for r in group)
    assert rules and cox.details["rules"]["text"].strip()
    assert set(cox.details["km_out_of_fold"]) == {"low", "intermediate", "high"}


@pytest.mark.slow
def test_expression_clusters_are_scored_for_stability(cohort):
    out, _ = genotx.run("patient_stratification", model="kmeans", dataset=cohort)
    assert np.isfinite(out.metrics["stability_ari"]) and np.isfinite(out.metrics["logrank_p"])
    assert sum(out.details["group_sizes"].values()) == 198
    assert len(out.details["criteria"]["clustered_features"]) == 76


@pytest.mark.slow
def test_predict_on_patients_file_through_the_engine(tmp_path, cohort):
    rows = cohort.inputs.iloc[:5].copy()
    rows.insert(0, "patient", [f"p{i}" for i in range(5)])
    good = tmp_path / "patients.csv"
    rows.to_csv(good, index=False)
    out = pd.read_csv(genotx.predict_file("patient_stratification", good, tmp_path / "risk.csv"))
    assert list(out["patient"]) == [f"p{i}" for i in range(5)]
    assert set(out["risk_group"]) <= {"low", "intermediate", "high"} and out["rule"].str.len().min() > 0
    model = fitted_model("patient_stratification")  # the cached model: the same risks, no refit
    np.testing.assert_allclose(out["risk"], model.predict(cohort.inputs.iloc[:5]))
    bad = tmp_path / "bad.csv"
    rows.assign(er=["positive", "positive", "unknown", "negative", "positive"]).to_csv(bad, index=False)
    with pytest.raises(InputError, match="er") as err:
        genotx.predict_file("patient_stratification", bad, tmp_path / "bad_out.csv")
    assert err.value.line == 4 and not (tmp_path / "bad_out.csv").exists()

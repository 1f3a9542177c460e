"""trial_matching: criteria parser, simulated trials, matchers, evaluation and predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genotx
from genotx.bio.eligibility import GENES, Criterion, canonical, criteria_lines, criterion_passes, parse_criteria, parse_line
from genotx.data.dataset import Dataset
from genotx.data.source import use_local
from genotx.errors import InputError
from genotx.evaluate.metrics import Evaluator
from genotx.simulate.trials import simulate_trials, trial_pairs
from genotx.tasks.clinical import trial_matching as tm
from genotx.tasks.clinical.trial_matching.features import expand_lines, linked_values, masked_text, variable_columns
from genotx.tasks.clinical.trial_matching.models import ConstantMatcher, CriterionMatcher, PairEmbedding, PatientOnly, RuleMatcher


@pytest.mark.parametrize(
    ("text", "section", "expected"),
    [
        ("Aged 18\u201365 years", "inclusion", Criterion("inclusion", "age", "between", 18, 65)),
        ("Age \u2265 50 years", "inclusion", Criterion("inclusion", "age", "ge", 50)),
        ("Tumour diameter no more than 25 mm", "inclusion", Criterion("inclusion", "size", "le", 2.5)),
        ("Must not be older than 60 years", "inclusion", Criterion("inclusion", "age", "le", 60)),
        ("No TP53 mutation", "inclusion", Criterion("exclusion", "mut_TP53", "eq", 1)),
        ("TP53 wild-type tumour", "inclusion", Criterion("inclusion", "mut_TP53", "eq", 0)),
        ("ERBB2 amplification", "exclusion", Criterion("exclusion", "cnv_ERBB2", "eq", 1)),
        ("CDKN2A copy-number loss", "inclusion", Criterion("inclusion", "cnv_CDKN2A", "eq", -1)),
        ("ER-negative disease", "exclusion", Criterion("inclusion", "er", "eq", 1)),
        ("Grade 2 or higher", "inclusion", Criterion("inclusion", "grade", "ge", 2)),
        ("Poorly differentiated tumours", "exclusion", Criterion("exclusion", "grade", "eq", 3)),
        ("205225_at expression \u2264 9.5 (log2)", "inclusion", Criterion("inclusion", "X205225_at", "le", 9.5)),
    ],
)
def test_parser_reads_known_phrasings_up_to_equivalence(text, section, expected):
    assert canonical(parse_line(text, section=section)) == canonical(expected)


def test_parser_returns_none_on_unreadable_line():
    assert parse_line("Pathogenic TP53 variant detected by sequencing") is None
    assert parse_line("Signed informed consent") is None


def test_criteria_lines_sections_and_line_numbers():
    text = "Inclusion Criteria\n1. Age over 40\n\n* ER-positive disease\nExclusion criteria (any of):\n\u2022 TP53 mutation"
    assert criteria_lines(text) == [("inclusion", "Age over 40", 2), ("inclusion", "ER-positive disease", 4),
                                    ("exclusion", "TP53 mutation", 6)]


def test_unknown_values_fail_inclusion_and_do_not_exclude():
    patients = pd.DataFrame({"grade": [3.0, 1.0, np.nan]})
    assert criterion_passes(Criterion("inclusion", "grade", "eq", 3), patients).tolist() == [True, False, False]
    assert criterion_passes(Criterion("exclusion", "grade", "eq", 3), patients).tolist() == [False, True, True]


def _toy_patients(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    breast = pd.DataFrame({"patient": [f"b{i}" for i in range(n)], "cohort": "GSE7390", "age": rng.integers(25, 70, n).astype(float),
                           "size": np.round(rng.uniform(0.5, 5, n), 1), "grade": rng.choice([1.0, 2.0, 3.0, np.nan], n),
                           "er": rng.integers(0, 2, n).astype(float), "X205225_at": rng.normal(9, 1, n),
                           "X201091_s_at": rng.normal(7, 1, n)})
    tumour = pd.DataFrame({"patient": [f"t{i}" for i in range(n)], "cohort": "GDSC",
                           **{f"mut_{g}": (rng.random(n) < rng.uniform(0.1, 0.6)).astype(float) for g in GENES},
                           **{f"cnv_{g}": rng.choice([-1.0, 0.0, 1.0], n, p=[0.2, 0.6, 0.2]) for g in GENES}})
    return pd.concat([breast, tumour], ignore_index=True)


def _toy_pairs(n_breast: int = 6, n_tumour: int = 6):
    patients = _toy_patients()
    trials = simulate_trials(patients, n_breast=n_breast, n_tumour=n_tumour, random_state=1)
    pairs, line_labels, y = trial_pairs(patients, trials, columns=variable_columns(patients))
    return trials, pairs, y, line_labels


def _toy_dataset() -> Dataset:
    trials, pairs, y, line_labels = _toy_pairs()
    return Dataset("trial_matching", pairs, y, pairs[["trial", "patient", "cohort"]].copy(),
                   meta={"sources": (), "data_kind": "simulated"}, arrays={"line_labels": line_labels},
                   context={"trials": tuple(trials)})


def test_simulated_trials_are_seeded_and_parse_back_in_seen_phrasings():
    patients = _toy_patients()
    a = simulate_trials(patients, n_breast=8, n_tumour=8, random_state=3)
    b = simulate_trials(patients, n_breast=8, n_tumour=8, random_state=3)
    assert [t.text for t in a] == [t.text for t in b]
    for trial in a:
        parsed = parse_criteria(trial.text)
        assert len(parsed) == len(trial.criteria)  # one text line per structured criterion, in order
        for (rule, line, _), truth, family in zip(parsed, trial.criteria, trial.families):
            if family == "seen":
                assert canonical(rule) == canonical(truth), line


def test_expand_lines_and_entity_features():
    pairs = pd.DataFrame({"criteria": ["- No TP53 mutation\n- 205225_at expression \u2265 9.5", "Age over 50"],
                          "mut_TP53": [1.0, 0.0], "cnv_TP53": [0.0, 1.0], "X205225_at": [8.0, 10.0]})
    lines = expand_lines(pairs)
    assert lines[["pair", "line"]].values.tolist() == [[0, 0], [0, 1], [1, 0]]
    linked = linked_values(lines["text"], pairs, lines["pair"].to_numpy())
    np.testing.assert_array_equal(linked[0, :2], [1.0, 0.0])
    assert linked[1, 2] == 8.0 and np.isnan(linked[2]).all()
    assert masked_text(pd.Series(["No TP53 mutation at 9.5"]), genes=["TP53"]).iloc[0] == "no  gene  mutation at 0"


def test_trial_pairs_truth_follows_the_structured_criteria():
    trials, pairs, y, line_labels = _toy_pairs()
    assert len(pairs) == sum(60 for _ in trials) and line_labels.shape == (len(pairs), max(len(t.criteria) for t in trials))
    for trial in trials[:3] + trials[-3:]:
        rows = np.flatnonzero(pairs["trial"].to_numpy() == trial.trial)
        members = pairs.iloc[rows]
        expected = np.column_stack([criterion_passes(c, members) for c in trial.criteria])
        np.testing.assert_array_equal(line_labels[rows, : len(trial.criteria)], expected)
        assert np.isnan(line_labels[rows, len(trial.criteria):]).all()
        assert (y[rows] == expected.all(axis=1)).all()


def test_matchers_fit_predict_on_toy_pairs():
    _, pairs, y, line_labels = _toy_pairs()
    for model in (RuleMatcher(), CriterionMatcher(use_rules=True, n_estimators=20, n_components=8),
                  CriterionMatcher(n_estimators=20, n_components=8), PairEmbedding(n_estimators=20, n_components=8),
                  PatientOnly(n_estimators=20), ConstantMatcher()):
        proba = model.fit(pairs, y, line_labels=line_labels).predict_proba(pairs)
        assert proba.shape == (len(pairs), 2) and np.isfinite(proba).all()
    rules = RuleMatcher().fit(pairs, y, line_labels=line_labels).predict_proba(pairs)[:, 1]
    assert Evaluator("precision_at_5_per_trial")(y, rules, groups={"trial": pairs["trial"]}) >= 0.5
    with pytest.raises(InputError, match="line_labels"):
        CriterionMatcher().fit(pairs, y)


def test_the_line_matrix_as_y_trains_the_same_model_as_line_labels():
    """``genotx predict`` fits with plain fit(X, y): the task hands it the per-line truth as y."""
    _, pairs, y, line_labels = _toy_pairs()
    a = CriterionMatcher(use_rules=True, n_estimators=20, n_components=8).fit(pairs, y, line_labels=line_labels)
    b = CriterionMatcher(use_rules=True, n_estimators=20, n_components=8).fit(pairs, line_labels)
    np.testing.assert_array_equal(a.predict_proba(pairs), b.predict_proba(pairs))
    assert PatientOnly(n_estimators=5).fit(pairs, line_labels).classes_.tolist() == [0, 1]
    with pytest.raises(InputError, match="one of them"):
        RuleMatcher().fit(pairs, line_labels, line_labels=line_labels)


def test_precision_at_k_per_trial_and_parser_accuracy_on_toy_trials():
    y, s, g = np.array([1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]), np.r_[np.linspace(1, 0, 6), np.linspace(0, 1, 6)], np.repeat(list("ab"), 6)
    assert Evaluator("precision_at_5_per_trial")(y, s, groups={"trial": g}) == pytest.approx((1 / 5 + 1 / 5) / 2)
    tied = Evaluator("precision_at_5_per_trial")(y, np.zeros(12), groups={"trial": g})
    assert tied == Evaluator("precision_at_5_per_trial")(y, np.zeros(12), groups={"trial": g})  # fixed tie order
    trials, *_ = _toy_pairs()
    accuracy = tm.parser_accuracy(trials)
    assert accuracy["criterion_accuracy_seen"] == 1.0


def test_protocol_on_toy_trials_reports_line_auroc_and_parser_accuracy():
    data = _toy_dataset()
    rules, _ = genotx.run("trial_matching", model="rule_parser", dataset=data)
    floor, outcome = genotx.run("trial_matching", model="constant", dataset=data)
    assert list(rules.metrics) == list(tm.SPEC.metrics) == list(floor.metrics)
    assert rules.metrics["auroc"] > floor.metrics["auroc"] + 0.2 and floor.metrics["auroc"] == 0.5
    assert rules.metrics["line_auroc"] > 0.8 and np.isnan(floor.metrics["line_auroc"])
    assert rules.metrics["criterion_accuracy_seen"] == 1.0 and np.isnan(floor.metrics["criterion_accuracy"])
    assert rules.details["parser"]["n_lines_seen"] > 0 and set(rules.details["line_auroc_by_phrasing"]) == {
        "line_auroc_seen", "line_auroc_unseen"}
    assert all("line_auroc" in f for f in rules.fold_metrics)
    assert {"trial", "patient", "cohort", "y_true", "y_pred", "fold"} <= set(outcome.predictions.columns)


def test_your_own_estimator_runs_under_the_protocol_without_line_labels():
    from sklearn.dummy import DummyClassifier

    record, _ = genotx.run("trial_matching", estimator=DummyClassifier(strategy="prior"), dataset=_toy_dataset())
    assert record.metrics["auroc_per_trial"] == 0.5 and np.isnan(record.metrics["line_auroc"])  # one score per fold
    assert np.isfinite(record.metrics["auroc"]) and np.isnan(record.metrics["criterion_accuracy"])


# ---- the user file path (no task data is loaded) --------------------------------------------------


@pytest.fixture
def two_probes(tmp_path):
    """The breast cohort source pointed at a tiny ARFF: reading a user's file needs only its header."""
    arff = tmp_path / "cohort.arff"
    arff.write_text("@relation r\n@attribute age numeric\n@attribute size numeric\n"
                    "@attribute grade {well differentiated,intermediate,poorly differentiated,unkown}\n"
                    "@attribute er {negative,positive}\n@attribute t.tdm numeric\n@attribute e.tdm {0,1}\n"
                    "@attribute X205225_at numeric\n@attribute X201091_s_at numeric\n@data\n50,2,intermediate,positive,9,1,9,7\n")
    use_local("sksurv_breast_cancer", {"arff": arff})
    yield ("X205225_at", "X201091_s_at")
    use_local("sksurv_breast_cancer", {})


def _no_task_data(monkeypatch):
    def refuse(*_, **__):
        raise AssertionError("reading a user's file must not load the task's data")

    for name in ("load", "breast_patients", "tumour_profiles"):
        monkeypatch.setattr(tm, name, refuse)
    monkeypatch.setattr("genotx.data.cohorts.read_arff", refuse)


def test_read_input_and_criteria_errors_name_the_line(tmp_path, monkeypatch, two_probes):
    _no_task_data(monkeypatch)
    criteria = tmp_path / "c.txt"
    criteria.write_text("Inclusion criteria:\n- Age over 40\n")
    good = tmp_path / "p.csv"
    good.write_text("patient,age,grade,er,205225_at,mut_TP53\np1,50,poorly differentiated,positive,9.1,1\np2,,2,0,,\n")
    frame = tm.read_input(good, trial=criteria)
    assert list(frame.columns[:8]) == ["patient", "criteria", "age", "size", "grade", "er", "X205225_at", "X201091_s_at"]
    assert frame.loc[0, ["age", "grade", "er", "X205225_at", "mut_TP53"]].tolist() == [50.0, 3.0, 1.0, 9.1, 1.0]
    assert np.isnan(frame.loc[1, "age"]) and np.isnan(frame.loc[1, "size"]) and frame["criteria"].nunique() == 1
    with pytest.raises(InputError, match="no trial criteria"):
        tm.read_input(good)
    bad = tmp_path / "bad.csv"
    bad.write_text("age,grade\n50,2\n61,very high\n")
    with pytest.raises(InputError, match="line 3"):
        tm.read_input(bad, trial=criteria)
    bad_mut = tmp_path / "bad_mut.csv"
    bad_mut.write_text("mut_TP53\n1\n0\n2\n")
    with pytest.raises(InputError, match="line 4"):
        tm.read_input(bad_mut, trial=criteria)
    none = tmp_path / "none.csv"
    none.write_text("foo\n1\n")
    with pytest.raises(InputError, match="no known patient variable"):
        tm.read_input(none, trial=criteria)
    empty_text = tmp_path / "empty_text.csv"
    empty_text.write_text("age,criteria\n50,Age over 40\n60,\n")
    with pytest.raises(InputError, match="line 3"):
        tm.read_input(empty_text)
    stray = tmp_path / "stray.txt"
    stray.write_text("Inclusion criteria:\n- Age over 40\n- 12345\n")
    with pytest.raises(InputError, match="line 3"):
        tm.read_criteria(stray)
    empty = tmp_path / "e.txt"
    empty.write_text("Inclusion criteria:\n\n")
    with pytest.raises(InputError, match="no criterion lines"):
        tm.read_criteria(empty)


def test_format_predictions_gives_the_rule_verdict_and_unparsed_lines(tmp_path, monkeypatch, two_probes):
    _no_task_data(monkeypatch)
    patients = tmp_path / "patients.csv"
    patients.write_text("patient,age,size,er\np1,45,1.5,positive\np2,72,3.2,negative\n")
    criteria = tmp_path / "criteria.txt"
    criteria.write_text("Inclusion criteria:\n- Aged 18-65 years\n- ER-positive disease\n")
    frame = tm.read_input(patients, trial=criteria)
    _, pairs, y, line_labels = _toy_pairs()
    out = tm.format_predictions(frame, RuleMatcher().fit(pairs, y, line_labels=line_labels))
    assert out.columns.tolist() == ["patient", "match_probability", "rule_eligible", "unparsed_lines"]
    assert out["rule_eligible"].tolist() == [1, 0] and out["unparsed_lines"].tolist() == ["", ""]
    assert out["match_probability"].tolist() == pytest.approx([1.0, 0.0], abs=1e-5)
    criteria.write_text("- Aged 18-65 years\n- Signed informed consent\n")
    out = tm.format_predictions(tm.read_input(patients, trial=criteria), RuleMatcher().fit(pairs, y, line_labels=line_labels))
    assert out["rule_eligible"].isna().all() and out["unparsed_lines"].tolist() == ["2", "2"]


# ---- end to end on the real default data ---------------------------------------------------------


@pytest.fixture(scope="module")
def dataset():
    return tm.load()


@pytest.mark.slow
def test_cold_trial_folds_share_no_trial(dataset):
    assert len(dataset) == 198 * 40 + 964 * 30
    assert len(dataset.context["trials"]) == 70 and dataset.arrays["line_labels"].shape[0] == len(dataset)
    for fold in tm.SPLITS["cold_trial"].split(dataset.groups, random_state=0):
        trials = dataset.groups["trial"].to_numpy()
        assert not set(trials[fold.train]) & set(trials[fold.test])


@pytest.mark.slow
def test_rule_parser_beats_constant_and_is_worse_on_unseen_phrasings(dataset):
    rule = genotx.run("trial_matching", model="rule_parser", dataset=dataset)[0].metrics
    floor = genotx.run("trial_matching", model="constant", dataset=dataset)[0].metrics
    assert floor["auroc"] == pytest.approx(0.5)
    assert rule["auroc"] > floor["auroc"] + 0.3
    assert rule["criterion_accuracy_seen"] > 0.95 > rule["criterion_accuracy_unseen"]


@pytest.mark.slow
def test_default_model_beats_constant_and_rule_parser(dataset):
    hybrid = genotx.run("trial_matching", dataset=dataset)[0].metrics
    floor = genotx.run("trial_matching", model="constant", dataset=dataset)[0].metrics
    assert hybrid["auroc"] > floor["auroc"] + 0.3
    assert hybrid["precision_at_10_per_trial"] > floor["precision_at_10_per_trial"] + 0.3
    assert hybrid["auroc"] > 0.97  # the rule parser alone reaches ~0.96


@pytest.mark.slow
def test_predict_on_user_files_through_the_engine(tmp_path):
    patients = tmp_path / "patients.csv"
    patients.write_text("patient,age,size,grade,er,mut_TP53,cnv_ERBB2\n"
                        "p1,45,1.5,2,positive,0,1\np2,72,3.2,3,negative,1,0\np3,55,,,positive,,\n")
    criteria = tmp_path / "criteria.txt"
    criteria.write_text("Inclusion criteria:\n- Aged 18-65 years\n- ER-positive disease\n- Tumour size at least 10 mm\n"
                        "Exclusion criteria:\n- Poorly differentiated tumours\n- Signed informed consent\n")
    out = genotx.predict_file("trial_matching", patients, tmp_path / "out.csv", model="rule_parser", trial=str(criteria))
    result = pd.read_csv(out)
    assert result["patient"].tolist() == ["p1", "p2", "p3"]
    assert result["unparsed_lines"].astype(str).tolist() == ["7", "7", "7"]
    assert result["match_probability"].iloc[0] > result["match_probability"].iloc[1]
    bad = tmp_path / "bad.csv"
    bad.write_text("age,er\n50,positive\n61,maybe\n")
    with pytest.raises(InputError, match="line 3"):
        genotx.predict_file("trial_matching", bad, tmp_path / "never.csv", trial=str(criteria))
    assert not (tmp_path / "never.csv").exists()
    with pytest.raises(InputError, match="unknown option"):
        genotx.predict_file("trial_matching", patients, tmp_path / "never.csv", trials=str(criteria))

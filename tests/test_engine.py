"""Runs, records, resumable benchmarks and the report, on a toy task (fast, offline)."""

import json

import numpy as np
import pytest

from genotx.engine.records import ResultStore, RunRecord
from genotx.engine.runner import benchmark, plan, run
from genotx.report.html import write_report


def test_run_returns_a_complete_record(toy_task):
    record, outcome = run("toy_regression", model="ridge", split="random", seed=0)
    assert record.task == "toy_regression" and record.data_kind == "simulated"
    assert set(record.metrics) == {"pearson", "rmse"}
    assert record.n_train + record.n_test == 120
    assert record.metrics["pearson"] > 0.8
    assert json.loads(json.dumps(record.to_dict()))["metrics"]["pearson"] == pytest.approx(record.metrics["pearson"])
    assert {"y_true", "y_pred"} <= set(outcome.predictions.columns)


def test_default_model_beats_the_trivial_baseline_on_toy_data(toy_task):
    good, _ = run("toy_regression", model="ridge")
    floor, _ = run("toy_regression", model="mean")
    assert good.metrics["rmse"] < 0.5 * floor.metrics["rmse"]


def test_runs_are_reproducible_with_a_seed(toy_task):
    a, _ = run("toy_regression", model="ridge", split="cold_entity", seed=3)
    b, _ = run("toy_regression", model="ridge", split="cold_entity", seed=3)
    assert a.metrics == b.metrics and a.n_folds == 3 and "pearson" in a.metrics_std


def test_killed_benchmark_finishes_only_the_missing_runs(toy_task, tmp_path):
    planned = plan(["toy_regression"], full=True)
    assert len(planned) == 4
    done = []

    def die_after_two(p, record):
        done.append(p.key)
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        benchmark(["toy_regression"], str(tmp_path), full=True, on_done=die_after_two)
    assert len(ResultStore(tmp_path).records()) == 2
    started = []
    records = benchmark(["toy_regression"], str(tmp_path), full=True, on_start=lambda p: started.append(p.key))
    assert len(started) == 2 and not set(started) & set(done)
    assert len(records) == 4


def test_half_written_record_is_redone(toy_task, tmp_path):
    benchmark(["toy_regression"], str(tmp_path))
    victim = next((tmp_path / "runs").glob("*.json"))
    victim.write_text('{"task": "toy_reg')  # a torn file from an old crash
    started = []
    benchmark(["toy_regression"], str(tmp_path), on_start=lambda p: started.append(p.key))
    assert started == [victim.stem]


def test_report_has_table_and_plots(toy_task, tmp_path):
    benchmark(["toy_regression"], str(tmp_path))
    page = write_report(tmp_path).read_text()
    assert "toy_regression" in page and "simulated" in page
    assert page.count("data:image/png;base64,") >= 2  # metric bars + predicted vs true
    assert (tmp_path / "runs.sqlite").exists()


def test_record_round_trip_keeps_nan():
    record = RunRecord("t", "clinical", "m", "s", 0, {"auroc": float("nan")}, 1, 1, "real")
    again = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert np.isnan(again.metrics["auroc"])


@pytest.mark.slow
def test_ray_backend_gives_the_same_records_as_local(tmp_path):
    pytest.importorskip("ray")
    local = benchmark(["patient_stratification"], str(tmp_path / "local"))
    fanned = benchmark(["patient_stratification"], str(tmp_path / "ray"), backend="ray")
    assert {r.key: r.metrics for r in local} == {r.key: r.metrics for r in fanned}


def test_details_with_survival_curves_and_mr_statistics_get_their_plots():
    from genotx.report.plots import DETAIL_PLOTS, figure_png

    curve = {"n": 3, "time": [1.0, 2.0, 3.0], "survival": [0.9, 0.6, 0.3], "ci_low": [0.7, 0.4, 0.1], "ci_high": [1.0, 0.8, 0.5]}
    stats = {"beta_exposure": [0.1, 0.2, -0.3], "se_exposure": [0.01] * 3, "beta_outcome": [0.2, 0.5, -0.6], "se_outcome": [0.05] * 3}
    details = {
        "km_full": {"low": curve, "high": curve},
        "summary_stats": stats,
        "real_data": {"methods": {"ivw": {"estimate": 2.0}, "mr_egger": {"estimate": 2.1, "intercept": 0.0}}},
        "simulation": {"table": [{"scenario": s, "method": m, "bias": 0.1, "coverage": 0.9} for s in ("a", "b") for m in ("ivw", "mr_egger")]},
    }
    images = [figure_png(fig) for key in details if key in DETAIL_PLOTS for fig in DETAIL_PLOTS[key](details)]
    assert len(images) == 4 and all(len(png) > 1000 for png in images)
    assert DETAIL_PLOTS["simulation"]({"simulation": {"n_patients": 1000}}) == []  # another task's key, not an MR study


def test_a_task_details_hook_adds_to_the_record(toy_task):
    toy_task.module.details = lambda dataset, outcome, *, split, model, seed: {"n_rows_seen": len(outcome.predictions)}
    try:
        record, outcome = run(toy_task, split="random")
    finally:
        del toy_task.module.details
    assert record.details["n_rows_seen"] == outcome.n_test > 0


def test_an_empty_or_foreign_record_is_not_done(toy_task, tmp_path):
    benchmark(["toy_regression"], str(tmp_path))
    store = ResultStore(tmp_path)
    (path, *_) = sorted((tmp_path / "runs").glob("*.json"))
    path.write_text("{}")
    assert not store.has(path.stem) and len(store.records()) == 1
    benchmark(["toy_regression"], str(tmp_path))  # redoes exactly that run
    assert store.has(path.stem) and len(store.records()) == 2

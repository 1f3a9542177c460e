"""Engine: the resumable runner (any task, any estimator, over seeds), run records and the prediction path."""

from genotx.engine.predict import fitted_model, predict_file
from genotx.engine.records import ResultStore, RunRecord, run_key
from genotx.engine.runner import PlannedRun, benchmark, cross_validate, evaluate_many, plan, run

__all__ = ["fitted_model", "predict_file", "ResultStore", "RunRecord", "run_key", "PlannedRun", "benchmark",
           "cross_validate", "evaluate_many", "plan", "run"]

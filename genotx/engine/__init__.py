"""Engine: protocols, the resumable runner, run records and the prediction path."""

from genotx.engine.predict import fitted_model, predict_file
from genotx.engine.protocols import PROTOCOL_RUNNERS, Outcome
from genotx.engine.records import ResultStore, RunRecord, run_key
from genotx.engine.runner import PlannedRun, benchmark, plan, run

__all__ = ["fitted_model", "predict_file", "PROTOCOL_RUNNERS", "Outcome", "ResultStore", "RunRecord", "run_key", "PlannedRun", "benchmark", "plan", "run"]

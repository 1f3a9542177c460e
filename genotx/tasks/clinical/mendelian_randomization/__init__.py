"""Mendelian randomization: variant-exposure and variant-outcome summary statistics -> causal effect with CI.

Default data: the 28 lipid-associated variants bundled with R MendelianRandomization (LDL-c
exposure, coronary heart disease log-odds outcome). ``evaluate`` reports the chosen estimator on the
real data (estimate, SE, CI, p; every estimator, Cochran's Q and leave-one-out in ``details``) and,
because no causal truth is known for real data, its bias, CI coverage and power on simulated summary
statistics with a known effect (valid instruments, the null, balanced and directional pleiotropy,
weak instruments; :mod:`genotx.tasks.clinical.mendelian_randomization.simulation`). The ``*_valid``/``bias``/``coverage``/
``power``/``type1_error`` metrics are simulation results, the ``estimate``/``se``/``p`` metrics real.

User path: ``genotx predict mendelian_randomization --input ss.csv --out est.json`` where ``ss.csv``
has TwoSampleMR's harmonised columns ``SNP, beta_exposure, se_exposure, beta_outcome, se_outcome``
(optional ``mr_keep``: rows with FALSE are skipped, as in TwoSampleMR).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.cache import atomic_path
from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import Fold
from genotx.tasks.clinical.mendelian_randomization.methods import HARMONISED_COLUMNS, METHODS, MRMethod, SummaryStats, cochran_q, leave_one_out, mr_egger
from genotx.tasks.clinical.mendelian_randomization.simulation import SCENARIOS, scenario_settings, simulation_study
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="mendelian_randomization",
    number=20,
    stage="clinical",
    title="Mendelian randomization",
    formulation="variant-exposure and variant-outcome summary statistics -> causal effect with CI",
    protocol="estimation",
    target="other",
    data_kind="real",
    sources=("twosamplemr_lipids_chd",),
    splits=("all_variants",),
    metrics=("estimate", "se", "ci_low", "ci_high", "p", "coverage", "bias", "power", "type1_error",
             "bias_directional", "coverage_directional", "bias_balanced", "coverage_balanced",
             "bias_weak", "coverage_weak"),
    baselines=("ivw", "mr_egger", "weighted_median", "weighted_mode"),
    trivial=None,
    data_note="Estimates on real summary statistics (28 lipid variants -> CHD log-odds); bias, coverage, "
    "power and type I error are measured on simulated summary statistics with a known causal effect.",
    citation="Burgess et al. (2013) Genet Epidemiol 37:658; Bowden et al. (2015) IJE 44:512; "
    "Bowden et al. (2016) Genet Epidemiol 40:304; Hartwig et al. (2017) IJE 46:1985",
)

#: Exposures in the lipid source: name -> (beta column, se column). The outcome is CHD log-odds.
EXPOSURES: dict[str, tuple[str, str]] = {"ldl_c": ("ldlc", "ldlcse"), "hdl_c": ("hdlc", "hdlcse"), "triglycerides": ("trig", "trigse")}
MIN_VARIANTS = 3
SIM_REPS = 100
SIM_BOOT = 100


def load(*, source: str = "twosamplemr_lipids_chd", exposure: str = "ldl_c") -> Dataset:
    """The 28 lipid variants as harmonised summary statistics (one row per variant)."""
    if exposure not in EXPOSURES:
        from genotx.errors import UnknownNameError

        raise UnknownNameError("exposure", exposure, EXPOSURES)
    raw = pd.read_csv(source_files(source)["summary"])
    beta, se = EXPOSURES[exposure]
    inputs = pd.DataFrame({
        "SNP": raw["variant"].astype(str), "beta_exposure": raw[beta].astype(float), "se_exposure": raw[se].astype(float),
        "beta_outcome": raw["chdlodds"].astype(float), "se_outcome": raw["chdloddsse"].astype(float),
    })
    return Dataset("mendelian_randomization", inputs, inputs["beta_outcome"].to_numpy(), pd.DataFrame({"variant": inputs["SNP"]}),
                   meta={"sources": (source,), "data_kind": SPEC.data_kind, "exposure": exposure, "outcome": "chd_log_odds"})


@dataclass(frozen=True)
class AllVariants:
    """Estimation uses every variant: one fold whose train and test are all rows."""

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        every = np.arange(len(groups))
        return [Fold(every, every, "all_variants")]


SPLITS = {"all_variants": AllVariants()}


def _factory(method: str):
    def make(random_state: int = 0) -> MRMethod:
        return MRMethod(method, random_state=random_state)

    make.__name__ = f"make_{method}"
    return make


MODELS = {name: _factory(name) for name in ("ivw", "mr_egger", "weighted_median", "weighted_mode")}


def analyse(data: SummaryStats, *, random_state: int = 0, n_boot: int = 1000) -> dict:
    """Every estimator, heterogeneity and leave-one-out on one set of summary statistics."""
    methods = {}
    for name in METHODS:
        options = {"n_boot": n_boot} if name in ("weighted_median", "weighted_mode") else {}
        methods[name] = MRMethod(name, random_state=random_state, **options).estimate(data).to_dict()
    egger = mr_egger(data)
    heterogeneity = {**cochran_q(data), "rucker_q": egger.extra["rucker_q"], "rucker_q_df": egger.extra["rucker_q_df"],
                     "rucker_q_p": egger.extra["rucker_q_p"], "i2_gx": egger.extra["i2_gx"]}
    return {"methods": methods, "heterogeneity": heterogeneity,
            "leave_one_out": leave_one_out(data).to_dict(orient="records"), "n_variants": len(data)}


def evaluate(dataset: Dataset, *, split: str, model: str, seed: int) -> Outcome:
    """The chosen estimator on the real data, and every estimator's bias/coverage/power in simulations."""
    (fold,) = SPLITS[split].split(dataset.groups, random_state=seed)
    data = SummaryStats.from_frame(dataset.inputs.iloc[fold.test])
    result = MODELS[model](random_state=seed).estimate(data)
    table = simulation_study(n_reps=SIM_REPS, n_boot=SIM_BOOT, random_state=seed)
    mine = table[table["method"] == model].set_index("scenario")
    metrics = {k: result.to_dict()[k] for k in ("estimate", "se", "ci_low", "ci_high", "p")}
    metrics.update(coverage=mine.at["valid", "coverage"], bias=mine.at["valid", "bias"], power=mine.at["valid", "power"],
                   type1_error=mine.at["null", "power"])
    for scenario in ("directional", "balanced", "weak"):
        metrics[f"bias_{scenario}"] = mine.at[scenario, "bias"]
        metrics[f"coverage_{scenario}"] = mine.at[scenario, "coverage"]
    details = {
        "exposure": dataset.meta.get("exposure"), "outcome": dataset.meta.get("outcome"),
        "real_data": analyse(data, random_state=seed),
        "summary_stats": dataset.inputs.iloc[fold.test][["beta_exposure", "se_exposure", "beta_outcome", "se_outcome"]].to_dict(orient="list"),
        "simulation": {"scenarios": scenario_settings(SCENARIOS), "n_reps": SIM_REPS, "n_boot": SIM_BOOT,
                       "table": table.to_dict(orient="records")},
    }
    return Outcome({k: float(v) for k, v in metrics.items()}, len(fold.train), len(fold.test), details=details)


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV/TSV of harmonised summary statistics (TwoSampleMR's ``harmonise_data`` output works).

    Columns ``beta_exposure, se_exposure, beta_outcome, se_outcome`` (required), ``SNP`` (optional;
    aliases ``variant``, ``rsid``), ``mr_keep`` (optional; FALSE rows are skipped). Each line is checked:
    numbers present, standard errors > 0, ``beta_exposure`` != 0, no duplicated SNP.
    """
    frame = read_table(path, required=HARMONISED_COLUMNS, optional=("SNP", "mr_keep", "id.exposure", "id.outcome"),
                       numeric=HARMONISED_COLUMNS, aliases={"SNP": ("snp", "variant", "rsid", "rsID")})
    where = str(path)
    for column in HARMONISED_COLUMNS:
        _check_numbers(frame, column, lambda s: s.notna() & np.isfinite(s), path=where, problem="is missing",
                       fix="fill in the value or remove the line")
    for column in ("se_exposure", "se_outcome"):
        _check_numbers(frame, column, lambda s: s > 0, path=where, problem="is not > 0", fix="standard errors must be positive")
    _check_numbers(frame, "beta_exposure", lambda s: s != 0, path=where, problem="is 0: the variant is not an instrument",
                   fix="remove the line")
    if "SNP" not in frame:
        frame.insert(0, "SNP", [f"variant_{i + 1}" for i in range(len(frame))])
    frame["SNP"] = frame["SNP"].astype(str).str.strip()
    check_values(frame, "SNP", lambda s: ~s.duplicated(), path=where, problem="is duplicated",
                 fix="keep one line per variant (harmonise first, one exposure-outcome pair per file)")
    for column in ("id.exposure", "id.outcome"):
        if column in frame and frame[column].nunique() > 1:
            check_values(frame, column, lambda s: s == s.iloc[0], path=where, problem="differs from the first line's",
                         fix="give one exposure-outcome pair per file")
    if "mr_keep" in frame:
        keep = frame["mr_keep"].str.strip().str.upper()
        check_values(frame.assign(mr_keep=keep), "mr_keep", lambda s: s.isin(["TRUE", "FALSE", "T", "F", "1", "0", ""]),
                     path=where, problem="is not TRUE/FALSE", fix="write TRUE or FALSE")
        frame = frame[keep.isin(["TRUE", "T", "1", ""]).to_numpy()]
    if len(frame) < MIN_VARIANTS:
        raise InputError(where, f"{len(frame)} usable variant(s); MR-Egger, weighted median and mode need >= {MIN_VARIANTS}",
                         fix="add variants (independent instruments) to the file")
    return frame[["SNP", *HARMONISED_COLUMNS]].reset_index(drop=True)


def _check_numbers(frame: pd.DataFrame, column: str, ok, **message) -> None:
    """``check_values`` on a numeric column, quoting the offending value as the user wrote it."""
    shown = frame.assign(**{column: frame[column].astype(object)})
    check_values(shown, column, lambda s: ok(s.astype(float)).astype(bool), **message)


def predict_file(input_path: str | Path, out_path: str | Path, *, model: str | None = None, random_state: int = 0,
                 n_boot: int = 1000, **options) -> Path:
    """Estimate the causal effect from a user's summary statistics; write JSON atomically.

    Output: ``{"methods": {name: {estimate, se, ci_low, ci_high, p, ...}}, "heterogeneity": {...},
    "leave_one_out": [...], "n_variants": N, "default_method": model}``.
    """
    if options:
        raise InputError("predict_file", f"unknown option(s) {sorted(options)}", fix="options are random_state and n_boot")
    model = model or SPEC.default_model
    if model not in MODELS:
        from genotx.errors import UnknownNameError

        raise UnknownNameError("model", model, MODELS)
    frame = read_input(input_path)
    data = SummaryStats.from_frame(frame)
    result = {**analyse(data, random_state=random_state, n_boot=n_boot), "default_method": model,
              "variants": list(data.variants)}
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        tmp.write_text(json.dumps(_finite(result), indent=1))
    return out_path


def _finite(value):
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value

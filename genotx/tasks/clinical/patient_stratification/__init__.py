"""Patient stratification: patients' expression + clinical variables -> subgroups with defining criteria; risk.

Default data: the GSE7390 breast-cancer cohort shipped in scikit-survival (198 node-negative
patients, 76 genes, age, tumour size, grade, ER status; distant metastasis: 51 events), read by
:func:`genotx.data.cohorts.read_breast_cohort`; the target is a structured ``(event, time)`` array.
Every model outputs a risk score and risk-ordered subgroups (``low``/``intermediate``/``high``) and,
wrapped in :class:`~genotx.tasks.clinical.patient_stratification.models.Subgroups`, the readable
rule of each subgroup:

* risk models (``coxph`` ridge Cox, ``coxnet`` elastic-net Cox, ``rsf`` random survival forest,
  ``neural_cox`` a small MLP on the Cox likelihood, ``clinical_cox`` clinical variables only) group
  patients by tertiles of their training-set risk;
* ``kmeans`` clusters the standardised genes (unsupervised); ``survival_clusters`` clusters the 10
  genes most associated with survival in univariate Cox tests on the training data; clusters are
  ordered by training event rate; ``constant`` gives everyone the same risk (the floor, C = 0.5).

Evaluation (:class:`~genotx.tasks.clinical.patient_stratification.protocol.Stratification`): under
stratified 5-fold CV, the mean held-out Harrell C-index (``c_index``; ``c_index_pooled`` over all
out-of-fold risks) and the log-rank p-value between the out-of-fold subgroups (``logrank_p``); on the
full cohort, the mean adjusted Rand index of the subgroups over 20 bootstrap refits
(``stability_ari``; the hyperparameters chosen by inner CV on the full cohort are kept fixed in the
refits), the in-sample log-rank p-value (``logrank_p_insample``), one readable rule per subgroup from
a depth-3 decision tree over genes and clinical variables (with its cross-validated fidelity,
``rule_accuracy``), and Kaplan-Meier curves per subgroup (``details``).

``genotx predict patient_stratification --input patients.csv --out risk.csv``
(:mod:`genotx.tasks.clinical.patient_stratification.io`): risk, subgroup and rule per patient, from
the model fitted once on the cohort (its rule tree included).
"""

from __future__ import annotations

from functools import partial

from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.ensemble import RandomSurvivalForest
from sksurv.linear_model import CoxnetSurvivalAnalysis, CoxPHSurvivalAnalysis

from genotx.data.cohorts import read_breast_cohort
from genotx.featurize.transformer import Featurizer
from genotx.tasks.clinical.patient_stratification.features import (
    CLINICAL,
    encode_all,
    encode_clinical,
    gene_columns,
    rule_features,
)
from genotx.tasks.clinical.patient_stratification.io import format_predictions, read_input
from genotx.tasks.clinical.patient_stratification.models import (
    ClusterRisk,
    ConstantRisk,
    NeuralCox,
    RiskGroups,
    Subgroups,
    surv_array,
)
from genotx.tasks.clinical.patient_stratification.protocol import Stratification
from genotx.tasks.clinical.patient_stratification.splits import StratifiedFolds
from genotx.tasks.spec import Dataset, TaskSpec

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "read_input", "format_predictions", "N_GROUPS", "N_BOOT"]

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
    reference='clinical_cox',
    data_note="Real cohort (GSE7390, Desmedt 2007): 198 patients, 76 genes (Affymetrix probe ids), distant "
    "metastasis-free survival. Genes are probe sets as named in the source (X<probe id>).",
    citation="Desmedt et al. (2007) Clin Cancer Res 13:3207",
)

N_GROUPS = 3
N_BOOT = 20


def load(*, source: str = "sksurv_breast_cancer") -> Dataset:
    """The 198 patients: clinical variables + 76 genes as inputs, structured (event, time) as target."""
    cohort = read_breast_cohort(source=source)
    genes = [c for c in cohort.columns if c not in ("patient", *CLINICAL, "event", "time")]
    inputs = cohort[[*CLINICAL, *genes]]
    target = surv_array(cohort["event"].to_numpy(), cohort["time"].to_numpy(float))
    groups = cohort[["patient"]].assign(event=target["event"].astype(int), er=inputs["er"].to_numpy())
    return Dataset("patient_stratification", inputs, target, groups,
                   meta={"sources": (source,), "data_kind": SPEC.data_kind, "genes": genes})


SPLITS = {"cv5": StratifiedFolds("event", 5)}


def _cox(alphas, random_state: int) -> RiskGroups:
    # n_iter: the weakest ridge on ~200 patients x thousands of genes needs more than the default 100 Newton steps
    pipe = make_pipeline(Featurizer(encode_all, cache=False), StandardScaler(), CoxPHSurvivalAnalysis(ties="efron", n_iter=1000))
    search = GridSearchCV(pipe, {"coxphsurvivalanalysis__alpha": list(alphas)},
                          cv=KFold(3, shuffle=True, random_state=random_state), n_jobs=1)
    return RiskGroups(search, n_groups=N_GROUPS)


def _coxnet(random_state: int) -> RiskGroups:
    pipe = make_pipeline(Featurizer(encode_all, cache=False), StandardScaler(),
                         CoxnetSurvivalAnalysis(l1_ratio=0.5, max_iter=100000))
    search = GridSearchCV(pipe, {"coxnetsurvivalanalysis__alphas": [[a] for a in (0.04, 0.07, 0.1, 0.15)]},
                          cv=KFold(3, shuffle=True, random_state=random_state), n_jobs=1)
    return RiskGroups(search, n_groups=N_GROUPS)


_RISK = {
    "coxph": lambda random_state: _cox((1.0, 10.0, 100.0, 1000.0), random_state),
    "coxnet": _coxnet,
    "rsf": lambda random_state: RiskGroups(make_pipeline(
        Featurizer(encode_all, cache=False),
        # one job: parallel prediction sums the trees in any order, and risks 1e-14 apart move a patient
        # across a tertile cut from one call to the next (run records that did not reproduce)
        RandomSurvivalForest(n_estimators=100, min_samples_leaf=10, max_features="sqrt", n_jobs=1, random_state=random_state),
    ), n_groups=N_GROUPS),
    "neural_cox": lambda random_state: RiskGroups(make_pipeline(
        Featurizer(encode_all, cache=False), NeuralCox(hidden=(16,), dropout=0.3, epochs=100, patience=10, random_state=random_state),
    ), n_groups=N_GROUPS),
    "clinical_cox": lambda random_state: RiskGroups(make_pipeline(
        Featurizer(encode_clinical, cache=False), StandardScaler(), CoxPHSurvivalAnalysis(alpha=1.0, ties="efron"),
    ), n_groups=N_GROUPS),
    "survival_clusters": lambda random_state: ClusterRisk(columns=gene_columns, n_clusters=N_GROUPS, n_select=10,
                                                          random_state=random_state),
    "kmeans": lambda random_state: ClusterRisk(columns=gene_columns, n_clusters=N_GROUPS, random_state=random_state),
    "constant": lambda random_state: ConstantRisk(),
}

def _with_rules(risk_model, random_state: int = 0) -> Subgroups:
    """A risk model with the rule tree of its subgroups (fitted with it; ``genotx predict`` reads it)."""
    return Subgroups(risk_model(random_state), features=rule_features, random_state=random_state)


MODELS = {name: partial(_with_rules, risk_model) for name, risk_model in _RISK.items()}

PROTOCOL = Stratification(n_boot=N_BOOT)

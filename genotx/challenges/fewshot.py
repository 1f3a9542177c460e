"""Few examples: a new entity (a drug, a gene) with k labelled rows, k = 0, 1, 5, 10, 20.

:func:`fewshot` holds out ``n_entities`` entities of a task (the same for every seed), pretrains the
task's model on other entities through the task's protocol (its ``fit`` hook), then, per seed and held-out entity, draws a support set of k rows and scores
every method on the same query rows with the registry's metrics: the entity's rows outside the
largest support (rows sharing a ``within`` group, e.g. one 30-mer measured under two drugs, are
never split between support and query). Methods (:data:`METHODS`):

* ``scratch``: a ridge regression on the k rows only (features: the pretrained pipeline's
  featurizer, whose fitted state uses inputs, never labels; standardised; penalty by leave-one-out
  for k >= 3, the mean of the k labels below); no prediction at k = 0;
* ``pretrained``: the model trained on the other entities, no adaptation (flat in k);
* ``finetune_residual``: the pretrained prediction, its spread around the support's mean
  prediction rescaled, + a residual correction fitted on the k: their mean residual plus a ridge on
  the standardised features, both shrunk by k / (k + shrink);
* ``finetune_lgbm``: the pretrained LightGBM warm-started on the k: more trees (4 leaves) boosted
  from the pretrained scores, when the model ends in a LightGBM learner (one row grows no tree:
  at k = 1 it is the pretrained model);
* ``nearest_neighbours``: a metric method: the (rescaled) pretrained prediction + the support
  residuals averaged with weights ``softmax(temperature * similarity)`` (shrunk as above), where the
  similarity of two rows is the share of the pretrained LightGBM's trees that put them in the same
  leaf (an embedding learned from the other entities' labels; cosine of standardised features for
  other learners).
* ``finetune_local``: the pretrained prediction + a per-entity ridge slope on the plan's ``local``
  inputs (few columns whose effect differs between entities; a guide's position in the protein) fitted
  on the k support residuals, penalty ``shrink`` (a zero-mean prior on the slope, its strength chosen
  on source episodes: empirical Bayes), + their mean residual shrunk by k / (k + shrink). Run only when
  the plan names ``local`` columns.

The adapted methods' hyperparameters (:data:`GRIDS`) are chosen per seed on episodes built from
source entities only (an inner model pretrained on half of them, the other half as new entities):
never on the held-out entities. Scores per (seed, entity, k, method) are kept; curves show the
mean over entities x seeds with a 95% t-interval; :meth:`FewShotResult.goal` compares, at k = 5,
each adapted method with ``scratch`` and ``pretrained`` against the seed spread.

Examples
--------
>>> sorted(METHODS)
['finetune_lgbm', 'finetune_local', 'finetune_residual', 'nearest_neighbours', 'pretrained', 'scratch']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.pipeline import Pipeline

from genotx.challenges._results import Section, clean_json, records, write_result
from genotx.data.dataset import Dataset
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.metrics import Evaluator
from genotx.evaluate.protocols import Supervised, safe_metrics

__all__ = ["FEWSHOT", "METHODS", "ADAPTED", "GRIDS", "FewShotPlan", "FewShotResult", "Pretrained", "fewshot", "fewshot_figures", "save_fewshot", "report_section"]

METHODS = ("scratch", "pretrained", "finetune_residual", "finetune_lgbm", "nearest_neighbours", "finetune_local")
ADAPTED = ("finetune_residual", "finetune_lgbm", "nearest_neighbours", "finetune_local")
KS = (0, 1, 5, 10, 20)


@dataclass(frozen=True)
class FewShotPlan:
    """How :func:`fewshot` runs on one task: the ``entity`` group column (a new drug, a new gene),
    the task ``model`` to pretrain, a ``within`` group never split between support and query, at
    most ``n_source`` source entities per seed (a seeded draw; None = all others), at least
    ``min_query`` query rows per entity, the per-entity ``metrics`` (task metric names; the
    first is the one of the goal), and ``local`` input columns whose effect may differ between
    entities (``finetune_local`` fits a per-entity slope on them; none: the method is not run)."""

    entity: str
    model: str
    metrics: tuple[str, ...]
    within: str | None = None
    n_source: int | None = None
    min_query: int = 20
    local: tuple[str, ...] = ()
    note: str = ""


#: Tasks where a new entity with few labels makes sense. Task packages are not edited: the mapping lives here.
FEWSHOT: dict[str, FewShotPlan] = {
    "drug_response": FewShotPlan(
        entity="drug", model="lgbm", metrics=("rmse", "pearson"), n_source=40,
        note="A new drug: its ln IC50 over cell lines. Pretrained on 40 other drugs per seed (a seeded draw) to keep "
             "runs short. rmse (the goal's metric): the new drug's ln IC50 values, level included, which is what a "
             "new drug's first measurements tell; pearson: the ranking of cell lines within the new drug.",
    ),
    "crispr_on_target": FewShotPlan(
        entity="gene", model="lgbm", metrics=("spearman", "rmse"), within="sequence", local=("percent_peptide",),
        note="A new gene: the efficiency rank of its guides. A 30-mer measured under two drugs is never split between "
             "support and query. spearman: within-gene ranking of guides (the task's spearman_per_gene), blind to a gene's "
             "level, so a mean-residual correction cannot help; what differs between genes is mostly the effect of the "
             "guide's position in the protein (% peptide; its slope on the pretrained residuals changes sign between "
             "genes), which finetune_local fits. Five guides estimate that slope too poorly to move the ranking; ten or "
             "more do. Retraining the model with the gene's own rows added (weighted) gains little below ~20 rows too.",
    ),
}


# ---- the pretrained model and the methods --------------------------------------------------------


class Pretrained:
    """A fitted task model split into what the methods need: featurized inputs, predictions and, for
    a LightGBM learner, the booster (leaf embedding, warm start)."""

    def __init__(self, estimator) -> None:
        self.estimator = estimator
        if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
            self.featurizer, self.learner = estimator[:-1], estimator.steps[-1][1]
        else:
            self.featurizer, self.learner = None, estimator
        self.booster = getattr(self.learner, "booster_", None)

    def features(self, inputs) -> np.ndarray:
        values = inputs if self.featurizer is None else self.featurizer.transform(inputs)
        values = np.asarray(values)
        if values.dtype.kind not in "fiub":
            raise InputError("fewshot", f"the model's features are {values.dtype}, not numbers",
                             fix="use a task model that is a Pipeline (featurizer -> learner)")
        return values.astype(np.float64)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.learner.predict(features), dtype=float)

    def embedding_similarity(self, query: np.ndarray, support: np.ndarray, scaler: _Scaler) -> np.ndarray:
        """Share of trees putting a query and a support row in the same leaf (LightGBM), else cosine of z-scores."""
        if self.booster is not None:
            leaves_q = self.booster.predict(query, pred_leaf=True)
            leaves_s = self.booster.predict(support, pred_leaf=True)
            return (leaves_q[:, None, :] == leaves_s[None, :, :]).mean(axis=2)
        zq, zs = scaler(query), scaler(support)
        zq /= np.linalg.norm(zq, axis=1, keepdims=True) + 1e-9
        zs /= np.linalg.norm(zs, axis=1, keepdims=True) + 1e-9
        return zq @ zs.T


class _Scaler:
    """Standardise with the pretraining rows' column statistics (missing -> 0 after centring)."""

    def __init__(self, source: np.ndarray) -> None:
        with np.errstate(invalid="ignore"):
            self.mean = np.nan_to_num(np.nanmean(source, axis=0))
            spread = np.nan_to_num(np.nanstd(source, axis=0))
        self.spread = np.where(spread > 1e-8, spread, 1.0)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return np.nan_to_num((values - self.mean) / self.spread)


@dataclass
class _Episode:
    """One new entity: support rows in draw order (the first k form the k-shot set), the query rows,
    the pretrained model's predictions and residuals, and query x support similarities in its embedding."""

    name: str
    support_features: np.ndarray
    support_target: np.ndarray
    support_residual: np.ndarray
    query: Dataset
    query_features: np.ndarray
    query_pretrained: np.ndarray
    similarity: np.ndarray
    support_local: np.ndarray | None = None
    query_local: np.ndarray | None = None


def _scratch(pre: Pretrained, scaler: _Scaler, ep: _Episode, k: int, *, seed: int) -> np.ndarray | None:  # noqa: ARG001
    if k == 0:
        return None
    ys = ep.support_target[:k]
    if k < 3:
        return np.full(len(ep.query_features), ys.mean())
    ridge = RidgeCV(alphas=np.logspace(-1, 5, 13)).fit(scaler(ep.support_features[:k]), ys)
    return ridge.predict(scaler(ep.query_features))


def _pretrained(pre, scaler, ep, k, *, seed):  # noqa: ARG001
    return ep.query_pretrained


def _shrunk(k: int, shrink: float) -> float:
    """The weight k / (k + shrink) of a correction estimated from k rows (empirical-Bayes style)."""
    return k / (k + shrink) if k else 0.0


def _rescaled(ep: _Episode, k: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Pretrained predictions of the query and of the k support rows, their spread around the
    support's mean prediction times ``scale`` (a new entity's predictions are often under- or
    over-dispersed; the factor is chosen on source episodes)."""
    support = ep.support_target[:k] - ep.support_residual[:k]
    centre = support.mean()
    return centre + scale * (ep.query_pretrained - centre), centre + scale * (support - centre)


def _finetune_residual(pre, scaler, ep, k, *, seed, shrink: float = 0.0, alpha: float | None = 1.0,  # noqa: ARG001
                       scale: float = 1.0):
    """``alpha``: the ridge penalty per feature on the residuals (None: the mean residual only)."""
    if k == 0:
        return ep.query_pretrained
    query, support = _rescaled(ep, k, scale)
    residual = ep.support_target[:k] - support
    correction = np.full(len(query), residual.mean())
    if k >= 2 and alpha is not None:
        ridge = Ridge(alpha=alpha * ep.support_features.shape[1]).fit(scaler(ep.support_features[:k]), residual - residual.mean())
        correction += ridge.predict(scaler(ep.query_features))
    return query + _shrunk(k, shrink) * correction


def _finetune_lgbm(pre, scaler, ep, k, *, seed, rounds: int = 30, learning_rate: float = 0.1):
    if pre.booster is None:
        return None
    if k == 0 or rounds == 0:
        return ep.query_pretrained
    import lightgbm as lgb

    params = {"objective": pre.booster.params.get("objective", "regression"), "learning_rate": learning_rate, "num_leaves": 4,
              "min_data_in_leaf": 1, "min_data_in_bin": 1, "feature_pre_filter": False, "verbose": -1, "num_threads": 1,
              "seed": seed}  # no L2 penalty: with one it grew no tree at all on a few rows (LightGBM 4.7)
    # boosting from the pretrained scores (init_score) = continuing the pretrained booster
    # (lgb.train(init_model=...)) without copying its trees for every k
    start = ep.support_target[:k] - ep.support_residual[:k]
    train = lgb.Dataset(ep.support_features[:k], ep.support_target[:k], init_score=start, params=params)
    booster = lgb.train(params, train, num_boost_round=rounds)
    return ep.query_pretrained + np.asarray(booster.predict(ep.query_features), dtype=float)


def _nearest_neighbours(pre, scaler, ep, k, *, seed, shrink: float = 0.0, temperature: float = 10.0,  # noqa: ARG001
                        scale: float = 1.0):
    if k == 0:
        return ep.query_pretrained
    query, support = _rescaled(ep, k, scale)
    logits = temperature * ep.similarity[:, :k]
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return query + _shrunk(k, shrink) * (weights @ (ep.support_target[:k] - support))


def _finetune_local(pre, scaler, ep, k, *, seed, shrink: float = 10.0):  # noqa: ARG001
    """``shrink``: the ridge penalty on the per-entity slope of the (entity-standardised) local inputs."""
    if ep.support_local is None:
        return None
    if k == 0:
        return ep.query_pretrained
    residual = ep.support_residual[:k]
    correction = np.full(len(ep.query_pretrained), _shrunk(k, shrink) * residual.mean())
    if k >= 2:
        ridge = Ridge(alpha=shrink).fit(ep.support_local[:k], residual)  # its intercept centres on the support
        correction += (ep.query_local - ep.support_local[:k].mean(axis=0)) @ ridge.coef_
    return ep.query_pretrained + correction


_METHOD_FNS: dict[str, Callable] = {"scratch": _scratch, "pretrained": _pretrained, "finetune_residual": _finetune_residual,
                                    "finetune_lgbm": _finetune_lgbm, "nearest_neighbours": _nearest_neighbours,
                                    "finetune_local": _finetune_local}

_SHRINK = (0.0, 2.0, 10.0, 50.0)
_SCALE = (1.0, 0.5, 1.5, 2.0)
#: Hyperparameters of the adapted methods, chosen per seed on episodes built from source entities only.
GRIDS: dict[str, list[dict]] = {
    "finetune_residual": [{"shrink": s, "alpha": a, "scale": c} for c in _SCALE for s in _SHRINK for a in (1.0, 10.0, None)],
    "finetune_lgbm": [{"rounds": 0, "learning_rate": 0.1}] + [{"rounds": r, "learning_rate": lr} for r in (10, 30, 100)
                                                              for lr in (0.05, 0.2)],
    "nearest_neighbours": [{"shrink": s, "temperature": t, "scale": c} for c in _SCALE for s in _SHRINK for t in (3.0, 10.0, 30.0)],
    "finetune_local": [{"shrink": 10.0}],  # used without tuning; tuned: estimated by _prior_shrink, not searched
}


def _prior_shrink(episodes: Sequence[_Episode]) -> dict:
    """``finetune_local``'s penalty by empirical Bayes on source episodes: each entity's slope of the
    pretrained residuals on its standardised local inputs (all its rows, least squares) estimates
    the between-entity slope variance tau^2 = mean(slope^2 - its sampling variance) (a zero-mean
    prior); the penalty is the residual variance / tau^2, the ridge that is the slope's posterior mean.
    A grid search over the penalty chose by the noise of 5 source genes (penalties 3 to 1000 across seeds)."""
    excess, noise = [], []
    for ep in episodes:
        if ep.support_local is None:
            continue
        x = np.vstack([ep.support_local, ep.query_local])
        r = np.r_[ep.support_residual, ep.query.target - ep.query_pretrained]
        x, r = x - x.mean(axis=0), r - r.mean()
        if len(r) <= x.shape[1] + 2:
            continue
        inverse = np.linalg.pinv(x.T @ x)
        slope = inverse @ x.T @ r
        variance = float(np.sum((r - x @ slope) ** 2) / (len(r) - x.shape[1] - 1))
        excess.extend(slope**2 - variance * np.diag(inverse))
        noise.append(variance)
    if not excess:
        return GRIDS["finetune_local"][0]
    tau2 = float(np.mean(excess))
    return {"shrink": round(float(np.mean(noise)) / tau2, 2) if tau2 > 0 else 1e6}  # no slope variance: no correction


# ---- the run --------------------------------------------------------------------------------------


@dataclass
class FewShotResult:
    """Per-(seed, entity, k, method) scores of a few-shot run; :meth:`summary` and :meth:`goal` read them."""

    task: str
    model: str
    entity: str
    ks: list[int]
    methods: list[str]
    seeds: list[int]
    metrics: list[str]
    rows: list[dict]
    entities: list[str] = field(default_factory=list)
    tuned: dict[str, dict] = field(default_factory=dict)
    note: str = ""
    data_kind: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """One row per (seed, entity, k, method) with a column per metric."""
        return pd.DataFrame([{k: v for k, v in r.items() if k != "scores"} | r["scores"] for r in self.rows])

    def summary(self, metric: str | None = None) -> pd.DataFrame:
        """Per (method, k): mean over entities x seeds, 95% t-interval, and the per-seed means' std."""
        metric = metric or self.metrics[0]
        frame = self.frame().dropna(subset=[metric])
        out = []
        for (method, k), part in frame.groupby(["method", "k"], sort=False):
            values = part[metric].to_numpy(float)
            seed_means = part.groupby("seed")[metric].mean().to_numpy(float)
            half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            out.append({"metric": metric, "method": method, "k": int(k), "mean": values.mean(), "ci_low": values.mean() - half,
                        "ci_high": values.mean() + half, "seed_std": seed_means.std(ddof=1) if len(seed_means) > 1 else np.nan,
                        "n": len(values)})
        table = pd.DataFrame(out)
        order = {m: i for i, m in enumerate(self.methods)}
        return table.sort_values(["method", "k"], key=lambda c: c.map(order) if c.name == "method" else c).reset_index(drop=True)

    def goal(self, *, k: int = 5, metric: str | None = None) -> pd.DataFrame:
        """At ``k``: each adapted method against ``scratch`` and ``pretrained`` (signed: positive = better).

        Per seed, each method's score is its mean over the entities; ``gain`` is the mean over seeds
        of the per-seed difference and ``gain_std`` its standard deviation over seeds (the paired seed
        spread); ``seed_spread`` is the larger standard deviation over seeds of the two methods' own
        scores. ``beats`` = gain > seed_spread (the goal's test); ``beats_paired`` = gain > gain_std.
        """
        metric = metric or self.metrics[0]
        sign = 1.0 if Evaluator(metric).greater_is_better else -1.0
        frame = self.frame()
        at_k = frame[frame["k"] == k].groupby(["method", "seed"])[metric].mean().unstack("seed")
        out = []
        for method in [m for m in self.methods if m in ADAPTED and m in at_k.index]:
            for other in ("scratch", "pretrained"):
                if other not in at_k.index:
                    continue
                gain = sign * (at_k.loc[method] - at_k.loc[other]).to_numpy(float)
                spread = float(max(at_k.loc[method].std(ddof=1), at_k.loc[other].std(ddof=1)))
                gain_std = float(np.nanstd(gain, ddof=1)) if len(gain) > 1 else np.nan
                mean_gain = float(np.nanmean(gain))
                out.append({"metric": metric, "k": k, "method": method, "versus": other, "gain": mean_gain, "gain_std": gain_std,
                            "seed_spread": spread, "beats": bool(mean_gain > spread), "beats_paired": bool(mean_gain > gain_std)})
        return pd.DataFrame(out)

    def verdict(self, *, k: int = 5, metric: str | None = None) -> str:
        """The goal in one sentence with the measured numbers: met by the adapted methods that beat
        both references by more than the seed spread, else the best adapted method's gains."""
        goal = self.goal(k=k, metric=metric)
        if goal.empty:
            return f"Goal not checked (no adapted method, scratch or pretrained at k = {k})."
        gains = goal.pivot(index="method", columns="versus", values="gain")
        winners = [m for m in gains.index if goal[goal["method"] == m]["beats"].all()]
        shown = winners or [str(gains.min(axis=1).idxmax())]  # else the method whose worse gain is the largest

        def numbers(method: str) -> str:
            part = goal[goal["method"] == method].set_index("versus")
            return f"{method} " + ", ".join(f"{part.loc[v, 'gain']:+.4f} vs {v} (seed spread {part.loc[v, 'seed_spread']:.4f})"
                                            for v in part.index)

        head = (f"Goal (an adapted method beats both scratch and no adaptation at k = {k} by more than the seed spread, "
                f"{goal['metric'].iloc[0]}): ")
        return head + ("met by " if winners else "not met; best ") + "; ".join(numbers(m) for m in shown) + "."

    def to_dict(self) -> dict:
        """JSON-serialisable (NaN as None), with the summary and the goal check of every metric."""
        payload = asdict(self)
        payload["challenge"] = "fewshot"
        payload["summary"] = {m: records(self.summary(m)) for m in self.metrics}
        payload["goal"] = {m: records(self.goal(metric=m)) for m in self.metrics if 5 in self.ks}
        payload["verdict"] = self.verdict() if 5 in self.ks else ""
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> FewShotResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


def _plan(task, plan: FewShotPlan | None) -> FewShotPlan:
    if plan is not None:
        return plan
    if task.name not in FEWSHOT:
        raise UnknownNameError("task with a few-shot entity", task.name, FEWSHOT)
    return FEWSHOT[task.name]


def _draw(groups: pd.DataFrame, rows: np.ndarray, within: str | None, k_max: int, rng: np.random.Generator):
    """Support order (one row per unit, the first k form the k-shot set) and query rows (units after ``k_max``)."""
    units = groups[within].to_numpy()[rows] if within else rows
    order = rng.permutation(pd.unique(units))
    first = pd.Series(rows).groupby(units).first()  # one row per unit: no duplicate inside a support set
    support = first.loc[order[:k_max]].to_numpy()
    query = rows[np.isin(units, order[k_max:])]
    return support, query


def _local(inputs: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The plan's local input columns standardised over the entity's rows (inputs only, no labels)."""
    values = inputs[list(columns)].to_numpy(float)
    with np.errstate(invalid="ignore"):
        spread = np.nanstd(values, axis=0)
        return np.nan_to_num((values - np.nanmean(values, axis=0)) / np.where(spread > 1e-8, spread, 1.0))


def _episodes(pre: Pretrained, scaler: _Scaler, data: Dataset, entity: np.ndarray, names, plan: FewShotPlan, k_max: int,
              rng: np.random.Generator) -> list[_Episode]:
    out = []
    for name in names:
        support, query = _draw(data.groups, np.flatnonzero(entity == name), plan.within, k_max, rng)
        inputs = data.subset(np.r_[support, query]).inputs
        features = pre.features(inputs)  # one featurization per entity
        fs, fq = features[: len(support)], features[len(support):]
        ys = data.target[support].astype(float)
        local = _local(inputs, plan.local) if plan.local else None
        out.append(_Episode(str(name), fs, ys, ys - pre.predict(fs), data.subset(query), fq, pre.predict(fq),
                            pre.embedding_similarity(fq, fs, scaler),
                            None if local is None else local[: len(support)], None if local is None else local[len(support):]))
    return out


def _predict(method: str, params: dict, pre: Pretrained, scaler: _Scaler, episode: _Episode, k: int, seed: int):
    return _METHOD_FNS[method](pre, scaler, episode, k, seed=seed, **params)


def _score(episode: _Episode, pred: np.ndarray, metrics: Sequence[str]) -> dict[str, float]:
    """The registry's metrics on the entity's query rows, as the supervised protocol scores a part."""
    return safe_metrics(metrics, episode.query.target, np.asarray(pred, dtype=float), groups=episode.query.groups)


def _pretrain(protocol, task, model: str, data: Dataset, entity: np.ndarray, names, seed: int) -> tuple[Pretrained, _Scaler]:
    """The task's model fitted by the protocol's ``fit`` hook on the rows of entities ``names``, and
    feature statistics from (at most 5,000 of) those rows."""
    rows = np.flatnonzero(np.isin(entity, names))
    source = data.subset(rows)
    pre = Pretrained(protocol.fit(task.model(model, random_state=seed), source))
    sample = np.sort(np.random.default_rng(seed).choice(len(rows), min(len(rows), 5000), replace=False))
    return pre, _Scaler(pre.features(source.subset(sample).inputs))


def _tune(protocol, task, model: str, data: Dataset, entity: np.ndarray, source_names: np.ndarray, eligible: np.ndarray,
          plan: FewShotPlan, ks: Sequence[int], methods: Sequence[str], seed: int, k_max: int) -> dict[str, dict]:
    """Each adapted method's hyperparameters, chosen on episodes of source entities only: half of
    them pretrain an inner model, up to 5 eligible ones of the other half are its new entities; the
    setting with the best mean primary metric over k > 0 wins (``finetune_local``'s penalty is
    estimated on those episodes instead: :func:`_prior_shrink`)."""
    tunable = [m for m in methods if m in GRIDS]
    if not tunable:
        return {}
    rng = np.random.default_rng([seed, 1])
    shuffled = rng.permutation(source_names)
    inner_new = [e for e in shuffled[: len(shuffled) // 2] if e in set(eligible)][:5]
    inner_train = shuffled[len(shuffled) // 2:]
    if len(inner_new) < 2 or len(inner_train) < 2:
        return {m: GRIDS[m][0] for m in tunable}
    pre, scaler = _pretrain(protocol, task, model, data, entity, inner_train, seed)
    episodes = _episodes(pre, scaler, data, entity, inner_new, plan, k_max, rng)
    metric = plan.metrics[0]
    sign = 1.0 if Evaluator(metric).greater_is_better else -1.0
    chosen = {"finetune_local": _prior_shrink(episodes)} if "finetune_local" in tunable else {}
    for method in [m for m in tunable if m not in chosen]:
        best, best_value = GRIDS[method][0], -np.inf
        for params in GRIDS[method]:
            values = [_score(ep, pred, (metric,))[metric]
                      for ep in episodes for k in ks if k > 0
                      for pred in [_predict(method, params, pre, scaler, ep, k, seed)] if pred is not None]
            value = sign * float(np.nanmean(values)) if values else -np.inf
            if value > best_value:
                best, best_value = params, value
        chosen[method] = best
    return chosen


def fewshot(
    task,
    *,
    ks: Sequence[int] = KS,
    methods: Sequence[str] = METHODS,
    n_entities: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    model: str | None = None,
    n_source: int | None = None,
    entities: Sequence[str] | None = None,
    tune: bool = True,
    dataset: Dataset | None = None,
    plan: FewShotPlan | None = None,
    progress: Callable[[str], None] | None = None,
) -> FewShotResult:
    """Score-vs-k curves for new entities of a task: from scratch, pretrained, fine-tuned, metric.

    The ``n_entities`` new entities (``entities``, or a draw with seed 0 among those with enough
    rows) are the same for every seed; a seed draws the support sets, the source entities when the
    plan caps them (``n_source`` overrides the cap) and the model's randomness; ``tune=False`` keeps each adapted method's
    first grid setting instead of choosing on source episodes. Needs a task in :data:`FEWSHOT` (or
    ``plan``) whose protocol is supervised.

    Examples
    --------
    >>> callable(fewshot), KS
    (True, (0, 1, 5, 10, 20))
    """
    from genotx.tasks.registry import get_task

    start = time.perf_counter()
    task = get_task(task) if isinstance(task, str) else task
    plan = _plan(task, plan)
    unknown = [m for m in methods if m not in _METHOD_FNS]
    if unknown:
        raise UnknownNameError("few-shot method", unknown[0], METHODS)
    methods = [m for m in methods if m != "finetune_local" or plan.local]  # nothing local to fit: not run
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 0:
        raise InputError("fewshot", f"ks must be non-negative integers, got {ks}", fix="e.g. ks=(0, 1, 5, 10, 20)")
    model = model or plan.model
    task.model(model)  # an unknown name fails before any data is loaded
    protocol = task.protocol
    if not isinstance(protocol, Supervised) or task.spec.target != "regression":
        # the methods correct a regressor's predictions on the learner's features
        raise InputError(task.name, f"few-shot needs a supervised regression task (this one: {type(protocol).__name__}, "
                         f"{task.spec.target})", fix=f"use one of {sorted(FEWSHOT)}")
    data = dataset if dataset is not None else task.load()
    missing = [c for c in plan.local if c not in data.inputs.columns]
    if missing:
        raise InputError("fewshot", f"local column {missing[0]!r} is not among the {task.name} inputs {list(data.inputs.columns)}",
                         fix="name input columns in FewShotPlan.local")
    entity = data.groups[plan.entity].astype(str).to_numpy()
    k_max = max(ks)
    counts = (data.groups.assign(_e=entity).groupby("_e")[plan.within].nunique() if plan.within
              else pd.Series(entity).value_counts())
    eligible = np.sort(counts.index[counts >= k_max + plan.min_query].to_numpy().astype(str))
    if entities is not None:
        new = np.asarray([str(e) for e in entities])
        missing = [e for e in new if e not in set(eligible)]
        if missing:
            raise InputError("fewshot", f"{plan.entity} {missing[0]!r} is unknown or has fewer than {k_max} + {plan.min_query} rows",
                             fix=f"choose among {list(eligible)[:20]}")
    elif len(eligible) <= n_entities:
        raise InputError(task.name, f"only {len(eligible)} {plan.entity}s have {k_max} + {plan.min_query} rows; "
                         f"{n_entities} are held out", fix="lower n_entities or the largest k")
    else:
        new = np.sort(np.random.default_rng(0).choice(eligible, n_entities, replace=False))
    n_source = n_source or plan.n_source
    rows_out: list[dict] = []
    tuned: dict[str, dict] = {}
    timings = {"pretrain_s": 0.0, "tune_s": 0.0, "adapt_s": 0.0}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        others = np.setdiff1d(np.unique(entity), new)
        if n_source and n_source < len(others):
            others = rng.choice(others, n_source, replace=False)
        t0 = time.perf_counter()
        if progress:
            progress(f"{task.name} seed {seed}: hyperparameters on episodes of source {plan.entity}s")
        params = (_tune(protocol, task, model, data, entity, others, eligible, plan, ks, methods, seed, k_max) if tune
                  else {m: GRIDS[m][0] for m in methods if m in GRIDS})
        tuned[str(seed)] = params
        t1 = time.perf_counter()
        if progress:
            progress(f"{task.name} seed {seed}: pretraining on {len(others)} {plan.entity}s")
        pre, scaler = _pretrain(protocol, task, model, data, entity, others, seed)
        t2 = time.perf_counter()
        for episode in _episodes(pre, scaler, data, entity, new, plan, k_max, rng):
            for k in ks:
                for method in methods:
                    pred = _predict(method, params.get(method, {}), pre, scaler, episode, k, seed)
                    if pred is None:
                        continue
                    rows_out.append({"seed": seed, "entity": episode.name, "k": k, "method": method, "n_query": len(episode.query),
                                     "scores": _score(episode, pred, plan.metrics)})
        t3 = time.perf_counter()
        timings["tune_s"] += t1 - t0
        timings["pretrain_s"] += t2 - t1
        timings["adapt_s"] += t3 - t2
    return FewShotResult(task=task.name, model=model, entity=plan.entity, ks=list(ks), methods=list(methods), seeds=list(seeds),
                         metrics=list(plan.metrics), rows=rows_out, entities=[str(e) for e in new], tuned=tuned, note=plan.note,
                         data_kind=str(data.meta.get("data_kind", task.spec.data_kind)),
                         seconds=round(time.perf_counter() - start, 1), timings={k: round(v, 1) for k, v in timings.items()})


# ---- figures --------------------------------------------------------------------------------------

_COLOURS = {"scratch": "tab:grey", "pretrained": "tab:blue", "finetune_residual": "tab:green", "finetune_lgbm": "tab:olive",
            "nearest_neighbours": "tab:purple", "finetune_local": "tab:red"}


def fewshot_figures(result: FewShotResult | Mapping) -> dict[str, Any]:
    """One figure per metric (``curve_<metric>``): score vs k per method, mean over entities x seeds,
    95% band. Built on ``matplotlib.figure.Figure`` (no pyplot state)."""
    from matplotlib.figure import Figure

    result = result if isinstance(result, FewShotResult) else FewShotResult.from_dict(result)
    figures = {}
    for metric in result.metrics:
        table = result.summary(metric)
        fig = Figure(figsize=(5.6, 3.8), layout="constrained")
        ax = fig.subplots()
        for method in result.methods:
            part = table[table["method"] == method].sort_values("k")
            if part.empty:
                continue
            colour = _COLOURS.get(method)
            ax.plot(part["k"], part["mean"], marker="o", ms=4, label=method, color=colour)
            ax.fill_between(part["k"], part["ci_low"], part["ci_high"], alpha=0.15, color=colour)
        n_entities = len({r["entity"] + str(r["seed"]) for r in result.rows})
        ax.set(xlabel=f"k labelled rows of the new {result.entity}", ylabel=metric, xticks=result.ks,
               title=f"{result.task}: new {result.entity} ({n_entities} {result.entity}-seed pairs, 95% band)")
        ax.legend(fontsize=8, loc="best")
        figures[f"curve_{metric}"] = fig
    return figures


def save_fewshot(result: FewShotResult, out_dir) -> list:
    """Write ``<out_dir>/challenges/fewshot_<task>.json`` and its PNG figures; return the paths."""
    return write_result(result.to_dict(), fewshot_figures(result), out_dir, f"fewshot_{result.task}")


def report_section(payload: Mapping) -> Section:
    """The report's view of one few-shot result (its JSON): curves, the k-table and the k = 5 goal."""
    result = FewShotResult.from_dict(payload)
    metric = result.metrics[0]
    summary = result.summary(metric)
    wide = summary.pivot(index="method", columns="k", values="mean").reindex(result.methods).round(4)
    wide.columns = [f"k={k}" for k in wide.columns]
    tables = [(f"{metric}: mean over {len(result.entities)} new {result.entity}s x {len(result.seeds)} seeds", wide.reset_index())]
    text = (f"{result.model} on {result.task}: a new {result.entity} with k labelled rows, "
            f"{len(result.entities)} {result.entity}s x {len(result.seeds)} seeds.")
    if 5 in result.ks:
        goal = result.goal(metric=metric)
        if not goal.empty:
            tables.append((f"k = 5: gain in {metric} (positive = better) against the seed spread", goal.round(4)))
            text += " " + result.verdict(metric=metric)
    return Section(title=f"Few examples: {result.task} (new {result.entity})", data_kind=result.data_kind or "real",
                   summary=text, tables=tables, figures=list(fewshot_figures(result).values()), note=result.note)

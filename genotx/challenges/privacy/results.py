"""What a privacy run measured: :class:`DPResult` (the privacy-utility curve) and
:class:`FederatedResult` (pooled vs single sites vs FedAvg / FedProx), with their summaries, goal
checks and JSON form. No torch here: a report reads results without importing the training code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genotx.challenges._results import clean_json, records
from genotx.evaluate.metrics import Evaluator

__all__ = ["DPResult", "FederatedResult", "result_from_dict"]


def _mean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN (without numpy's empty-slice warning) when there are none."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


@dataclass
class DPResult:
    """Every run of a privacy-utility curve: one dict per (seed, role, target epsilon) with the
    task's metrics and, for private runs, the spent epsilon and delta. Roles: ``trivial`` (the
    task's floor), ``task_model`` (the task's own model with its early stopping), ``non_private``
    (the same network and settings as the private runs, without DP) and ``private``."""

    task: str
    model: str
    split: str
    metric: str
    epsilons: list[float]
    seeds: list[int]
    runs: list[dict]
    settings: dict = field(default_factory=dict)
    tuning: list[dict] = field(default_factory=list)
    note: str = ""
    data_kind: str = ""
    seconds: float = 0.0
    mode: str = "dp"

    def _values(self, role: str, epsilon: float | None = None, metric: str | None = None) -> np.ndarray:
        metric = metric or self.metric
        by_seed = {r["seed"]: r["metrics"].get(metric, np.nan) for r in self.runs
                   if r["role"] == role and (epsilon is None or r.get("target_epsilon") == epsilon)}
        return np.array([np.nan if by_seed.get(s) is None else by_seed[s] for s in self.seeds], dtype=float)

    def summary(self, metric: str | None = None) -> pd.DataFrame:
        """One row per (role, target epsilon): mean and std over seeds of ``metric``, the spent
        epsilon (max over seeds) and delta, and for private rows the share of the non-private score
        kept (mean over seeds of the per-seed ratio) and whether the mean beats the trivial floor."""
        metric = metric or self.metric
        sign = 1.0 if Evaluator(metric).greater_is_better else -1.0
        reference, floor = self._values("non_private", metric=metric), self._values("trivial", metric=metric)
        rows = []
        for role, epsilon in [("trivial", None), ("task_model", None), ("non_private", None),
                              *[("private", e) for e in self.epsilons]]:
            values = self._values(role, epsilon, metric)
            if np.isnan(values).all():
                continue
            spent = [r for r in self.runs if r["role"] == role and (epsilon is None or r.get("target_epsilon") == epsilon)]
            row = {"metric": metric, "role": role, "target_epsilon": epsilon, "mean": np.nanmean(values), "std": np.nanstd(values),
                   "n_seeds": int(np.isfinite(values).sum())}
            if role == "private":
                ratio = values / reference if sign > 0 else reference / values
                row.update(epsilon=max(r["epsilon"] for r in spent), delta=spent[0]["delta"],
                           noise_multiplier=float(np.mean([r["noise_multiplier"] for r in spent])),
                           kept=_mean(ratio), kept_std=np.nanstd(ratio) if np.isfinite(ratio).any() else np.nan,
                           beats_floor=bool(sign * (_mean(values) - _mean(floor)) > 0))  # False without a floor run
            rows.append(row)
        return pd.DataFrame(rows)

    def goal(self, epsilon: float = 8.0, *, kept: float = 0.9) -> dict:
        """At ``epsilon``: the private model keeps >= ``kept`` of the non-private score and beats the floor."""
        table = self.summary()
        row = table[(table["role"] == "private") & (table["target_epsilon"] == epsilon)]
        if row.empty:
            return {"epsilon": epsilon, "checked": False}
        row = row.iloc[0]
        return {"epsilon": epsilon, "checked": True, "kept": float(row["kept"]), "kept_goal": kept,
                "keeps": bool(row["kept"] >= kept), "beats_floor": bool(row["beats_floor"]),
                "held": bool(row["kept"] >= kept and row["beats_floor"])}

    def to_dict(self) -> dict:
        """JSON-serialisable (NaN and inf as None), with the summary table and the goal check."""
        payload = asdict(self)
        payload["challenge"] = "privacy"
        payload["summary"] = records(self.summary())
        payload["goal"] = self.goal(max(self.epsilons)) if 8.0 not in self.epsilons else self.goal()
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> DPResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


@dataclass
class FederatedResult:
    """Scores of every arm per seed and site: ``rows`` hold one dict per (seed, arm, site) with the
    task's metrics on that site's test part (``site="overall"``: every site's test rows together;
    for ``single_site`` each site predicted by its own model). ``trivial`` is the task's floor
    fitted on the pooled training rows."""

    task: str
    model: str
    site_column: str
    sites: dict[str, list[str]]
    arms: list[str]
    seeds: list[int]
    metric: str
    rows: list[dict]
    engine: str = "local"
    history: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    note: str = ""
    data_kind: str = ""
    seconds: float = 0.0
    mode: str = "federated"

    def frame(self, metric: str | None = None) -> pd.DataFrame:
        metric = metric or self.metric
        return pd.DataFrame([{"seed": r["seed"], "arm": r["arm"], "site": r["site"], "value": r["metrics"].get(metric)}
                             for r in self.rows]).astype({"value": float})

    def per_site(self, metric: str | None = None) -> pd.DataFrame:
        """Arm x site: mean over seeds (and ``std``), with ``overall`` and ``site_mean`` (the mean of the sites' scores)."""
        frame = self.frame(metric)
        sites = frame[frame["site"] != "overall"]
        macro = sites.groupby(["seed", "arm"], as_index=False)["value"].mean().assign(site="site_mean")
        frame = pd.concat([frame, macro], ignore_index=True)
        table = frame.groupby(["arm", "site"])["value"].agg(["mean", "std"]).reset_index()
        order = {a: i for i, a in enumerate(["trivial", *self.arms])}
        return table.sort_values(["arm", "site"], key=lambda c: c.map(order) if c.name == "arm" else c).reset_index(drop=True)

    def summary(self, metric: str | None = None) -> pd.DataFrame:
        """One row per arm: ``site_mean`` and ``overall`` scores, mean and std over seeds."""
        metric = metric or self.metric
        table = self.per_site(metric)
        out = []
        for arm in ["trivial", *self.arms]:
            part = table[table["arm"] == arm].set_index("site")
            if part.empty:
                continue
            out.append({"metric": metric, "arm": arm, "site_mean": part.loc["site_mean", "mean"], "site_mean_std": part.loc["site_mean", "std"],
                        "overall": part.loc["overall", "mean"] if "overall" in part.index else np.nan,
                        "overall_std": part.loc["overall", "std"] if "overall" in part.index else np.nan})
        return pd.DataFrame(out)

    def goal(self, *, within: float = 0.05) -> dict:
        """FedAvg (and FedProx) above the mean single site and within ``within`` (relative) of pooled, on the
        mean of the sites' scores (``site_mean``) and on all test rows together (``overall``)."""
        sign = 1.0 if Evaluator(self.metric).greater_is_better else -1.0
        table = self.summary().set_index("arm")
        out: dict[str, Any] = {"metric": self.metric, "within": within}
        for arm in ("fedavg", "fedprox"):
            if arm not in table.index or "pooled" not in table.index or "single_site" not in table.index:
                continue
            for level in ("site_mean", "overall"):
                fed, pooled, single = (float(table.loc[a, level]) for a in (arm, "pooled", "single_site"))
                gap = sign * (pooled - fed) / abs(pooled) if pooled else np.nan
                out[f"{arm}_{level}"] = {"above_single": bool(sign * (fed - single) > 0), "gap_to_pooled": gap,
                                         "within_pooled": bool(gap <= within), "held": bool(sign * (fed - single) > 0 and gap <= within)}
        return out

    def to_dict(self) -> dict:
        """JSON-serialisable (NaN as None), with the summary, per-site table and goal check."""
        payload = asdict(self)
        payload["challenge"] = "privacy"
        payload["summary"] = records(self.summary())
        payload["per_site_table"] = records(self.per_site())
        payload["goal"] = self.goal()
        return clean_json(payload)

    @classmethod
    def from_dict(cls, payload: Mapping) -> FederatedResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in payload.items() if k in names})


def result_from_dict(payload: Mapping) -> DPResult | FederatedResult:
    """The result object of a privacy JSON payload (``mode``: ``dp`` or ``federated``)."""
    return FederatedResult.from_dict(payload) if payload.get("mode") == "federated" else DPResult.from_dict(payload)

"""methylation_state estimators: the neighbour-mean floor and the LightGBM classifier of the baselines.

Tried without gain on the ``region_blocks`` hold-out (AUROC of the default 0.899): separate
replicate-1 and replicate-2 neighbour sets beside the pooled one (0.899), 30/60 bp and 200 kb
windows, 20-neighbour means, 10 bp to 10 kb kernels and the spread of neighbour betas (0.898),
the k nearest regardless of side and the min/max of the two flanking betas (0.899), training on the
pooled-replicate beta of training CpGs as a soft target (0.898), 600 trees (0.898) and a more
regularised LightGBM (0.899). Read depth is not what limits it: the AUROC is no higher on CpGs
labelled from >= 20 reads (``auroc_by_label_coverage`` in the details). Without a reference
sequence the neighbours seem to be used up near 0.90.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from genotx.errors import InputError
from genotx.tasks.target_discovery.methylation_state.features import PREFIX, TRIVIAL_K

__all__ = ["NeighbourMeanClassifier", "lgbm_classifier"]


class NeighbourMeanClassifier(ClassifierMixin, BaseEstimator):
    """Score = a precomputed neighbour-mean column (mean beta of the k nearest observed CpGs).

    Nothing is learned but the training base rate, used where a CpG has no observed neighbour.

    Examples
    --------
    >>> X = pd.DataFrame({"n_mean4": [0.9, np.nan]})
    >>> NeighbourMeanClassifier().fit(X, [1, 0]).predict_proba(X)[:, 1].tolist()
    [0.9, 0.5]
    """

    def __init__(self, *, column: str = f"{PREFIX}_mean{TRIVIAL_K}") -> None:
        self.column = column

    def fit(self, X: pd.DataFrame, y):
        y = np.asarray(y)
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(np.mean(y == 1))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "base_rate_")
        if self.column not in X:
            raise InputError("NeighbourMeanClassifier", f"input has no column {self.column!r}", fix="pass neighbourhood features")
        p = np.nan_to_num(X[self.column].to_numpy(np.float64), nan=self.base_rate_)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)


def lgbm_classifier(random_state: int, *, n_estimators: int = 300):
    """The baselines' gradient-boosted trees (LightGBM imported here: importing the task stays light)."""
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=n_estimators, learning_rate=0.05, num_leaves=63, min_child_samples=50, subsample=0.5,
        subsample_freq=1, colsample_bytree=0.5, max_bin=63, random_state=random_state, n_jobs=2, verbose=-1,
    )

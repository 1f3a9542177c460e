"""Cross-validation folds stratified on the event, so every fold holds its share of metastases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from genotx.evaluate.splits import Fold

__all__ = ["StratifiedFolds"]


@dataclass(frozen=True)
class StratifiedFolds:
    """K-fold CV stratified on a 0/1 column of the groups (the event), seeded."""

    column: str = "event"
    n_folds: int = 5

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        labels = groups[self.column].to_numpy()
        kfold = StratifiedKFold(self.n_folds, shuffle=True, random_state=random_state)
        return [Fold(np.sort(tr), np.sort(te), f"fold{i}") for i, (tr, te) in enumerate(kfold.split(np.zeros(len(labels)), labels))]

"""rare_disease's split: test patients of known diseases, or of diseases no training patient has."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.errors import InputError
from genotx.evaluate.splits import Fold

__all__ = ["PatientSplit"]


class PatientSplit:
    """Within one cohort: half of each disease's patients are tested (``cold=False``), or the
    patients of half of the diseases (``cold=True``: no test disease has a training patient).

    ``groups`` needs the columns ``cohort`` and ``disease``; rows of other cohorts are left out.
    """

    def __init__(self, cohort: str, *, cold: bool, test_size: float = 0.5) -> None:
        self.cohort, self.cold, self.test_size = cohort, cold, test_size

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        rows = np.flatnonzero(groups["cohort"].to_numpy() == self.cohort)
        if len(rows) == 0:
            raise InputError(f"split of cohort {self.cohort!r}", "no patients of that cohort", fix="load the task's default dataset")
        rng = np.random.default_rng(random_state)
        disease = groups["disease"].to_numpy()[rows]
        if self.cold:
            names = np.unique(disease)
            test_names = rng.choice(names, size=int(round(len(names) * self.test_size)), replace=False)
            test_mask = np.isin(disease, test_names)
        else:
            key = rng.random(len(rows))
            order = np.lexsort((key, disease))
            position = np.empty(len(rows), np.int64)
            position[order] = np.arange(len(rows)) - np.searchsorted(disease[order], disease[order])
            size = pd.Series(disease).map(pd.Series(disease).value_counts()).to_numpy()
            test_mask = position < np.round(size * self.test_size)
        name = ("held_out_diseases" if self.cold else "new_patients") + f"_{self.cohort}"
        return [Fold(np.sort(rows[~test_mask]), np.sort(rows[test_mask]), name)]

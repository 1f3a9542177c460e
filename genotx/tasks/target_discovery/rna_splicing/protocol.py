"""How rna_splicing is evaluated: the supervised protocol, and beside its metrics

* ``replicate_ceiling``: Pearson between the two MPSA replicates on the test 9-mers both measured,
  and the implied ceiling for a noise-free model, ``sqrt(r_replicates)`` (equal-noise assumption);
  and the count-noise ceiling ``sqrt(1 - mean(var_i)/var(y))`` with the Poisson variance
  ``var_i = (1/(ex_ct+1) + 1/(tot_ct+1)) / ln(10)**2`` (counting noise only: an upper bound); read
  from the replicate named in ``dataset.context["replicate_source"]`` (skipped without one);
* ``site_vs_decoy`` (SEMI-SYNTHETIC): the first fold's fitted model scores real hg38 5' splice sites
  against matched decoys (:func:`~.decoys.site_vs_decoy`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Supervised
from genotx.tasks.target_discovery.rna_splicing.decoys import site_vs_decoy
from genotx.tasks.target_discovery.rna_splicing.io import read_mpsa

__all__ = ["SpliceLevel", "replicate_ceiling"]


def replicate_ceiling(test: pd.DataFrame, y_test: np.ndarray, replicate: pd.DataFrame) -> dict:
    """Replicate agreement on the test 9-mers measured in both files, and the ceilings it implies."""
    other = replicate.set_index("x")["y"]
    shared = test["sequence"].isin(other.index).to_numpy()
    y2 = other.reindex(test["sequence"][shared]).to_numpy(float)
    r12 = float(np.corrcoef(y_test[shared], y2)[0, 1]) if shared.sum() > 2 else float("nan")
    var_i = (1 / (test["ex_ct"] + 1) + 1 / (test["tot_ct"] + 1)).to_numpy(float) / np.log(10) ** 2
    count_ceiling = float(np.sqrt(max(0.0, 1 - var_i.mean() / np.var(y_test, ddof=1))))
    return {
        "n_shared": int(shared.sum()),
        "replicate_pearson": r12,
        "pearson_ceiling": float(np.sqrt(r12)) if r12 > 0 else float("nan"),
        "count_noise_pearson_ceiling": count_ceiling,
        "formula": "pearson_ceiling = sqrt(r(replicate 1, replicate 2)) on shared test 9-mers (equal noise); "
        "count ceiling = sqrt(1 - mean(var_i)/var(y)), var_i = (1/(ex_ct+1) + 1/(tot_ct+1))/ln(10)^2",
    }


class SpliceLevel(Supervised):
    """:class:`~genotx.evaluate.protocols.Supervised` with the replicate ceiling and the site-vs-decoy view."""

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str,  # noqa: ARG002
               model: str | None, seed: int) -> None:
        test = outcome.predictions
        y_true = test["y_true"].to_numpy(float)
        replicate = dataset.context.get("replicate_source")
        if replicate is not None:
            ceiling = replicate_ceiling(test, y_true, read_mpsa(replicate))
            ceiling["pearson_fraction_of_ceiling"] = outcome.metrics["pearson"] / ceiling["pearson_ceiling"]
            outcome.details["replicate_ceiling"] = ceiling
        first = fits[0]
        trained_on = dataset.groups["sequence"].to_numpy()[first.fold.train]
        outcome.details["site_vs_decoy"] = site_vs_decoy(
            first.estimator, train_sequences=trained_on, seed=seed, measured=pd.Series(y_true, index=test["sequence"].to_numpy()),
        )

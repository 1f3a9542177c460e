"""rna_splicing's neural baselines: a one-hot MLP trained with one torch thread (importing this module imports torch)."""

from __future__ import annotations

import numpy as np

from genotx.models.epistasis import torch_threads
from genotx.models.nets import TorchRegressor, mlp

__all__ = ["OneThreadTorchRegressor", "mlp_network"]


class OneThreadTorchRegressor(TorchRegressor):
    """:class:`~genotx.models.nets.TorchRegressor` run with one torch thread (restored afterwards).

    The 36-input MLP gains nothing from a second intra-op thread, and on a busy 2-core machine the
    spinning threads made a fit several times slower (measured: 6 min with 2 threads vs 40 s with 1).
    """

    def fit(self, X, y):
        with torch_threads(1):
            return super().fit(X, y)

    def predict(self, X):
        with torch_threads(1):
            return super().predict(X)


def mlp_network(shape: tuple[int, ...], n_outputs: int):
    """The default MLP (36 -> 512 -> 128 -> 32 -> 1); a module-level function so fitted models pickle."""
    return mlp(int(np.prod(shape)), n_outputs, hidden=(512, 128, 32), dropout=0.1)

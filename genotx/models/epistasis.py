"""Global epistasis: an additive latent phenotype passed through a learned monotone nonlinearity.

As in MAVE-NN (Tareen et al. 2022) and Otwinowski et al. (2018): the latent phenotype is linear in
the one-hot sequence, ``phi = x . theta + theta_0``, and the measurement is ``y = g(phi) + noise``
with

    g(phi) = a + sum_k softplus(b_k) * tanh(softplus(c_k) * phi + d_k),

a sum of ``hidden_nodes`` increasing sigmoids, so ``g`` is monotone non-decreasing by construction.
``theta`` starts from a ridge fit of the (standardised) target, then ``theta`` and ``g`` are trained
jointly with mean squared error through the shared loop :func:`genotx.models.nets.train_network`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn
from torch.nn import functional as F

from genotx.models.nets import WeightsState, _tensor, train_network

__all__ = ["GlobalEpistasisNet", "GlobalEpistasisRegressor", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Run the block with ``n_jobs`` torch intra-op threads (None: leave as is), then restore.

    Small networks gain nothing from more threads, and on a shared machine extra threads spin.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    if n_jobs is not None:
        torch.set_num_threads(max(1, int(n_jobs)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class GlobalEpistasisNet(nn.Module):
    """``g(x . theta)`` with ``g`` a monotone sum of ``hidden_nodes`` tanh units."""

    def __init__(self, n_features: int, *, hidden_nodes: int = 20) -> None:
        super().__init__()
        self.latent = nn.Linear(n_features, 1)
        generator = torch.Generator().manual_seed(0)
        self.a = nn.Parameter(torch.zeros(1))
        # spread the sigmoids' centres over the standardised latent range so g starts near-identity
        self.b = nn.Parameter(torch.full((hidden_nodes,), float(np.log(np.expm1(2.0 / hidden_nodes)))))
        self.c = nn.Parameter(torch.full((hidden_nodes,), float(np.log(np.expm1(0.7)))))
        self.d = nn.Parameter(torch.linspace(-2.0, 2.0, hidden_nodes) + 0.01 * torch.randn(hidden_nodes, generator=generator))

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """Latent phenotype ``(n, 1)``."""
        return self.latent(x.flatten(1))

    def g(self, phi: torch.Tensor) -> torch.Tensor:
        """The monotone measurement nonlinearity, applied elementwise to ``(n, 1)``."""
        units = F.softplus(self.b) * torch.tanh(F.softplus(self.c) * phi + self.d)
        return self.a + units.sum(dim=-1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g(self.phi(x))


class GlobalEpistasisRegressor(WeightsState, RegressorMixin, BaseEstimator):
    """Additive latent phenotype + monotone nonlinearity (MAVE-NN's global epistasis model).

    Parameters
    ----------
    hidden_nodes : int
        Number of tanh units in ``g``.
    alpha : float
        Ridge penalty of the initial additive fit (on standardised features' target).
    epochs, batch_size, lr, weight_decay, validation_fraction, patience, random_state
        Passed to :func:`~genotx.models.nets.train_network`.
    n_jobs : int or None
        Torch threads while fitting and predicting (restored afterwards); None keeps torch's setting.

    Attributes
    ----------
    theta_ : ndarray of shape (n_features,)
        Additive effects on the latent phenotype (sign fixed so that ``g`` is increasing).
    ridge_ : Ridge
        The initial additive fit (an "additive model" baseline on its own).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 2, size=(600, 8)).astype("float32")
    >>> y = np.tanh(X @ np.linspace(-1, 1, 8))  # additive latent, saturating readout
    >>> model = GlobalEpistasisRegressor(batch_size=64, random_state=0).fit(X, y)
    >>> float(np.corrcoef(model.predict(X), y)[0, 1]) > 0.98
    True
    """

    def __init__(
        self,
        *,
        hidden_nodes: int = 20,
        alpha: float = 1.0,
        epochs: int = 100,
        batch_size: int = 512,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        patience: int = 5,
        random_state: int = 0,
        n_jobs: int | None = 1,
    ) -> None:
        self.hidden_nodes = hidden_nodes
        self.alpha = alpha
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y) -> "GlobalEpistasisRegressor":
        with torch_threads(self.n_jobs):
            return self._fit(X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # rows are flattened: one-hot (n, length, alphabet) is accepted
        return tags

    def _fit(self, X, y) -> "GlobalEpistasisRegressor":
        # dense, finite, one length, float32 (as the network computes) -- scikit-learn's validation
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True, y_numeric=True)
        X = X.reshape(len(X), int(np.prod(X.shape[1:])))
        y = np.asarray(y, dtype=np.float32)
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        z = (y - self.y_mean_) / self.y_std_
        self.ridge_ = Ridge(alpha=self.alpha).fit(X, z)
        torch.manual_seed(self.random_state)
        net = GlobalEpistasisNet(X.shape[1], hidden_nodes=self.hidden_nodes)
        with torch.no_grad():  # start from the additive fit, latent standardised
            phi0 = self.ridge_.predict(X)
            scale = float(phi0.std() or 1.0)
            net.latent.weight.copy_(torch.as_tensor(self.ridge_.coef_ / scale, dtype=torch.float32)[None])
            net.latent.bias.fill_(float((self.ridge_.intercept_ - phi0.mean()) / scale))
        self.history_ = train_network(
            net, X, z[:, None], loss=nn.MSELoss(), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, validation_fraction=self.validation_fraction,
            patience=self.patience, random_state=self.random_state,
        )
        self.network_ = net
        self.theta_ = net.latent.weight.detach().numpy()[0].copy()
        return self

    def _rebuild_network(self) -> GlobalEpistasisNet:
        """The fitted network's architecture (its weights are loaded by :class:`WeightsState`)."""
        return GlobalEpistasisNet(self.theta_.shape[0], hidden_nodes=self.hidden_nodes)

    def _batches(self, X, part: str) -> np.ndarray:
        check_is_fitted(self, "network_")
        # no rows is a valid (empty) prediction request
        X = validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True, ensure_min_samples=0)
        X = X.reshape(len(X), int(np.prod(X.shape[1:])))
        if X.shape[1] != self.theta_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} values per row once flattened, but {type(self).__name__} was fitted on {self.theta_.shape[0]}")
        X = _tensor(X)
        self.network_.eval()
        with torch.no_grad(), torch_threads(self.n_jobs):
            if len(X) == 0:
                return np.zeros(0, dtype=np.float32)
            fn = self.network_ if part == "forward" else getattr(self.network_, part)
            return torch.cat([fn(X[i : i + 8192]) for i in range(0, len(X), 8192)]).numpy()[:, 0]

    def latent(self, X) -> np.ndarray:
        """Latent (additive) phenotype ``phi`` of each row."""
        return self._batches(X, "phi")

    def predict(self, X) -> np.ndarray:
        return self._batches(X, "forward") * self.y_std_ + self.y_mean_

"""Neural baselines: small PyTorch networks behind one scikit-learn estimator and ONE training loop.

Every torch model in genotx trains through :func:`train_network`, so privacy (Opacus), federated
training (Flower) and attribution (Captum) plug into a single place.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = ["train_network", "TorchRegressor", "TorchClassifier", "mlp", "cnn1d"]


def train_network(
    network: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: nn.Module,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    validation_fraction: float = 0.1,
    patience: int = 5,
    random_state: int = 0,
    wrap: Callable | None = None,
) -> dict:
    """Train ``network`` with Adam and early stopping on a held-out slice of the training data.

    ``wrap(network, optimizer, loader) -> (network, optimizer, loader)`` lets a caller swap in, e.g.,
    Opacus' private versions. Returns a history dict (train/valid loss per epoch, best epoch).
    """
    generator = torch.Generator().manual_seed(random_state)
    torch.manual_seed(random_state)
    n = len(X)
    order = torch.randperm(n, generator=generator).numpy()
    n_valid = int(n * validation_fraction) if validation_fraction and n >= 20 else 0
    valid, train = order[:n_valid], order[n_valid:]
    X_t, y_t = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    dataset = torch.utils.data.TensorDataset(X_t[train], y_t[train])
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=weight_decay)
    if wrap is not None:
        network, optimizer, loader = wrap(network, optimizer, loader)
    history = {"train_loss": [], "valid_loss": [], "best_epoch": 0}
    best, best_state, since_best = np.inf, None, 0
    for epoch in range(epochs):
        network.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            batch_loss = loss(network(xb), yb)
            batch_loss.backward()
            optimizer.step()
            total += float(batch_loss.detach()) * len(xb)
        history["train_loss"].append(total / max(len(train), 1))
        if n_valid:
            network.eval()
            with torch.no_grad():
                v = float(loss(network(X_t[valid]), y_t[valid]))
            history["valid_loss"].append(v)
            if v < best - 1e-6:
                best, best_state, since_best, history["best_epoch"] = v, copy.deepcopy(network.state_dict()), 0, epoch
            else:
                since_best += 1
                if since_best >= patience:
                    break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return history


def mlp(n_inputs: int, n_outputs: int = 1, *, hidden: tuple[int, ...] = (256, 64), dropout: float = 0.2) -> nn.Module:
    """A multilayer perceptron on flat features."""
    layers: list[nn.Module] = []
    width = n_inputs
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(nn.Flatten(), *layers)


class _Squeeze(nn.Module):
    def forward(self, x):
        return x.squeeze(-1)


def cnn1d(input_shape: tuple[int, int], n_outputs: int = 1, *, channels: int = 64, kernel: int = 7, dropout: float = 0.2, extra: int = 0) -> nn.Module:
    """A small 1-D CNN on one-hot sequences shaped (length, alphabet) (channels-last, as encoded)."""
    length, alphabet = input_shape
    return nn.Sequential(
        _ChannelsFirst(),
        nn.Conv1d(alphabet, channels, kernel, padding="same"),
        nn.ReLU(),
        nn.Conv1d(channels, channels, 3, padding="same"),
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(4) if length > 8 else nn.Identity(),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.LazyLinear(64),
        nn.ReLU(),
        nn.Linear(64, n_outputs),
    )


class _ChannelsFirst(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


class _TorchEstimator(BaseEstimator):
    """Shared fit/predict for torch networks; ``network(input_shape) -> nn.Module``."""

    def __init__(
        self,
        *,
        network: Callable[[tuple], nn.Module] | None = None,
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        validation_fraction: float = 0.1,
        patience: int = 5,
        random_state: int = 0,
    ) -> None:
        self.network = network
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def _build(self, X: np.ndarray, n_outputs: int) -> nn.Module:
        torch.manual_seed(self.random_state)
        shape = X.shape[1:]
        if self.network is None:
            return mlp(int(np.prod(shape)), n_outputs)
        return self.network(shape, n_outputs)

    def _fit(self, X, y, loss):
        X = np.asarray(X, dtype=np.float32)
        self.network_ = self._build(X, self._n_outputs)
        with torch.no_grad():  # materialise lazy layers before the optimizer sees them
            self.network_(torch.as_tensor(X[:2]))
        self.history_ = train_network(
            self.network_, X, y, loss=loss, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, validation_fraction=self.validation_fraction,
            patience=self.patience, random_state=self.random_state,
        )
        return self

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        self.network_.eval()
        with torch.no_grad():
            return torch.cat([self.network_(X[i : i + 4096]) for i in range(0, len(X), 4096)]).numpy()


class TorchRegressor(RegressorMixin, _TorchEstimator):
    """Regression with MSE on a standardised target.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)).astype("float32"); y = X[:, 0] * 2
    >>> model = TorchRegressor(epochs=40, random_state=0).fit(X, y)
    >>> float(np.corrcoef(model.predict(X), y)[0, 1]) > 0.9
    True
    """

    _n_outputs = 1

    def fit(self, X, y):
        y = np.asarray(y, dtype=np.float32)
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        return self._fit(X, ((y - self.y_mean_) / self.y_std_)[:, None], nn.MSELoss())

    def predict(self, X) -> np.ndarray:
        return self._forward(X)[:, 0] * self.y_std_ + self.y_mean_


class TorchClassifier(ClassifierMixin, _TorchEstimator):
    """Classification with cross-entropy; ``predict_proba`` like scikit-learn."""

    def fit(self, X, y):
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self._n_outputs = len(self.classes_)
        return self._fit(X, torch.as_tensor(codes, dtype=torch.long).numpy(), nn.CrossEntropyLoss())

    def predict_proba(self, X) -> np.ndarray:
        return torch.softmax(torch.as_tensor(self._forward(X)), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

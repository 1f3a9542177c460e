"""Neural baselines: small PyTorch networks behind one scikit-learn estimator and ONE training loop.

Every torch model in genotx trains through :func:`train_network`, so privacy (Opacus), federated
training (Flower) and attribution (Captum) plug into a single place.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

__all__ = ["train_network", "TorchRegressor", "TorchClassifier", "mlp", "cnn1d", "network_state", "load_network_state",
           "WeightsState"]


def network_state(network: nn.Module) -> bytes:
    """A network's weights as ``torch.save(state_dict)`` bytes: what a fitted estimator stores instead of
    the module, so saving it pickles no torch object (read back by :func:`load_network_state`)."""
    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    return buffer.getvalue()


def load_network_state(network: nn.Module, blob: bytes) -> nn.Module:
    """``network`` with the weights of :func:`network_state` bytes, read with ``weights_only=True``
    (tensors and plain containers only: never code), in eval mode."""
    network.load_state_dict(torch.load(io.BytesIO(blob), weights_only=True))
    return network.eval()


class WeightsState:
    """Mixin: a fitted estimator's ``network_`` is stored as its weights (:func:`network_state`) and
    rebuilt on load by ``self._rebuild_network()``; pickle, joblib and skops then hold bytes and
    arrays, never a torch module (skops cannot store one; torch's own loader then runs in
    ``weights_only`` mode). The global torch RNG is left as it was."""

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        network = state.get("network_")
        if isinstance(network, nn.Module) and self._can_rebuild():
            state = {k: v for k, v in state.items() if k != "network_"}
            state["network_weights_"] = network_state(network)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        blob = state.pop("network_weights_", None)
        super().__setstate__(state)
        if blob is not None:
            with torch.random.fork_rng(devices=[]):
                self.network_ = load_network_state(self._rebuild_network(), blob)

    def _can_rebuild(self) -> bool:
        return True

    def _rebuild_network(self) -> nn.Module:
        raise NotImplementedError


def _tensor(array) -> torch.Tensor:
    """``torch.as_tensor`` without sharing a read-only buffer (a memory-mapped array): torch wants writable memory."""
    if isinstance(array, torch.Tensor):
        return array
    array = np.asarray(array)
    return torch.as_tensor(array if array.flags.writeable else array.copy())


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
    if len(y) != n:  # the estimators validate their input; direct callers get the same refusal
        raise ValueError(f"X and y have different numbers of rows: {n} and {len(y)}")
    order = torch.randperm(n, generator=generator).numpy()
    n_valid = int(n * validation_fraction) if validation_fraction and n >= 20 else 0
    valid, train = order[:n_valid], order[n_valid:]
    X_t, y_t = _tensor(X).to(torch.float32), _tensor(y)
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


class _TorchEstimator(WeightsState, BaseEstimator):
    """Shared validation, fit and forward pass for torch networks; ``network(input_shape, n_outputs) -> nn.Module``.

    Input is validated as scikit-learn does (:func:`~sklearn.utils.validation.validate_data`): dense,
    finite, at least one row, X and y of one length, converted to ``float32`` (the dtype the networks
    compute in). Arrays with more than two axes (one-hot sequences ``(n, length, alphabet)``) are
    accepted; ``n_features_in_`` is then ``X.shape[1]`` and ``input_shape_`` the whole row shape.
    """

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # one-hot sequences (n, length, alphabet) go in as they are
        return tags

    def _validate_fit(self, X, y, **y_params) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True, **y_params)
        self.input_shape_ = tuple(X.shape[1:])
        return X, y

    def _validate_predict(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        # no rows is a valid (empty) prediction request, as for an empty test group
        X = validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True, ensure_min_samples=0)
        expected = getattr(self, "input_shape_", None)  # None: a model pickled before this attribute existed
        if expected is not None and tuple(X.shape[1:]) != expected:
            raise ValueError(f"X has rows of shape {tuple(X.shape[1:])}, but {type(self).__name__} was fitted on rows of shape {expected}")
        return X

    def _build(self, X: np.ndarray, n_outputs: int) -> nn.Module:
        torch.manual_seed(self.random_state)
        shape = X.shape[1:]
        if self.network is None:
            return mlp(int(np.prod(shape)), n_outputs)
        return self.network(shape, n_outputs)

    def _fit(self, X: np.ndarray, y: np.ndarray, loss: nn.Module, n_outputs: int):
        self.network_ = self._build(X, n_outputs)
        with torch.no_grad():  # materialise lazy layers before the optimizer sees them
            self.network_(_tensor(X[:2]))
        self.history_ = train_network(
            self.network_, X, y, loss=loss, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, validation_fraction=self.validation_fraction,
            patience=self.patience, random_state=self.random_state,
        )
        return self

    def _can_rebuild(self) -> bool:
        return hasattr(self, "input_shape_")  # a model pickled before input_shape_ existed keeps its module

    def _rebuild_network(self) -> nn.Module:
        """The fitted architecture, rebuilt from the parameters (its weights are loaded by the caller)."""
        n_outputs = len(self.classes_) if hasattr(self, "classes_") else 1
        X = np.zeros((2, *self.input_shape_), dtype=np.float32)
        network = self._build(X, n_outputs).eval()
        with torch.no_grad():  # materialise lazy layers so that their weights can be loaded
            network(_tensor(X))
        return network

    def _forward(self, X, n_outputs: int) -> np.ndarray:
        X = _tensor(self._validate_predict(X))
        self.network_.eval()
        with torch.no_grad():
            if len(X) == 0:
                return np.zeros((0, n_outputs), dtype=np.float32)
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
    >>> model.n_features_in_
    5
    >>> model.fit(X, y[:-1])
    Traceback (most recent call last):
    ...
    ValueError: Found input variables with inconsistent numbers of samples: [200, 199]
    """

    def fit(self, X, y) -> "TorchRegressor":
        X, y = self._validate_fit(X, y, y_numeric=True)
        y = np.asarray(y, dtype=np.float32)  # mean and std in float32, as the network trains
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        return self._fit(X, ((y - self.y_mean_) / self.y_std_)[:, None], nn.MSELoss(), 1)

    def predict(self, X) -> np.ndarray:
        return self._forward(X, 1)[:, 0] * self.y_std_ + self.y_mean_


class TorchClassifier(ClassifierMixin, _TorchEstimator):
    """Classification with cross-entropy; ``predict_proba`` like scikit-learn.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)).astype("float32"); y = np.where(X[:, 0] > 0, "bound", "unbound")
    >>> model = TorchClassifier(epochs=20, lr=1e-2, random_state=0).fit(X, y)
    >>> model.classes_.tolist(), float((model.predict(X) == y).mean()) > 0.9
    (['bound', 'unbound'], True)
    """

    def fit(self, X, y) -> "TorchClassifier":
        X, y = self._validate_fit(X, y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        return self._fit(X, codes.astype(np.int64), nn.CrossEntropyLoss(), len(self.classes_))

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "classes_")
        return torch.softmax(torch.as_tensor(self._forward(X, len(self.classes_))), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it refuses an unfitted model with NotFittedError
        return self.classes_[proba.argmax(axis=1)]

"""Baselines on image patches ``(n, height, width, 3)`` uint8 -> expression of every gene ``(n, genes)``.

* :func:`texture_ridge`: colour/texture features of each patch (:func:`.features.patch_features`),
  standardised, then a ridge regression per gene with one penalty chosen by generalised
  cross-validation on the training spots (scikit-learn's ``RidgeCV``);
* :class:`PatchCNN`: a small convolutional network trained on the patches and their 8 flips and
  quarter-turns (tissue has no up or down), predicting every gene at once; its predictions average
  the 8 views;
* the per-gene training mean (``DummyRegressor``): the floor.

With 40 training spots and ~2,000 genes every learner is strongly regularised; nothing here has
seen another slide.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from genotx.featurize.transformer import Featurizer
from genotx.settings import settings
from genotx.tasks.target_discovery.spatial_expression.features import patch_features

__all__ = ["texture_ridge", "PatchCNN", "dihedral"]

RIDGE_ALPHAS = tuple(np.logspace(-1, 5, 25))


def texture_ridge() -> Pipeline:
    """Colour/texture features -> standardised -> ridge per gene (penalty by GCV, shared by genes).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(12, 16, 16, 3), dtype=np.uint8)
    >>> texture_ridge().fit(X, rng.normal(size=(12, 4))).predict(X[:3]).shape
    (3, 4)
    """
    return Pipeline([("features", Featurizer(patch_features, cache=False)), ("scale", StandardScaler()),
                     ("ridge", RidgeCV(alphas=RIDGE_ALPHAS))])


def dihedral(X: np.ndarray) -> np.ndarray:
    """The 8 flips and quarter-turns of each image of ``X`` ``(n, h, w, c)``, stacked view by view
    (rows ``k * n ... (k + 1) * n - 1`` are view ``k``); ``h == w``.

    >>> dihedral(np.arange(4).reshape(1, 2, 2, 1))[:, :, :, 0].reshape(8, 4).tolist()[:3]
    [[0, 1, 2, 3], [1, 0, 3, 2], [1, 3, 0, 2]]
    """
    views = []
    for k in range(4):
        turned = np.rot90(X, k, axes=(1, 2))
        views += [turned, turned[:, :, ::-1]]
    return np.concatenate(views)


def _network(n_outputs: int, channels: tuple[int, ...], dropout: float):
    from torch import nn

    layers, width = [nn.Conv2d(3, channels[0], 5, stride=2, padding=2), nn.ReLU()], channels[0]
    for c in channels[1:]:
        layers += [nn.MaxPool2d(2), nn.Conv2d(width, c, 3, padding=1), nn.ReLU()]
        width = c
    head = nn.Linear(width, n_outputs)
    nn.init.zeros_(head.weight)  # an untrained network predicts the training mean of every gene
    nn.init.zeros_(head.bias)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), head)


class PatchCNN(RegressorMixin, BaseEstimator):
    """A small CNN from an RGB patch to every gene, trained with genotx's one loop
    (:func:`genotx.models.nets.train_network`: AdamW, fixed epochs, CPU, seeded).

    Parameters
    ----------
    channels : tuple of int
        Convolution widths; the first convolution has stride 2, each further one follows a 2x2 max-pool,
        then global average pooling and one linear layer to the genes (initialised at zero: the
        untrained network predicts the training mean).
    epochs, batch_size, lr, weight_decay, dropout : training settings.
    augment : bool
        Train on the 8 flips and quarter-turns of every patch and average the 8 views at prediction.
    random_state : int
        Seed of the weights and the batch order.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(10, 16, 16, 3), dtype=np.uint8)
    >>> y = X.mean(axis=(1, 2))[:, :2] / 255.0
    >>> PatchCNN(channels=(4, 4), epochs=2).fit(X, y).predict(X[:3]).shape
    (3, 2)
    """

    def __init__(self, *, channels: tuple[int, ...] = (16, 32, 32), epochs: int = 25, batch_size: int = 32, lr: float = 2e-3,
                 weight_decay: float = 1e-3, dropout: float = 0.2, augment: bool = True, random_state: int = 0) -> None:
        self.channels = channels
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.augment = augment
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        return tags

    def _images(self, X: np.ndarray) -> np.ndarray:
        """Channels-first float32, standardised by the training patches' channel means and spreads."""
        X = (np.asarray(X, dtype=np.float32) / 255.0 - self.channel_mean_) / self.channel_std_
        return np.ascontiguousarray(X.transpose(0, 3, 1, 2))

    def fit(self, X, y) -> PatchCNN:
        import torch
        from torch import nn

        from genotx.models.nets import train_network

        X, y = validate_data(self, X, y, dtype=None, allow_nd=True, multi_output=True, y_numeric=True)
        if X.ndim != 4 or X.shape[-1] != 3 or X.shape[1] != X.shape[2]:
            raise ValueError(f"PatchCNN needs square RGB patches (n, side, side, 3), got shape {X.shape}")
        y = np.asarray(y, dtype=np.float32)
        self.single_output_ = y.ndim == 1
        y = y.reshape(len(y), -1)
        self.patch_shape_ = X.shape[1:]
        rgb = np.asarray(X, dtype=np.float32) / 255.0
        self.channel_mean_ = rgb.mean(axis=(0, 1, 2))
        self.channel_std_ = np.maximum(rgb.std(axis=(0, 1, 2)), 1e-3)
        self.y_mean_ = y.mean(axis=0)
        self.y_scale_ = float((y - self.y_mean_).std()) or 1.0  # one scale for all genes: their spreads differ for a reason
        target = (y - self.y_mean_) / self.y_scale_
        images = self._images(X)
        if self.augment:
            images = dihedral(images.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
            target = np.tile(target, (8, 1))
        with settings.limit_threads(settings.n_jobs):
            torch.manual_seed(self.random_state)
            self.network_ = _network(y.shape[1], tuple(self.channels), self.dropout)
            self.history_ = train_network(self.network_, np.ascontiguousarray(images), target.astype(np.float32),
                                          loss=nn.MSELoss(), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                                          weight_decay=self.weight_decay, validation_fraction=0.0,
                                          random_state=self.random_state)
        return self

    def predict(self, X) -> np.ndarray:
        import torch

        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=None, allow_nd=True, ensure_min_samples=0)
        if tuple(X.shape[1:]) != tuple(self.patch_shape_):
            raise ValueError(f"X has patches of shape {tuple(X.shape[1:])}, but PatchCNN was fitted on {tuple(self.patch_shape_)}")
        n_out = len(self.y_mean_)
        if not len(X):
            return np.zeros((0, n_out)) if not self.single_output_ else np.zeros(0)
        images = self._images(X)
        views = dihedral(images.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if self.augment else images
        self.network_.eval()
        with settings.limit_threads(settings.n_jobs), torch.no_grad():
            out = torch.cat([self.network_(torch.as_tensor(np.ascontiguousarray(views[i:i + 256])))
                             for i in range(0, len(views), 256)]).numpy()
        out = out.reshape(-1, len(X), n_out).mean(axis=0) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self.single_output_ else out.astype(np.float64)

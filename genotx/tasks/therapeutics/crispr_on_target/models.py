"""A small CNN for fixed-length guide sequences plus a few scalar features.

Input: a flat ``float32`` array ``(n, length * alphabet + n_extra)``: the one-hot sequence (axis order
L, C as :func:`genotx.seq.codes.one_hot` returns it, flattened) followed by ``n_extra``
scalar features. One convolution (``channels`` filters of width ``kernel``), ReLU, max-pool by 2, then
a dense layer that also sees the scalar features. Trains through the shared loop
(:class:`genotx.models.nets.TorchRegressor`); build it with ``functools.partial`` so that a fitted
model can be pickled.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GuideCNN", "guide_cnn"]


class GuideCNN(nn.Module):
    """Conv over the sequence part of each row, dense layers over pooled maps + scalar features.

    Examples
    --------
    >>> net = GuideCNN(30 * 4 + 1, 1)
    >>> tuple(net(torch.zeros(2, 121)).shape)
    (2, 1)
    """

    def __init__(
        self, n_inputs: int, n_outputs: int = 1, *, length: int = 30, alphabet: int = 4, channels: int = 32,
        kernel: int = 5, hidden: int = 64, dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if n_inputs < length * alphabet:
            raise ValueError(f"GuideCNN needs at least {length * alphabet} inputs (length x alphabet); got {n_inputs}")
        self.length, self.alphabet, self.n_extra = length, alphabet, n_inputs - length * alphabet
        self.conv = nn.Sequential(nn.Conv1d(alphabet, channels, kernel, padding="same"), nn.ReLU(), nn.MaxPool1d(2))
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(channels * (length // 2) + self.n_extra, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cut = self.length * self.alphabet
        seq = x[:, :cut].reshape(-1, self.length, self.alphabet).transpose(1, 2)
        return self.head(torch.cat([self.conv(seq).flatten(1), x[:, cut:]], dim=1))


def guide_cnn(input_shape: tuple[int, ...], n_outputs: int = 1, *, length: int = 30, channels: int = 32, kernel: int = 5) -> nn.Module:
    """Network factory for :class:`~genotx.models.nets.TorchRegressor` (``network=partial(guide_cnn, ...)``)."""
    return GuideCNN(int(input_shape[0]), n_outputs, length=length, channels=channels, kernel=kernel)

"""The protein_binding networks and the baselines of its binary ChIP source.

:class:`PromoterCNN` and :class:`GlobalEpistasis` read aligned promoter one-hot ``(n, 75, 4)``;
``BINARY_MODELS`` are the same baselines for the Oct4-vs-MafK peaks (global epistasis needs aligned
sequences, so it has no binary variant). The protocol (:mod:`.protocol`) picks them when the target
is binary.
"""

from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from torch import nn

from genotx.featurize.transformer import Featurizer
from genotx.models.nets import TorchClassifier, cnn1d
from genotx.tasks.target_discovery.protein_binding.features import kmer_profile, sequence_one_hot

__all__ = ["PromoterCNN", "GlobalEpistasis", "BINARY_MODELS"]


class _ChannelsFirst(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


class PromoterCNN(nn.Module):
    """Convolution + additive path -> a few latent phenotypes -> a small nonlinear head.

    For aligned promoter libraries: the convolution's feature maps keep their positions (no pooling),
    an additive (PWM-like) path reads the one-hot directly, and both feed ``latent`` linear
    combinations passed through tanh and an MLP (global epistasis: sort-seq bins saturate).
    """

    def __init__(self, input_shape: tuple[int, int], n_outputs: int = 1, *, channels: int = 16, kernel: int = 5,
                 latent: int = 8, hidden: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        length, alphabet = input_shape
        self.features = nn.Sequential(
            _ChannelsFirst(), nn.Conv1d(alphabet, channels, kernel, padding="same"), nn.ReLU(),
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(length * channels, latent),
        )
        self.additive = nn.Sequential(nn.Flatten(), nn.Linear(length * alphabet, latent))
        self.head = nn.Sequential(nn.Tanh(), nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    def forward(self, x):
        return self.head(self.features(x) + self.additive(x))


class GlobalEpistasis(nn.Module):
    """Additive latent phenotypes (linear in one-hot) -> tanh -> MLP, as MAVE-NN's GE models."""

    def __init__(self, input_shape: tuple[int, int], n_outputs: int = 1, *, latent: int = 8, hidden: int = 32) -> None:
        super().__init__()
        length, alphabet = input_shape
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(length * alphabet, latent), nn.Tanh(),
                                 nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    def forward(self, x):
        return self.net(x)


def _chip_cnn(shape: tuple[int, int], n_outputs: int) -> nn.Module:
    return cnn1d(shape, n_outputs, channels=32, kernel=11, dropout=0.2)


#: the same baselines for the binary ChIP source (global_epistasis needs aligned sequences)
BINARY_MODELS = {
    "cnn": lambda random_state=0: make_pipeline(
        Featurizer(sequence_one_hot, cache=False),
        TorchClassifier(network=_chip_cnn, epochs=25, lr=1e-3, batch_size=64, patience=5, random_state=random_state),
    ),
    "additive": lambda random_state=0: make_pipeline(Featurizer(kmer_profile, cache=False), LogisticRegression(C=1.0, max_iter=2000)),
    "mean": lambda random_state=0: DummyClassifier(strategy="prior"),
}

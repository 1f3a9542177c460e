"""Models: scikit-learn-compatible baselines; torch networks share one training loop."""

from genotx.models.nets import TorchClassifier, TorchRegressor, cnn1d, mlp, train_network

__all__ = ["TorchClassifier", "TorchRegressor", "cnn1d", "mlp", "train_network"]

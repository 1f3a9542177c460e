"""Models: scikit-learn-compatible estimators two or more tasks use; torch networks share one training loop.

Submodules are imported on use (``genotx.models.nets`` imports torch, which takes seconds): a task
whose models need no torch never pays for it.
"""

import importlib

_LAZY = {"TorchClassifier": "nets", "TorchRegressor": "nets", "cnn1d": "nets", "mlp": "nets", "train_network": "nets"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"genotx.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'genotx.models' has no attribute {name!r}")


__all__ = list(_LAZY)

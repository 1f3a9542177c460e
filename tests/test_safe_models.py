"""Fitted models on disk (issue 15): skops or signed joblib, never a swapped file unpickled."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from genotx.models import persist
from genotx.models.persist import load_model, save_model


@pytest.fixture
def key(tmp_path, monkeypatch):
    """A private model key and cache for the test (the user's real key is never touched)."""
    monkeypatch.setenv("GENOTX_MODEL_KEY", str(tmp_path / "keys" / "model.key"))
    monkeypatch.setenv("GENOTX_HOME", str(tmp_path / "home"))
    return tmp_path / "keys" / "model.key"


class _Planted:
    """A pickle that, if ever unpickled, writes a marker file (what a planted model would do)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _WithIndex(RegressorMixin, BaseEstimator):
    """An estimator holding pandas objects (skops cannot store them): saved with joblib and signed."""

    def fit(self, X, y):
        self.columns_ = pd.Index(["a", "b"])
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def _fits(monkeypatch):
    calls = []
    original = Ridge.fit
    monkeypatch.setattr(Ridge, "fit", lambda self, X, y: calls.append(1) or original(self, X, y))
    return calls


def _model_files(home):
    return sorted(p.name for p in (home / "models").iterdir() if not p.name.endswith(".lock"))


def test_a_fitted_model_is_stored_with_skops_and_signed(toy_task, key, tmp_path):
    from genotx.engine.predict import fitted_model

    first = fitted_model(toy_task, model="ridge")
    files = _model_files(tmp_path / "home")
    assert len(files) == 2 and files[0].endswith(".skops") and files[1] == files[0] + ".sig"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_bytes()) == 32
    again = fitted_model(toy_task, model="ridge")
    assert again is not first and np.array_equal(again.coef_, first.coef_)


def test_a_planted_pickle_at_the_model_path_never_runs(toy_task, key, tmp_path, monkeypatch):
    from genotx.engine.predict import fitted_model

    fitted_model(toy_task, model="ridge")
    (model,) = (tmp_path / "home" / "models").glob("*.skops")
    stem = model.with_suffix("")
    planted = stem.with_name(stem.name + ".joblib")
    marker = tmp_path / "planted-code-ran"
    fits = _fits(monkeypatch)
    for forged in ("0" * 64, "an old sha256 stamp"):  # a forged signature, or none that could verify
        stem.with_name(stem.name + ".skops").unlink()
        planted.write_bytes(pickle.dumps(_Planted(str(marker))))
        planted.with_name(planted.name + ".sig").write_text(forged)
        refit = fitted_model(toy_task, model="ridge")
        assert not marker.exists() and hasattr(refit, "coef_")
        assert not planted.exists()  # replaced by the retrained model's own file
    assert fits == [1, 1]


def test_a_flipped_byte_with_size_and_mtime_kept_is_retrained(toy_task, key, tmp_path, monkeypatch):
    from genotx.engine.predict import fitted_model

    fitted_model(toy_task, model="ridge")
    (model,) = (tmp_path / "home" / "models").glob("*.skops")
    stat = model.stat()
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    model.write_bytes(bytes(raw))
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert model.stat().st_size == stat.st_size and model.stat().st_mtime_ns == stat.st_mtime_ns
    fits = _fits(monkeypatch)
    fitted_model(toy_task, model="ridge")
    assert fits == [1]


def test_a_model_signed_by_another_key_or_for_another_name_is_not_opened(key, tmp_path, monkeypatch):
    model = Ridge().fit([[0.0], [1.0]], [0.0, 1.0])
    path = save_model(model, tmp_path / "a")
    assert load_model(tmp_path / "a") is not None
    # the same file and signature under another model's name: the signature binds the name
    (tmp_path / "b.skops").write_bytes(path.read_bytes())
    (tmp_path / "b.skops.sig").write_text((tmp_path / "a.skops.sig").read_text())
    assert load_model(tmp_path / "b") is None
    # another user's key (a copied cache): nothing verifies
    monkeypatch.setenv("GENOTX_MODEL_KEY", str(tmp_path / "other.key"))
    assert load_model(tmp_path / "a") is None
    assert (tmp_path / "other.key").read_bytes() != key.read_bytes()


def test_a_signed_skops_file_naming_an_untrusted_type_is_refused(key, tmp_path):
    """Even a file that verifies (say, written by a user's own estimator) is loaded by skops only with
    genotx, scikit-learn, LightGBM, scikit-survival, NumPy and SciPy types trusted."""
    import skops.io

    path = tmp_path / "m.skops"
    skops.io.dump({"call": os.system}, path)
    assert any(not persist._trusted(t) for t in skops.io.get_untrusted_types(file=path))
    (tmp_path / "m.skops.sig").write_text(persist._signature(path))
    assert load_model(tmp_path / "m") is None


def test_an_estimator_skops_cannot_hold_is_signed_joblib(key, tmp_path):
    model = _WithIndex().fit(np.zeros((3, 2)), np.array([1.0, 2.0, 3.0]))
    path = save_model(model, tmp_path / "m")
    assert path.suffix == ".joblib" and (tmp_path / "m.joblib.sig").exists()
    assert load_model(tmp_path / "m").mean_ == 2.0
    path.write_bytes(path.read_bytes() + b"\0")
    assert load_model(tmp_path / "m") is None


@pytest.mark.parametrize("kind", ["regressor", "classifier", "epistasis"])
def test_torch_estimators_go_through_skops_as_weights(kind, key, tmp_path):
    from functools import partial

    import skops.io
    import torch

    from genotx.models.epistasis import GlobalEpistasisRegressor
    from genotx.models.nets import TorchClassifier, TorchRegressor, cnn1d

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6, 4)).astype(np.float32)
    y = X[:, 0, 0] * 2
    if kind == "regressor":  # a network with a lazy layer, rebuilt from its factory (a partial skops can name)
        model = TorchRegressor(network=partial(cnn1d, channels=4), epochs=2, random_state=0)
    elif kind == "classifier":
        model, y = TorchClassifier(epochs=2, random_state=0), np.where(y > 0, "up", "down")
    else:
        model = GlobalEpistasisRegressor(epochs=2, batch_size=32, random_state=0)
    model.fit(X, y)
    path = save_model(model, tmp_path / "net")
    assert path.suffix == ".skops"
    assert not [t for t in skops.io.get_untrusted_types(file=path) if t.startswith("torch")]
    state = torch.random.get_rng_state()
    back = load_model(tmp_path / "net")
    assert torch.equal(torch.random.get_rng_state(), state)  # loading leaves the caller's RNG alone
    out = back.predict_proba(X) if kind == "classifier" else back.predict(X)
    assert np.array_equal(out, model.predict_proba(X) if kind == "classifier" else model.predict(X))
    assert pickle.loads(pickle.dumps(model)).predict(X).tolist() == model.predict(X).tolist()


def test_an_estimator_neither_format_can_store_is_not_cached(key, tmp_path):
    """A lambda inside: skops cannot name it and pickle cannot either; the model is simply not cached."""
    from genotx.models.nets import TorchRegressor, mlp

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    model = TorchRegressor(network=lambda shape, n: mlp(int(np.prod(shape)), n, hidden=(4,)), epochs=2).fit(X, X[:, 0])
    assert save_model(model, tmp_path / "net") is None
    assert load_model(tmp_path / "net") is None and not list(tmp_path.glob("net*"))

"""The shared estimators (``genotx.models``) and the shared transformer (``Featurizer``) keep
scikit-learn's contract: ``parametrize_with_checks`` over tiny, seeded configurations (a few epochs of
a one-hidden-layer network, so the whole module runs in seconds), plus the refusals the issue names
(inf in X or y, X and y of different lengths) and the parts scikit-learn's checks do not cover
(one-hot inputs with three axes, DataFrames read by column name, empty prediction requests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from genotx.featurize.transformer import Featurizer
from genotx.models.epistasis import GlobalEpistasisRegressor
from genotx.models.nets import TorchClassifier, TorchRegressor, train_network
from genotx.models.threads import FewThreadsRegressor
from genotx.settings import settings


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks gain nothing from a second thread; on a shared machine spinning threads cost minutes."""
    with settings.limit_threads(1):
        yield


class _Named:
    """A module-level callable with a stable repr: test ids must not hold memory addresses, or the
    pytest-xdist workers collect different test names."""

    def __init__(self, fn, name: str) -> None:
        self.fn, self.name = fn, name

    def __call__(self, *args):
        return self.fn(*args)

    def __repr__(self) -> str:
        return self.name


def _tiny_mlp(shape: tuple[int, ...], n_outputs: int) -> nn.Module:
    """One hidden layer of 16 units, no dropout (module level: fitted models must pickle)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(shape)), 16), nn.ReLU(), nn.Linear(16, n_outputs))


def _as_array(X) -> np.ndarray:
    """The identity featurizer for scikit-learn's checks (which feed plain arrays)."""
    return np.asarray(X)


tiny_mlp = _Named(_tiny_mlp, "tiny_mlp")
as_array = _Named(_as_array, "as_array")


def _torch_regressor() -> TorchRegressor:
    return TorchRegressor(network=tiny_mlp, epochs=60, lr=1e-2, batch_size=64, random_state=0)


ESTIMATORS = [
    _torch_regressor(),
    TorchClassifier(network=tiny_mlp, epochs=30, lr=1e-2, batch_size=64, random_state=0),
    FewThreadsRegressor(_torch_regressor(), n_threads=1),
    FewThreadsRegressor(LinearRegression(), n_threads=1),
    GlobalEpistasisRegressor(hidden_nodes=4, epochs=30, batch_size=64, lr=1e-2, random_state=0),
    Featurizer(as_array, cache=False),
]

#: The checks an estimator here may fail, by class name, each with its reason. Empty: every estimator
#: passes every check. (scikit-learn itself skips ``check_array_api_input`` unless SCIPY_ARRAY_API=1
#: is set; none of these estimators claims array-API support.) ``xfail_strict`` keeps the list honest.
EXPECTED_FAILED: dict[str, dict[str, str]] = {}


def _expected_failed(estimator) -> dict[str, str]:
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed, xfail_strict=True)
def test_sklearn_contract(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------------------------
# the refusals of the issue, by name


@pytest.mark.parametrize("make", [_torch_regressor, lambda: GlobalEpistasisRegressor(epochs=2),
                                  lambda: FewThreadsRegressor(_torch_regressor())])
def test_regressors_refuse_inf_and_mismatched_lengths(make):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    bad_X = X.copy()
    bad_X[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        make().fit(bad_X, y)
    with pytest.raises(ValueError, match="NaN"):
        make().fit(X, np.where(np.arange(40) == 5, np.nan, y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make().fit(X, y[:-1])
    fitted = make().fit(X, y)
    with pytest.raises(ValueError, match="infinity"):
        fitted.predict(bad_X)
    with pytest.raises(ValueError, match="3 features"):
        fitted.predict(X[:, :2])


def test_train_network_refuses_mismatched_lengths():
    X = np.zeros((10, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="different numbers of rows"):
        train_network(tiny_mlp((2,), 1), X, np.zeros((9, 1), dtype=np.float32), loss=nn.MSELoss(), epochs=1)


# ---------------------------------------------------------------------------------------------
# what the checks do not see: one-hot sequences with three axes, empty predictions, fixed numbers


def test_torch_estimators_take_one_hot_sequences_and_check_the_row_shape():
    rng = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(60, 9))]  # (n, length, alphabet)
    y = X[:, 2, 0] * 2.0 + X[:, 5, 3]
    reg = TorchRegressor(network=tiny_mlp, epochs=5, random_state=0).fit(X, y)
    assert reg.n_features_in_ == 9 and reg.input_shape_ == (9, 4)
    assert reg.predict(X).shape == (60,)
    assert reg.predict(X[:0]).shape == (0,)  # an empty request is answered, not refused
    with pytest.raises(ValueError, match="rows of shape"):
        reg.predict(X[:, :, :3])
    clf = TorchClassifier(network=tiny_mlp, epochs=5, random_state=0).fit(X, np.where(y > 1, "high", "low"))
    assert clf.predict_proba(X[:0]).shape == (0, 2)
    ge = GlobalEpistasisRegressor(hidden_nodes=4, epochs=5, random_state=0).fit(X, y)
    assert ge.theta_.shape == (36,) and ge.predict(X[:0]).shape == (0,)
    with pytest.raises(ValueError, match="once flattened"):
        ge.predict(X[:, :, :3])


def test_validation_keeps_the_arithmetic_of_float32_training():
    """float64 input is converted to float32 once, as before validation existed: the same fit."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    a = TorchRegressor(network=tiny_mlp, epochs=5, random_state=3).fit(X, y).predict(X)
    b = TorchRegressor(network=tiny_mlp, epochs=5, random_state=3).fit(X.astype(np.float32), y.astype(np.float32)).predict(X)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Featurizer on DataFrames: fn reads columns by name


def _gc(frame: pd.DataFrame) -> np.ndarray:
    seqs = frame["sequence"]
    return np.array([[s.count("G") + s.count("C")] for s in seqs], dtype=np.float32)


def test_featurizer_reads_frames_by_column_name():
    train = pd.DataFrame({"sequence": ["GGCC", "ATAT"], "note": [None, "x"]})  # missing values pass to fn
    f = Featurizer(_gc, cache=False).fit(train)
    assert f.n_features_in_ == 2 and f.feature_names_in_.tolist() == ["sequence", "note"]
    # a user's file: other columns, other order; fn finds its column
    user = pd.DataFrame({"id": [1, 2], "sequence": ["GCGA", "TTTT"]})
    assert f.transform(user).ravel().tolist() == [3.0, 0.0]
    with pytest.raises(ValueError, match="needs a DataFrame"):
        f.transform(train.to_numpy())
    with pytest.raises(ValueError, match="0 rows"):
        Featurizer(_gc, cache=False).fit(train.iloc[:0])
    with pytest.raises(Exception, match="not fitted"):
        Featurizer(_gc, cache=False).transform(train)

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.metrics import METRICS, Evaluator, evaluate

rng = np.random.default_rng(0)
Y = rng.normal(size=50)
P = Y + rng.normal(size=50)


def test_regression_metrics_match_reference_implementations():
    assert Evaluator(name="pearson")(Y, P) == pytest.approx(stats.pearsonr(Y, P)[0])
    assert Evaluator(name="spearman")(Y, P) == pytest.approx(stats.spearmanr(Y, P)[0])
    assert Evaluator(name="rmse")(Y, P) == pytest.approx(np.sqrt(np.mean((Y - P) ** 2)))
    assert not Evaluator(name="rmse").greater_is_better


def test_classification_metrics():
    labels = (Y > 0).astype(int)
    assert Evaluator(name="auroc")(labels, P) == pytest.approx(roc_auc_score(labels, P))
    assert Evaluator(name="accuracy")(labels, labels) == 1.0


def test_per_group_metric_is_the_mean_within_groups():
    groups = {"drug": np.repeat(["a", "b"], 25)}
    expected = np.mean([stats.pearsonr(Y[:25], P[:25])[0], stats.pearsonr(Y[25:], P[25:])[0]])
    assert Evaluator(name="pearson_per_drug")(Y, P, groups=groups) == pytest.approx(expected)
    with pytest.raises(InputError, match="needs groups"):
        Evaluator(name="pearson_per_drug")(Y, P)


def test_top_k_recall_and_c_index():
    assert METRICS["top10_recall"].fn(np.array([1, 5, 11, 40])) == 0.5
    y = np.array([(True, 1.0), (True, 2.0), (False, 3.0)], dtype=[("event", bool), ("time", float)])
    assert Evaluator(name="c_index")(y, np.array([3.0, 2.0, 1.0])) == 1.0


def test_unknown_metric_lists_valid_names():
    with pytest.raises(UnknownNameError, match="Did you mean 'pearson'"):
        Evaluator(name="pearsn")


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(InputError, match="y_true has 3 values but y_pred has 2"):
        evaluate(["pearson"], [1, 2, 3], [1, 2])

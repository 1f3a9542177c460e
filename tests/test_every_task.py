"""One common test over every implemented task: the README's Python path on its default data.

For each task: the notebook split gives consistent parts (every row-aligned part sliced together,
no row in two parts), and its trivial floor (or the default model where there is none) runs under the
task's official protocol with a finite primary metric. Supervised tasks also go through
``get_split -> fit -> task.evaluate``, which must agree with the protocol's own scoring.
"""

from __future__ import annotations

import numpy as np
import pytest

import genotx
from genotx.evaluate.protocols import Supervised
from genotx.tasks.registry import TASKS_LIST

IMPLEMENTED = [t.name for t in TASKS_LIST() if t.implemented]


def test_the_house_has_tasks_to_check():
    assert len(IMPLEMENTED) >= 13


@pytest.mark.slow
@pytest.mark.parametrize("name", IMPLEMENTED)
def test_readme_path_on_every_task(name):
    task = genotx.get_task(name)
    data = task.load()
    assert set(data.meta) >= {"data_kind"} or "sources" in data.meta
    parts = task.get_split(task.spec.default_split, seed=0, dataset=data)
    for part in parts.values():
        assert len(part.inputs) == len(part.target) == len(part.groups)
        assert all(len(a) == len(part) for a in part.arrays.values())
    assert len(parts["train"]) > 0
    assert len(parts["test"]) > 0 or task.spec.protocol == "network"  # a network method sees every sample
    model = task.spec.trivial or task.spec.default_model
    record, outcome = genotx.run(task, model=model, dataset=data)
    value = record.metrics[task.spec.primary_metric]
    assert value == value or model == task.spec.trivial  # a trivial floor may be undefined (a constant score)
    protocol = task.protocol
    if type(protocol) is Supervised and np.ndim(data.target) == 1 and not np.asarray(data.target).dtype.names:
        estimator = task.model(model).fit(parts["train"].inputs, parts["train"].target)
        predict = getattr(estimator, "predict_proba", None)
        y_pred = predict(parts["test"].inputs)[:, 1] if predict is not None and task.spec.target == "binary" else estimator.predict(parts["test"].inputs)
        scores = task.evaluate(y_pred, parts["test"])
        assert set(scores) == set(task.spec.metrics)

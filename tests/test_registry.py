import pytest

import genotx
from genotx.errors import NotImplementedTaskError, UnknownNameError
from genotx.tasks.registry import TASKS_LIST, get_task
from genotx.tasks.spec import DATA_KINDS, STAGES


def test_all_22_tasks_registered_with_stage_and_kind():
    tasks = TASKS_LIST()
    assert len(tasks) == 22
    assert sorted(t.spec.number for t in tasks) == list(range(1, 23))
    for task in tasks:
        assert task.spec.stage in STAGES and task.spec.data_kind in DATA_KINDS
        assert task.spec.formulation and "->" in task.spec.formulation


def test_each_stage_has_tasks():
    counts = {stage: len(genotx.list_tasks(stage=stage)) for stage in STAGES}
    assert counts == {"target_discovery": 11, "therapeutics": 5, "clinical": 4, "post_market": 2}


def test_unknown_task_suggests_the_close_name():
    with pytest.raises(UnknownNameError, match="Did you mean 'crispr_on_target'"):
        get_task("crispr_ontarget")


def test_unimplemented_task_says_so_plainly():
    planned = [t for t in TASKS_LIST() if not t.implemented]
    if not planned:
        pytest.skip("every task is implemented")
    with pytest.raises(NotImplementedTaskError, match="not implemented"):
        planned[0].load()


def test_implemented_tasks_declare_consistent_splits_models_and_trivial():
    for task in TASKS_LIST():
        if not task.implemented:
            continue
        assert set(task.module.SPLITS) == set(task.spec.splits), task.name
        assert set(task.module.MODELS) == set(task.spec.baselines), task.name
        assert task.spec.trivial is None or task.spec.trivial in task.spec.baselines


def test_unknown_model_and_split_names_are_refused(toy_task):
    with pytest.raises(UnknownNameError, match="Valid models"):
        toy_task.model("ridgge")
    with pytest.raises(UnknownNameError, match="split"):
        toy_task.folds(toy_task.load(), "cold_drug")

"""Tasks by pipeline stage; every module with a ``SPEC`` is registered by discovery."""

from genotx.tasks.registry import TASKS, Task, get_task, list_tasks
from genotx.tasks.spec import Dataset, TaskSpec

__all__ = ["TASKS", "Task", "get_task", "list_tasks", "Dataset", "TaskSpec"]

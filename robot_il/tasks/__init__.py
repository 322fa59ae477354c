"""Tasks: randomisation, success and termination over any Robot + PanTilt backend, and their registry."""

from robot_il.tasks.base import (
    StepOutcome,
    Task,
    TaskEntry,
    register_task,
    task_entry,
    task_names,
    task_observation_shapes,
)
from robot_il.tasks.clip_insertion import ClipInsertionTask  # registers the clip task
from robot_il.tasks.peg_insertion import PegInsertionTask

__all__ = [
    "ClipInsertionTask",
    "PegInsertionTask",
    "StepOutcome",
    "Task",
    "TaskEntry",
    "register_task",
    "task_entry",
    "task_names",
    "task_observation_shapes",
]

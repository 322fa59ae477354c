"""What every task gives the layers above it, and the registry a second task plugs into.

The env, the deploy loop, evaluation and the demo recorders take a :class:`Task`
(randomise the cell, judge a state) and look the rest up by the task's name:
its cell config class, the backend that simulates it, its gymnasium id, its
scripted expert. A new task registers a :class:`TaskEntry`; nothing above this
layer names a concrete task.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from robot_il.errors import ConfigError
from robot_il.hal.base import Observation, PanTilt, observation_fields

EndReason = Literal["success", "left_workspace", "time_limit", ""]


@dataclass(frozen=True)
class StepOutcome:
    success: bool
    terminated: bool
    truncated: bool
    reason: EndReason
    depth: float
    """How far the tip is past the target along the insertion axis, m (negative: outside)."""
    lateral: float
    """Distance of the tip from the insertion axis, m."""
    margin: float = float("nan")
    """Signed distance to success, m: negative before, >= 0 once the state succeeds (NaN: the task has no
    such measure). Oracle learners interpolate the moment of success with it (``robot_il.algos.oracle``)."""


class TaskConfig(Protocol):
    control_rate_hz: float
    episode_seconds: float


class Task(Protocol):
    """Rules of an episode, over any backend."""

    cfg: TaskConfig

    def randomize(self, pan_tilt: PanTilt, rng: np.random.Generator) -> tuple[float, float]:
        """Set up a new episode (the socket's pose) and return the pose, rad."""
        ...

    def evaluate(self, obs: Observation, elapsed: float) -> StepOutcome:
        """Judge the state reached ``elapsed`` seconds into the episode."""
        ...


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: where its pieces live ("module:attribute", imported when first used)."""

    name: str
    env_id: str
    """The gymnasium id, also the ``env_name`` of its demo files."""
    config: str
    """Its cell config dataclass (geometry, physics, task rules)."""
    task: str
    """The :class:`Task` class; built from a config instance."""
    backend: str
    """The simulated backend's name in the HAL factory."""
    expert: str | None = None
    """A scripted expert built from a config instance (callable obs -> joint velocities), if there is one."""

    def observation_shapes(self, num_joints: int) -> dict[str, tuple[int, ...]]:
        """Each HAL observation field's shape in this task on an arm of ``num_joints`` joints: what its demo files
        must hold, row by row."""
        return {name: spec.shape for name, spec in observation_fields(num_joints).items()}

    def config_class(self) -> type:
        return _load(self.config)

    def make_task(self, cfg: Any = None) -> Task:
        return _load(self.task)(cfg if cfg is not None else self.config_class()())

    def make_expert(self, cfg: Any = None):
        if self.expert is None:
            raise ConfigError("task", f"task {self.name!r} has no scripted expert")
        return _load(self.expert)(cfg if cfg is not None else self.config_class()())


_TASKS: dict[str, TaskEntry] = {}


def register_task(entry: TaskEntry) -> None:
    _TASKS[entry.name] = entry


def task_entry(name: str) -> TaskEntry:
    """The registered task ``name`` (or whose gymnasium id is ``name``); unknown names raise ConfigError."""
    for entry in _TASKS.values():
        if name in (entry.name, entry.env_id):
            return entry
    raise ConfigError("task", f"unknown task {name!r}; registered: {', '.join(sorted(_TASKS))}")


def task_names() -> list[str]:
    return sorted(_TASKS)


def task_observation_shapes(env_name: str | None, num_joints: int) -> dict[str, tuple[int, ...]] | None:
    """The observation fields' shapes the task whose gymnasium id is ``env_name`` expects in demo files and
    policies of an arm of ``num_joints`` joints; None for an id no registered task has (the toy tasks of
    tests): nothing to check against."""
    try:
        return task_entry(env_name or "").observation_shapes(num_joints)
    except ConfigError:
        return None


def _load(path: str):
    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)


register_task(
    TaskEntry(
        name="peg",
        env_id="robot_il/PegInsertion-v0",
        config="robot_il.cell.config:PegConfig",
        task="robot_il.tasks.peg_insertion:PegInsertionTask",
        backend="sim:peg",
        expert="robot_il.tasks.peg_expert:ScriptedPegExpert",
    )
)

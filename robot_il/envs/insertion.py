"""A gymnasium env over any HAL backend and any registered insertion task (``robot_il.tasks``; the peg by default).

Observation: a flat float32 vector, laid out as the GPRIL paper's peg task
(``OBS_LAYOUT``; joint efforts are appended with ``include_efforts=True``, as in
its clip task). For an arm of n joints (6 for the Jaco and the UR5e, 7 for
the FR3):

=======================  =======  ======  =====================================
slice                    field    unit    meaning
=======================  =======  ======  =====================================
[0:n]                    q        rad     joint positions
[n:2n]                   dq       rad/s   joint velocities
[2n:2n+3]                ee       m       peg tip position, robot base frame
[2n+3:2n+7]              socket   1       socket orientation, quaternion w,x,y,z
[2n+7:3n+7] (optional)   tau      N·m     joint efforts (the backend's unit)
=======================  =======  ======  =====================================

Action: joint velocities, rad/s, bounded by the backend's spec. Commands
outside the bounds are clipped by the backend and reported in
``info["action_clipped"]``.

Reward: 1 on the step that inserts the peg, else 0 (the learners here imitate;
they do not use it). ``info["is_success"]`` is set on every step, with
``info["success_margin"]`` (m; >= 0 once inserted).

The oracle interface (simulated backends only), which DAgger and AggreVaTeD use:
``get_state()`` / ``set_state()`` save and restore the episode exactly (the
backend's whole physics state, the task's if it keeps any, the step count and
the last observation), and ``expert_action()`` is the task's scripted expert at
the current state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from robot_il.hal.base import Observation
from robot_il.hal.factory import Backend, make_backend
from robot_il.tasks.base import task_entry

JOINTS = -1
"""In a layout row's size: the arm's number of joints."""
OBS_LAYOUT: tuple[tuple[str, str, int, str], ...] = (
    ("joint_positions", "q", JOINTS, "rad"),
    ("joint_velocities", "dq", JOINTS, "rad/s"),
    ("ee_position", "ee", 3, "m"),
    ("socket_quat", "socket", 4, "1"),
)
EFFORT_LAYOUT = ("joint_efforts", "tau", JOINTS, "N·m")


def observation_layout(
    include_efforts: bool = False, num_joints: int = 6, effort_unit: str = "N·m"
) -> list[dict[str, Any]]:
    """The flat vector's layout as records (field, short name, start, stop, unit), for docs and HDF5 attrs."""
    rows, start = [], 0
    for field, short, size, unit in OBS_LAYOUT + ((EFFORT_LAYOUT,) if include_efforts else ()):
        size = num_joints if size == JOINTS else size
        unit = effort_unit if field == "joint_efforts" else unit
        rows.append({"field": field, "name": short, "start": start, "stop": start + size, "unit": unit})
        start += size
    return rows


def flatten_observation(obs: Observation, include_efforts: bool = False) -> np.ndarray:
    parts = [obs.joint_positions, obs.joint_velocities, obs.ee_position, obs.socket_quat]
    if include_efforts:
        parts.append(obs.joint_efforts)
    return np.concatenate(parts).astype(np.float32)


@dataclass(frozen=True)
class EnvState:
    """A saved episode of :class:`InsertionEnv` (see :meth:`InsertionEnv.get_state`)."""

    backend: Any
    """The backend robot's own saved state (e.g. the simulator's ``SimState``)."""
    task: Any
    """The task's saved state, None for a stateless task."""
    steps: int
    observation: Observation


class InsertionEnv(gym.Env[np.ndarray, np.ndarray]):
    """Insertion into a socket on a randomised pan-tilt unit: the task ``task`` (registered in robot_il.tasks)
    over ``backend`` (default: the task's simulated backend)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        backend: str | Backend | None = None,
        config: Any | Mapping[str, Any] | None = None,
        include_efforts: bool = False,
        render_mode: str | None = None,
        camera: str = "overview",
        width: int = 320,
        height: int = 240,
        task: str = "peg",
    ) -> None:
        from robot_il.config import from_dict

        entry = task_entry(task)
        config_class = entry.config_class()
        cfg = config if isinstance(config, config_class) else from_dict(config_class, config or {})
        backend = entry.backend if backend is None else backend
        self.env_id = entry.env_id
        self.backend = make_backend(backend, cfg) if isinstance(backend, str) else backend
        self.task = entry.make_task(cfg)
        self.include_efforts = include_efforts
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            modes = self.metadata["render_modes"]
            raise ValueError(f"render_mode {render_mode!r} is not supported; use one of {modes}")
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": round(cfg.control_rate_hz)}
        # Connected first: a real arm's joints and limits come from its description, read at connect.
        self.backend.connect()
        try:
            self._init_spaces()
        except BaseException:
            self.backend.close()
            raise
        self._camera, self._size = camera, (height, width)
        self._renderer = None
        self._steps = 0
        self._obs: Observation | None = None
        self._expert = None
        self._task_name = task

    def _init_spaces(self) -> None:
        spec = self.backend.robot.spec
        self.action_space = gym.spaces.Box(
            spec.action_low.astype(np.float32), spec.action_high.astype(np.float32), dtype=np.float32
        )
        dim = self.layout()[-1]["stop"]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)

    def layout(self) -> list[dict[str, Any]]:
        """This env's observation layout (the arm's joint count, its effort unit)."""
        spec = self.backend.robot.spec
        return observation_layout(self.include_efforts, spec.num_joints, spec.effort_unit)

    @property
    def last_observation(self) -> Observation:
        """The latest HAL observation (structured, float64), e.g. for the scripted expert."""
        if self._obs is None:
            raise RuntimeError("call reset() first")
        return self._obs

    # The oracle interface (DAgger, AggreVaTeD) ------------------------------------------------------

    @property
    def horizon(self) -> int:
        """Control steps in a whole episode (the task's time limit)."""
        return round(self.task.cfg.episode_seconds * self.task.cfg.control_rate_hz)

    @property
    def elapsed_steps(self) -> int:
        return self._steps

    def get_state(self) -> EnvState:
        """The episode as it stands, to go back to with :meth:`set_state` (exact on a simulated backend)."""
        if self._obs is None:
            raise RuntimeError("call reset() before get_state()")
        get = getattr(self.backend.robot, "get_state", None)
        if get is None:
            raise NotImplementedError(
                f"backend {self.backend.name!r} cannot save and restore its state (only a simulator can); "
                "learners that query an oracle at saved states need a simulated backend"
            )
        task_get = getattr(self.task, "get_state", None)
        return EnvState(get(), task_get() if task_get else None, self._steps, self._obs)

    def set_state(self, state: EnvState) -> np.ndarray:
        """Go back to a state from :meth:`get_state`; returns its observation (flat)."""
        set_ = getattr(self.backend.robot, "set_state", None)
        if set_ is None:
            raise NotImplementedError(f"backend {self.backend.name!r} cannot restore a saved state")
        set_(state.backend)
        if state.task is not None:
            self.task.set_state(state.task)
        self._steps, self._obs = state.steps, state.observation
        return flatten_observation(self._obs, self.include_efforts)

    def expert_action(self) -> np.ndarray:
        """The task's scripted expert's command (rad/s) at the current state: the oracle's label."""
        if self._expert is None:
            self._expert = task_entry(self._task_name).make_expert(self.task.cfg)
        return np.asarray(self._expert(self.last_observation), dtype=np.float32)

    def env_args(self) -> dict[str, Any]:
        """The demo files' ``env_args`` record for this env (robomimic's keys plus ours)."""
        import dataclasses

        from robot_il.data.schema import make_env_args

        spec = self.backend.robot.spec
        return make_env_args(
            env_name=self.env_id,
            backend=self.backend.name,
            task_config=dataclasses.asdict(self.task.cfg),
            obs_spec={k: {"shape": list(f.shape), "unit": f.unit} for k, f in spec.observation.items()},
            obs_layout=self.layout(),
            action_dim=spec.num_joints,
            action_low=spec.action_low.tolist(),
            action_high=spec.action_high.tolist(),
            joint_names=list(spec.joint_names),
            arm=spec.arm,
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        # Home first, so the socket never moves with the peg in it; then the new socket pose.
        self.backend.robot.reset()
        pan, tilt = self.task.randomize(self.backend.pan_tilt, self.np_random)
        self._obs = self.backend.robot.observe()
        self._steps = 0
        info = {"is_success": False, "pan_tilt": np.array([pan, tilt]), "time": 0.0}
        return flatten_observation(self._obs, self.include_efforts), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        applied = self.backend.robot.send_action(np.asarray(action, dtype=np.float64))
        self._obs = self.backend.robot.observe()
        self._steps += 1
        elapsed = self._steps / self.backend.robot.spec.control_rate_hz
        outcome = self.task.evaluate(self._obs, elapsed)
        info = {
            "is_success": outcome.success,
            "end_reason": outcome.reason,
            "depth": outcome.depth,
            "lateral": outcome.lateral,
            "success_margin": outcome.margin,
            "action_clipped": applied.was_clipped,
            "applied_action": applied.velocities,
            "time": elapsed,
        }
        obs = flatten_observation(self._obs, self.include_efforts)
        return obs, float(outcome.success), outcome.terminated, outcome.truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        cell = getattr(self.backend.robot, "cell", None)
        if cell is None:
            raise RuntimeError(f"backend {self.backend.name!r} has no simulation to render")
        if self._renderer is None:
            import mujoco

            self._renderer = mujoco.Renderer(cell.model, *self._size)
        self._renderer.update_scene(cell.data, camera=self._camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.backend.close()


PegInsertionEnv = InsertionEnv
"""The insertion env with its default task, the peg (``robot_il/PegInsertion-v0``)."""

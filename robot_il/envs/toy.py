"""A tiny reaching task with a known answer, for learning tests and examples.

A point in the plane moves by its action each step (bounded to ±0.1 per
axis); it starts uniformly in [-1, -0.5] x [-0.5, 0.5] and succeeds within 0.08
of the goal (0.6, 0). Episodes end on success or after 60 steps. The optimal
policy heads straight for the goal: about 12 steps.

:class:`ChainEnv` is a chain whose expert cost-to-go is known in closed form,
for testing the oracle learners' estimates (``robot_il.algos.oracle``). Both
envs offer the oracle interface of the insertion env: ``get_state`` /
``set_state`` and ``expert_action``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

GOAL = np.array([0.6, 0.0])
GOAL_RADIUS = 0.08
MAX_STEPS = 60
STEP = 0.1


class PointReachEnv(gym.Env[np.ndarray, np.ndarray]):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.5, 1.5, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-STEP, STEP, shape=(2,), dtype=np.float32)
        self._pos = np.zeros(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._pos = self.np_random.uniform([-1.0, -0.5], [-0.5, 0.5])
        self._t = 0
        return self._pos.astype(np.float32), {"is_success": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        applied = np.clip(np.asarray(action, dtype=np.float64), -STEP, STEP)
        self._pos = np.clip(self._pos + applied, -1.5, 1.5)
        self._t += 1
        margin = GOAL_RADIUS - float(np.linalg.norm(self._pos - GOAL))
        success = margin > 0
        truncated = not success and self._t >= MAX_STEPS
        info = {"is_success": success, "success_margin": margin, "applied_action": applied}
        return self._pos.astype(np.float32), float(success), success, truncated, info

    # The oracle interface.
    horizon = MAX_STEPS

    @property
    def elapsed_steps(self) -> int:
        return self._t

    def expert_action(self) -> np.ndarray:
        """Straight at the goal, as fast as the bounds allow."""
        return np.clip(GOAL - self._pos, -STEP, STEP).astype(np.float32)

    def get_state(self) -> tuple[np.ndarray, int]:
        return self._pos.copy(), self._t

    def set_state(self, state: tuple[np.ndarray, int]) -> np.ndarray:
        self._pos, self._t = np.array(state[0], dtype=np.float64), int(state[1])
        return self._pos.astype(np.float32)


class ChainEnv(gym.Env[np.ndarray, np.ndarray]):
    """A point on a line: x moves by the action (bounded to ±1) each step, from x = 0.

    Success once x >= ``goal`` (10); it leaves the workspace below -2; the time limit is
    30 steps. The expert always steps +1, so from x, taking a and then following the expert,
    the time to success is 1 + (goal - x - a) steps (the last step counted by the fraction of it
    needed): the known answer the cost-to-go estimate is tested against.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    goal = 10.0
    low = -2.0
    horizon = 30

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._x, self._t = 0.0, 0

    @property
    def elapsed_steps(self) -> int:
        return self._t

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._x, self._t = 0.0, 0
        return np.array([self._x], dtype=np.float32), {"is_success": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        self._x += a
        self._t += 1
        success = self._x >= self.goal
        left = self._x < self.low
        truncated = not (success or left) and self._t >= self.horizon
        info = {"is_success": success, "success_margin": self._x - self.goal, "applied_action": np.array([a])}
        return np.array([self._x], dtype=np.float32), float(success), success or left, truncated, info

    def expert_action(self) -> np.ndarray:
        return np.ones(1, dtype=np.float32)

    def get_state(self) -> tuple[float, int]:
        return self._x, self._t

    def set_state(self, state: tuple[float, int]) -> np.ndarray:
        self._x, self._t = float(state[0]), int(state[1])
        return np.array([self._x], dtype=np.float32)


def goal_states(n: int, rng: np.random.Generator) -> np.ndarray:
    """Final states of successful demonstrations: points inside the goal region."""
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = GOAL_RADIUS * 0.8 * np.sqrt(rng.uniform(0, 1, n))
    return (GOAL + np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)).astype(np.float32)

"""A tiny reaching task with a known answer, for learning tests and examples.

A point in the plane moves by its action each step (bounded to ±0.1 per
axis); it starts uniformly in [-1, -0.5] x [-0.5, 0.5] and succeeds within 0.08
of the goal (0.6, 0). Episodes end on success or after 60 steps. The optimal
policy heads straight for the goal: about 12 steps.
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
        success = bool(np.linalg.norm(self._pos - GOAL) < GOAL_RADIUS)
        truncated = not success and self._t >= MAX_STEPS
        info = {"is_success": success, "applied_action": applied}
        return self._pos.astype(np.float32), float(success), success, truncated, info


def goal_states(n: int, rng: np.random.Generator) -> np.ndarray:
    """Final states of successful demonstrations: points inside the goal region."""
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = GOAL_RADIUS * 0.8 * np.sqrt(rng.uniform(0, 1, n))
    return (GOAL + np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)).astype(np.float32)

"""Turn a trained checkpoint into a policy the rollout loop can call."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robot_il.checkpoint import CheckpointError, load_policy
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.hal.base import Observation


class CheckpointPolicy:
    """Acts with a trained policy's mean (or samples from it with ``deterministic=False``)."""

    def __init__(self, path: str | Path, deterministic: bool = True) -> None:
        self.net, self.meta = load_policy(path)
        self.deterministic = deterministic
        self.layout = self.meta["env_args"]["obs_layout"]

    def check_env(self, env: PegInsertionEnv) -> None:
        """Refuse an env whose observation vector differs from the one the policy was trained on."""
        from robot_il.envs.insertion import observation_layout

        if observation_layout(env.include_efforts) != self.layout:
            raise CheckpointError(
                f"{self.meta['path']}: trained on observation layout {[r['name'] for r in self.layout]}, "
                f"the env gives {[r['name'] for r in observation_layout(env.include_efforts)]}"
            )

    def __call__(self, obs: Observation, obs_vec: np.ndarray) -> np.ndarray:
        return self.net.act(obs_vec, deterministic=self.deterministic)

"""Turn a trained checkpoint into a policy the rollout loop can call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robot_il.checkpoint import CheckpointError, load_policy
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.hal.base import Observation

ACT_MODES = ("mean", "sample")


def act_mode(meta: dict) -> str:
    """How a policy file says it is to act: 'sample' if it was trained with ``sample_actions``, else 'mean'."""
    return "sample" if meta.get("config", {}).get("sample_actions") else "mean"


class CheckpointPolicy:
    """Acts with a trained policy's mean, or samples from it: as the policy file says (its training config's
    ``sample_actions``) unless ``act`` names 'mean' or 'sample'. Samples are drawn from a generator seeded
    with ``seed``, so a sequence of episodes is reproducible."""

    def __init__(self, path: str | Path, act: str | None = None, seed: int = 0) -> None:
        self.net, self.meta = load_policy(path)
        if act is not None and act not in ACT_MODES:
            raise ValueError(f"act must be one of {ACT_MODES} or None, got {act!r}")
        self.act_mode = act or act_mode(self.meta)
        self.deterministic = self.act_mode == "mean"
        self.generator = None if self.deterministic else torch.Generator().manual_seed(seed)
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
        return self.net.act(obs_vec, deterministic=self.deterministic, generator=self.generator)

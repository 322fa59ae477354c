"""Turn a trained checkpoint into a policy the rollout loop can call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robot_il.checkpoint import CheckpointError, load_policy
from robot_il.data.writer import check_arm
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.hal.base import Observation

ACT_MODES = ("mean", "sample")


def act_mode(meta: dict) -> str:
    """How a policy file says it is to act: 'sample' if it was trained with ``sample_actions``, else 'mean'."""
    return "sample" if meta.get("config", {}).get("sample_actions") else "mean"


def layout_difference(trained: list[dict], here: list[dict]) -> str:
    """Why a policy trained on observation layout ``trained`` cannot act on ``here``, in one line."""
    if [r["field"] for r in trained] != [r["field"] for r in here]:
        return f"trained on observations {[r['name'] for r in trained]}, the env gives {[r['name'] for r in here]}"
    for a, b in zip(trained, here, strict=True):
        if a["unit"] != b["unit"]:
            return (
                f"trained on {a['field']} in {a['unit']}, this robot reports them in {b['unit']}: its inputs would "
                f"mean something else (configure the driver to report {a['unit']}, or train on this robot's data)"
            )
        if a["stop"] - a["start"] != b["stop"] - b["start"]:
            return f"trained on {a['field']} of width {a['stop'] - a['start']}, the env gives {b['stop'] - b['start']}"
    return "trained on another observation layout"


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

    def check_task(self, task: str) -> None:
        """Refuse a policy trained for another task, or on another observation of it (efforts or not), before
        anything connects."""
        from robot_il.envs import task_includes_efforts
        from robot_il.tasks import task_entry

        env_id = task_entry(task).env_id
        trained = self.meta["env_args"].get("env_name")
        if trained != env_id:
            raise CheckpointError(
                f"{self.meta['path']}: trained on {trained}, not on the {task!r} task ({env_id}); pass --task to "
                "match it, or train a policy for this task"
            )
        fields = [r["field"] for r in self.layout]
        if ("joint_efforts" in fields) != task_includes_efforts(task):
            names = [r["name"] for r in self.layout]
            raise CheckpointError(
                f"{self.meta['path']}: trained on observations {names}; the {task!r} task "
                f"{'observes' if task_includes_efforts(task) else 'does not observe'} joint efforts"
            )

    def check_env(self, env: PegInsertionEnv) -> None:
        """Refuse an env of another arm, or whose observation vector differs from the one the policy was
        trained on (fields, widths, units), naming what differs."""
        spec = env.backend.robot.spec
        check_arm(self.meta["path"], self.meta["env_args"], spec.joint_names, spec.arm)
        here = env.layout()
        if here != self.layout:
            raise CheckpointError(f"{self.meta['path']}: {layout_difference(self.layout, here)}")

    def __call__(self, obs: Observation, obs_vec: np.ndarray) -> np.ndarray:
        return self.net.act(obs_vec, deterministic=self.deterministic, generator=self.generator)

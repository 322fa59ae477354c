"""The HDF5 demo schema (robomimic's layout, so existing tools read it). See ``demos/README.md``.

```
data/                      attrs: total (int), env_args (JSON), state_only (bool), robot_il_schema (int)
  demo_0/                  attrs: num_samples, state_only, source, seed, success, sparsity
    obs/<key>              (N, ...) float64, one row per state
    next_obs/<key>         (N, ...) the state after each action (only when actions are known)
    actions                (N, A) joint velocities, rad/s (absent in state-only demos)
    rewards                (N,) zeros where unknown
    dones                  (N,) 1 on the last row of an episode that terminated
    time_index             (N,) int64: each row's step index in the original episode
mask/train, mask/valid     demo names (bytes)
```
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SCHEMA_VERSION = 1

OBS_KEYS: tuple[str, ...] = (
    "joint_positions",
    "joint_velocities",
    "joint_efforts",
    "ee_position",
    "socket_quat",
    "pan_tilt",
    "timestamp",
)
"""Observation keys written for every state (the HAL's Observation fields)."""

VALID_EVERY = 10
"""Every 10th demo (demo_9, demo_19, ...) goes to mask/valid, the rest to mask/train."""


def demo_name(index: int) -> str:
    return f"demo_{index}"


def demo_index(name: str) -> int:
    return int(name.rsplit("_", 1)[1])


def make_env_args(
    *,
    env_name: str,
    backend: str,
    task_config: Mapping[str, Any],
    obs_spec: Mapping[str, Mapping[str, Any]],
    obs_layout: list[dict[str, Any]],
    action_dim: int,
    action_low: list[float],
    action_high: list[float],
    joint_names: list[str],
    arm: str = "",
) -> dict[str, Any]:
    """The ``data.attrs["env_args"]`` record: robomimic's three keys plus what our learners need.

    Returned in its JSON form (tuples as lists), so it compares equal to what a file holds.
    """
    record = {
        "env_name": env_name,
        "type": 2,  # robomimic's EnvType.GYM_TYPE
        "env_kwargs": {"backend": backend, "config": dict(task_config)},
        "backend": backend,
        "control_rate_hz": task_config.get("control_rate_hz"),
        "randomisation": {"pan_range": task_config.get("pan_range"), "tilt_range": task_config.get("tilt_range")},
        "joint_names": list(joint_names),
        "arm": arm,
        "obs_spec": {k: dict(v) for k, v in obs_spec.items()},
        "obs_layout": obs_layout,
        "action_dim": action_dim,
        "action_low": list(action_low),
        "action_high": list(action_high),
        "units": {"actions": "rad/s", **{k: v["unit"] for k, v in obs_spec.items()}},
    }
    return json.loads(dumps(record))


def dumps(env_args: Mapping[str, Any]) -> str:
    return json.dumps(env_args, sort_keys=True)

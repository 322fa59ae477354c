"""Record scripted-expert demonstrations in simulation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from robot_il.data.writer import DemoWriter, EpisodeBuffer
from robot_il.envs.insertion import InsertionEnv
from robot_il.hal.base import Observation
from robot_il.tasks import task_entry


def record_expert(
    env: InsertionEnv,
    path: str | Path,
    num_demos: int,
    seed: int = 0,
    expert: Callable[[Observation], np.ndarray] | None = None,
    keep_failures: bool = False,
    progress: bool = True,
) -> list[str]:
    """Append ``num_demos`` expert episodes to ``path`` (created if missing); ``expert`` defaults to the
    env's task's scripted expert.

    Episode ``i`` uses seed ``seed + i`` (skipping failed ones unless
    ``keep_failures``), so a file is reproducible from its seed. Each episode is
    committed as it ends: an interrupted recording keeps what it finished.
    """
    expert = expert or task_entry(env.env_id).make_expert(env.task.cfg)
    writer = DemoWriter(path, env.env_args())
    names: list[str] = []
    episode_seed = seed
    bar = tqdm(total=num_demos, desc="recording expert demos", unit="demo", disable=not progress)
    attempts = 0
    while len(names) < num_demos:
        attempts += 1
        if attempts > 2 * num_demos + 10:
            raise RuntimeError(f"the expert failed too often ({attempts - len(names)} failures); check the config")
        _, info = env.reset(seed=episode_seed)
        buffer = EpisodeBuffer()
        buffer.add(env.last_observation)
        rewards, done = [], False
        while not done:
            action = expert(env.last_observation)
            _, reward, terminated, truncated, info = env.step(action)
            buffer.add(env.last_observation)
            buffer.actions.append(np.asarray(info["applied_action"]))
            rewards.append(reward)
            done = terminated or truncated
        success = bool(info["is_success"])
        if success or keep_failures:
            names.append(
                writer.write_episode(
                    buffer,
                    terminated=terminated,
                    rewards=np.asarray(rewards),
                    attrs={
                        "source": "expert",
                        "seed": episode_seed,
                        "success": success,
                        "end_reason": info["end_reason"],
                        "pan_tilt": np.asarray(env.last_observation.pan_tilt),
                    },
                )
            )
            bar.update(1)
        episode_seed += 1
    bar.close()
    return names


def expert_demo_file(make_env: Callable[[], InsertionEnv], path: str | Path, num_demos: int, seed: int = 0) -> Path:
    """``path`` holding ``num_demos`` expert demos (seeds from ``seed``), recorded if it does not exist.

    The recording goes to a name of this process's and is renamed into place when whole: a killed
    recording leaves no partial file for a later run to train on, and processes that start together on
    one path each see a whole file (the same demos, since a file is a function of its seed)."""
    path = Path(path)
    if not path.exists():
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.unlink(missing_ok=True)
        env = make_env()
        try:
            record_expert(env, partial, num_demos, seed=seed)
        finally:
            env.close()
        partial.replace(path)
    return path

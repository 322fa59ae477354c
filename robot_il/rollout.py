"""Roll a policy out in the gymnasium env and summarise the episodes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from robot_il.envs.insertion import PegInsertionEnv
from robot_il.hal.base import Observation
from robot_il.stats import wilson_interval

Policy = Callable[[Observation, np.ndarray], np.ndarray]
"""A policy maps (structured observation, flat observation vector) to joint velocities, rad/s."""


@dataclass
class Episode:
    seed: int
    success: bool
    steps: int
    end_reason: str
    duration_s: float
    pan_tilt: tuple[float, float]
    frames: list[np.ndarray] = field(default_factory=list, repr=False)


MAX_VIDEO_FRAMES = 300
"""Frames rendered per episode (15 s at 20 Hz): a 50 s failure shows nothing new after that."""


def run_episode(env: PegInsertionEnv, policy: Policy, seed: int, render: bool = False) -> Episode:
    obs_vec, info = env.reset(seed=seed)
    pan, tilt = (float(x) for x in info["pan_tilt"])
    frames = [env.render()] if render else []
    steps, reason, success = 0, "", False
    while True:
        action = policy(env.last_observation, obs_vec)
        obs_vec, _, terminated, truncated, info = env.step(action)
        steps += 1
        if render and len(frames) < MAX_VIDEO_FRAMES:
            frames.append(env.render())
        if terminated or truncated:
            success, reason = bool(info["is_success"]), str(info["end_reason"])
            break
    return Episode(seed, success, steps, reason, float(info["time"]), (pan, tilt), frames)


def evaluate(
    env: PegInsertionEnv,
    policy: Policy,
    seeds: Iterable[int],
    render_first: int = 0,
    progress: str | None = "episodes",
) -> list[Episode]:
    """Run one episode per seed; keep the rendered frames of the first ``render_first``."""
    seeds = list(seeds)
    episodes = []
    bar = tqdm(seeds, desc=progress, disable=progress is None, unit="ep")
    for i, seed in enumerate(bar):
        episodes.append(run_episode(env, policy, seed, render=i < render_first))
        bar.set_postfix(success=f"{np.mean([e.success for e in episodes]):.2f}")
    return episodes


def summarize(episodes: list[Episode]) -> dict[str, Any]:
    """Success rate with its 95% Wilson interval, episode lengths, and why episodes ended."""
    n = len(episodes)
    k = sum(e.success for e in episodes)
    lo, hi = wilson_interval(k, n)
    reasons: dict[str, int] = {}
    for e in episodes:
        reasons[e.end_reason] = reasons.get(e.end_reason, 0) + 1
    lengths = [e.steps for e in episodes]
    succ_durations = [e.duration_s for e in episodes if e.success]
    return {
        "episodes": n,
        "successes": k,
        "success_rate": k / n,
        "success_ci95": [lo, hi],
        "mean_episode_steps": float(np.mean(lengths)),
        "mean_success_duration_s": float(np.mean(succ_durations)) if succ_durations else None,
        "end_reasons": reasons,
        "per_episode": [{k: v for k, v in asdict(e).items() if k != "frames"} for e in episodes],
    }


def save_video(frames: list[np.ndarray], path: str | Path, fps: int) -> Path:
    """Write frames to an MP4 (H.264 through imageio's bundled ffmpeg)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=8) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path

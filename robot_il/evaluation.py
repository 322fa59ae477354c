"""Evaluate a policy (a checkpoint, or the scripted expert) and write its report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from robot_il.checkpoint import EVAL_DIR
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.report import plot_episodes
from robot_il.rollout import evaluate, save_video, summarize


def make_policy(env: PegInsertionEnv, policy: str | Path, act: str | None = None):
    """``"expert"`` for the scripted expert, else a run directory or policy file acting as ``act`` says
    ('mean' or 'sample'; None: as the policy file says)."""
    if str(policy) == "expert":
        from robot_il.tasks import task_entry

        expert = task_entry(env.env_id).make_expert(env.task.cfg)
        return (lambda obs, _vec: expert(obs)), "scripted_expert"
    from robot_il.policies import CheckpointPolicy

    runner = CheckpointPolicy(policy, act=act)
    runner.check_env(env)
    sampled = " (sampled actions)" if runner.act_mode == "sample" else ""
    return runner, f"{runner.meta['algo']}:{policy}{sampled}"


def evaluate_policy(
    env: PegInsertionEnv,
    policy: str | Path,
    episodes: int,
    seed: int,
    out: str | Path | None = None,
    video_episodes: int = 0,
    progress: bool = True,
    act_mode: str | None = None,
) -> dict[str, Any]:
    """Success rate (95% Wilson interval), episode lengths; JSON, a plot and an optional video in ``out``.

    ``act_mode``: 'mean' or 'sample' (None: as the policy file says); recorded as the metrics' ``act``."""
    act, name = make_policy(env, policy, act_mode)
    if out is None:
        base = Path(policy)
        out = (base if base.is_dir() else base.parent) / EVAL_DIR
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    eps = evaluate(
        env,
        act,
        range(seed, seed + episodes),
        render_first=video_episodes,
        progress=f"eval {name}" if progress else None,
    )
    mode = getattr(act, "act_mode", "expert")
    metrics = {"policy": name, "act": mode, "backend": env.backend.name, "first_seed": seed, **summarize(eps)}
    metrics["wall_clock_s"] = time.perf_counter() - t0
    metrics["out"] = str(out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_episodes(eps, out / "episodes.png", name)
    frames = [f for e in eps[:video_episodes] for f in e.frames]
    if frames:
        metrics["video"] = str(save_video(frames, out / "rollouts.mp4", fps=env.metadata["render_fps"]))
    return metrics

"""Simulation speed: env steps per second, and env.step's overhead over raw MuJoCo physics.

Both sides replay the same recorded expert actions from the same start states,
interleaved episode by episode in one process so that machine load affects
them alike. "raw" is ``mj_step`` of the same sub-steps with the control set,
nothing else; "env" is ``env.step`` of the registered gymnasium env (wrappers
included), which adds the HAL's clipping, the observation, and the task's
success and termination checks. Target: env / raw <= 1.3.

    python benchmarks/sim_speed.py [--episodes 20] [--out benchmarks/results]
    python benchmarks/sim_speed.py --task clip    # the clip cell (efforts in the observation) -> sim_speed_clip.*

(``benchmarks/arms.py`` measures each simulated arm's overhead with :func:`time_env_and_raw`.)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import gymnasium
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mujoco
import numpy as np

from robot_il.tasks import task_entry, task_names

TARGET_RATIO = 1.3


def record_actions(env, expert, seed: int) -> list[np.ndarray]:
    env.reset(seed=seed)
    actions, done = [], False
    while not done:
        a = expert(env.unwrapped.last_observation)
        actions.append(a)
        *_, terminated, truncated, _ = env.step(a)
        done = terminated or truncated
    return actions


def time_env_and_raw(env, expert, episodes: int, repeats: int) -> tuple[list[float], list[float], int]:
    """Seconds per replayed episode through ``env.step`` and through raw ``mj_step`` (interleaved), and the
    control steps replayed on each side."""
    cell = env.unwrapped.backend.robot.cell
    model, substeps, ctrl_idx = cell.model, env.unwrapped.task.cfg.substeps, cell.index.arm_ctrl
    raw = mujoco.MjData(model)
    env_times, raw_times, steps = [], [], 0
    for ep in range(episodes):
        actions = record_actions(env, expert, seed=ep)
        for _ in range(repeats):
            env.reset(seed=ep)
            t0 = time.perf_counter()
            for a in actions:
                env.step(a)
            env_times.append(time.perf_counter() - t0)

            # Same start state for the raw side: copy the reset state of the env's cell.
            env.reset(seed=ep)
            mujoco.mj_copyData(raw, model, cell.data)
            t0 = time.perf_counter()
            for a in actions:
                raw.ctrl[ctrl_idx] = a
                mujoco.mj_step(model, raw, nstep=substeps)
            raw_times.append(time.perf_counter() - t0)
            steps += len(actions)
    return env_times, raw_times, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5, help="timed replays of each episode per side")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--task", choices=task_names(), default="peg", help="the cell (default: peg)")
    args = parser.parse_args()

    entry = task_entry(args.task)
    env = gymnasium.make(entry.env_id)
    substeps = env.unwrapped.task.cfg.substeps
    expert = entry.make_expert(env.unwrapped.task.cfg)
    env_times, raw_times, steps = time_env_and_raw(env, expert, args.episodes, args.repeats)
    env.close()

    env_total, raw_total = float(np.sum(env_times)), float(np.sum(raw_times))
    per_step_env = env_total / steps
    per_step_raw = raw_total / steps
    ratio = env_total / raw_total
    result = {
        "benchmark": "sim_speed",
        "command": "python benchmarks/sim_speed.py "
        + f"--episodes {args.episodes} --repeats {args.repeats}"
        + ("" if args.task == "peg" else f" --task {args.task}"),
        "env_id": entry.env_id,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "mujoco": mujoco.__version__,
        },
        "control_rate_hz": env.unwrapped.task.cfg.control_rate_hz,
        "substeps_per_control_step": substeps,
        "control_steps_timed": steps,
        "env_steps_per_s": 1.0 / per_step_env,
        "raw_control_steps_per_s": 1.0 / per_step_raw,
        "raw_physics_steps_per_s": substeps / per_step_raw,
        "env_step_us": per_step_env * 1e6,
        "raw_step_us": per_step_raw * 1e6,
        "overhead_ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
        "realtime_factor": (1.0 / env.unwrapped.task.cfg.control_rate_hz) / per_step_env,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "sim_speed" if args.task == "peg" else f"sim_speed_{args.task}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2))

    fig, ax = plt.subplots(figsize=(6, 3.2))
    bars = ax.barh(
        ["raw mj_step\n(same sub-steps)", "env.step\n(gymnasium.make)"],
        [result["raw_step_us"], result["env_step_us"]],
        color=["tab:gray", "tab:blue"],
    )
    ax.bar_label(bars, fmt="%.0f µs")
    ax.set_xlabel(f"time per {1000 / result['control_rate_hz']:.0f} ms control step (µs)")
    ax.set_title(
        f"{args.task}: overhead {ratio:.2f}× raw physics (target ≤ {TARGET_RATIO}×), "
        f"{result['env_steps_per_s']:.0f} env steps/s"
    )
    fig.tight_layout()
    fig.savefig(args.out / f"{stem}.png", dpi=110)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

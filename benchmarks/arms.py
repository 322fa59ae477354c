"""Every simulated arm: the scripted expert's success, env.step's overhead over raw physics, the safety filter's
latency, and GPRIL from states only on the 7-joint arm.

    python benchmarks/arms.py [--expert-episodes 200] [--arms jaco ur5e fr3]
    python benchmarks/peg_sample_efficiency.py --arm fr3 --variants states --seeds 0 1 2 --iterations 150 \\
        --work runs/arms_fr3 --out benchmarks/results/arms/gpril_fr3      # the GPRIL runs this summary reads

Per arm (all on the peg cell, each arm in its own default layout):

1. the scripted expert on ``--expert-episodes`` randomised episodes (seeds 0..), with every episode's socket
   pose, outcome and end reason kept;
2. ``env.step`` against raw ``mj_step`` of the same sub-steps, replaying the expert's actions interleaved in
   one process (:func:`sim_speed.time_env_and_raw`); target <= 1.2x;
3. the safety filter on 20 000 fuzzed commands (NaN, 1e300, ordinary) at postures around home, with the arm's
   own model and shipped limits (:func:`safety_latency.filter_overhead`); target p99 < 1 ms;

and, from the records of ``peg_sample_efficiency.py --arm fr3`` (100 held-out episodes per seed, the policy
acting as it deploys), GPRIL from states only on the FR3; target >= 0.9 on each of 3 seeds.
Writes benchmarks/results/arms.json (``summary`` keyed by arm) and arms.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from pathlib import Path

import mujoco
import numpy as np
from safety_latency import filter_overhead
from sim_speed import time_env_and_raw

from robot_il.arm import arm_names, sim_arm
from robot_il.cell.config import PegConfig
from robot_il.envs.insertion import InsertionEnv
from robot_il.rollout import evaluate, summarize
from robot_il.tasks import task_entry

RESULTS = Path(__file__).parent / "results"
TARGETS = {"expert_success": 0.95, "env_step_overhead": 1.2, "filter_p99_us": 1000.0, "gpril_states_min": 0.9}


def measure_arm(arm: str, expert_episodes: int, speed_episodes: int, repeats: int, commands: int) -> dict:
    env = InsertionEnv(config={"arm": arm})
    expert = task_entry("peg").make_expert(env.task.cfg)
    episodes = evaluate(env, lambda obs, _v: expert(obs), range(expert_episodes), progress=f"{arm} expert")
    expert_record = summarize(episodes)
    env_times, raw_times, steps = time_env_and_raw(env, expert, speed_episodes, repeats)
    spec = env.backend.robot.spec
    env.close()
    filter_record = filter_overhead(commands, PegConfig(arm=arm, pan_range=(0.0, 0.0), tilt_range=(0.0, 0.0)))
    return {
        "arm": arm,
        "maker": sim_arm(arm).maker,
        "joints": spec.num_joints,
        "joint_names": list(spec.joint_names),
        "expert": expert_record,
        "speed": {
            "control_steps_timed": steps,
            "env_step_us": 1e6 * float(np.sum(env_times)) / steps,
            "raw_step_us": 1e6 * float(np.sum(raw_times)) / steps,
            "overhead_ratio": float(np.sum(env_times) / np.sum(raw_times)),
        },
        "filter": filter_record,
    }


def gpril_records(folder: Path) -> dict | None:
    """GPRIL states-only runs on the FR3 (peg_sample_efficiency.py --arm fr3 records), summarised."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("gpril_states_seed*.json"))]
    if not runs:
        return None
    rates = [r["final"]["success_rate"] for r in runs]
    return {
        "seeds": [r["seed"] for r in runs],
        "success_per_seed": rates,
        "mean_success": float(np.mean(rates)),
        "min_success": float(np.min(rates)),
        "acts": sorted({r["final"]["act"] for r in runs}),
        "env_steps": [r["counters"]["env_steps"] for r in runs],
        "wall_s": [r["counters"]["wall_s"] for r in runs],
        "records": str(folder.relative_to(Path(__file__).parent.parent)),
    }


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(summary)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    values = [
        ([summary[a]["expert_success"] for a in arms], "scripted expert success", TARGETS["expert_success"], "{:.1%}"),
        (
            [summary[a]["env_step_overhead"] for a in arms],
            "env.step / raw physics",
            TARGETS["env_step_overhead"],
            "{:.2f}x",
        ),
        ([summary[a]["filter_p99_us"] for a in arms], "safety filter p99, µs", TARGETS["filter_p99_us"], "{:.0f}"),
    ]
    for ax, (ys, title, target, fmt) in zip(axes, values, strict=True):
        bars = ax.bar([f"{a}\n({summary[a]['joints']} joints)" for a in arms], ys, color="tab:blue")
        ax.bar_label(bars, labels=[fmt.format(y) for y in ys])
        ax.axhline(target, color="r", ls="--", label=f"target {target:g}")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", default=arm_names(), choices=arm_names())
    parser.add_argument("--expert-episodes", type=int, default=200)
    parser.add_argument("--speed-episodes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--gpril-records", type=Path, default=RESULTS / "arms" / "gpril_fr3" / "peg_sample_efficiency")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    per_arm = {
        a: measure_arm(a, args.expert_episodes, args.speed_episodes, args.repeats, args.commands) for a in args.arms
    }
    summary = {}
    for a, r in per_arm.items():
        summary[a] = {
            "joints": r["joints"],
            "expert_success": r["expert"]["success_rate"],
            "expert_episodes": r["expert"]["episodes"],
            "env_step_overhead": r["speed"]["overhead_ratio"],
            "filter_p99_us": r["filter"]["p99_us"],
            "filter_violations": r["filter"]["violations"],
        }
    gpril = gpril_records(args.gpril_records)
    if gpril is not None:
        summary["fr3"]["gpril_states"] = gpril
    met = {
        a: {
            "expert_success": s["expert_success"] >= TARGETS["expert_success"],
            "env_step_overhead": s["env_step_overhead"] <= TARGETS["env_step_overhead"],
            "filter_p99": s["filter_p99_us"] < TARGETS["filter_p99_us"],
            **(
                {"gpril_states": s["gpril_states"]["min_success"] >= TARGETS["gpril_states_min"]}
                if "gpril_states" in s
                else {}
            ),
        }
        for a, s in summary.items()
    }
    result = {
        "benchmark": "arms",
        "command": "python benchmarks/arms.py " + shlex.join(sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "mujoco": mujoco.__version__},
        "targets": TARGETS,
        "targets_met": met,
        "summary": summary,
        "arms": per_arm,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "arms.json").write_text(json.dumps(result, indent=1))
    plot(summary, args.out / "arms.png")
    print(json.dumps({"summary": summary, "targets_met": met}, indent=2))


if __name__ == "__main__":
    main()

"""GAIL's env workers: how many environment processes pay off on this machine.

The whole GAIL loop (rollout, D's step, the TRPO update) on sim peg, from a BC
start, with a fixed batch of 4 096 env steps per rollout split over 1, 2, 4 or 8
environments, each in a process of its own (``vec_env="subproc"``; 1 env runs in
the learner's process). Each run does ``--rollouts`` rollouts; its rate is the
env steps of all but the first rollout over their wall time (the first holds the
process start and the critic's warm-up), read from the per-rollout timestamps in
``train_log.json``. The configurations run one after another in one invocation,
so they see the same machine; the load average before and after is recorded.

    python benchmarks/gail_envs.py [--envs 1 2 4 8] [--rollouts 5] [--out benchmarks/results]

Writes ``gail_envs.json`` and ``gail_envs.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from robot_il.algos.common import DemoData
from robot_il.algos.gail import PRESETS, train_gail
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.record.expert import expert_demo_file

BATCH = 4096
"""Env steps per rollout, all envs together (the paper's 16 x 256)."""


def measure(demos: DemoData, num_envs: int, rollouts: int, work: Path) -> dict:
    cfg = dataclasses.replace(
        PRESETS["fast"],
        num_envs=num_envs,
        n_steps=BATCH // num_envs,
        total_steps=rollouts * BATCH,
        vec_env="subproc" if num_envs > 1 else "dummy",
        eval_every=10_000,  # no evaluation but the first and the last
        eval_episodes=1,
        critic_warmup_rollouts=1,
    )
    t0 = time.perf_counter()
    summary = train_gail(demos, demos.env_args, demos.env_factory(), work / f"envs{num_envs}", cfg, progress=False)
    total = time.perf_counter() - t0
    log = summary["rollouts"]
    steps = log[-1]["env_steps"] - log[0]["env_steps"]
    seconds = log[-1]["wall_s"] - log[0]["wall_s"]
    return {
        "num_envs": num_envs,
        "n_steps": cfg.n_steps,
        "rollouts": len(log),
        "env_steps_per_s": steps / seconds,
        "steady_wall_s": seconds,
        "total_wall_s": total,
        "rollout_wall_s": [round(b["wall_s"] - a["wall_s"], 3) for a, b in itertools.pairwise(log)],
    }


def plot(results: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    n = [r["num_envs"] for r in results]
    rate = [r["env_steps_per_s"] for r in results]
    ax.plot(n, rate, "o-", label="measured")
    ax.plot(n, [rate[0] * k for k in n], "--", color="grey", label="linear in envs")
    ax.set_xscale("log", base=2)
    ax.set_xticks(n, [str(k) for k in n])
    ax.set_ylim(0, max(rate) * 1.3)
    ax.set_xlabel("environment processes (4 096 env steps per rollout in all)")
    ax.set_ylabel("env steps per second, whole GAIL loop")
    ax.set_title(f"GAIL env workers on {os.cpu_count()} cores (sim peg, TRPO, BC start)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--rollouts", type=int, default=5)
    parser.add_argument("--demos", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        demos = DemoData.load(expert_demo_file(PegInsertionEnv, work / "demos.h5", args.demos))
        for n in args.envs:
            results.append(measure(demos, n, args.rollouts, work))
            print(json.dumps(results[-1]), file=sys.stderr)
    best = max(results, key=lambda r: r["env_steps_per_s"])
    out = {
        "benchmark": "gail_envs",
        "command": "python benchmarks/gail_envs.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "load_average_1min_before_after": [load_before, os.getloadavg()[0]],
        },
        "task": f"robot_il/PegInsertion-v0, GAIL fast preset (TRPO, BC start), {args.demos} expert demos, "
        f"{BATCH} env steps per rollout",
        "results": results,
        "summary": {
            "best_num_envs": best["num_envs"],
            "speedup_over_one": {r["num_envs"]: r["env_steps_per_s"] / results[0]["env_steps_per_s"] for r in results},
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gail_envs.json").write_text(json.dumps(out, indent=1))
    plot(results, args.out / "gail_envs.png")
    print(json.dumps(out["summary"], indent=1))
    return out


if __name__ == "__main__":
    main()

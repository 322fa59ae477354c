"""BC success on simulated peg insertion from 25 scripted-expert demos, over several seeds.

    python benchmarks/bc_peg.py [--seeds 0 1 2] [--episodes 100]

Records the demos once (seed 0, the same as demos/peg_25.h5), trains BC with
each seed (the paper's settings), evaluates each on the same 100 held-out
socket poses, and writes benchmarks/results/bc_peg.json and bc_peg.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from robot_il.algos.bc import BCConfig, train_bc
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.evaluation import evaluate_policy
from robot_il.record.expert import expert_demo_file
from robot_il.stats import wilson_interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--demos", type=int, default=25)
    parser.add_argument("--work", type=Path, default=Path("runs/bench_bc"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    env = PegInsertionEnv()
    demos = expert_demo_file(PegInsertionEnv, args.work / f"peg_{args.demos}.h5", args.demos)
    runs = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        summary = train_bc(demos, args.work / f"bc_seed{seed}", BCConfig(seed=seed))
        train_s = time.perf_counter() - t0
        m = evaluate_policy(env, args.work / f"bc_seed{seed}", args.episodes, 10_000)
        runs.append(
            {
                "seed": seed,
                "success_rate": m["success_rate"],
                "success_ci95": m["success_ci95"],
                "successes": m["successes"],
                "episodes": m["episodes"],
                "mean_episode_steps": m["mean_episode_steps"],
                "train_steps": summary["steps"],
                "train_s": train_s,
                "eval_s": m["wall_clock_s"],
            }
        )
    env.close()
    k = sum(r["successes"] for r in runs)
    n = sum(r["episodes"] for r in runs)
    rates = [r["success_rate"] for r in runs]
    result = {
        "benchmark": "bc_peg",
        "command": f"python benchmarks/bc_peg.py --seeds {' '.join(map(str, args.seeds))} --episodes {args.episodes}",
        "task": "robot_il/PegInsertion-v0, pan ±0.4 rad, tilt ±0.1 rad",
        "demos": {"count": args.demos, "source": "scripted expert, seeds 0..24"},
        "eval": {"episodes_per_seed": args.episodes, "first_seed": 10_000},
        "config": json.loads(json.dumps(BCConfig().__dict__)),
        "runs": runs,
        "mean_success_rate": float(np.mean(rates)),
        "std_success_rate": float(np.std(rates)),
        "pooled_success_rate": k / n,
        "pooled_success_ci95": list(wilson_interval(k, n)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bc_peg.json").write_text(json.dumps(result, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    lo = [max(0.0, r["success_rate"] - r["success_ci95"][0]) for r in runs]
    hi = [max(0.0, r["success_ci95"][1] - r["success_rate"]) for r in runs]
    ax.bar([f"seed {r['seed']}" for r in runs], rates, yerr=[lo, hi], capsize=6, color="tab:blue")
    ax.axhline(result["mean_success_rate"], color="k", ls="--", label=f"mean {result['mean_success_rate']:.1%}")
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"success over {args.episodes} episodes (95% CI)")
    ax.set_title(f"BC from {args.demos} expert demos, sim peg insertion")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "bc_peg.png", dpi=110)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()

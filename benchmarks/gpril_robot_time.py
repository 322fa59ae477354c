"""GPRIL's robot time to skill: practice episodes and robot minutes (20 Hz) until the policy reaches 0.9.

    python benchmarks/gpril_robot_time.py [--seeds 0 1 2 3 4] [--preset robot_time] [--set FIELD=VALUE ...]
                                          [--variant states|final]

From the 25 scripted-expert peg demos with their actions stripped (kinesthetic teaching's states only), each
seed trains GPRIL with the preset until its 20-episode evaluation (validation seeds 10000..) first reaches 0.9
(``stop_at_success``); the practice it took is the robot time, counted in env steps of practice (evaluation
episodes cost none in simulation; on a robot a lab would evaluate less often). The policy of that moment is
then confirmed on 100 held-out episodes (seeds 20000..), acting as it deploys (sampling). Records per seed
(config, curve, counters, held-out per-episode pose and outcome) go to benchmarks/results/gpril_robot_time/,
the summary to benchmarks/results/gpril_robot_time.json and a plot beside it. Runs resume.

The robot time is counted to where the run stopped: the preset's ``stop_after`` evaluations in a row at 0.9, each
on new poses (``eval_rotate``); ``first_evaluation_at_0.9`` keeps the first one.

``--variant final`` learns from each demo's final state only (the paper's sparsest case) instead of every state;
its records and summary key are ``final`` (give it its own ``--out`` to keep the states summary).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
from peg_sample_efficiency import _setting, final_evaluation, prepare_demos

from robot_il.algos.gpril import reached as reached_at
from robot_il.algos.registry import ALGORITHMS
from robot_il.stats import wilson_interval

LEVEL = 0.9
RATE_HZ = 20.0
TARGET_MINUTES = 30.0


def run_seed(seed: int, demos: Path, args, results: Path) -> dict:
    record = results / f"{args.variant}_seed{seed}.json"
    if record.exists():
        return json.loads(record.read_text())
    run = args.work / (
        f"{args.preset}_seed{seed}" if args.variant == "states" else f"{args.preset}_{args.variant}_seed{seed}"
    )
    overrides = {"seed": seed, **dict(args.set)}
    summary = ALGORITHMS["gpril"].train(demos, run, preset=args.preset, state_only=True, overrides=overrides)
    curve, counters = summary["curve"], summary["counters"]
    times = summary["config"]["stop_after"]
    # The robot time is the practice until the stopping rule fired (``stop_after`` evaluations in a row at 0.9),
    # which is when a lab would stop; the first evaluation at 0.9 is kept beside it.
    reached = next((p for i, p in enumerate(curve) if reached_at(curve[: i + 1], LEVEL, times)), None)
    first = next((p for p in curve if p["eval_success"] >= LEVEL), None)
    final = final_evaluation(run, args.episodes)
    entry = {
        "seed": seed,
        "variant": args.variant,
        "preset": args.preset,
        "config": summary["config"],
        "counters": counters,
        "curve": curve,
        "reached": reached is not None,
        "env_steps_to_0.9": reached["env_steps"] if reached else None,
        "episodes_to_0.9": reached["episodes"] if reached else None,
        "robot_minutes_to_0.9": reached["env_steps"] / RATE_HZ / 60 if reached else None,
        "first_evaluation_at_0.9": first,
        "learner_s": counters["wall_s"],
        "final": final,
    }
    record.write_text(json.dumps(entry, indent=1))
    return entry


def aggregate(results: Path, out: Path, commands: list[str], variant: str = "states") -> dict:
    runs = [json.loads(p.read_text()) for p in sorted(results.glob(f"{variant}_seed*.json"))]
    if not runs:
        return {}
    steps = [r["env_steps_to_0.9"] for r in runs]
    rates = [r["final"]["success_rate"] for r in runs]
    k = sum(r["final"]["successes"] for r in runs)
    n = sum(r["final"]["episodes"] for r in runs)
    states = {
        "seeds": [r["seed"] for r in runs],
        "env_steps_to_0.9": steps,
        "episodes_to_0.9": [r["episodes_to_0.9"] for r in runs],
        "robot_minutes_to_0.9": [None if s is None else s / RATE_HZ / 60 for s in steps],
        "mean_success": float(np.mean(rates)),
        "min_success": float(np.min(rates)),
        "success_per_seed": rates,
        "confirmed_0.9": float(np.mean(rates)) >= LEVEL,
        "pooled_ci95": list(wilson_interval(k, n)),
        "learner_s": [r["learner_s"] for r in runs],
        "acts": sorted({r["final"]["act"] for r in runs}),
    }
    reached = [s for s in steps if s is not None]
    summary = {
        "benchmark": "gpril_robot_time",
        "commands": commands,
        "level": LEVEL,
        "control_rate_hz": RATE_HZ,
        "target": f"<= {TARGET_MINUTES:g} robot minutes ({TARGET_MINUTES * 60 * RATE_HZ:.0f} env steps) to 0.9, "
        "every seed",
        "summary": {variant: states},
        "target_met": len(reached) == len(steps) and max(reached) <= TARGET_MINUTES * 60 * RATE_HZ,
        "machine": "2-core CPU, one torch thread per process",
    }
    (out / "gpril_robot_time.json").write_text(json.dumps(summary, indent=1))
    _plot(runs, out / "gpril_robot_time.png", variant)
    return summary


def _plot(runs: list[dict], path: Path, variant: str = "states") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        minutes = [p["env_steps"] / RATE_HZ / 60 for p in r["curve"]]
        ax.plot(minutes, [p["eval_success"] for p in r["curve"]], marker=".", label=f"seed {r['seed']}")
    ax.axhline(LEVEL, color="k", ls=":", lw=1)
    ax.axvline(TARGET_MINUTES, color="r", ls="--", lw=1, label=f"target {TARGET_MINUTES:g} min")
    ax.set_xlabel("robot minutes of practice (20 Hz)")
    ax.set_ylabel("success (20 evaluation episodes)")
    what = "states only" if variant == "states" else "final states only"
    ax.set_title(f"GPRIL from {what}, sim peg: robot time to 0.9")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--preset", default="robot_time", choices=sorted(ALGORITHMS["gpril"].preset_table))
    parser.add_argument("--set", type=_setting, nargs="+", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--variant", default="states", choices=("states", "final"), help="demos' states kept")
    parser.add_argument("--work", type=Path, default=Path("runs/robot_time"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    results = args.out / "gpril_robot_time"
    results.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/gpril_robot_time.py " + shlex.join(sys.argv[1:])
    previous = args.out / "gpril_robot_time.json"
    commands = json.loads(previous.read_text()).get("commands", []) if previous.exists() else []
    commands = [*commands, command] if command not in commands else commands
    args.work.mkdir(parents=True, exist_ok=True)
    demos = prepare_demos(args.work, 25)[args.variant]
    for seed in args.seeds:
        run_seed(seed, demos, args, results)
        summary = aggregate(results, args.out, commands, args.variant)
        print(json.dumps(summary["summary"][args.variant], indent=1))


if __name__ == "__main__":
    main()

"""Clip insertion (the GPRIL paper's second simulated task): BC, GPRIL (full and states only) and GAIL on
25 scripted-expert demos.

    python benchmarks/clip_insertion.py [--seeds 0 1 2] [--iterations 400] [--gail-steps 300000]
    python benchmarks/clip_insertion.py --smoke      # a tiny budget: checks the plumbing, measures nothing
    python benchmarks/clip_insertion.py --methods gpril_states --seeds 0 1 --tag fast \
        --gpril-preset fast  # an ablation (the policy reads the efforts): records under clip_insertion/ablations/

25 demos of ``robot_il/ClipInsertion-v0`` (seeds 0..24; joint efforts in the
observation, as in the paper) are recorded once; ``states`` is the same file
with its actions stripped. Each method trains with each seed: BC on the full
demos; GPRIL (preset ``clip``: ``fast`` with the policy blind to the joint
efforts, which the env still observes) on the full demos and on states only
(``beta_pi = 0``); GAIL (preset ``fast``) on the full demos. Every trained
policy is then evaluated on 100 held-out episodes (seeds 20000..), acting as it
deploys (GPRIL's fast preset samples; BC and GAIL act with the mean). Each record
keeps the command, the full config, the learning curve, the counters, the
held-out episodes' end reasons and every episode's socket pose and outcome. Runs are
resumable (finished runs are skipped, a killed run resumes from its
checkpoint) and each finished run's record is written at once to
``benchmarks/results/clip_insertion/``, so the benchmark can be completed over
several sittings. The summary goes to ``benchmarks/results/clip_insertion.json``:
per method (``bc``, ``gpril_full``, ``gpril_states``, ``gail_full``) the
``seeds``, ``mean_success``, ``min_success``, ``env_steps`` (self-supervised
environment steps per seed; 0 for BC), ``env_steps_to_0.8`` (on the learner's own
20-episode evaluations; None where never reached) and ``wall_s`` (training
wall-clock per seed), with ``ratio_gail_over_gpril`` (env steps to 0.8, a lower
bound at GAIL's budget where it never got there). ``--tag NAME`` runs an ablation
into ``clip_insertion/ablations/NAME/`` (summarised under ``ablations``); the
success of every held-out episode by its pan angle is plotted in
``clip_insertion_by_pan.png``. The paper's ordering is GPRIL > GAIL > BC with
states only costing GPRIL little; the JSON reports what was measured, and
``ordering`` says whether it held.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
from peg_sample_efficiency import _setting

from robot_il.algos.registry import ALGORITHMS
from robot_il.data import strip_actions
from robot_il.envs import make_task_env
from robot_il.evaluation import evaluate_policy
from robot_il.record.expert import expert_demo_file
from robot_il.stats import seed_summary

METHODS = ("bc", "gpril_full", "gpril_states", "gail_full", "gail_bc_full")
LEVEL = 0.8
"""Success (the learner's own 20-episode evaluations) at which env steps are compared."""
EVAL_SEED = 20_000
"""First seed of the held-out evaluation episodes (demos use 0.., learners' own evaluations 10000..)."""


def prepare_demos(work: Path, n: int) -> dict[str, Path]:
    full = expert_demo_file(lambda: make_task_env("clip"), work / f"clip_{n}.h5", n)
    states = work / f"clip_{n}_states.h5"
    if not states.exists():
        strip_actions(full, states)
    return {"full": full, "states": states}


def final_evaluation(run: Path, episodes: int) -> dict:
    """The policy on held-out socket poses, acting as it deploys (its file says: sampling or mean)."""
    env = make_task_env("clip")
    metrics = evaluate_policy(env, run / "policy.pt", episodes, EVAL_SEED, run / "eval")
    env.close()
    keys = ("act", "episodes", "successes", "success_rate", "success_ci95", "mean_episode_steps", "end_reasons")
    keys += ("mean_success_duration_s", "per_episode")
    return {k: metrics[k] for k in keys}


def steps_to(curve: list[dict], level: float = LEVEL) -> int | None:
    return next((p["env_steps"] for p in curve if p["eval_success"] >= level), None)


def import_bc(seed: int, runs: Path, records: Path, results: Path, command: str) -> None:
    """BC's row from ``benchmarks/bc.py --task clip`` (the project's ``train bc``, selected on closed-loop
    validation): its policy of ``seed`` (``runs/bc_seed{seed}``) evaluated here on this benchmark's held-out
    poses, its training record (config, curve, selection) kept beside."""
    record = results / f"bc_seed{seed}.json"
    if record.exists():
        return
    trained = json.loads((records / f"bc_seed{seed}.json").read_text())
    entry = {
        "method": "bc",
        "seed": seed,
        "tag": "",
        "command": command,
        "trained_by": trained.get("command"),
        "config": trained.get("config"),
        "counters": {"env_steps": 0, "train_steps": trained.get("steps"), "wall_s": trained.get("wall_s")},
        "curve": trained.get("learning_curve", []),
        "selected": {k: trained.get(k) for k in ("selected_by", "best_step", "best_eval_success", "stopped_by")},
        "env_steps": 0,
        "env_steps_to_0.8": None,
        "wall_s": float(trained.get("wall_s") or 0.0),
        "final": final_evaluation(runs / f"bc_seed{seed}", 100),
    }
    record.write_text(json.dumps(entry, indent=1))


def run_method(method: str, demos: dict[str, Path], seed: int, args, results: Path, command: str) -> None:
    record = results / f"{method}_seed{seed}.json"
    if record.exists():
        return
    run = args.work / f"{method}_seed{seed}"
    if method == "bc" and args.import_bc:
        import_bc(seed, args.import_bc, args.out / "bc_clip", results, command)
        return
    if method == "bc":
        summary = ALGORITHMS["bc"].train(demos["full"], run, overrides={"seed": seed, **args.bc_overrides})
        counters = {"env_steps": 0, "wall_s": summary["wall_clock_s"], "train_steps": summary["steps"]}
    elif method.startswith("gpril"):
        overrides = {"iterations": args.iterations, "seed": seed, **args.gpril_overrides}
        state_only = method == "gpril_states"
        summary = ALGORITHMS["gpril"].train(
            demos["states" if state_only else "full"],
            run,
            preset=args.gpril_preset,
            state_only=state_only,
            overrides=overrides,
        )
        counters = summary["counters"]
    else:  # GAIL from scratch (the paper's) or from a BC start
        start = {"bc_warm_start_steps": 0} if method == "gail_full" else {}
        overrides = {"total_steps": args.gail_steps, "seed": seed, **start, **args.gail_overrides}
        summary = ALGORITHMS["gail"].train(demos["full"], run, preset="fast", overrides=overrides)
        counters = summary["counters"]
    entry = {
        "method": method,
        "seed": seed,
        "tag": args.tag,
        "command": command,
        "config": summary.get("config"),
        "counters": counters,
        "curve": summary.get("curve", summary.get("log", [])),
        "env_steps": int(counters.get("env_steps", 0)),
        "env_steps_to_0.8": steps_to(summary.get("curve", [])),
        "wall_s": float(counters["wall_s"]),
        "final": final_evaluation(run, args.episodes),
    }
    record.write_text(json.dumps(entry, indent=1))


def summarise(runs: list[dict]) -> dict:
    summary = {}
    for method in METHODS:
        rs = [r for r in runs if r["method"] == method]
        if not rs:
            continue
        summary[method] = {
            **seed_summary(rs),
            "env_steps": [r["env_steps"] for r in rs],
            "env_steps_to_0.8": [r.get("env_steps_to_0.8") for r in rs],
            "wall_s": [r["wall_s"] for r in rs],
            "end_reasons": _add_up([r["final"].get("end_reasons", {}) for r in rs]),
            "acts": sorted({r["final"].get("act", "mean") for r in rs}),
        }
    gpril = [s for s in summary.get("gpril_full", {}).get("env_steps_to_0.8", []) if s is not None]
    for gail in ("gail_full", "gail_bc_full"):
        if gail in summary and gpril:
            steps = summary[gail]["env_steps_to_0.8"]
            reached = [s for s in steps if s is not None]
            if len(reached) == len(steps):
                summary[gail]["ratio_gail_over_gpril"] = float(np.mean(reached) / np.mean(gpril))
            else:  # never reached on some seed: at least its budget over GPRIL's steps
                budget = min(e for s, e in zip(steps, summary[gail]["env_steps"], strict=True) if s is None)
                summary[gail]["ratio_gail_over_gpril"] = {"at_least": float(budget / np.mean(gpril))}
    return summary


def _add_up(counts: list[dict]) -> dict:
    total: dict = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return total


def aggregate(results: Path, out: Path, command: str) -> dict:
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    summary = summarise(runs)
    ablations = {
        folder.name: summarise([json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))])
        for folder in sorted((results / "ablations").glob("*"))
        if folder.is_dir()
    }
    _plot_by_pan([*runs, *(json.loads(p.read_text()) for p in (results / "ablations").glob("*/*.json"))], out)
    mean = {m: s["mean_success"] for m, s in summary.items()}
    ordering = {}
    if {"gpril_full", "gail_full"} <= set(mean):
        ordering["gpril_full > gail_full"] = mean["gpril_full"] > mean["gail_full"]
    if {"gail_full", "bc"} <= set(mean):
        ordering["gail_full > bc"] = mean["gail_full"] > mean["bc"]
    if {"gpril_full", "gpril_states"} <= set(mean):
        ordering["gpril_states within 0.1 of gpril_full"] = mean["gpril_states"] >= mean["gpril_full"] - 0.1
    result = {
        "benchmark": "clip_insertion",
        "command": command,
        "commands": list(dict.fromkeys(r["command"] for r in runs if "command" in r)),
        "task": "robot_il/ClipInsertion-v0, pan ±0.8 rad, tilt ±0.2 rad, efforts observed, 25 expert demos",
        "final_eval": f"{runs[0]['final']['episodes'] if runs else 0} episodes per run from seed {EVAL_SEED}, "
        "each policy acting as it deploys (see each method's acts)",
        "summary": summary,
        "ablations": ablations,
        "ordering": ordering,
    }
    out.write_text(json.dumps(result, indent=2))
    return result


def _plot_by_pan(runs: list[dict], out: Path) -> None:
    """Held-out success by the socket's pan angle, per method (and ablation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = np.linspace(-0.8, 0.8, 9)
    groups: dict[str, list[tuple[float, bool]]] = {}
    for r in runs:
        name = r["method"] + (f" [{r['tag']}]" if r.get("tag") else "")
        groups.setdefault(name, []).extend((e["pan_tilt"][0], e["success"]) for e in r["final"].get("per_episode", []))
    groups = {k: v for k, v in groups.items() if v}
    if not groups:
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    centres = (bins[:-1] + bins[1:]) / 2
    for name, pts in sorted(groups.items()):
        pan, ok = np.array([p for p, _ in pts]), np.array([s for _, s in pts], dtype=float)
        idx = np.clip(np.digitize(pan, bins) - 1, 0, len(centres) - 1)
        rate = [ok[idx == i].mean() if np.any(idx == i) else np.nan for i in range(len(centres))]
        ax.plot(centres, rate, marker="o", label=f"{name} ({ok.mean():.0%})")
    ax.set_xlabel("socket pan angle (rad)")
    ax.set_ylabel("held-out success")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("clip insertion: success by pan angle (all seeds pooled)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out.with_name(out.stem + "_by_pan.png"), dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--demos", type=int, default=25)
    parser.add_argument("--episodes", type=int, default=100, help="held-out evaluation episodes per run")
    parser.add_argument("--iterations", type=int, default=400, help="GPRIL iterations")
    parser.add_argument(
        "--gpril-preset", default="clip", help="GPRIL's preset (clip: fast with the policy blind to the efforts)"
    )
    parser.add_argument("--gail-steps", type=int, default=300_000, help="GAIL environment steps (preset fast)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--bc-set", nargs="*", default=[], type=_setting, metavar="KEY=VALUE", help="BCConfig")
    parser.add_argument("--gpril-set", nargs="*", default=[], type=_setting, metavar="KEY=VALUE", help="GPRILConfig")
    parser.add_argument("--gail-set", nargs="*", default=[], type=_setting, metavar="KEY=VALUE", help="GAILConfig")
    parser.add_argument(
        "--import-bc",
        type=Path,
        metavar="RUNS",
        help="BC's rows from benchmarks/bc.py --task clip: its runs directory (RUNS/bc_seedN/policy.pt) and its "
        "records (results/bc_clip/), evaluated on this benchmark's held-out poses instead of training again",
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny budget in a scratch directory (plumbing only)")
    parser.add_argument("--tag", default="", help="an ablation's name: its records go to clip_insertion/ablations/TAG")
    parser.add_argument("--work", type=Path, default=Path("runs/clip_insertion"), help="demos and run directories")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="results directory")
    args = parser.parse_args(argv)
    # One torch thread per process (the learner here, each actor its own): two threads on this shared 2-core
    # machine spin-wait and made likelihood steps 20x slower beside another job.
    import torch

    torch.set_num_threads(1)
    command = "python benchmarks/clip_insertion.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.bc_overrides, args.gpril_overrides, args.gail_overrides = (
        dict(args.bc_set),
        dict(args.gpril_set),
        dict(args.gail_set),
    )
    if args.smoke:  # minutes, not hours: never mistaken for the benchmark (its own directories)
        args.seeds, args.demos, args.episodes, args.iterations = [0], 3, 2, 2
        args.gail_steps = 256
        args.bc_overrides = {"max_steps": 50, **args.bc_overrides}
        args.gpril_overrides = {
            "episodes_per_iteration": 1,
            "flow_steps": 20,
            "policy_steps": 10,
            "min_replay": 1,
            "eval_every": 1,
            "eval_episodes": 1,
            **args.gpril_overrides,
        }
        args.gail_overrides = {
            "num_envs": 1,
            "n_steps": 128,
            "minibatch_size": 64,
            "eval_every": 1,
            "eval_episodes": 1,
            "bc_warm_start_steps": 10,
            "critic_warmup_rollouts": 0,
            "vec_env": "dummy",
            **args.gail_overrides,
        }
        args.work = args.work.with_name(args.work.name + "_smoke")
        args.out = args.work / "results"  # under runs/: never beside the benchmark's records
    results = args.out / ("runs" if args.smoke else "clip_insertion")
    records = results / "ablations" / args.tag if args.tag else results
    records.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    demos = prepare_demos(args.work, args.demos)
    if args.tag:
        args.work = args.work / args.tag
    for seed in args.seeds:
        for method in args.methods:
            run_method(method, demos, seed, args, records, command)
    out = args.out / ("summary.json" if args.smoke else "clip_insertion.json")
    result = aggregate(results, out, command)
    print(json.dumps(result["summary"], indent=1))
    return result


if __name__ == "__main__":
    main()

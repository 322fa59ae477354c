"""The main job on the simulation (``make run``): demos, training, evaluation, report.

Each stage leaves its files in the run directory and is skipped when they are
already there, so an interrupted ``make run`` picks up where it stopped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from robot_il.algos.registry import ALGORITHMS
from robot_il.data import load_demos, strip_actions
from robot_il.envs import make_task_env
from robot_il.evaluation import evaluate_policy
from robot_il.record.expert import record_expert

console = Console()
EVAL_SEED = 10_000  # evaluation episodes never reuse a demo's socket pose
VIDEO_EPISODES = 3
GPRIL_ITERATIONS = 120  # about 5 minutes with the `fast` preset on 2 cores
GPRIL_DEMOS = {"peg": "states", "clip": "full"}
GPRIL_PRESET = {"peg": "fast", "clip": "clip"}  # clip: fast, the policy blind to the joint efforts
"""What GPRIL learns from by default: the headline on peg (states only, as kinesthetic teaching records them);
on clip, full demos, which lead at this short budget (100 iterations, β_π 1: 54, 25, 44% held out against
states only's 32, 34, 31%; β_π 0.1, the preset's now, evaluated 0.4-0.7 at iteration 120). At 400 iterations
states only leads (0.893 against 0.847; benchmarks/results/clip_insertion.json)."""


def run_main_job(
    out: Path,
    num_demos: int = 25,
    eval_episodes: int = 100,
    seed: int = 0,
    task: str = "peg",
    gpril_demos: str | None = None,
    arm: str = "jaco",
) -> dict[str, Any]:
    """The main job on ``task``'s simulated cell (``peg``, or ``clip``: ``make run TASK=clip``).

    BC learns from the demos' states and actions; GPRIL from their states alone (``gpril_demos="states"``,
    the default on peg) or from both (``"full"``, the default on clip)."""
    if gpril_demos not in (None, "states", "full"):
        raise ValueError(f"gpril_demos must be 'states' or 'full', got {gpril_demos!r}")
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    env = make_task_env(task, render_mode="rgb_array", **({} if arm == "jaco" else {"config": {"arm": arm}}))

    console.rule(f"[bold]1/6 record {num_demos} scripted-expert demos")
    t = time.perf_counter()
    demos_path = out / "demos" / f"{task}_{num_demos}.h5"
    have = len(load_demos(demos_path)) if demos_path.exists() else 0
    if have < num_demos:
        record_expert(env, demos_path, num_demos - have, seed=seed + have)
    console.print(f"demos: {demos_path}")
    timings["record_s"] = time.perf_counter() - t

    console.rule("[bold]2/6 evaluate the scripted expert (reference)")
    t = time.perf_counter()
    expert = evaluate_policy(env, "expert", 50, EVAL_SEED, out / "expert")
    timings["expert_eval_s"] = time.perf_counter() - t

    console.rule("[bold]3/6 train behavioural cloning (demos with actions)")
    t = time.perf_counter()
    bc_dir = out / "bc"
    bc_log = bc_dir / "train_log.json"
    bc_summary = (
        json.loads(bc_log.read_text())
        if bc_log.exists()
        else ALGORITHMS["bc"].train(demos_path, bc_dir, overrides={"seed": seed})
    )
    timings["bc_train_s"] = time.perf_counter() - t

    console.rule(f"[bold]4/6 evaluate BC on {eval_episodes} episodes (its mean, then sampling)")
    t = time.perf_counter()
    bc = evaluate_policy(env, bc_dir, eval_episodes, EVAL_SEED, bc_dir / "eval", video_episodes=VIDEO_EPISODES)
    bc_sampled = evaluate_policy(env, bc_dir, eval_episodes, EVAL_SEED, bc_dir / "eval_sample", act_mode="sample")
    timings["bc_eval_s"] = time.perf_counter() - t

    state_only = (gpril_demos or GPRIL_DEMOS[task]) == "states"
    gpril_source = demos_path
    if state_only:  # what kinesthetic teaching gives: the same demos without their actions
        gpril_source = demos_path.with_name(f"{demos_path.stem}_states.h5")
        if not gpril_source.exists():
            strip_actions(demos_path, gpril_source)
    kind = "states only" if state_only else "states and actions"
    console.rule(
        f"[bold]5/6 train GPRIL from the demos' {kind} "
        f"({GPRIL_ITERATIONS} iterations of `{GPRIL_PRESET[task]}`, 1 actor)"
    )
    t = time.perf_counter()
    gpril_dir = out / "gpril"
    gpril_summary = ALGORITHMS["gpril"].train(
        gpril_source,
        gpril_dir,
        preset=GPRIL_PRESET[task],
        overrides={"iterations": GPRIL_ITERATIONS, "seed": seed, "sample_actions": True},
    )
    timings["gpril_train_s"] = time.perf_counter() - t

    console.rule(f"[bold]6/6 evaluate GPRIL on {eval_episodes} episodes (sampling, as it deploys; then its mean)")
    t = time.perf_counter()
    gpril = evaluate_policy(env, gpril_dir, eval_episodes, EVAL_SEED, gpril_dir / "eval", video_episodes=VIDEO_EPISODES)
    gpril_mean = evaluate_policy(env, gpril_dir, eval_episodes, EVAL_SEED, gpril_dir / "eval_mean", act_mode="mean")
    timings["gpril_eval_s"] = time.perf_counter() - t
    env.close()

    timings["total_s"] = time.perf_counter() - t_start
    results = {
        "task": f"{env.env_id} (pan ±{env.task.cfg.pan_range[1]} rad, tilt ±{env.task.cfg.tilt_range[1]} rad)",
        "demos": {"file": str(demos_path), "count": num_demos, "source": "scripted expert"},
        "methods": {
            "scripted_expert": _brief(expert),
            "bc": {**_brief(bc), "train_steps": bc_summary["steps"], "best_valid_nll": bc_summary["best_valid_nll"]},
            "bc_sampled": _brief(bc_sampled),
            "gpril": {
                **_brief(gpril),
                "demos": kind,
                "practice_episodes": gpril_summary["counters"]["episodes"],
                "practice_env_steps": gpril_summary["counters"]["env_steps"],
            },
            "gpril_mean": _brief(gpril_mean),
        },
        "acting": "bc and gpril_mean act with the policy's mean; bc_sampled and gpril sample from it "
        "(GPRIL is trained to deploy so: sample_actions)",
        "timings_s": timings,
        "files": {
            "bc_training_curves": str(bc_dir / "train_curves.png"),
            "bc_episodes": str(bc_dir / "eval" / "episodes.png"),
            "bc_video": bc.get("video"),
            "gpril_learning_curve": str(gpril_dir / "learning_curve.png"),
            "gpril_episodes": str(gpril_dir / "eval" / "episodes.png"),
            "gpril_video": gpril.get("video"),
            "success_plot": str(out / "success.png"),
        },
    }
    (out / "metrics.json").write_text(json.dumps(results, indent=2))
    _plot_success(results, out / "success.png")
    _print_summary(results)
    return results


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("episodes", "successes", "success_rate", "success_ci95", "mean_episode_steps", "mean_success_duration_s")
    return {k: m[k] for k in keys}


def _plot_success(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["methods"])
    rates = [results["methods"][n]["success_rate"] for n in names]
    lo = [max(0.0, r - results["methods"][n]["success_ci95"][0]) for n, r in zip(names, rates, strict=True)]
    hi = [max(0.0, results["methods"][n]["success_ci95"][1] - r) for n, r in zip(names, rates, strict=True)]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    colours = {"scripted_expert": "tab:gray", "bc": "tab:blue", "bc_sampled": "lightsteelblue"}
    colours |= {"gpril": "tab:green", "gpril_mean": "darkseagreen"}
    bars = ax.bar(names, rates, yerr=[lo, hi], capsize=6, color=[colours.get(n, "tab:olive") for n in names])
    for bar, r in zip(bars, rates, strict=True):  # inside a tall bar, above a short one
        inside = r >= 0.15
        y, colour = (r / 2, "white") if inside else (r + 0.03, "black")
        ax.text(bar.get_x() + bar.get_width() / 2, y, f"{r:.0%}", ha="center", va="center", color=colour)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate (95% Wilson CI)")
    gpril_kind = results["methods"]["gpril"]["demos"]
    ax.set_title(f"{results['task'].split()[0]} from {results['demos']['count']} demos (GPRIL: {gpril_kind})")
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _print_summary(results: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="robot-il main job")
    for col in ("method", "success", "95% CI", "episodes", "mean length (steps)"):
        table.add_column(col)
    for name, m in results["methods"].items():
        lo, hi = m["success_ci95"]
        table.add_row(
            name, f"{m['success_rate']:.1%}", f"{lo:.1%}-{hi:.1%}", str(m["episodes"]), f"{m['mean_episode_steps']:.0f}"
        )
    console.print(table)
    console.print(
        f"total {results['timings_s']['total_s']:.0f} s; report in {Path(results['files']['success_plot']).parent}"
    )

"""How clip policies fail: each trained policy replays the clip benchmark's held-out episodes and every step is
measured in the plug's frame.

    python benchmarks/clip_failure_modes.py --runs full=RUNS/it400/gpril_full_seed0 \
        states=RUNS/it400/gpril_states_seed0 [--episodes 100] [--expert]

The episodes are the ones ``benchmarks/clip_insertion.py`` scores (seeds 20000.., the policy acting as its
file says, samples drawn from a generator seeded 0), so each run's success here is its record's, episode by
episode; the record's ``matches_benchmark`` says whether it was. Per episode it keeps the end reason and the
socket pose, and from the cell's geometry (the scripted expert's privileged model: the mouth, the plug's axis
and slot):

* ``entered``: the clip's tip reached the mouth plane (depth >= 0);
* ``entry_misalign``: the clip's misalignment (rad; axis and legs against the slot) at that first step;
* ``retries``: how often it backed out to half the expert's stand-off after being in the mouth: the paper's
  "retry insertion if the robot slides the clip past the insertion point";
* ``inside_misaligned``: the share of steps in the mouth with misalignment over twice the expert's tolerance
  (the expert itself only pushes in while under it);
* ``max_depth``, ``slid_past`` (deeper than the clip's legs without latching: beside the plug, not in it) and
  the last step's ``depth``, ``lateral`` and ``misalign``.

Results go to ``benchmarks/results/clip_failure_modes.json`` (the commands, each run's source, per episode rows
and a summary per run; a later command adds its runs to the file) and ``clip_failure_modes.png``.
``--sigma-floor`` is a probe: the same trained means, sampled with a wider law.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from robot_il.envs import make_task_env
from robot_il.tasks.clip_expert import ScriptedClipExpert

EVAL_SEED = 20_000
"""The clip benchmark's held-out seeds (clip_insertion.EVAL_SEED)."""


class PlugFrame:
    """Depth, lateral offset and misalignment of the clip in the plug's frame, as the scripted expert sees it."""

    def __init__(self, expert: ScriptedClipExpert) -> None:
        self.expert = expert

    def __call__(self, obs) -> tuple[float, float, float]:
        tip, rot_err, _, frame = self.expert.pose_error(obs)
        depth, lateral = frame.offset(tip)
        return depth, float(np.linalg.norm(lateral)), float(np.linalg.norm(rot_err))


def episode_modes(track: np.ndarray, standoff: float, align_tol: float, leg_length: float, success: bool) -> dict:
    """The per-episode measures above from a (steps, 3) track of depth, lateral, misalignment."""
    depth, misalign = track[:, 0], track[:, 2]
    inside = depth >= 0.0
    first = int(np.argmax(inside)) if inside.any() else None
    retries, was_in = 0, False
    for d in depth:
        if d >= 0.0:
            was_in = True
        elif was_in and d < -standoff / 2:
            retries, was_in = retries + 1, False
    return {
        "entered": first is not None,
        "entry_misalign": None if first is None else float(misalign[first]),
        "retries": retries,
        "inside_misaligned": float(np.mean(misalign[inside] > 2 * align_tol)) if inside.any() else None,
        "max_depth": float(depth.max()),
        "slid_past": bool(depth.max() > leg_length and not success),
        "depth": float(depth[-1]),
        "lateral": float(track[-1, 1]),
        "misalign": float(misalign[-1]),
    }


def play(env, policy, seeds: range, frame: PlugFrame, limits: dict) -> list[dict]:
    from tqdm import tqdm

    rows = []
    for seed in tqdm(seeds, desc="episodes", unit="ep", leave=False):
        vec, info = env.reset(seed=seed)
        pan_tilt = [float(x) for x in info["pan_tilt"]]
        track = []
        while True:
            vec, _, terminated, truncated, info = env.step(policy(env.last_observation, vec))
            track.append(frame(env.last_observation))
            if terminated or truncated:
                break
        ok, reason = bool(info["is_success"]), str(info["end_reason"])
        modes = episode_modes(np.asarray(track), success=ok, **limits)
        rows.append({"seed": seed, "success": ok, "end_reason": reason, "steps": len(track), "pan_tilt": pan_tilt})
        rows[-1].update(modes)
    return rows


FAILURES = ("slid past", "stuck in the mouth", "left the workspace", "never entered")


def failure_class(row: dict) -> str | None:
    """How a failed episode failed (None for a success): beside the plug, in its mouth to the time limit, out
    of the workspace, or never at the mouth."""
    if row["success"]:
        return None
    if row["slid_past"]:
        return "slid past"
    if row["end_reason"] == "left_workspace":
        return "left the workspace"
    return "stuck in the mouth" if row["entered"] else "never entered"


def run_summary(rows: list[dict], align_tol: float) -> dict:
    ok = [r for r in rows if r["success"]]
    bad = [r for r in rows if not r["success"]]
    entries = [r["entry_misalign"] for r in rows if r["entered"]]

    def mean(xs):
        return float(np.mean(xs)) if xs else None

    return {
        "episodes": len(rows),
        "success_rate": len(ok) / len(rows),
        "end_reasons": dict(Counter(r["end_reason"] for r in rows)),
        "entered": sum(r["entered"] for r in rows),
        "median_entry_misalign": float(np.median(entries)) if entries else None,
        "entries_over_2_align_tol": sum(e > 2 * align_tol for e in entries),
        "retries_per_episode": mean([r["retries"] for r in rows]),
        "failures_that_never_retried": sum(r["retries"] == 0 for r in bad),
        "failures_slid_past": sum(r["slid_past"] for r in bad),
        "failures": len(bad),
        "failure_classes": {c: sum(failure_class(r) == c for r in bad) for c in FAILURES},
        "successes_after_a_retry": sum(r["retries"] > 0 for r in ok),
        "mean_inside_misaligned": mean([r["inside_misaligned"] for r in rows if r["inside_misaligned"] is not None]),
    }


def plot(result: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, run in result["runs"].items():
        rows = run["episodes"]
        mis = sorted(r["entry_misalign"] for r in rows if r["entered"])
        axes[0].plot(mis, np.linspace(0, 1, len(mis)), label=f"{name} ({run['summary']['success_rate']:.0%})")
    names = list(result["runs"])
    bottom = np.zeros(len(names))
    for c in FAILURES:
        n = np.array([result["runs"][k]["summary"]["failure_classes"][c] for k in names], dtype=float)
        n = 100 * n / np.array([len(result["runs"][k]["episodes"]) for k in names])
        axes[1].bar(names, n, bottom=bottom, label=c)
        bottom += n
    axes[1].tick_params(axis="x", rotation=30, labelsize=7)
    tol = 2 * result["align_tol"]
    axes[0].axvline(tol, color="k", lw=0.8, ls="--")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("misalignment on entering the mouth (rad; dashed: the expert's limit)")
    axes[0].set_ylabel("share of episodes that entered")
    axes[1].set_ylabel("failed episodes, % of held-out")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle("clip insertion: how held-out episodes fail")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=[], metavar="NAME=DIR", help="run directories holding policy.pt")
    parser.add_argument(
        "--sigma-floor",
        type=float,
        default=0.0,
        help="a probe: the policies sample with their sigma floor raised to this (rad/s), the same trained mean",
    )
    parser.add_argument("--expert", action="store_true", help="add the scripted expert as a reference row")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--replot", action="store_true", help="redraw the figure (and summaries) from --out's JSON")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "clip_failure_modes.json")
    args = parser.parse_args(argv)
    if args.replot:
        result = json.loads(args.out.read_text())
        for run in result["runs"].values():
            run["summary"] = run_summary(run["episodes"], result["align_tol"])
        args.out.write_text(json.dumps(result, indent=1))
        plot(result, args.out.with_suffix(".png"))
        return result
    import torch

    from robot_il.policies import CheckpointPolicy

    torch.set_num_threads(1)
    command = "python benchmarks/clip_failure_modes.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    env = make_task_env("clip")
    expert = ScriptedClipExpert(env.task.cfg)
    frame = PlugFrame(expert)
    g = expert.gains
    limits = {"standoff": g.standoff, "align_tol": g.align_tol, "leg_length": env.task.cfg.leg_length}
    seeds = range(EVAL_SEED, EVAL_SEED + args.episodes)
    result: dict = {"command": command, "first_seed": EVAL_SEED, **limits, "runs": {}}
    runs = [tuple(r.split("=", 1)) for r in args.runs] + ([("expert", "expert")] if args.expert else [])
    for name, where in runs:
        if where == "expert":
            policy, source, act = (lambda obs, _vec: expert(obs)), "scripted expert", "expert"
        else:
            runner = CheckpointPolicy(Path(where) / "policy.pt", seed=0)  # as evaluate_policy builds it
            runner.check_env(env)
            if args.sigma_floor > 0:  # sigma = floor + (max - floor) * sigmoid(.): the trained net, a wider law
                if runner.deterministic or args.sigma_floor >= runner.net.sigma_max:
                    raise SystemExit(f"--sigma-floor needs a sampling policy and a floor under its sigma_max: {where}")
                runner.net.sigma_min = args.sigma_floor
            policy, source, act = runner, str(Path(where).resolve()), runner.act_mode
        rows = play(env, policy, seeds, frame, limits)
        summary = run_summary(rows, g.align_tol)
        entry = {"source": source, "act": act, "sigma_floor": args.sigma_floor or None, "summary": summary}
        entry["episodes"] = rows
        record = Path(where) / "eval" / "metrics.json"
        if record.exists() and not args.sigma_floor:  # the benchmark's evaluation of this policy, episode by episode
            theirs = [e["success"] for e in json.loads(record.read_text()).get("per_episode", [])]
            entry["matches_benchmark"] = theirs[: len(rows)] == [r["success"] for r in rows] if theirs else None
        result["runs"][name] = entry
        print(name, json.dumps(summary))
    env.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # earlier runs of other names stay; a name run again is replaced
        kept = json.loads(args.out.read_text())
        result["runs"] = {**kept.get("runs", {}), **result["runs"]}
        result["command"] = [*_commands(kept), command]
    args.out.write_text(json.dumps(result, indent=1))
    plot(result, args.out.with_suffix(".png"))
    return result


def _commands(kept: dict) -> list[str]:
    c = kept.get("command", [])
    return c if isinstance(c, list) else [c]


if __name__ == "__main__":
    main()

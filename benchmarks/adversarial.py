"""The adversarial imitation learners (GAIL, AIRL, MGAIL) on sim peg insertion, against GPRIL, from 25 demos.

    python benchmarks/adversarial.py [--methods ...] [--seeds 0 1 2] [--steps 204800] [--gpril-iterations 100]
    python benchmarks/adversarial.py --smoke          # a tiny budget in a scratch directory: plumbing only
    python benchmarks/adversarial.py --aggregate-only # rebuild the JSONs and the plot from the run records
    python benchmarks/adversarial.py --methods gail_bc_full --steps 409600   # train finished runs on
    python benchmarks/adversarial.py --gail-set disc_grad_penalty=10 --out DIR --work DIR2   # an ablation

25 scripted-expert demos of ``robot_il/PegInsertion-v0`` (seeds 0..24) are
recorded once, with a states-only copy (actions stripped) and a final-state-only
copy. Each method trains with each seed:

- ``gail_full``: GAIL (preset ``fast``: 2 envs x 2 048 steps per rollout, the
  absorbing state) from scratch on the full demos (no BC warm start, no critic
  warm-up);
- ``gail_bc_full``: GAIL (preset ``fast`` as is: 2000 BC steps, then 10 rollouts
  with the actor held while the critic and D learn) on the full demos;
- ``gail_states``: GAIL (preset ``fast``) with D on (s, s'), states-only demos;
- ``gail_bco_states``: ``gail_states`` with BCO's start: an inverse dynamics model learnt from
  ``--idm-explore-steps`` of random motion labels the states-only demos with actions for the BC warm start
  (the exploration's env steps count: ``idm_env_steps``);
- ``gail_final``: GAIL (preset ``fast``) on the final-state-only demos (D on s);
- ``airl_full``: AIRL (preset ``fast``) on the full demos;
- ``mgail_full``: MGAIL (preset ``fast``) on the full demos, ``--mgail-iterations``;
- ``gpril_full``: GPRIL (preset ``fast``) on the full demos, ``--gpril-iterations``.

The BC warm start needs demonstrated actions, so ``gail_states`` and
``gail_final`` start from scratch whatever the preset says. Every learner logs
the success of its deterministic policy on 20 fixed episodes (seeds 10000..)
against its environment steps; each trained policy (``policy.pt``) is then
evaluated on 100 held-out episodes (seeds 20000..). Runs are resumable: a
finished run's record is written at once to ``benchmarks/results/adversarial/``
and skipped next time, and a killed run resumes from its checkpoint. Asked for a
larger budget (``--steps``, ``--gpril-iterations``, ``--mgail-iterations``) than
a record holds, the benchmark keeps that record in ``adversarial/history/`` and
trains the finished run on to the larger budget. After every
finished run the summary is rewritten: ``benchmarks/results/adversarial.json``
(per method: held-out success, environment steps to 0.8 on the 20-episode
curve, their ratio to GPRIL's, and the targets), ``adversarial.png`` (the
curves) and, once MGAIL has run, ``mgail.json`` (MGAIL against GAIL from the
same BC start).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from robot_il.algos.registry import ALGORITHMS
from robot_il.data import sparsify, strip_actions
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.evaluation import evaluate_policy
from robot_il.record.expert import expert_demo_file
from robot_il.stats import seed_summary

METHODS = (
    "gail_full", "gail_bc_full", "gail_states", "gail_bco_states", "gail_final", "airl_full", "mgail_full",
    "gpril_full",
)  # fmt: skip
COMPARED = ("gail_full", "gail_bc_full", "gail_states", "gail_bco_states", "gail_final", "airl_full", "mgail_full")
STATE_ONLY = ("gail_states", "gail_bco_states")
"""The methods whose environment steps to LEVEL are divided by GPRIL's."""
LEVEL = 0.8
"""Success on the 20 fixed evaluation episodes at which environment steps are compared."""
STEPS_KEY = "steps_to_0.8"
MGAIL_MODULE = "robot_il.algos.mgail"
EVAL_SEED = 20_000
"""First seed of the held-out evaluation episodes (demos use 0.., the learners' own evaluations 10000..)."""
FINAL_KEYS = (
    "episodes", "successes", "success_rate", "success_ci95", "mean_episode_steps", "end_reasons", "per_episode",
)  # fmt: skip
"""What a record keeps of a held-out evaluation: the rates, why episodes ended, and each episode's socket pose,
outcome, length and end reason."""


def prepare_demos(work: Path, n: int) -> dict[str, Path]:
    """The demo files in ``work``, made if missing (whole or not at all: see :func:`expert_demo_file`)."""
    full = expert_demo_file(PegInsertionEnv, work / f"peg_{n}.h5", n)
    paths = {"full": full, "states": work / f"peg_{n}_states.h5", "final": work / f"peg_{n}_final.h5"}
    if not paths["states"].exists():
        strip_actions(full, paths["states"])
    if not paths["final"].exists():
        sparsify(full, paths["final"], final_only=True)
    return paths


def final_evaluation(run: Path, episodes: int, act: str = "mean") -> dict:
    """The trained policy on held-out socket poses (seeds 20000.., unseen in training and its evaluations),
    acting with its mean (``act='mean'``) or sampling from it (``'sample'``)."""
    env = PegInsertionEnv()
    out = run / ("eval" if act == "mean" else f"eval_{act}")
    metrics = evaluate_policy(env, run / "policy.pt", episodes, EVAL_SEED, out, act_mode=act)
    env.close()
    return {k: metrics[k] for k in FINAL_KEYS}


def add_sampled_evaluation(record: Path, run: Path, episodes: int) -> bool:
    """Give a record the held-out evaluation of its policy sampling its actions, if it lacks one; True if so."""
    entry = json.loads(record.read_text())
    if "final_sample" in entry or not (run / "policy.pt").exists():
        return False
    entry["final_sample"] = final_evaluation(run, episodes, act="sample")
    record.write_text(json.dumps(entry, indent=1))
    return True


def steps_to_level(curve: list[list[float]], level: float = LEVEL) -> int | None:
    """Environment steps at the first evaluation at or above ``level``; None if never reached."""
    return next((int(steps) for steps, success in curve if success >= level), None)


def train(method: str, demos: dict[str, Path], seed: int, run: Path, args) -> dict:
    """One training run of ``method`` into ``run`` (resumed if a checkpoint is there); its summary."""
    if method.startswith("gail"):
        overrides = {"total_steps": args.steps, "seed": seed, **args.gail_overrides}
        if method == "gail_full":
            overrides.update(bc_warm_start_steps=0, critic_warmup_rollouts=0)
        if method == "gail_bco_states":
            overrides = {"idm_explore_steps": args.idm_explore_steps, **overrides}
        kind = "states" if method in STATE_ONLY else {"gail_final": "final"}.get(method, "full")
        return ALGORITHMS["gail"].train(
            demos[kind], run, preset="fast", state_only=method in STATE_ONLY, overrides=overrides
        )
    if method == "airl_full":
        overrides = {"total_steps": args.steps, "seed": seed, **args.gail_overrides}
        return ALGORITHMS["airl"].train(demos["full"], run, preset="fast", overrides=overrides)
    if method == "mgail_full":
        overrides = {"iterations": args.mgail_iterations, "seed": seed, **args.mgail_overrides}
        return ALGORITHMS["mgail"].train(demos["full"], run, preset="fast", overrides=overrides)
    if method == "gpril_full":
        # Evaluated every 5 iterations (fast: 20), so that its env steps to 0.8 are resolved as finely as the
        # others' (GAIL/AIRL every 16 384 steps, MGAIL every 5 iterations).
        overrides = {"iterations": args.gpril_iterations, "seed": seed, "eval_every": 5, **args.gpril_overrides}
        return ALGORITHMS["gpril"].train(demos["full"], run, preset="fast", overrides=overrides)
    raise ValueError(f"unknown method {method!r}")


def budget(method: str, args) -> tuple[str, int]:
    """The config field that sets how long ``method`` trains, and the value asked for."""
    if method == "gpril_full":
        return "iterations", args.gpril_iterations
    if method == "mgail_full":
        return "iterations", args.mgail_iterations
    return "total_steps", args.steps


def run_method(method: str, demos: dict[str, Path], seed: int, args, results: Path, command: str) -> bool:
    """Train and evaluate one (method, seed) unless its record exists with at least the budget asked for; True
    if it ran. A record of a smaller budget is kept in ``history/`` and its run trained on to the larger one
    (the learners extend a finished run), then evaluated again."""
    record = results / f"{method}_seed{seed}.json"
    run = args.work / f"{method}_seed{seed}"
    if record.exists():
        key, wanted = budget(method, args)
        old = json.loads(record.read_text())
        if (old.get("config") or {}).get(key, wanted) >= wanted:
            return args.sampled and add_sampled_evaluation(record, run, args.episodes)
        history = results / "history"
        history.mkdir(exist_ok=True)
        record.rename(history / f"{method}_seed{seed}_{key}{old['config'][key]}.json")
    summary = train(method, demos, seed, run, args)
    curve = [[int(p["env_steps"]), float(p["eval_success"])] for p in summary["curve"]]
    entry = {
        "method": method,
        "seed": seed,
        "command": command,
        "demos": args.demos,
        "env_steps": int(summary["counters"]["env_steps"]),
        **{k: v for k, v in summary["counters"].items() if k.startswith("idm_")},  # BCO's exploration
        "wall_s": float(summary["counters"]["wall_s"]),
        "curve": curve,
        STEPS_KEY: steps_to_level(curve),
        "final": final_evaluation(run, args.episodes),
        "config": summary.get("config"),
    }
    if "model_error" in summary["curve"][-1]:  # MGAIL: its forward model's held-out errors at the end, SI units
        entry["model_error"] = summary["curve"][-1]["model_error"]
    if args.sampled:
        entry["final_sample"] = final_evaluation(run, args.episodes, act="sample")
    record.write_text(json.dumps(entry, indent=1))
    return True


def summarise(rs: list[dict]) -> dict:
    sampled = [{"seed": r["seed"], "final": r["final_sample"]} for r in rs if "final_sample" in r]
    return {
        **seed_summary(rs),
        **({"sampled_actions": seed_summary(sampled)} if len(sampled) == len(rs) else {}),
        "env_steps": [r["env_steps"] for r in rs],
        STEPS_KEY: [r[STEPS_KEY] for r in rs],
        "wall_s": [r["wall_s"] for r in rs],
        **({"model_error": [r["model_error"] for r in rs]} if all("model_error" in r for r in rs) else {}),
    }


def step_ratios(summary: dict) -> dict:
    """Each compared method's mean environment steps to LEVEL over GPRIL's (full demos)."""
    out: dict = {
        "what": f"For each method: the mean over its seeds of {STEPS_KEY} (environment steps at the first "
        f"20-episode evaluation with success >= {LEVEL}) divided by the same mean for gpril_full. The ratio is "
        f"null where a seed of either method never reached {LEVEL} within its budget ('reached' counts the "
        "seeds that did); 'ratio_at_least' is then a lower bound with each such seed of the method counted at "
        "its whole budget (given only when gpril_full reached on every seed). The resolution is each learner's "
        "evaluation interval (preset fast: GAIL and AIRL every 4 rollouts of 2 x 2048 env steps, MGAIL every 5 "
        "iterations, GPRIL every 5 iterations (its fast preset: 20)).",
        "level": LEVEL,
    }
    gpril = summary.get("gpril_full")
    g_mean = None
    if gpril is not None:
        g_steps = gpril[STEPS_KEY]
        reached = [s for s in g_steps if s is not None]
        g_mean = float(np.mean(g_steps)) if len(reached) == len(g_steps) and np.mean(g_steps) > 0 else None
        out["gpril_full"] = {
            f"mean_{STEPS_KEY}": g_mean,
            "reached": len(reached),
            "seeds": len(g_steps),
        }
    for method in COMPARED:
        if method not in summary:
            continue
        steps, budgets = summary[method][STEPS_KEY], summary[method]["env_steps"]
        reached = [s for s in steps if s is not None]
        all_reached = len(reached) == len(steps)
        mean = float(np.mean(steps)) if all_reached else None
        entry = {
            "ratio": mean / g_mean if mean is not None and g_mean is not None else None,
            f"mean_{STEPS_KEY}": mean,
            "reached": len(reached),
            "seeds": len(steps),
        }
        if not all_reached and g_mean is not None:
            bound = [s if s is not None else b for s, b in zip(steps, budgets, strict=True)]
            entry["ratio_at_least"] = float(np.mean(bound)) / g_mean
        out[method] = entry
    return out


def targets(summary: dict, ratios: dict) -> dict:
    mean = {m: s["mean_success"] for m, s in summary.items()}

    def tenfold(method: str) -> bool | None:
        gail = ratios.get(method, {})
        if gail.get("ratio") is not None:
            return gail["ratio"] >= 10
        if gail.get("ratio_at_least") is not None and gail["ratio_at_least"] >= 10:
            return True  # GAIL did not reach the level within a budget already 10x GPRIL's steps
        return None  # not known: GAIL's budget ended below 10x GPRIL's steps before it reached the level

    return {
        "gail_full >= 0.8": mean["gail_full"] >= 0.8 if "gail_full" in mean else None,
        "gail_bc_full >= 0.8": mean["gail_bc_full"] >= 0.8 if "gail_bc_full" in mean else None,
        "airl_full >= 0.7": mean["airl_full"] >= 0.7 if "airl_full" in mean else None,
        "gpril needs >= 10x fewer env steps than gail to 0.8": tenfold("gail_full"),
        "gpril needs >= 10x fewer env steps than gail (bc start) to 0.8": tenfold("gail_bc_full"),
        **{
            f"{m} >= {level} (sampled actions)": summary[m]["sampled_actions"]["mean_success"] >= level
            for m, level in (("gail_full", 0.8), ("gail_bc_full", 0.8), ("airl_full", 0.7))
            if "sampled_actions" in summary.get(m, {})
        },
    }


def aggregate(results: Path, out: Path, command: str) -> dict:
    """Rebuild ``adversarial.json``, ``adversarial.png`` and (with MGAIL runs) ``mgail.json`` from the records."""
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    summary = {m: summarise(rs) for m in METHODS if (rs := [r for r in runs if r["method"] == m])}
    ratios = step_ratios(summary)
    demos = sorted({r["demos"] for r in runs})
    episodes = sorted({r["final"]["episodes"] for r in runs})
    common = {
        "command": command,
        "commands": list(dict.fromkeys(r["command"] for r in runs)),
        "task": f"robot_il/PegInsertion-v0, pan ±0.4 rad, tilt ±0.1 rad, {'/'.join(map(str, demos))} expert demos",
        "final_eval": f"{'/'.join(map(str, episodes))} episodes per run from seed {EVAL_SEED}, "
        "deterministic policy (policy.pt); 'sampled_actions': the same policy sampling its actions "
        "(robot-il eval --act sample), where measured (--sampled)",
    }
    result = {
        "benchmark": "adversarial",
        **common,
        "summary": summary,
        "ratio": ratios,
        "targets": targets(summary, ratios),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "adversarial.json").write_text(json.dumps(result, indent=2))
    if "mgail_full" in summary:
        mgail = {
            "benchmark": "mgail",
            **common,
            "note": "MGAIL starts from a BC warm start, so its GAIL comparison is GAIL from the same start: "
            "'gail_full' here is this benchmark's 'gail_bc_full' (GAIL preset fast: 2000 BC steps, 10 rollouts "
            "of critic warm-up), not its 'gail_full' (GAIL from scratch). MGAIL's preset fast trains, evaluates "
            "and deploys the policy sampling its actions (sample_actions): its evaluation curve and steps_to_0.8 "
            "are of the sampling policy, and its deployed held-out figure is 'sampled_actions'; 'mean_success' is "
            "its mean action's, as for the other methods.",
            "summary": {"mgail_full": summary["mgail_full"]}
            | ({"gail_full": summary["gail_bc_full"]} if "gail_bc_full" in summary else {}),
        }
        (out / "mgail.json").write_text(json.dumps(mgail, indent=2))
        shown = [r for r in runs if r["method"] in ("mgail_full", "gail_bc_full")]
        title = "sim peg insertion from a BC start: MGAIL against GAIL, one line per run"
        _plot(shown, out / "mgail.png", title, log_x=False)
    if runs:
        _plot(runs, out / "adversarial.png")
    return result


COLOURS = {
    "gail_full": "tab:red",
    "gail_bc_full": "tab:orange",
    "gail_states": "tab:purple",
    "gail_bco_states": "tab:pink",
    "gail_final": "tab:brown",
    "airl_full": "tab:green",
    "mgail_full": "tab:pink",
    "gpril_full": "tab:blue",
}


def _plot(
    runs: list[dict],
    path: Path,
    title: str = "sim peg insertion from expert demos: adversarial imitation and GPRIL, one line per run",
    log_x: bool = True,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for method in METHODS:
        rs = [r for r in runs if r["method"] == method]
        for i, r in enumerate(rs):
            x, y = zip(*r["curve"], strict=True) if r["curve"] else ((), ())
            label = f"{method} ({len(rs)} seed{'s' * (len(rs) > 1)})" if i == 0 else None
            ax.plot(x, y, "-", marker=".", ms=3, color=COLOURS[method], alpha=0.75, label=label)
    ax.axhline(LEVEL, color="k", ls="--", lw=1, label=f"success {LEVEL}")
    right = max((x for r in runs for x, _ in r["curve"]), default=1e3)
    if log_x:  # symlog: a BC-started GAIL's first evaluation is at 0 environment steps
        ax.set_xscale("symlog", linthresh=1e3, linscale=0.5)
        ax.set_xlim(0, right * 1.3)
        ax.set_xticks([0, *(10**k for k in range(3, 10) if 10**k <= right * 1.3)])
        ax.set_xlabel("environment steps (log scale; linear below 1000)")
    else:
        ax.set_xlim(0, right * 1.02)
        ax.set_xlabel("environment steps")
    ax.set_ylabel("success (20 fixed episodes)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def field_value(text: str) -> tuple[str, object]:
    """'name=value' -> (name, value), the value read as JSON where it parses (numbers, true, lists)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"adversarial.py: error: --gail-set and --mgail-set take FIELD=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=204_800, help="environment steps per GAIL/AIRL run")
    parser.add_argument("--mgail-iterations", type=int, default=100)
    parser.add_argument(
        "--idm-explore-steps", type=int, default=20_000, help="gail_bco_states: env steps of random motion for BCO"
    )
    parser.add_argument("--gpril-iterations", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=100, help="held-out evaluation episodes per run")
    parser.add_argument("--work", type=Path, default=Path("runs/adversarial"), help="demos and run directories")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="results directory")
    parser.add_argument("--aggregate-only", action="store_true", help="only rebuild the JSONs and plot")
    parser.add_argument(
        "--sampled",
        action="store_true",
        help="also evaluate each policy sampling its actions (added to existing records whose run is there)",
    )
    parser.add_argument(
        "--gail-set",
        nargs="+",
        action="extend",
        default=[],
        metavar="FIELD=VALUE",
        help="GAIL/AIRL config fields over the fast preset, e.g. disc_grad_penalty=10 (an ablation: give it its "
        "own --out and --work)",
    )
    parser.add_argument(
        "--mgail-set",
        nargs="+",
        action="extend",
        default=[],
        metavar="FIELD=VALUE",
        help="MGAIL config fields over its fast preset, e.g. bc_weight=1 (an ablation, as --gail-set)",
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny budget in a scratch directory (plumbing only)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if "mgail_full" in args.methods and not args.aggregate_only and not importlib.util.find_spec(MGAIL_MODULE):
        parser.error(f"mgail_full needs {MGAIL_MODULE}, which is not there yet: leave it out of --methods")
    # One torch thread per process: two threads on this shared 2-core machine spin-wait beside another job.
    import torch

    torch.set_num_threads(1)
    command = "python benchmarks/adversarial.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.demos = 25
    args.gail_overrides = dict(map(field_value, args.gail_set))
    args.mgail_overrides = dict(map(field_value, args.mgail_set))
    args.gpril_overrides = {}
    if args.smoke:  # minutes, not hours, and never mistaken for the benchmark: its own scratch directories
        args.seeds, args.demos, args.episodes = [0], 2, 2
        args.steps, args.mgail_iterations, args.gpril_iterations = 4096, 2, 2
        args.gail_overrides |= {"n_steps": 128, "eval_episodes": 2}
        args.mgail_overrides = {"eval_episodes": 2}
        args.gpril_overrides = {
            "episodes_per_iteration": 1,
            "flow_steps": 20,
            "policy_steps": 10,
            "eval_every": 1,
            "eval_episodes": 2,
        }
        args.work = args.work.with_name(args.work.name + "_smoke")
        args.out = args.work / "results"
    results = args.out / "adversarial"
    results.mkdir(parents=True, exist_ok=True)
    if not args.aggregate_only:
        args.work.mkdir(parents=True, exist_ok=True)
        demos = prepare_demos(args.work, args.demos)
        for seed in args.seeds:  # seed-major: one complete comparison as early as possible
            for method in args.methods:
                if run_method(method, demos, seed, args, results, command):
                    aggregate(results, args.out, command)
    result = aggregate(results, args.out, command)
    print(json.dumps({k: result[k] for k in ("targets", "ratio")}, indent=2))
    return result


if __name__ == "__main__":
    main()

"""GPRIL's sample efficiency on sim peg insertion, from full, sparse and state-only demos, against BC.

    python benchmarks/peg_sample_efficiency.py [--seeds 0 1 2] [--iterations 150] [--gpril-gamma 0.98 ...]

25 scripted-expert demos (seeds 0..24) give four demo sets: full (states and
actions), every 10th state, final state only, and states only (actions
stripped). GPRIL (preset ``fast``) trains on each with every seed, logging the
success of its policy, acting as it deploys, on 20 fixed episodes against
self-supervised episodes and wall-clock time; each trained policy is then
evaluated on 100 held-out episodes. BC trains on the full demos with the same
seeds. Runs are resumable: finished runs are skipped and a killed run resumes
from its checkpoint, and each finished run's summary is written to
``benchmarks/results/peg_sample_efficiency/`` at once, so the benchmark can be
completed over several sittings. The aggregate goes to
``benchmarks/results/peg_sample_efficiency.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from robot_il.algos.gpril import LIVE_POLICY_FILE, PRESETS, GPRILConfig
from robot_il.algos.registry import ALGORITHMS
from robot_il.checkpoint import BEST_POLICY_FILE
from robot_il.config import add_config_flags, build_config, given_flags
from robot_il.data import sparsify, strip_actions
from robot_il.envs.insertion import PegInsertionEnv
from robot_il.errors import ConfigError
from robot_il.evaluation import evaluate_policy
from robot_il.record.expert import expert_demo_file
from robot_il.stats import seed_summary, wilson_interval

VARIANTS = ("full", "every10", "final", "states")
GAIL_VARIANTS = tuple(f"gail_{v}" for v in VARIANTS)
LEVEL = 0.9
"""Success level (20 fixed evaluation episodes) for the environment-step comparison of GAIL and GPRIL."""
TARGETS = {
    "gpril full: final success >= 0.9": ("full", ">=", 0.9),
    "gpril final-state-only >= 0.7": ("final", ">=", 0.7),
}


ENV_CONFIG: dict[str, object] = {}
"""The cell's config fields the benchmark runs on (``--arm``): demos, training and evaluation alike."""


def prepare_demos(work: Path, n: int) -> dict[str, Path]:
    full = expert_demo_file(functools.partial(PegInsertionEnv, config=ENV_CONFIG), work / f"peg_{n}.h5", n)
    paths = {"full": full, "every10": work / "every10.h5", "final": work / "final.h5", "states": work / "states.h5"}
    if not paths["every10"].exists():
        sparsify(full, paths["every10"], every=10)
    if not paths["final"].exists():
        sparsify(full, paths["final"], final_only=True)
    if not paths["states"].exists():
        strip_actions(full, paths["states"])
    return paths


FINAL_KEYS = (
    "episodes",
    "successes",
    "success_rate",
    "success_ci95",
    "mean_episode_steps",
    "mean_success_duration_s",
    "end_reasons",
    "per_episode",
)
"""What a record keeps of a held-out evaluation: the rates, why episodes ended, and each episode's socket pose,
outcome, length and end reason (to read failures by pose later)."""


def final_evaluation(run: Path, episodes: int, policy: str = "policy.pt", act: str | None = None) -> dict:
    """The trained policy on held-out socket poses (seeds 20000.., unseen in training and its evaluations),
    acting as ``act`` says ('mean', 'sample'; None: as the policy was trained to be deployed)."""
    env = PegInsertionEnv(config=ENV_CONFIG)
    out = run / ("eval" if policy == "policy.pt" else f"eval_{Path(policy).stem}")
    if act is not None:
        out = out.with_name(f"{out.name}_{act}")
    metrics = evaluate_policy(env, run / policy, episodes, 20_000, out, act_mode=act)
    env.close()
    return {"act": metrics["act"], **{k: metrics[k] for k in FINAL_KEYS}}


def _setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. gamma=0.98")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


GPRIL_FLAG_PREFIX = "gpril-"
GPRIL_OWN_FLAGS = ("iterations", "seed")
"""GPRIL fields the benchmark sets from its own flags (--iterations, --seeds)."""


def gpril_settings(args: argparse.Namespace) -> dict[str, object]:
    """GPRIL fields given on the command line (--gpril-FIELD, or the older --gpril-set KEY=VALUE), checked and
    typed by GPRILConfig: a typo or a bad value raises ConfigError naming the field."""
    given = {**dict(args.gpril_set), **given_flags(GPRILConfig, args, prefix=GPRIL_FLAG_PREFIX)}
    cfg = build_config(GPRILConfig, preset=PRESETS["fast"], flags=given)
    return {key: getattr(cfg, key) for key in given}


def run_gpril(variant: str, demos: Path, seed: int, args, results: Path) -> None:
    record = results / f"gpril_{variant}_seed{seed}.json"
    run = args.work / f"gpril_{variant}_seed{seed}"
    if record.exists():
        add_other_act_evaluation(record, run, args.episodes)
        return
    overrides = {"iterations": args.iterations, "seed": seed, "eval_every": 10, "eval_episodes": 20}
    overrides.update(gpril_settings(args))
    summary = ALGORITHMS["gpril"].train(demos, run, preset="fast", state_only=variant == "states", overrides=overrides)
    entry = {
        "method": "gpril",
        "variant": variant,
        "seed": seed,
        "config": summary["config"],
        "counters": summary["counters"],
        "curve": summary["curve"],
        "final": final_evaluation(run, args.episodes),
        # The policy of the best 20-episode evaluation (seeds 10000..): model selection on validation
        # seeds, tested on the same held-out seeds as the last policy.
        "final_best": final_evaluation(run, args.episodes, BEST_POLICY_FILE),
    }
    # The same policy acting the other way (mean or sampled actions): what the choice is worth.
    other = "mean" if summary["config"].get("sample_actions") else "sample"
    entry[f"final_{other}"] = final_evaluation(run, args.episodes, act=other)
    if (run / LIVE_POLICY_FILE).exists():  # with ema_decay: policy.pt is the average, this the trained weights
        entry["final_trained"] = final_evaluation(run, args.episodes, LIVE_POLICY_FILE)
    record.write_text(json.dumps(entry, indent=1))


def add_other_act_evaluation(record: Path, run: Path, episodes: int) -> None:
    """A record from before both act modes were evaluated gets the one it lacks, if its run is still there."""
    entry = json.loads(record.read_text())
    other = "mean" if entry["config"].get("sample_actions") else "sample"
    if f"final_{other}" in entry or not (run / "policy.pt").exists():
        return
    entry[f"final_{other}"] = final_evaluation(run, episodes, act=other)
    record.write_text(json.dumps(entry, indent=1))


def run_gail(variant: str, demos: Path, seed: int, args, results: Path) -> None:
    record = results / f"gail_{variant}_seed{seed}.json"
    if record.exists():
        return
    run = args.work / f"gail_{variant}_seed{seed}"
    overrides = {"total_steps": args.gail_steps, "seed": seed, "eval_every": args.gail_eval_every, "eval_episodes": 20}
    summary = ALGORITHMS["gail"].train(demos, run, preset="fast", state_only=variant == "states", overrides=overrides)
    entry = {
        "method": "gail",
        "variant": variant,
        "seed": seed,
        "disc_input": summary["disc_input"],
        "config": summary["config"],
        "counters": summary["counters"],
        "curve": summary["curve"],
        "final": final_evaluation(run, args.episodes),
    }
    record.write_text(json.dumps(entry, indent=1))


def steps_to_level(curve: list[dict], level: float = LEVEL) -> int | None:
    """Environment steps at the first evaluation at or above ``level``; None if never reached."""
    return next((p["env_steps"] for p in curve if p["eval_success"] >= level), None)


def env_step_comparison(runs: list[dict]) -> dict:
    """Environment steps GAIL needs to reach GPRIL's level (full demos), as a ratio or a lower bound."""
    gpril = [r for r in runs if r["method"] == "gpril" and r["variant"] == "full"]
    gail = [r for r in runs if r["method"] == "gail" and r["variant"] == "full"]
    g_steps = [s for r in gpril if (s := steps_to_level(r["curve"])) is not None]
    if not g_steps or not gail:
        return {}
    out = {"level": LEVEL, "gpril_full_steps_to_level": g_steps, "gpril_mean": float(np.mean(g_steps))}
    a_steps = [steps_to_level(r["curve"]) for r in gail]
    budgets = [r["counters"]["env_steps"] for r in gail]
    out["gail_full_steps_to_level"] = a_steps
    out["gail_budget"] = budgets
    if all(s is not None for s in a_steps):
        out["ratio"] = float(np.mean(a_steps)) / out["gpril_mean"]
    else:  # not reached within the budget: the ratio is at least budget / GPRIL's steps
        out["ratio_at_least"] = (
            float(min(b for s, b in zip(a_steps, budgets, strict=True) if s is None)) / out["gpril_mean"]
        )
    return out


def run_bc(demos: Path, seed: int, args, results: Path) -> None:
    record = results / f"bc_full_seed{seed}.json"
    if record.exists():
        return
    run = args.work / f"bc_seed{seed}"
    summary = ALGORITHMS["bc"].train(demos, run, overrides={"seed": seed})
    entry = {
        "method": "bc",
        "variant": "full",
        "seed": seed,
        "train_steps": summary["steps"],
        "final": final_evaluation(run, args.episodes),
    }
    record.write_text(json.dumps(entry, indent=1))


def aggregate(results: Path, out: Path, command: str) -> dict:
    """Summarise every run record in ``results``; ``commands`` lists the invocations that made them."""
    previous = out / "peg_sample_efficiency.json"
    commands = []
    if previous.exists():
        old = json.loads(previous.read_text())
        commands = old.get("commands", [old["command"]] if "command" in old else [])
    if "--aggregate-only" not in command and command not in commands:
        commands.append(command)
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    table: dict[str, dict] = {}
    for key in ["bc_full", *(f"gpril_{v}" for v in VARIANTS), *GAIL_VARIANTS]:
        rs = [r for r in runs if f"{r['method']}_{r['variant']}" == key]
        if not rs:
            continue
        k = sum(r["final"]["successes"] for r in rs)
        n = sum(r["final"]["episodes"] for r in rs)
        rates = [r["final"]["success_rate"] for r in rs]
        entry = {
            "seeds": [r["seed"] for r in rs],
            "success_per_seed": rates,
            "mean_success": float(np.mean(rates)),
            "pooled_ci95": list(wilson_interval(k, n)),
            "mean_success_duration_s": float(np.nanmean([r["final"]["mean_success_duration_s"] or np.nan for r in rs])),
        }
        if len(best := [r["final_best"] for r in rs if "final_best" in r]) == len(rs):
            entry["best_policy"] = {
                "success_per_seed": [b["success_rate"] for b in best],
                "mean_success": float(np.mean([b["success_rate"] for b in best])),
                "pooled_ci95": list(
                    wilson_interval(sum(b["successes"] for b in best), sum(b["episodes"] for b in best))
                ),
                "best_iteration": [r["counters"].get("best_iteration") for r in rs],
            }
        if r_c := [r for r in rs if "counters" in r]:
            entry["practice_episodes"] = [r["counters"]["episodes"] for r in r_c]
            entry["practice_env_steps"] = [r["counters"]["env_steps"] for r in r_c]
            entry["wall_clock_s"] = [r["counters"]["wall_s"] for r in r_c]
        table[key] = entry
    bc = table.get("bc_full", {}).get("mean_success")
    full = table.get("gpril_full", {}).get("mean_success")
    checks = {}
    if full is not None:
        checks["gpril_full >= 0.9"] = full >= 0.9
        for v in ("states", "every10"):
            if f"gpril_{v}" in table:
                checks[f"gpril_{v} within 0.1 of full"] = table[f"gpril_{v}"]["mean_success"] >= full - 0.1
    if "gpril_final" in table:
        checks["gpril_final >= 0.7"] = table["gpril_final"]["mean_success"] >= 0.7
    if bc is not None and bc < 0.7:
        for v in VARIANTS:
            if f"gpril_{v}" in table:
                checks[f"gpril_{v} >= bc + 0.2"] = table[f"gpril_{v}"]["mean_success"] >= bc + 0.2
    for key, entry in table.items():  # the same targets for the best-on-validation policies
        if "best_policy" in entry:
            best = entry["best_policy"]["mean_success"]
            if key == "gpril_full":
                checks["best policy: gpril_full >= 0.9"] = best >= 0.9
            elif key == "gpril_final":
                checks["best policy: gpril_final >= 0.7"] = best >= 0.7
            elif full is not None:
                checks[f"best policy: {key} within 0.1 of full"] = best >= full - 0.1
            if bc is not None and bc < 0.7:
                checks[f"best policy: {key} >= bc + 0.2"] = best >= bc + 0.2
    result = {
        "benchmark": "peg_sample_efficiency",
        "commands": commands,
        "task": "robot_il/PegInsertion-v0, pan ±0.4 rad, tilt ±0.1 rad, 25 expert demos",
        "final_eval": "100 episodes per run, seeds 20000..20099, acting as the policy deploys (each record's "
        "final.act); final_mean: the same policy acting with its mean",
        "results": table,
        "targets_met": checks,
        "gail_vs_gpril_env_steps": env_step_comparison(runs),
    }
    (out / "peg_sample_efficiency.json").write_text(json.dumps(result, indent=2))
    _plot(runs, table, out / "peg_sample_efficiency.png")
    return result


VARIANT_TARGETS = {"full": 0.95, "every10": 0.9, "states": 0.9, "final": 0.7}
"""#13's held-out success targets (mean over seeds); no seed of full, every10 or states below SEED_FLOOR."""
SEED_FLOOR = 0.8


PER_RUN = ("seed", "beta_pi", "norm_episodes")
"""Config fields a run takes from its seed and its demos (GPRIL's training entry), not from the config."""
PER_VARIANT = ("iterations",)
"""Config fields that may differ between demo kinds (one value per kind; #13 allows up to 200 iterations)."""


def _evaluation(record: dict, act: str) -> dict | None:
    """The record's held-out evaluation of policy.pt acting as ``act`` ('mean' or 'sample'), if it has one."""
    final = record["final"]
    return final if final.get("act", "mean") == act else record.get(f"final_{act}")


def variants_summary(results: Path, command: str, ablations: list[tuple[str, Path]]) -> dict:
    """gpril_variants.json: per demo kind, success over seeds of the runs in ``results`` (one config), acting
    by sampling (what GPRIL deploys) and with the mean; the targets; and the ablation table (each
    ``(name, records dir)`` of ablations holds runs that differ from the base config by the switches named)."""
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("gpril_*.json"))]
    summary, checks = {}, {}
    for v in VARIANTS:
        rs = [r for r in runs if r["variant"] == v]
        if not rs:
            continue
        entry: dict = {}
        for act in ("sample", "mean"):
            if all(_evaluation(r, act) for r in rs):
                entry[act] = seed_summary([{"seed": r["seed"], "final": _evaluation(r, act)} for r in rs])
        main = entry.get("sample") or entry["mean"]
        summary[v] = {
            "seeds": main["seeds"],
            "mean_success": main["mean_success"],
            "min_success": main["min_success"],
            "success_per_seed": main["success_per_seed"],
            "pooled_ci95": main["pooled_ci95"],
            "act": "sample" if "sample" in entry else "mean",
            "mean_action": entry.get("mean"),
            # With ema_decay: policy_trained.pt (the trained weights, acting as configured) beside the average.
            "trained_weights": seed_summary([{"seed": r["seed"], "final": r["final_trained"]} for r in rs])
            if all("final_trained" in r for r in rs)
            else None,
            "iterations": [r["counters"]["iteration"] for r in rs],
            "env_steps": [r["counters"]["env_steps"] for r in rs],
            "wall_s": [round(r["counters"]["wall_s"], 1) for r in rs],
        }
        target = VARIANT_TARGETS[v]
        checks[f"{v}: mean >= {target}"] = main["mean_success"] >= target
        if v != "final":
            checks[f"{v}: no seed below {SEED_FLOOR}"] = main["min_success"] >= SEED_FLOOR
        checks[f"{v}: 5 seeds"] = len(rs) >= 5
    # A field missing from a record predates it: the record ran with its default.
    defaults = {f.name: f.default for f in dataclasses.fields(GPRILConfig)}
    configs = [{**defaults, **r["config"]} for r in runs]
    base = configs[0] if configs else {}
    differ = sorted({k for c in configs for k in c if c[k] != base[k] and k not in PER_RUN + PER_VARIANT})
    if differ:
        raise SystemExit(f"{results}: the runs' configs differ in {differ}; a variants summary needs one config")
    per_variant = {}  # variant -> {field: value}, one value per demo kind
    for r, c in zip(runs, configs, strict=True):
        for k in PER_VARIANT:
            if per_variant.setdefault(r["variant"], {}).setdefault(k, c[k]) != c[k]:
                raise SystemExit(f"{results}: the {r['variant']} runs differ in {k}; one value per demo kind")
    table = []
    for name, directory in ablations:
        for record in sorted(directory.glob("gpril_*.json")):
            r = json.loads(record.read_text())
            ref = {**base, **per_variant.get(r["variant"], {})}  # the same demo kind's values in the summary
            changed = {k: v for k, v in {**defaults, **r["config"]}.items() if ref[k] != v and k not in PER_RUN}
            row = {"ablation": name, "variant": r["variant"], "seed": r["seed"], "changes": changed}
            for act in ("sample", "mean"):
                if ev := _evaluation(r, act):
                    row[f"success_{act}"] = ev["success_rate"]
            if "final_trained" in r:  # with ema_decay: the trained weights, acting as configured
                row["success_trained_weights"] = r["final_trained"]["success_rate"]
            table.append(row)
    return {
        "benchmark": "gpril_variants",
        "command": command,
        "task": "robot_il/PegInsertion-v0, 25 expert demos (seed 0), held out: 100 episodes per run, seeds 20000..",
        "config": {
            k: list(v) if isinstance(v, tuple) else v for k, v in base.items() if k not in PER_RUN + PER_VARIANT
        },
        "per_variant": per_variant,
        "per_run": "seed; beta_pi 0 for demos without actions, 1 with; norm_episodes 5 for final-state demos",
        "acting": "mean_success etc. are policy.pt sampling its actions (robot-il eval --act sample); "
        "mean_action is the same policy acting with its mean",
        "summary": summary,
        "targets": {"mean success": VARIANT_TARGETS, "per-seed floor (full, every10, states)": SEED_FLOOR},
        "targets_met": checks,
        "ablations": table,
    }


def _plot(runs: list[dict], table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"full": "tab:blue", "every10": "tab:orange", "final": "tab:green", "states": "tab:purple"}
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    for method, style in (("gpril", "-"), ("gail", ":")):
        for v in VARIANTS:
            rs = [r for r in runs if r["method"] == method and r["variant"] == v]
            for i, r in enumerate(rs):
                c = r["curve"]
                label = f"{method.upper()} {v} ({len(rs)} seed{'s' * (len(rs) > 1)})" if i == 0 else None
                x = [p["env_steps"] / 1e3 for p in c]
                ax0.plot(x, [p["eval_success"] for p in c], style, color=colours[v], alpha=0.75, label=label)
                ax1.plot(
                    [p["wall_s"] / 60 for p in c], [p["eval_success"] for p in c], style, color=colours[v], alpha=0.75
                )
    if "bc_full" in table:
        for ax in (ax0, ax1):
            ax.axhline(
                table["bc_full"]["mean_success"],
                color="k",
                ls="--",
                label=f"BC, full demos ({table['bc_full']['mean_success']:.0%})" if ax is ax0 else None,
            )
    ax0.set_xlabel("environment steps (thousands)")
    ax1.set_xlabel("wall-clock minutes (2-core CPU)")
    ax0.set_ylabel("success (20 fixed episodes)")
    ax0.set_ylim(-0.02, 1.02)
    ax0.legend(loc="lower right", fontsize=8)
    fig.suptitle("sim peg insertion from 25 demos: GPRIL (solid) and GAIL (dotted) by demo kind, and BC")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    choices = [*VARIANTS, "bc", *GAIL_VARIANTS]
    parser.add_argument("--variants", nargs="+", default=choices, choices=choices)
    parser.add_argument("--gail-steps", type=int, default=300_000, help="environment steps per GAIL run")
    parser.add_argument("--gail-eval-every", type=int, default=10, help="GAIL rollouts between evaluations")
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path("runs/bench_peg"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--aggregate-only", action="store_true")
    parser.add_argument("--arm", default="jaco", help="the simulated arm (jaco, ur5e, fr3); default jaco")
    parser.add_argument(
        "--variants-json",
        type=Path,
        help="also write the per-variant summary of this --out's GPRIL runs (gpril_variants.json) here",
    )
    parser.add_argument(
        "--ablation",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "OUT"),
        help="with --variants-json: an ablation's --out directory, tabulated against this one's config",
    )
    gpril = parser.add_argument_group(
        "GPRIL settings over the fast preset (eval_every 10, eval_episodes 20 unless given here)"
    )
    add_config_flags(gpril, GPRILConfig, defaults=PRESETS["fast"], prefix=GPRIL_FLAG_PREFIX, exclude=GPRIL_OWN_FLAGS)
    gpril.add_argument(  # the spelling before every field was a flag, kept for the commands written down with it
        "--gpril-set", type=_setting, nargs="+", default=[], metavar="KEY=VALUE", help=argparse.SUPPRESS
    )
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    try:  # a typo or a bad value fails now, not after the demos are recorded
        gpril_settings(args)
    except ConfigError as err:
        parser.error(str(err))
    ENV_CONFIG.update({} if args.arm == "jaco" else {"arm": args.arm})
    results = args.out / "peg_sample_efficiency"
    results.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/peg_sample_efficiency.py " + shlex.join(sys.argv[1:])
    if not args.aggregate_only:
        args.work.mkdir(parents=True, exist_ok=True)
        demos = prepare_demos(args.work, 25)
        for seed in args.seeds:  # seed-major: one complete comparison as early as possible
            for variant in args.variants:
                if variant == "bc":
                    run_bc(demos["full"], seed, args, results)
                elif variant.startswith("gail_"):
                    run_gail(variant.removeprefix("gail_"), demos[variant.removeprefix("gail_")], seed, args, results)
                else:
                    run_gpril(variant, demos[variant], seed, args, results)
                aggregate(results, args.out, command)
    print(json.dumps(aggregate(results, args.out, command)["targets_met"], indent=2))
    if args.variants_json:
        ablations = [(name, Path(out) / "peg_sample_efficiency") for name, out in args.ablation]
        variants = variants_summary(results, command, ablations)
        args.variants_json.write_text(json.dumps(variants, indent=2))
        print(json.dumps(variants["targets_met"], indent=2))


if __name__ == "__main__":
    main()

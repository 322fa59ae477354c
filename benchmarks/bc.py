"""BC on simulated peg or clip insertion from 25 scripted-expert demos, beside robomimic's default BC.

    python benchmarks/bc.py --task peg [--seeds 0 1 2] [--episodes 100]
    python benchmarks/bc.py --task peg --robomimic runs/robomimic/peg/exported

Methods, each evaluated on the same held-out socket poses (seeds 10000..,
``robot-il eval``'s default), acting as its policy deploys and, beside it, in
the other mode (the mean, or sampling from the Gaussian):

* ``bc``: ``robot-il train bc`` as it trains now (BCConfig's defaults: a fixed
  budget, the policy of the best closed-loop success on its validation seeds
  40000.. kept), one run per seed.
* ``bc_nll``: the previous default, for reference: early stopping on the
  likelihood of the file's validation demos (select nll, 30 000 steps at most,
  checked every 500, patience 8).
* ``robomimic``: robomimic 0.3.0's default BC trained in its own venv on the
  same demo file (``benchmarks/robomimic_bc.py``), its checkpoints exported as
  arrays and run here in this project's env. Reported: its best-validation-loss
  checkpoint, each periodic checkpoint, and the checkpoint a closed-loop
  selection on the validation seeds (as ``bc`` selects) would pick.

Peg trains on ``demos/peg_25.h5``; clip on 25 expert demos recorded here (seeds
0..24, joint efforts observed). Runs resume (a finished record is skipped, a
killed run resumes from its checkpoint); each record is written to
``benchmarks/results/bc_<task>/`` at once, the summary to
``benchmarks/results/bc_<task>.json`` and ``bc_<task>.png``.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from peg_sample_efficiency import _setting

from robot_il.algos.bc import BCConfig
from robot_il.algos.registry import ALGORITHMS
from robot_il.checkpoint import config_dict
from robot_il.envs import make_task_env
from robot_il.evaluation import evaluate_policy
from robot_il.record.expert import expert_demo_file
from robot_il.rollout import evaluate, summarize
from robot_il.stats import seed_summary, wilson_interval

RESULTS = Path(__file__).resolve().parent / "results"
HELD_OUT_SEED = 10_000
"""First held-out episode (``robot-il eval``'s default); BC selects on its own validation seeds (BCConfig)."""
METHODS = ("bc", "bc_nll")
DEMOS = {"peg": "demos/peg_25.h5", "clip": "runs/bench_bc/clip/clip_25.h5"}
ROBOMIMIC_PYTHON = "/work/venvs/robomimic/bin/python"
"""Where benchmarks/robomimic_bc.py's docstring builds robomimic's venv (outside the repository)."""
NLL_CONFIG = {"select": "nll", "max_steps": 30_000, "eval_every": 500, "patience": 8, "eval_episodes": 0}
"""The rule ``train bc`` had before: early stopping on the validation demos' likelihood."""
OTHER = {"mean": "sample", "sample": "mean"}
KEYS = ("episodes", "successes", "success_rate", "success_ci95", "mean_episode_steps", "end_reasons", "per_episode")


def prepare_demos(task: str, work: Path) -> Path:
    if task == "peg":
        return Path(DEMOS["peg"])
    return expert_demo_file(lambda: make_task_env("clip"), work / "clip_25.h5", 25)


def held_out(task: str, policy: Path | object, episodes: int, act: str | None = None) -> dict:
    """Held-out success of a policy file (acting as ``act`` says; None: as it deploys) or of a callable."""
    env = make_task_env(task)
    try:
        if isinstance(policy, Path):
            metrics = evaluate_policy(
                env, policy, episodes, HELD_OUT_SEED, policy.parent / f"eval_held_out_{act or 'deployed'}", act_mode=act
            )
            metrics = {"act": metrics["act"], **{k: metrics[k] for k in KEYS}}
        else:
            t0 = time.perf_counter()
            metrics = summarize(evaluate(env, policy, range(HELD_OUT_SEED, HELD_OUT_SEED + episodes), progress=None))
            metrics = {
                "act": "deterministic",
                **{k: metrics[k] for k in KEYS},
                "wall_clock_s": time.perf_counter() - t0,
            }
    finally:
        env.close()
    return metrics


def run_bc(method: str, task: str, demos: Path, seed: int, args, results: Path, command: str) -> None:
    record = results / f"{method}_seed{seed}.json"
    if record.exists():
        return
    cfg = BCConfig(seed=seed, **(NLL_CONFIG if method == "bc_nll" else {}), **args.bc_overrides)
    run = args.work / f"{method}_seed{seed}"
    summary = ALGORITHMS["bc"].train(demos, run, cfg)
    deployed = held_out(task, run / "policy.pt", args.episodes)
    other = held_out(task, run / "policy.pt", args.episodes, OTHER[deployed["act"]])
    entry = {
        "method": method,
        "seed": seed,
        "command": command,
        "config": config_dict(cfg),
        "steps": summary["steps"],
        "stopped_by": summary["stopped_by"],
        "selected_by": summary["selected_by"],
        "best_step": summary["best_step"],
        "best_eval_success": summary["best_eval_success"],
        "env_steps": 0,
        "wall_s": summary["wall_clock_s"],
        "learning_curve": summary["log"],
        "final": deployed,
        "other_mode": other,
    }
    record.write_text(json.dumps(entry, indent=1))


# robomimic's policy, from the arrays benchmarks/robomimic_bc.py exported --------------------------------


class RobomimicMLP:
    """robomimic's low-dim BC actor: the observation keys concatenated (in its encoder's order), ReLU
    MLP, a linear decoder, tanh. Checked against robomimic's own actions on the exported references."""

    def __init__(self, path: Path) -> None:
        z = np.load(path)
        self.keys = [str(k) for k in z["obs_keys"]]
        self.layers = [(z[f"w{i}"], z[f"b{i}"]) for i in range(int(z["n_layers"]))]
        ref = self.forward({k: z[f"ref_obs/{k}"] for k in self.keys})
        err = float(np.abs(ref - z["ref_act"]).max())
        if err > 1e-5:
            raise SystemExit(f"{path}: this forward pass differs from robomimic's by {err:.2e}; the export is wrong")

    def forward(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        x = np.concatenate([np.asarray(obs[k], dtype=np.float64) for k in self.keys], axis=-1)
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T + b
            x = np.maximum(x, 0.0) if i < len(self.layers) - 1 else np.tanh(x)
        return x

    def __call__(self, obs, _obs_vec: np.ndarray) -> np.ndarray:
        return self.forward({k: getattr(obs, k) for k in self.keys}).astype(np.float32)


def validation_success(task: str, policy: RobomimicMLP, episodes: int, first_seed: int) -> float:
    env = make_task_env(task)
    try:
        eps = evaluate(env, policy, range(first_seed, first_seed + episodes), progress=None)
    finally:
        env.close()
    return float(np.mean([e.success for e in eps]))


def run_robomimic(task: str, exported: Path, args, results: Path, command: str) -> None:
    """robomimic's periodic checkpoints and its best-validation-loss one (the last of those it saved at each
    improvement): held-out success, and success on BC's validation seeds (for a closed-loop selection)."""
    cfg = BCConfig()
    files = sorted(exported.glob("*.npz"), key=_epoch)
    best = max((p for p in files if "best_validation" in p.stem), key=_epoch, default=None)
    for path in files:
        epoch = _epoch(path)
        periodic = epoch % args.robomimic_every == 0 and epoch >= args.robomimic_from
        if not periodic and path != best:
            continue
        record = results / f"robomimic_epoch{epoch:04d}.json"
        if record.exists():
            continue
        policy = RobomimicMLP(path)
        t0 = time.perf_counter()
        valid = validation_success(task, policy, cfg.eval_episodes, cfg.eval_seed)
        entry = {
            "method": "robomimic",
            "checkpoint": path.stem,
            "epoch": epoch,
            "periodic": periodic,
            "best_validation_loss": path == best,
            "command": command,
            "validation_success": valid,
            "validation_s": time.perf_counter() - t0,
            "final": held_out(task, policy, args.episodes),
        }
        record.write_text(json.dumps(entry, indent=1))
        print(
            f"robomimic {path.stem}: validation {valid:.2f}, held-out {entry['final']['success_rate']:.2f}", flush=True
        )


def _epoch(path: Path) -> int:
    return int(re.match(r"model_epoch_(\d+)", path.stem).group(1))


# The summary ---------------------------------------------------------------------------------------------


def _rate(successes: int, episodes: int) -> dict:
    return {"success_rate": successes / episodes, "success_ci95": list(wilson_interval(successes, episodes))}


def aggregate(task: str, results: Path, out: Path, command: str) -> dict:
    records = [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]
    methods = {}
    for method in METHODS:
        rs = sorted((r for r in records if r["method"] == method), key=lambda r: r["seed"])
        if not rs:
            continue
        k_other = sum(r["other_mode"]["successes"] for r in rs)
        n_other = sum(r["other_mode"]["episodes"] for r in rs)
        methods[method] = {
            **seed_summary(rs),
            "act": rs[0]["final"]["act"],
            "per_seed_ci95": [r["final"]["success_ci95"] for r in rs],
            "other_mode": {
                "act": rs[0]["other_mode"]["act"],
                "success_per_seed": [r["other_mode"]["success_rate"] for r in rs],
                "mean_success": float(np.mean([r["other_mode"]["success_rate"] for r in rs])),
                "pooled_ci95": list(wilson_interval(k_other, n_other)),
            },
            "steps": [r["steps"] for r in rs],
            "best_step": [r["best_step"] for r in rs],
            "best_eval_success": [r["best_eval_success"] for r in rs],
            "stopped_by": [r["stopped_by"] for r in rs],
            "env_steps": [0 for _ in rs],
            "wall_s": [r["wall_s"] for r in rs],
        }
    rm = sorted(
        (r for r in records if r["method"] == "robomimic"), key=lambda r: (r["epoch"], r["best_validation_loss"])
    )
    robomimic = None
    if rm:
        periodic = [r for r in rm if r["periodic"]]
        best = next((r for r in rm if r["best_validation_loss"]), None)
        # Closed-loop selection as bc does it: the highest validation success, of equal ones the later.
        chosen = max(rm, key=lambda r: (r["validation_success"], r["epoch"])) if rm else None
        robomimic = {
            "trained_with": "robomimic 0.3.0 default bc config (benchmarks/robomimic_bc.py), its own venv; "
            f"the config robomimic wrote: benchmarks/results/robomimic_bc_{task}_config.json",
            "commands": [
                f"{ROBOMIMIC_PYTHON} benchmarks/robomimic_bc.py train --task {task} --demos {DEMOS[task]} "
                f"--out runs/robomimic/{task}",
                f"{ROBOMIMIC_PYTHON} benchmarks/robomimic_bc.py export --run runs/robomimic/{task}",
            ],
            "act": "deterministic (its MLP's output)",
            "best_validation_loss": best
            and {"epoch": best["epoch"], **_rate(best["final"]["successes"], best["final"]["episodes"])},
            "periodic": [
                {
                    "epoch": r["epoch"],
                    "validation_success": r["validation_success"],
                    **_rate(r["final"]["successes"], r["final"]["episodes"]),
                }
                for r in periodic
            ],
            "selected_by_validation_success": chosen
            and {
                "epoch": chosen["epoch"],
                "checkpoint": chosen["checkpoint"],
                **_rate(chosen["final"]["successes"], chosen["final"]["episodes"]),
            },
        }
    bc = methods.get("bc")
    result = {
        "benchmark": f"bc_{task}",
        "command": command,
        "commands": list(dict.fromkeys(r["command"] for r in records)),
        "task": {
            "peg": "robot_il/PegInsertion-v0, pan ±0.4 rad, tilt ±0.1 rad",
            "clip": "robot_il/ClipInsertion-v0, pan ±0.8 rad, tilt ±0.2 rad, efforts observed",
        }[task],
        "demos": "demos/peg_25.h5"
        if task == "peg"
        else "25 scripted-expert demos, seeds 0..24 (recorded by this script)",
        "held_out": f"100 episodes per run from seed {HELD_OUT_SEED}; "
        f"BC's validation episodes from seed {BCConfig().eval_seed}",
        "config": config_dict(BCConfig()),
        "summary": bc
        and {
            k: bc[k]
            for k in (
                "seeds",
                "mean_success",
                "min_success",
                "success_per_seed",
                "pooled_ci95",
                "act",
                "env_steps",
                "wall_s",
            )
        },
        "methods": methods,
        "robomimic": robomimic,
    }
    out.write_text(json.dumps(result, indent=2))
    plot(result, records, out.with_suffix(".png"))
    return result


def plot(result: dict, records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(16, 4.2))
    labels, rates, errs, colours = [], [], [], []
    for method, colour in (("bc", "tab:blue"), ("bc_nll", "tab:gray")):
        m = result["methods"].get(method)
        if not m:
            continue
        for seed, rate, ci in zip(m["seeds"], m["success_per_seed"], m["per_seed_ci95"], strict=True):
            labels.append(f"{method}\nseed {seed}")
            rates.append(rate)
            errs.append((rate - ci[0], ci[1] - rate))
            colours.append(colour)
    rm = result["robomimic"]
    if rm:
        for key, label in (
            ("best_validation_loss", "robomimic\nbest val.\nloss"),
            ("selected_by_validation_success", "robomimic\nbest val.\nsuccess"),
        ):
            if rm[key]:
                labels.append(label)
                rates.append(rm[key]["success_rate"])
                errs.append((rates[-1] - rm[key]["success_ci95"][0], rm[key]["success_ci95"][1] - rates[-1]))
                colours.append("tab:red")
    ax0.bar(labels, rates, yerr=np.array(errs).T if errs else None, capsize=4, color=colours)
    ax0.set_ylim(0, 1)
    ax0.set_ylabel("held-out success (95% CI)")
    ax0.tick_params(axis="x", labelsize=7)
    ax0.set_title("as deployed")
    if rm and rm["periodic"]:
        ep = [p["epoch"] for p in rm["periodic"]]
        ax1.plot(ep, [p["success_rate"] for p in rm["periodic"]], "o-", color="tab:red", label="held-out")
        ax1.plot(
            ep, [p["validation_success"] for p in rm["periodic"]], "s--", color="tab:orange", label="validation seeds"
        )
        if rm["best_validation_loss"]:
            b = rm["best_validation_loss"]
            ax1.plot([b["epoch"]], [b["success_rate"]], "*", ms=14, color="k", label="best validation loss")
        ax1.set_ylim(0, 1)
        ax1.set_xlabel("robomimic epoch (100 steps of 100 pairs)")
        ax1.set_ylabel("success")
        ax1.legend(fontsize=7)
    ax1.set_title("robomimic's checkpoints")
    for r in records:
        if r["method"] != "bc":
            continue
        curve = [(p["step"], p["eval_success"]) for p in r["learning_curve"] if p["eval_success"] is not None]
        line = ax2.plot([s for s, _ in curve], [v for _, v in curve], label=f"seed {r['seed']}")[0]
        ax2.plot([r["best_step"]], [r["best_eval_success"]], "*", ms=12, color=line.get_color())
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("gradient step")
    ax2.set_ylabel("validation success (kept: *)")
    ax2.legend(fontsize=7)
    ax2.set_title("bc: closed-loop validation during training")
    fig.suptitle(f"BC on {result['task']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("peg", "clip"), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=100, help="held-out evaluation episodes per run")
    parser.add_argument("--methods", nargs="*", choices=METHODS, default=list(METHODS))
    parser.add_argument("--robomimic", type=Path, help="robomimic's exported checkpoints (benchmarks/robomimic_bc.py)")
    parser.add_argument(
        "--robomimic-every", type=int, default=50, help="robomimic's periodic checkpoint interval, epochs"
    )
    parser.add_argument("--robomimic-from", type=int, default=0, help="first periodic epoch to evaluate")
    parser.add_argument("--bc-set", nargs="*", default=[], type=_setting, metavar="KEY=VALUE", help="BCConfig")
    parser.add_argument("--work", type=Path, help="run directories (default: runs/bench_bc/<task>)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    # One torch thread: two spin-wait on this shared 2-core machine.
    import torch

    torch.set_num_threads(1)
    command = "python benchmarks/bc.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.bc_overrides = dict(args.bc_set)
    args.work = args.work or Path("runs/bench_bc") / args.task
    results = args.out / f"bc_{args.task}"
    results.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    demos = prepare_demos(args.task, args.work)
    for seed in args.seeds:
        for method in args.methods:
            run_bc(method, args.task, demos, seed, args, results, command)
    if args.robomimic:
        run_robomimic(args.task, args.robomimic, args, results, command)
    result = aggregate(args.task, results, args.out / f"bc_{args.task}.json", command)
    print(json.dumps({"summary": result["summary"], "robomimic": result["robomimic"]}, indent=1))
    return result


if __name__ == "__main__":
    main()

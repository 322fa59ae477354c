"""Held-out success of each run's best-evaluated policy (``policy_best.pt``) beside its last (``policy.pt``).

Every learner keeps, besides its last policy, the one that scored best on its
validation evaluations (seeds 10000.., the ``eval_episodes`` of its config).
This evaluates both on the held-out socket poses (seeds 20000..), each acting
as its policy file says it deploys (MGAIL's fast preset samples, GAIL's uses
the mean), so a user can see what picking the best checkpoint is worth.

    python benchmarks/best_checkpoint.py --runs runs/adversarial/mgail_full_seed{0,1,2} \\
        runs/adv_absorbing/gail_bc_full_seed{0,1,2}

Output: ``benchmarks/results/best_checkpoint.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from robot_il.envs.insertion import PegInsertionEnv
from robot_il.evaluation import evaluate_policy

RESULTS = Path(__file__).resolve().parent / "results"
HELD_OUT_SEED = 20_000
KEYS = ("act", "success_rate", "success_ci95", "mean_episode_steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="run directories")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS / "best_checkpoint.json")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        log = json.loads((run / "train_log.json").read_text())
        counters, curve = log["counters"], log["curve"]
        row = {"run": str(run), "algo": log["algo"], "best_eval_success": counters.get("best_eval_success")}
        at = next((k for k in ("best_iteration", "best_env_steps") if k in counters), None)
        if at is not None:
            row[at] = counters[at]
            key = at.removeprefix("best_")
            row["best_at_env_steps"] = next((p["env_steps"] for p in curve if p.get(key) == counters[at]), None)
        row["env_steps"] = counters["env_steps"]
        for name in ("policy.pt", "policy_best.pt"):
            env = PegInsertionEnv()
            metrics = evaluate_policy(env, run / name, args.episodes, HELD_OUT_SEED, run / f"eval_{name[:-3]}_own")
            env.close()
            row[name] = {k: metrics[k] for k in KEYS}
        rows.append(row)
        print(json.dumps(row), flush=True)
    record = {
        "benchmark": "best_checkpoint",
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "held_out": f"{args.episodes} episodes from seed {HELD_OUT_SEED}, each policy acting as its file says",
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()

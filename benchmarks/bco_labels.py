"""How well BCO's inverse dynamics model labels the peg demos, and what BC makes of its labels.

    python benchmarks/bco_labels.py [--explore-steps 20000] [--episodes 50]

GAIL from states only can start from BCO (``--idm-explore-steps``): random motion teaches an inverse dynamics
model a = f(s, s'), which labels the demos' transitions for the BC warm start. On sim peg that start scored 0
(``benchmarks/results/ablation_gail_bco``). This measures why, on the 25 scripted-expert demos whose true
actions are known: the labels' error per joint, split by steps before the demo's end (the last 60 are the
slow approach and insertion), and the closed-loop success of the same BC warm start (GAIL ``fast``'s: 2 000
steps, Adam 1e-3, seed 0) fitted to the true actions, to the model's labels, and to the next state's joint
velocities (a velocity servo's own reading of the command). Evaluated with the mean action on validation seeds
10000.. (not the held-out ones). Result: ``benchmarks/results/bco_labels.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from peg_sample_efficiency import prepare_demos

from robot_il.algos import bc
from robot_il.algos.common import DemoData, policy_spec
from robot_il.algos.inverse_dynamics import explore, fit_inverse_dynamics
from robot_il.nn.policy import GaussianPolicy, Normalizer

PHASES = ((0, 10), (10, 30), (30, 60), (60, None))
"""Steps before the demo's end."""


def closed_loop(demos: DemoData, states: np.ndarray, actions: np.ndarray, env, episodes: int) -> dict:
    torch.manual_seed(0)
    policy = GaussianPolicy(**policy_spec(demos, (300, 200), 0.01, 0.1), normalizer=Normalizer.fit(demos.all_states))
    as_t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
    bc.warm_start(policy, as_t(states), as_t(actions), 2000, 1e-3, 0)
    ends: dict[str, int] = {}
    for k in range(episodes):
        obs, _ = env.reset(seed=10_000 + k)
        done, info = False, {}
        while not done:
            obs, _, terminated, truncated, info = env.step(policy.act(obs).astype(np.float32))
            done = terminated or truncated
        ends[info["end_reason"]] = ends.get(info["end_reason"], 0) + 1
    return {"success": ends.get("success", 0) / episodes, "end_reasons": ends}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explore-steps", type=int, default=20_000)
    parser.add_argument("--idm-steps", type=int, default=4_000)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--work", type=Path, default=Path("runs/bco_labels"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    demos = DemoData.load(prepare_demos(args.work, 25)["full"])
    states, actions, next_states = (np.asarray(x, dtype=np.float32) for x in demos.transitions())
    env = demos.env_factory().make()
    explored = explore(env, args.explore_steps, np.random.default_rng(7_777))  # GAIL's seed-0 exploration
    pairs = np.concatenate([states, next_states], 1)
    model, loss = fit_inverse_dynamics(
        explored, demos.action_low, demos.action_high, args.idm_steps, 0, norm_inputs=pairs
    )
    labels = model.label(states, next_states)
    error = labels - actions
    to_end = np.concatenate([np.arange(len(x) - 1)[::-1] for x in demos.states])
    phases = []
    for lo, hi in PHASES:
        rows = (to_end >= lo) & (to_end < (hi or 10**9))
        phases.append({
            "steps_before_end": [lo, hi],
            "transitions": int(rows.sum()),
            "label_rmse": np.sqrt((error[rows] ** 2).mean(0)).round(4).tolist(),
            "action_rms": np.sqrt((actions[rows] ** 2).mean(0)).round(4).tolist(),
        })  # fmt: skip
    layout = {r["field"]: (r["start"], r["stop"]) for r in demos.env_args["obs_layout"]}
    velocity = slice(*layout["joint_velocities"])
    result = {
        "benchmark": "bco_labels",
        "command": "python benchmarks/bco_labels.py " + shlex.join(sys.argv[1:]),
        "explore_steps": args.explore_steps,
        "explore_episodes": explored.episodes,
        "idm_steps": args.idm_steps,
        "idm_final_loss": loss,
        "label_r2": (1 - (error**2).sum(0) / ((actions - actions.mean(0)) ** 2).sum(0)).round(4).tolist(),
        "phases": phases,
        "bc_closed_loop": {
            "episodes": args.episodes,
            "eval_seeds": f"10000..{10_000 + args.episodes - 1} (validation), mean action",
            "true_actions": closed_loop(demos, states, actions, env, args.episodes),
            "idm_labels": closed_loop(demos, states, labels, env, args.episodes),
            "next_joint_velocities": closed_loop(demos, states, next_states[:, velocity], env, args.episodes),
        },
    }
    env.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bco_labels.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("label_r2", "phases", "bc_closed_loop")}, indent=1))


if __name__ == "__main__":
    main()

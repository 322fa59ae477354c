"""DAgger: dataset aggregation with an interactive expert (Ross, Gordon and Bagnell, AISTATS 2011).

Round 0 is behavioural cloning on the demonstrations (the expert's own
states: β = 1). Round i ≥ 1, read top to bottom in :meth:`DAgger.round`:

1. roll out π̂_i = β_i π* + (1 − β_i) π_i, per step the expert's action with
   probability β_i = ``beta0 * beta_decay ** (i - 1)``, the learner's otherwise;
2. ask the expert for its action at every visited state (the labels);
3. add the labelled states to the aggregate of all rounds (the demos included);
4. train a fresh policy on the whole aggregate by maximum likelihood
   (``train_steps`` steps from new weights), every episode weighing the same.

Why fresh weights: on sim peg, training on (``retrain=False``) from the last round's
weights, 2 000 steps a round, held 95-100% for four rounds and then fell to 60%, 35%,
20%, 10%, 5% (seed 0, 20 evaluation episodes) although round 5's roll-outs had all
succeeded: the closed-loop success of the deterministic policy falls with the number of
likelihood steps (BC with early stopping on the validation NLL, 17 000 steps, 62% held
out; 4 000 steps, 97%), and the failures then fill the aggregate with stuck states.

Every round runs a fixed number of episodes with fixed seeds, so a run is a
function of its seed and config. Each round reports its env steps and expert
queries (one per labelled state). Needs an oracle env (``robot_il.algos.oracle``):
the simulated cells, where the task's scripted expert is the oracle.

    robot-il train dagger --demos demos/peg_25.h5 --out runs/dagger
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from robot_il.algos.actors import EnvFactory
from robot_il.algos.common import DemoData, RunDir, policy_spec, rng_state, set_rng_state
from robot_il.algos.oracle import fit_likelihood, mixture_episode, require_oracle
from robot_il.checkpoint import config_dict
from robot_il.config import require_non_negative, require_positive
from robot_il.data.writer import DemoFileError
from robot_il.errors import ConfigError
from robot_il.nn.policy import GaussianPolicy, Normalizer


@dataclass(frozen=True)
class DAggerConfig:
    rounds: int = 10
    """Rounds after the BC round 0."""
    episodes_per_round: int = 10
    """Episodes rolled out (and labelled) per round: the fixed data budget."""
    beta0: float = 0.5
    """β of round 1: probability that the expert's action is executed at a step (round 0, the demos: 1)."""
    beta_decay: float = 0.5
    """β_i = beta0 * beta_decay ** (i - 1)."""
    deterministic: bool = True
    """The learner acts with its mean in rollouts (as it is evaluated and deployed); else it samples."""
    bc_steps: int = 4_000
    """Gradient steps of round 0 (BC on the demos)."""
    train_steps: int = 2_000
    """Gradient steps per round on the aggregate (sim peg, seed 0, final round's evaluation: 2 000 -> 1.0,
    4 000 -> 0.7, 8 000 -> 0.65; more likelihood steps gave worse closed-loop policies throughout)."""
    retrain: bool = True
    """Train each round's policy from fresh weights (the paper's DAgger); else go on from the last round's."""
    balance_episodes: bool = True
    """From round 1, weigh every episode (demo or roll-out) equally in the aggregate, whatever its length (a stuck
    roll-out runs 1 000 steps, a success about 100); else every state."""
    hidden: tuple[int, ...] = (300, 200)
    """Policy hidden layers (as BC: 300, 200)."""
    sigma_min: float = 0.01
    """Lower bound of the policy's standard deviation, rad/s (as BC: 0.01)."""
    sigma_max: float = 0.1
    """Upper bound of the policy's standard deviation, rad/s (as BC: 0.1)."""
    lr: float = 1e-4
    """Adam learning rate (as BC)."""
    l2: float = 1e-4
    """Weight of the L2 penalty (as BC)."""
    batch_size: int = 256
    """State-action pairs per likelihood step."""
    obs_std_floor: float = 1e-3
    """Smallest standard deviation used to normalise an observation dimension."""
    eval_episodes: int = 20
    """Episodes per evaluation of the deterministic policy after each round, on fixed seeds."""
    eval_seed: int = 10_000
    """Seed of the first evaluation episode (rollouts use other seeds)."""
    seed: int = 0
    """Seeds the weights, batches, mixture draws and the rollouts' env seeds (``seed * 7919 + 1 + episode``)."""

    def __post_init__(self) -> None:
        for name in ("episodes_per_round", "train_steps", "lr", "batch_size", "obs_std_floor"):
            require_positive(name, getattr(self, name))
        for name in ("rounds", "bc_steps", "l2", "eval_episodes"):
            require_non_negative(name, getattr(self, name))
        for name in ("beta0", "beta_decay"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(name, f"must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ConfigError("sigma_min", f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")

    def beta(self, round_: int) -> float:
        return 1.0 if round_ == 0 else self.beta0 * self.beta_decay ** (round_ - 1)


class DAgger:
    """The learner: the policy, the aggregate dataset and the counters; a checkpoint is :meth:`state_dict`."""

    def __init__(self, cfg: DAggerConfig, demos: DemoData, factory: EnvFactory) -> None:
        pairs = demos.pairs()
        if pairs is None:
            raise DemoFileError(
                f"{demos.path}: DAgger's round 0 clones the demonstrated actions and these demos have none; "
                "record with actions (scripted expert or teleop), or use GPRIL for state-only demos"
            )
        self.cfg, self.factory = cfg, factory
        torch.manual_seed(cfg.seed)
        self.policy = GaussianPolicy(
            **policy_spec(demos, cfg.hidden, cfg.sigma_min, cfg.sigma_max),
            normalizer=Normalizer.fit(demos.all_states, cfg.obs_std_floor),
        )
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        self.rng = np.random.default_rng(cfg.seed)
        with_actions = [i for i in range(demos.num_demos) if demos.actions[i] is not None]
        self.data_states = [np.asarray(demos.states[i][:-1], dtype=np.float32) for i in with_actions]
        self.data_actions = [np.asarray(demos.actions[i], dtype=np.float32) for i in with_actions]
        self.counters: dict[str, Any] = {
            "round": -1,
            "episodes": 0,
            "env_steps": 0,
            "expert_queries": 0,
            "expert_steps": 0,
            "demo_pairs": len(pairs[0]),
            "wall_s": 0.0,
        }
        self.curve: list[dict[str, Any]] = []
        self._env = None

    @property
    def env(self):
        if self._env is None:
            self._env = self.factory.make()
            require_oracle(self._env, "DAgger")
        return self._env

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    def round(self) -> dict[str, Any]:
        """The next round (0: BC on the demos); returns its statistics."""
        cfg, c = self.cfg, self.counters
        i = c["round"] + 1
        beta = cfg.beta(i)
        stats: dict[str, Any] = {"beta": beta}
        if i > 0:
            steps = queries = expert_steps = wins = 0
            ends: dict[str, int] = {}
            for k in range(cfg.episodes_per_round):
                index = c["episodes"] + k
                seed = cfg.seed * 7_919 + 1 + index
                generator = torch.Generator().manual_seed(seed)
                ep = mixture_episode(self.env, self.policy, seed, beta, self.rng, generator, cfg.deterministic)
                self.data_states.append(ep.states[:-1])
                self.data_actions.append(ep.labels)
                steps += ep.steps
                queries += ep.steps
                expert_steps += int(ep.expert_acted.sum())
                wins += ep.success
                ends[ep.end_reason] = ends.get(ep.end_reason, 0) + 1
            c["episodes"] += cfg.episodes_per_round
            c["env_steps"] += steps
            c["expert_queries"] += queries
            c["expert_steps"] += expert_steps
            stats.update(
                round_env_steps=steps,
                round_expert_queries=queries,
                rollout_success=wins / cfg.episodes_per_round,
                end_reasons=ends,
            )
        x, y = np.concatenate(self.data_states), np.concatenate(self.data_actions)
        weights = None
        if cfg.balance_episodes and i > 0:  # round 0 is plain BC on the demos (AggreVaTeD's warm start too)
            weights = np.concatenate([np.full(len(e), 1.0 / max(len(e), 1)) for e in self.data_states])
        if i > 0 and cfg.retrain:
            self._fresh_weights(i)
        nll = fit_likelihood(
            self.policy,
            self.optimizer,
            x,
            y,
            cfg.bc_steps if i == 0 else cfg.train_steps,
            cfg.batch_size,
            cfg.l2,
            self.rng,
            weights,
        )
        c["round"] = i
        stats.update(train_nll=nll, aggregate_pairs=len(x))
        return stats

    def _fresh_weights(self, round_: int) -> None:
        """New initial weights (seeded by the seed and the round, so a resumed run draws the same) and optimiser."""
        torch.manual_seed(self.cfg.seed * 1_000 + round_)
        for layer in self.policy.body:
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.cfg.lr)

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": json.dumps(config_dict(self.cfg)),
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "data_states": [torch.as_tensor(x) for x in self.data_states],
            "data_actions": [torch.as_tensor(y) for y in self.data_actions],
            **rng_state(self.rng),
            "counters": json.dumps(self.counters),
            "curve": json.dumps(self.curve),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.data_states = [x.numpy() for x in state["data_states"]]
        self.data_actions = [y.numpy() for y in state["data_actions"]]
        set_rng_state(self.rng, state)
        self.counters = json.loads(state["counters"])
        self.curve = json.loads(state["curve"])


def train_dagger(
    demos: DemoData, factory: EnvFactory, out: str | Path, cfg: DAggerConfig, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) DAgger into ``out``; returns the summary also written to ``train_log.json``."""
    run = RunDir(out, "dagger", cfg, demos.env_args, factory)
    learner = DAgger(cfg, demos, factory)
    if (state := run.resume()) is not None:
        learner.load_state_dict(state)
    bar = tqdm(
        total=cfg.rounds + 1, initial=learner.counters["round"] + 1, desc="DAgger", unit="round", disable=not progress
    )
    run.start_clock(learner.counters["wall_s"])
    try:
        while learner.counters["round"] < cfg.rounds:
            stats = learner.round()
            c = learner.counters
            c["wall_s"] = run.wall_s
            success = run.evaluate(learner.policy)
            learner.curve.append(
                {
                    "round": c["round"],
                    "episodes": c["episodes"],
                    "env_steps": c["env_steps"],
                    "expert_queries": c["expert_queries"],
                    "wall_s": c["wall_s"],
                    "eval_success": success,
                    **stats,
                }
            )
            run.save(learner, success, {"best_round": c["round"]})
            bar.update(1)
            bar.set_postfix(beta=f"{stats['beta']:.2f}", eval=f"{success:.2f}", queries=c["expert_queries"])
    finally:
        bar.close()
        learner.close()
        run.close()
    return _write_curves(run, learner)


def _write_curves(run: RunDir, learner: DAgger) -> dict[str, Any]:
    c = learner.counters
    return run.write_curves(
        c,
        [{**p, "practice_success": p.get("rollout_success", np.nan)} for p in learner.curve],
        (("round", "round"), ("env_steps", "env steps"), ("expert_queries", "expert queries")),
        f"DAgger: {c['round']} rounds, {c['expert_queries']} expert queries",
        "rollout (β-mixture) success",
    )


def train_dagger_from_file(
    demos_path: str | Path, out: str | Path, cfg: DAggerConfig, progress: bool = True
) -> dict[str, Any]:
    """The ``robot-il train dagger`` entry: demos with actions; rollouts in the env they were recorded in."""
    demos = DemoData.load(demos_path)
    return train_dagger(demos, demos.env_factory(), out, cfg, progress=progress)

"""DAgger: dataset aggregation with an interactive expert (Ross, Gordon and Bagnell, AISTATS 2011).

Round 0 is behavioural cloning on the demonstrations (the expert's own
states: β = 1). Round i ≥ 1, read top to bottom in :meth:`DAgger.round`:

1. roll out π̂_i = β_i π* + (1 − β_i) π_i, per step the expert's action with
   probability β_i = ``beta0 * beta_decay ** (i - 1)``, the learner's otherwise;
2. ask the expert for its action at every visited state (the labels);
3. add the labelled states to the aggregate of all rounds (the demos included);
4. train a fresh policy on the whole aggregate by maximum likelihood
   (``train_steps`` steps from new weights), every episode weighing the same.

Why fresh weights: the closed-loop success of the deterministic policy falls with the
number of likelihood steps, so training on from the last round's weights
(``retrain=False``) piles up steps until the policy fails, and its failures then fill
the aggregate with stuck states (the measurements: ``docs/algorithms/oracle.md``).

Every round runs a fixed number of episodes with fixed seeds, so a run is a
function of its seed and config. Each round reports its env steps and expert
queries (one per labelled state). Needs an oracle env (``robot_il.algos.oracle``):
the simulated cells, where the task's scripted expert is the oracle.

    robot-il train dagger --demos demos/peg_25.h5 --out runs/dagger
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from robot_il.algos.actors import EnvFactory
from robot_il.algos.common import DemoData, RunDir, policy_spec
from robot_il.algos.lifecycle import CurveLog, EvalConfig, Learner, LikelihoodPolicyConfig, train
from robot_il.algos.oracle import fit_likelihood, mixture_episode, require_oracle
from robot_il.config import require_non_negative, require_positive
from robot_il.data.writer import DemoFileError
from robot_il.errors import ConfigError
from robot_il.nn.policy import Normalizer, make_policy


@dataclass(frozen=True)
class DAggerConfig(LikelihoodPolicyConfig, EvalConfig):
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
    """Gradient steps per round on the aggregate; more gave worse closed-loop policies on sim peg
    (``docs/algorithms/oracle.md``)."""
    retrain: bool = True
    """Train each round's policy from fresh weights (the paper's DAgger); else go on from the last round's."""
    balance_episodes: bool = True
    """From round 1, weigh every episode (demo or roll-out) equally in the aggregate, whatever its length (a stuck
    roll-out runs 1 000 steps, a success about 100); else every state."""
    lr: float = 1e-4
    """Adam learning rate (as BC)."""
    policy_components: int = 2
    """Gaussians in the policy head. 2: a mixture (:class:`~robot_il.nn.policy.MixturePolicy`) that holds both of
    the peg expert's actions where its law switches between nearly equal states (back off, insert); 1: the paper's
    Gaussian, which averages them into a hover. Sim peg, 5 seeds, last round held out: 100, 100, 95, 100, 100%
    with 2; 100, 49, 81, 95, 92% with 1 (``docs/algorithms/oracle.md``). DAgger's no-regret guarantee holds only
    for a policy class that can fit the expert."""
    seed: int = 0
    """Seeds the weights, batches, mixture draws and the rollouts' env seeds (``seed * 7919 + 1 + episode``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("episodes_per_round", "train_steps", "lr", "policy_components"):
            require_positive(name, getattr(self, name))
        for name in ("rounds", "bc_steps"):
            require_non_negative(name, getattr(self, name))
        for name in ("beta0", "beta_decay"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(name, f"must be in [0, 1], got {getattr(self, name)}")

    def beta(self, round_: int) -> float:
        return 1.0 if round_ == 0 else self.beta0 * self.beta_decay ** (round_ - 1)


class DAgger(Learner):
    """The learner: the policy, the aggregate dataset and the counters."""

    algo, label, unit, x, best_at = "dagger", "DAgger", "round", "round", "round"
    curve_counters = ("expert_queries",)
    first_evaluation = "none"  # round 0, BC on the demos, is the first iteration
    saved_modules: ClassVar[dict[str, str]] = {"policy": "policy", "optimizer": "optimizer"}

    def __init__(self, cfg: DAggerConfig, demos: DemoData, factory: EnvFactory) -> None:
        pairs = demos.pairs()
        if pairs is None:
            raise DemoFileError(
                f"{demos.path}: DAgger's round 0 clones the demonstrated actions and these demos have none; "
                "record with actions (scripted expert or teleop), or use GPRIL for state-only demos"
            )
        self.cfg, self.factory = cfg, factory
        torch.manual_seed(cfg.seed)
        self.policy = make_policy(
            cfg.policy_components,
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

    @property
    def done(self) -> int:
        return self.counters["round"] + 1

    @property
    def total(self) -> int:
        return self.cfg.rounds + 1

    def due(self) -> bool:
        return True

    def iteration(self) -> dict[str, Any]:
        return self.round()

    def postfix(self, stats: dict[str, Any]) -> dict[str, Any]:
        return {**super().postfix(stats), "beta": f"{stats['beta']:.2f}", "queries": self.counters["expert_queries"]}

    def curve_log(self) -> CurveLog:
        c = self.counters
        return CurveLog(
            f"DAgger: {c['round']} rounds, {c['expert_queries']} expert queries",
            (("round", "round"), ("env_steps", "env steps"), ("expert_queries", "expert queries")),
            "rollout (β-mixture) success",
            curve=[{**p, "practice_success": p.get("rollout_success", np.nan)} for p in self.curve],
        )

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

    def extra_state(self) -> dict[str, Any]:
        return {
            "data_states": [torch.as_tensor(x) for x in self.data_states],
            "data_actions": [torch.as_tensor(y) for y in self.data_actions],
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.data_states = [x.numpy() for x in state["data_states"]]
        self.data_actions = [y.numpy() for y in state["data_actions"]]


def train_dagger(
    demos: DemoData, factory: EnvFactory, out: str | Path, cfg: DAggerConfig, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) DAgger into ``out``; returns the summary also written to ``train_log.json``."""
    return train(DAgger(cfg, demos, factory), RunDir(out, "dagger", cfg, demos.env_args, factory), progress)


def train_dagger_from_file(
    demos_path: str | Path, out: str | Path, cfg: DAggerConfig, progress: bool = True
) -> dict[str, Any]:
    """The ``robot-il train dagger`` entry: demos with actions; rollouts in the env they were recorded in."""
    demos = DemoData.load(demos_path)
    return train_dagger(demos, demos.env_factory(), out, cfg, progress=progress)

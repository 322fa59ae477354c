"""What BC, GPRIL and GAIL share, written once: the demo dataset they learn from and the run directory.

* :class:`DemoData`: a demo file as flat observation rows, demo by demo, with the
  actions between them where the demos have them, the file's train/valid split and
  whether the demos are dense.
* :class:`RunDir`: a training run's directory: checkpoint.pt (save, and resume with
  the config check), policy.pt and policy_best.pt, the evaluation of the
  deterministic policy on the validation seeds, and train_log.json with its plot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch

from robot_il.algos.actors import EnvFactory, run_episode
from robot_il.checkpoint import (
    BEST_POLICY_FILE,
    CHECKPOINT_FILE,
    LOG_FILE,
    POLICY_FILE,
    config_dict,
    load_resumable,
    save_atomic,
    save_policy,
)
from robot_il.nn.policy import GaussianPolicy

LEARNING_CURVE_FILE = "learning_curve.png"
RECENT_EPISODES = 50
"""Practice episodes whose success rate the learning curve shows."""

# The demos -------------------------------------------------------------------------------------------


class Transitions(NamedTuple):
    """Demonstrated steps, rows aligned: s_t, a_t (None without actions), s_{t+1}."""

    states: np.ndarray
    actions: np.ndarray | None
    next_states: np.ndarray


@dataclass(frozen=True)
class DemoData:
    """What the learners take from a demo file (``robot_il.data``'s DemoSet).

    Rows keep the file's dtype (float64); each learner casts what it feeds its networks.
    """

    states: Sequence[np.ndarray]
    """Per demo, (T_i, obs_dim): every state it holds in time order, the final one included, any sparsity."""
    action_low: np.ndarray
    """(act_dim,) lower bounds of the joint velocities, rad/s, float32."""
    action_high: np.ndarray
    """(act_dim,) upper bounds of the joint velocities, rad/s, float32."""
    actions: Sequence[np.ndarray | None] | None = None
    """Per demo, (T_i - 1, act_dim): the actions between its states, or None (state-only); None: no demo has."""
    dense: bool = True
    """Consecutive states are consecutive time steps in every demo (not so once sparsified, or with one state)."""
    train: Sequence[bool] | None = None
    """Per demo: listed in the file's ``mask/train``; None: every demo is."""
    valid: Sequence[bool] | None = None
    """Per demo: listed in the file's ``mask/valid`` (BC's early stopping); None: no demo is."""
    env_args: dict[str, Any] = field(default_factory=dict)
    """The env the demos were recorded in (the file's ``env_args``)."""
    steps: Sequence[int] | None = None
    """Per demo, the time steps it spans (its final state's time index), whatever its sparsity; None: each
    demo's states are consecutive (T_i - 1 steps)."""
    path: str = "demos"
    """The file, for messages."""

    def __post_init__(self) -> None:
        n = len(self.states)
        for name, default in (("actions", None), ("train", True), ("valid", False)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, (default,) * n)
        if self.steps is None:
            object.__setattr__(self, "steps", tuple(len(x) - 1 for x in self.states))

    @classmethod
    def load(cls, path: str | Path, state_only: bool = False) -> DemoData:
        """A demo file (validated by ``load_demos``); ``state_only`` drops the actions."""
        from robot_il.data import load_demos
        from robot_il.data.arrays import flat_obs

        demos = load_demos(path)
        layout = demos.env_args["obs_layout"]
        states, actions, steps, dense = [], [], [], True
        for d in demos.demos:
            obs, index = d.states()
            states.append(flat_obs(obs, layout))
            steps.append(int(index[-1]))
            actions.append(None if state_only or d.state_only else np.asarray(d.actions))
            dense &= len(index) > 1 and bool(np.all(np.diff(index) == 1))
        return cls(
            states=states,
            action_low=np.asarray(demos.env_args["action_low"], dtype=np.float32),
            action_high=np.asarray(demos.env_args["action_high"], dtype=np.float32),
            actions=actions,
            dense=dense,
            train=[d.name in demos.train for d in demos.demos],
            valid=[d.name in demos.valid for d in demos.demos],
            env_args=demos.env_args,
            path=str(demos.path),
            steps=steps,
        )

    def env_factory(self) -> EnvFactory:
        """The env the demos were recorded in, where practice, rollouts and evaluation run."""
        return EnvFactory(self.env_args["env_name"], {"config": self.env_args["env_kwargs"]["config"]})

    @property
    def num_demos(self) -> int:
        return len(self.states)

    @property
    def states_per_demo(self) -> float:
        return len(self.all_states) / max(self.num_demos, 1)

    @property
    def all_states(self) -> np.ndarray:
        """(N, obs_dim) every demonstrated state, demo after demo."""
        return np.concatenate(self.states)

    @property
    def has_actions(self) -> bool:
        """Every demo has its actions."""
        return all(a is not None for a in self.actions)

    def split(self, name: str) -> list[int]:
        """Indices of the demos the file lists in ``mask/<name>`` ('train' or 'valid')."""
        return [i for i, listed in enumerate(self.train if name == "train" else self.valid) if listed]

    def pairs(self, demos: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """(states, actions) rows of those of ``demos`` (default all) that have actions; None if none has."""
        with_actions = [i for i in (range(self.num_demos) if demos is None else demos) if self.actions[i] is not None]
        if not with_actions:
            return None
        return np.concatenate([self.states[i][:-1] for i in with_actions]), np.concatenate(
            [self.actions[i] for i in with_actions]
        )

    def transitions(self) -> Transitions:
        """Consecutive states of every demo (meaningful for dense demos); actions when every demo has them."""
        return Transitions(
            np.concatenate([x[:-1] for x in self.states]),
            np.concatenate(self.actions) if self.has_actions else None,
            np.concatenate([x[1:] for x in self.states]),
        )


def policy_spec(demos: DemoData, hidden: Sequence[int], sigma_min: float, sigma_max: float) -> dict[str, Any]:
    """:class:`GaussianPolicy`'s arguments for these demos' widths and action bounds (actors rebuild it from them)."""
    return {
        "obs_dim": demos.states[0].shape[1],
        "act_dim": len(demos.action_low),
        "action_low": demos.action_low,
        "action_high": demos.action_high,
        "hidden": hidden,
        "sigma_min": sigma_min,
        "sigma_max": sigma_max,
    }


# The run directory -----------------------------------------------------------------------------------


class Checkpointed(Protocol):
    """What :meth:`RunDir.save` needs of a learner (:class:`robot_il.algos.lifecycle.Learner`'s)."""

    policy: GaussianPolicy
    counters: dict[str, Any]

    def state_dict(self) -> dict[str, Any]: ...


EVAL_SEED_WINDOW = 10_000
"""Rotating evaluations (``eval_rotate``) walk this many seeds from ``eval_seed`` and wrap: 10000..19999 by default,
clear of the demos' (0..) and the benchmarks' held-out episodes (20000..)."""


class RunDir:
    """A training run's directory (``robot-il train ... --out``) and what a learner does to it.

    checkpoint.pt     the whole training state: a killed run resumes from it (same config only)
    policy.pt         the policy to evaluate and deploy
    policy_best.pt    the policy of the best evaluation so far (GPRIL, GAIL)
    train_log.json    the summary and curve; ``curves_png`` its plot
    eval/             where ``robot-il eval`` reports by default (``robot_il.evaluation``)

    ``cfg`` is the learner's config dataclass; evaluation (with ``factory``) reads its
    ``eval_seed`` and ``eval_episodes``.
    """

    def __init__(
        self,
        out: str | Path,
        algo: str,
        cfg: Any,
        env_args: dict[str, Any],
        factory: EnvFactory | None = None,
        curves_png: str = LEARNING_CURVE_FILE,
    ) -> None:
        self.path = Path(out)
        self.path.mkdir(parents=True, exist_ok=True)
        self.algo, self.cfg, self.env_args, self.factory = algo, cfg, env_args, factory
        self.checkpoint = self.path / CHECKPOINT_FILE
        self.policy = self.path / POLICY_FILE
        self.best_policy = self.path / BEST_POLICY_FILE
        self.log = self.path / LOG_FILE
        self.curves = self.path / curves_png
        self._eval_env = None
        self._t0 = time.perf_counter()

    def close(self) -> None:
        """Close the evaluation env."""
        if self._eval_env is not None:
            self._eval_env.close()
            self._eval_env = None

    # Wall clock across resumes ---------------------------------------------------------------------

    def start_clock(self, already_s: float) -> None:
        """Count wall-clock time on from ``already_s`` (what the resumed run had spent)."""
        self._t0 = time.perf_counter() - already_s

    @property
    def wall_s(self) -> float:
        return time.perf_counter() - self._t0

    # Save and resume -------------------------------------------------------------------------------

    def resume(self) -> dict[str, Any] | None:
        """The checkpoint to resume from, or None; one written with another config is refused."""
        return load_resumable(self.checkpoint, self.cfg, self.algo.upper())

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        save_atomic(state, self.checkpoint)

    def save_policy(self, policy: GaussianPolicy, path: Path | None = None) -> None:
        """``policy.pt`` (or ``path``), carrying this run's config and env description."""
        save_policy(path or self.policy, policy, algo=self.algo, config=config_dict(self.cfg), env_args=self.env_args)

    def keep_if_best(
        self, policy: GaussianPolicy, success: float, counters: dict[str, Any], at: dict[str, int]
    ) -> None:
        """Save ``policy_best.pt`` if ``success`` is at least the best so far (of equal ones the later, more
        trained policy); ``counters`` records ``best_eval_success`` and ``at`` (e.g. the iteration)."""
        if success >= counters.get("best_eval_success", -1.0):
            counters.update(best_eval_success=success, **at)
            self.save_policy(policy, self.best_policy)

    def save(
        self, learner: Checkpointed, success: float, at: dict[str, int], policy: GaussianPolicy | None = None
    ) -> None:
        """After an evaluation: policy.pt, policy_best.pt if it is the best, then checkpoint.pt (whose counters
        record the best). ``policy``: the one evaluated and deployed, if not ``learner.policy``."""
        policy = policy or learner.policy
        self.save_policy(policy)
        self.keep_if_best(policy, success, learner.counters, at)
        self.save_checkpoint(learner.state_dict())

    # Evaluation and the log ------------------------------------------------------------------------

    def evaluation_seeds(self, index: int = 0) -> list[int]:
        """The episode seeds of evaluation number ``index`` (0, 1, ...): ``cfg.eval_seed`` on, every time, or
        with the config's ``eval_rotate`` the next ``eval_episodes`` of a window of ``EVAL_SEED_WINDOW``."""
        episodes, first = self.cfg.eval_episodes, self.cfg.eval_seed
        if not getattr(self.cfg, "eval_rotate", False):
            return list(range(first, first + episodes))
        return [first + (index * episodes + i) % EVAL_SEED_WINDOW for i in range(episodes)]

    def evaluate(self, policy: GaussianPolicy, index: int = 0) -> float:
        """Success rate on the validation seeds of evaluation ``index`` (:meth:`evaluation_seeds`) of the policy's
        mean, or of actions sampled from it where the config's ``sample_actions`` says so."""
        if self._eval_env is None:
            self._eval_env = self.factory.make()
        episodes = self.cfg.eval_episodes
        sample = bool(getattr(self.cfg, "sample_actions", False))
        wins = 0
        for seed in self.evaluation_seeds(index):
            # sampled: each episode's action noise is seeded by its own seed, like its socket pose
            rng = torch.Generator().manual_seed(seed) if sample else None
            wins += run_episode(self._eval_env, policy, seed, not sample, rng)[2]
        return wins / max(episodes, 1)

    def write_log(self, summary: dict[str, Any]) -> dict[str, Any]:
        self.log.write_text(json.dumps(summary, indent=2))
        return summary

    def write_curves(
        self,
        counters: dict[str, Any],
        curve: list[dict[str, Any]],
        x_axes: tuple[tuple[str, str], ...],
        title: str,
        practice_label: str,
        **extra: Any,
    ) -> dict[str, Any]:
        """train_log.json (``extra`` after the algorithm's name) and the success curve against each x axis."""
        from robot_il.report import plot_learning_curve

        summary = self.write_log(
            {
                "algo": self.algo,
                **extra,
                "config": config_dict(self.cfg),
                "counters": counters,
                "final_eval_success": curve[-1]["eval_success"] if curve else None,
                "curve": curve,
            }
        )
        plot_learning_curve(curve, self.curves, x_axes, title, practice_label)
        return summary


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """numpy's and torch's generator states, as checkpoints store them (JSON and a tensor)."""
    return {"numpy_rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state()}


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = json.loads(state["numpy_rng"])
    torch.set_rng_state(state["torch_rng"])

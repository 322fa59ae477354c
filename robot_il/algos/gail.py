"""GAIL: generative adversarial imitation, the baseline GPRIL is compared with (Ho & Ermon 2016).

A discriminator D (hidden layers (150, 100)) learns by binary cross-entropy to
tell demonstrated transitions (label 1) from the generator's (label 0); the
generator is trained by PPO (stable-baselines3) on the gymnasium env with the
reward ``-log(1 - D)`` (or the lower-variance logit ``log D - log(1 - D)``,
``reward="logit"``), rolled out in N environment processes (or N Ray actors with
``engine="ray"``, on one machine or a cluster: :mod:`robot_il.algos.ray_engine`).

One iteration, read in :class:`GAILCallback` (PPO's ``learn()`` calls it):

1. PPO collects a rollout of ``num_envs x n_steps`` steps, each rewarded by D
   (:class:`DiscriminatorReward`);
2. D takes BCE steps on the rollout's transitions against as many demonstrated
   ones (:meth:`GAIL.train_discriminator`);
3. PPO updates actor and critic on the rollout;
4. every ``eval_every`` rollouts the deterministic policy is evaluated and the
   run saved (:class:`RunDir`).

What D sees (``disc_input``):

* ``"sa"``: (s, a), demos with actions (the paper's GAIL);
* ``"ss"``: (s, s'), states only, dense (GAIfO-style);
* ``"s"``: the state reached, s'. Sparse demos (every 10th state, final state
  only) have no consecutive pairs, so D compares state occupancy: with final
  states only it learns what a finished insertion looks like.

``"auto"`` picks the first that the demos support.

Settings from the GPRIL paper's GAIL baseline: bootstrapping regardless of
termination (every reward is positive, so ending an episode would be a loss
of future reward, biasing the policy towards long episodes in a task that ends
on success; here every episode end is handed to PPO as a time-limit
truncation, so it bootstraps from the critic), entropy regularisation,
observation normalisation from the demos (inside the policy, critic and D),
and an optional BC warm start of the actor. The actor is the project's
:class:`GaussianPolicy` (same network as BC and GPRIL), so a GAIL run's
``policy.pt`` evaluates and deploys like any other. Deviation: PPO with a KL
early stop at 0.01 replaces TRPO with a KL step of 0.01, and actor and critic
share one Adam learning rate.

Checkpoints (every ``eval_every`` rollouts) hold actor, critic, optimiser,
discriminator and its optimiser, counters, the learning curve and RNG states;
``torch.load(..., weights_only=True)`` reads them, and a killed run resumes
from its last one (the rollout in progress is collected again).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnvWrapper
from torch import nn
from tqdm import tqdm

from robot_il.algos.actors import ENGINES, EnvFactory
from robot_il.algos.bc import likelihood_step
from robot_il.algos.common import (
    RECENT_EPISODES,
    DemoData,
    RunDir,
    Transitions,
    curve_point,
    policy_spec,
    rng_state,
    set_rng_state,
)
from robot_il.checkpoint import config_dict
from robot_il.errors import ConfigError
from robot_il.nn.policy import ActionScaler, GaussianPolicy, Normalizer, mlp

DISC_INPUTS = ("auto", "sa", "ss", "s")
REWARDS = ("gail", "logit")


@dataclass(frozen=True)
class GAILConfig:
    num_envs: int = 16
    """Environment processes rolling out the generator (paper: 16)."""
    n_steps: int = 256
    """Steps per environment per rollout; a PPO batch is num_envs x n_steps (paper: 16 x 256)."""
    total_steps: int = 10_000_000
    """Environment steps to train for, all environments together."""
    gamma: float = 0.995
    """Discount (paper: 0.995)."""
    gae_lambda: float = 0.97
    policy_hidden: tuple[int, ...] = (300, 200)
    """Actor hidden layers (paper: 300, 200)."""
    critic_hidden: tuple[int, ...] = (300, 200)
    """Critic hidden layers (paper: 300, 200)."""
    sigma_min: float = 0.01
    sigma_max: float = 0.1
    """Bounds of the actor's σ, rad/s (as BC and GPRIL)."""
    learning_rate: float = 3e-4
    """Adam learning rate of actor and critic."""
    ppo_epochs: int = 10
    minibatch_size: int = 256
    clip_range: float = 0.2
    target_kl: float | None = 0.01
    """PPO stops an update's epochs once the KL to the rollout policy passes this (the paper's TRPO step: 0.01)."""
    ent_coef: float = 1e-3
    """Entropy regularisation."""
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    disc_hidden: tuple[int, ...] = (150, 100)
    """Discriminator hidden layers (paper: 150, 100)."""
    disc_lr: float = 1e-4
    """Discriminator Adam learning rate (paper: 1e-4)."""
    disc_epochs: int = 1
    """Passes of the discriminator over each rollout's transitions."""
    disc_batch_size: int = 256
    disc_input: str = "auto"
    """What D sees: 'sa', 'ss' (state-only, dense), 's' (sparse), or 'auto'."""
    reward: str = "gail"
    """'gail': -log(1 - D); 'logit': log D - log(1 - D), lower variance, signed."""
    bc_warm_start_steps: int = 0
    """Steps of BC on the demonstrated pairs before GAIL (needs actions)."""
    bc_lr: float = 1e-3
    critic_warmup_rollouts: int = 0
    """Rollouts at the start in which the actor is held and only the critic and D learn, so that a
    BC-started actor is not moved by advantages from an untrained critic and an untrained D."""
    eval_every: int = 5
    """Rollouts between evaluations of the deterministic policy (and checkpoints)."""
    eval_episodes: int = 20
    eval_seed: int = 10_000
    seed: int = 0
    vec_env: str = "subproc"
    """With engine 'local': 'subproc' (one process per env) or 'dummy' (all in the learner's process)."""
    engine: str = "local"
    """Where the envs run: 'local' (as vec_env says) or 'ray' (one Ray actor per env, on a local Ray cluster
    or the one at ray_address; needs the ray extra)."""
    ray_address: str = ""
    """Ray cluster to join with engine 'ray' (ray.init(address=...): 'auto', 'ray://head:10001'); '' starts a
    local one."""
    threads: int = 1

    def __post_init__(self) -> None:
        if self.disc_input not in DISC_INPUTS:
            raise ConfigError("disc_input", f"must be one of {DISC_INPUTS}, got {self.disc_input!r}")
        if self.reward not in REWARDS:
            raise ConfigError("reward", f"must be one of {REWARDS}, got {self.reward!r}")
        if self.vec_env not in ("subproc", "dummy"):
            raise ConfigError("vec_env", f"must be 'subproc' or 'dummy', got {self.vec_env!r}")
        if self.engine not in ENGINES:
            raise ConfigError("engine", f"must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        for name in ("num_envs", "n_steps", "total_steps", "minibatch_size", "eval_every", "disc_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(name, f"must be at least 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError("gamma", f"must be in (0, 1), got {self.gamma}")


PRESETS: dict[str, GAILConfig] = {
    # The GPRIL paper's GAIL baseline on the simulated tasks (appendix B).
    "peg_sim": GAILConfig(),
    "clip_sim": GAILConfig(),
    # This 2-core machine: two env processes, bigger rollouts per env, a BC start.
    "fast": GAILConfig(
        num_envs=2,
        n_steps=1024,
        total_steps=300_000,
        eval_every=4,
        bc_warm_start_steps=2000,
        critic_warmup_rollouts=10,
    ),
}


# Demonstrations ----------------------------------------------------------------------------------


def disc_input(demos: DemoData, requested: str) -> str:
    """What D sees of these demos: ``requested``, or for 'auto' the first of 'sa', 'ss', 's' they support."""
    with_actions = demos.has_actions and demos.dense
    if requested == "auto":
        return "sa" if with_actions else ("ss" if demos.dense else "s")
    if requested == "sa" and not with_actions:
        raise ConfigError("disc_input", "'sa' needs demos with actions; use --state-only ('ss' or 's')")
    if requested == "ss" and not demos.dense:
        raise ConfigError("disc_input", "'ss' needs dense demos; sparse demos only support 's'")
    return requested


def expert_transitions(demos: DemoData, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, a, s') rows of the demos for D, float32; a is empty for the state-only kinds."""
    if kind == "s":
        s = demos.all_states
        steps = Transitions(s, None, s)
    else:
        steps = demos.transitions()
    a = steps.actions if kind == "sa" else np.zeros((len(steps.states), 0))
    return steps.states.astype(np.float32), a.astype(np.float32), steps.next_states.astype(np.float32)


# Networks: the discriminator, and PPO's actor-critic over the project's Gaussian policy ---------------


class Discriminator(ActionScaler):
    """D(x) = σ(f(x)) = the probability that x is demonstrated; x built from (s, a, s') by ``kind``."""

    def __init__(
        self,
        kind: str,
        obs_dim: int,
        act_dim: int,
        state_norm: Normalizer,
        action_low: np.ndarray,
        action_high: np.ndarray,
        hidden: tuple[int, ...] = (150, 100),
    ) -> None:
        super().__init__(action_low, action_high)
        self.kind = kind
        in_dim = {"sa": obs_dim + act_dim, "ss": 2 * obs_dim, "s": obs_dim}[kind]
        self.net = mlp([in_dim, *hidden, 1])
        self.state_norm = state_norm

    def features(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        if self.kind == "sa":
            return torch.cat([self.state_norm(s), self.normalize(a)], dim=-1)
        if self.kind == "ss":
            return torch.cat([self.state_norm(s), self.state_norm(s_next)], dim=-1)
        return self.state_norm(s_next)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def forward(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(s, a, s_next))

    @torch.no_grad()
    def reward(self, s: np.ndarray, a: np.ndarray, s_next: np.ndarray, kind: str = "gail") -> np.ndarray:
        """-log(1 - D) = softplus(logit) (``gail``), or log D - log(1 - D) = logit (``logit``)."""
        t = [torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in (s, a, s_next)]
        logit = self(*t)
        r = nn.functional.softplus(logit) if kind == "gail" else logit
        return r.numpy().astype(np.float32)


class GaussianActorCritic(ActorCriticPolicy):
    """SB3's actor-critic interface over :class:`GaussianPolicy` and an MLP critic on normalised states."""

    def __init__(self, observation_space, action_space, lr_schedule, net_spec=None, critic_hidden=(300, 200), **kw):
        self._net_spec, self._critic_hidden = dict(net_spec), tuple(critic_hidden)
        kw["ortho_init"] = False
        super().__init__(observation_space, action_space, lr_schedule, **kw)

    def _build(self, lr_schedule) -> None:
        spec = dict(self._net_spec)
        normalizer = Normalizer(spec.pop("obs_mean"), spec.pop("obs_std"))
        self.actor = GaussianPolicy(**spec, normalizer=normalizer)
        self.critic = mlp([spec["obs_dim"], *self._critic_hidden, 1])
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _values(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.actor.normalizer(obs.float()))

    def forward(self, obs: torch.Tensor, deterministic: bool = False):
        obs = obs.float()
        dist = self.actor.distribution(obs)
        actions = dist.mean if deterministic else dist.sample()
        return actions, self._values(obs), dist.log_prob(actions)

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor):
        obs = obs.float()
        dist = self.actor.distribution(obs)
        return self._values(obs), dist.log_prob(actions), dist.entropy()

    def predict_values(self, obs: torch.Tensor) -> torch.Tensor:
        return self._values(obs)

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        dist = self.actor.distribution(observation.float())
        return dist.mean if deterministic else dist.sample()


class BootstrapAlways(gymnasium.Wrapper):
    """Every episode end becomes a truncation, so PPO bootstraps from the critic there (``info['terminated']``
    keeps the truth)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["terminated"] = terminated
        return obs, reward, False, terminated or truncated, info


def _make_env(factory: EnvFactory):
    return BootstrapAlways(factory.make())


def _vec_env(cfg: GAILConfig, make) -> Any:
    """``num_envs`` envs: Ray actors (engine 'ray'), processes ('subproc') or the learner's own ('dummy')."""
    if cfg.engine == "ray":
        from robot_il.algos.ray_engine import RayVecEnv

        return RayVecEnv([make] * cfg.num_envs, address=cfg.ray_address)
    vec = SubprocVecEnv if cfg.vec_env == "subproc" and cfg.num_envs > 1 else DummyVecEnv
    return vec([make] * cfg.num_envs)


class DiscriminatorReward(VecEnvWrapper):
    """Replaces the env's reward with D's, and keeps the rollout's transitions and episode outcomes until drained."""

    def __init__(self, venv, disc: Discriminator, reward: str) -> None:
        super().__init__(venv)
        self.disc, self.reward_kind = disc, reward
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self.transitions: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.outcomes: list[bool] = []

    def reset(self):
        self._obs = self.venv.reset()
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.clip(actions, self.action_space.low, self.action_space.high)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, _, dones, infos = self.venv.step_wait()
        s_next = np.array(obs, copy=True)
        for i, done in enumerate(dones):
            if done:
                s_next[i] = infos[i]["terminal_observation"]
                if not infos[i].get("worker_replaced"):  # an episode cut by a lost Ray worker has no outcome
                    self.outcomes.append(bool(infos[i].get("is_success", False)))
        rewards = self.disc.reward(self._obs, self._actions, s_next, self.reward_kind)
        self.transitions.append((self._obs.astype(np.float32), self._actions.astype(np.float32), s_next))
        self._obs = obs
        return obs, rewards, dones, infos

    def drain(self) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], list[bool]]:
        """The (s, a, s') batches and the successes of the episodes that ended, since the last call."""
        drained = self.transitions, self.outcomes
        self.transitions, self.outcomes = [], []
        return drained


# Updates: D's step, the BC warm start; PPO's own update runs inside its learn() ----------------------


def discriminator_step(
    disc: Discriminator, opt: torch.optim.Optimizer, expert: torch.Tensor, generated: torch.Tensor
) -> dict[str, float]:
    """One BCE step on equal-size batches of features: demonstrated -> 1, generated -> 0."""
    logits_e, logits_g = disc.logits(expert), disc.logits(generated)
    bce = nn.functional.binary_cross_entropy_with_logits
    loss = bce(logits_e, torch.ones_like(logits_e)) + bce(logits_g, torch.zeros_like(logits_g))
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        accuracy = 0.5 * ((logits_e > 0).float().mean() + (logits_g < 0).float().mean())
    return {"disc/loss": loss.item(), "disc/accuracy": accuracy.item()}


class GAIL:
    """D and its optimiser, and PPO over the Gaussian actor, rolled out in ``num_envs`` envs rewarded by D."""

    def __init__(self, cfg: GAILConfig, demos: DemoData, factory: EnvFactory) -> None:
        self.cfg, self.demos = cfg, demos
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        self.kind = disc_input(demos, cfg.disc_input)
        norm = Normalizer.fit(demos.all_states.astype(np.float32))
        net_spec = policy_spec(demos, cfg.policy_hidden, cfg.sigma_min, cfg.sigma_max)
        self.disc = Discriminator(
            self.kind,
            net_spec["obs_dim"],
            net_spec["act_dim"],
            Normalizer(norm.mean, norm.std),
            demos.action_low,
            demos.action_high,
            cfg.disc_hidden,
        )
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr)
        with torch.no_grad():
            self.expert_features = self.disc.features(*map(torch.as_tensor, expert_transitions(demos, self.kind)))

        make = functools.partial(_make_env, factory)
        self.venv = DiscriminatorReward(_vec_env(cfg, make), self.disc, cfg.reward)
        self.model = PPO(
            GaussianActorCritic,
            self.venv,
            learning_rate=cfg.learning_rate,
            n_steps=cfg.n_steps,
            batch_size=cfg.minibatch_size,
            n_epochs=cfg.ppo_epochs,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
            clip_range=cfg.clip_range,
            ent_coef=cfg.ent_coef,
            vf_coef=cfg.vf_coef,
            max_grad_norm=cfg.max_grad_norm,
            target_kl=cfg.target_kl,
            seed=cfg.seed,
            device="cpu",
            policy_kwargs={
                "net_spec": {**net_spec, "obs_mean": norm.mean, "obs_std": norm.std},
                "critic_hidden": cfg.critic_hidden,
            },
        )
        self.rng = np.random.default_rng(cfg.seed)
        self.counters = {"rollouts": 0, "episodes": 0, "env_steps": 0, "successes": 0, "wall_s": 0.0, "disc_steps": 0}
        self.recent: list[bool] = []
        self.curve: list[dict[str, Any]] = []

    @property
    def policy(self) -> GaussianPolicy:
        """The actor: what policy.pt holds."""
        return self.model.policy.actor

    def episode_finished(self, success: bool) -> None:
        self.counters["episodes"] += 1
        self.counters["successes"] += int(success)
        self.recent = [*self.recent, success][-RECENT_EPISODES:]

    def bc_warm_start(self) -> None:
        """Fit the actor to the demonstrated pairs (maximum likelihood), before any GAIL update."""
        if self.cfg.bc_warm_start_steps <= 0 or not (self.demos.has_actions and self.demos.dense):
            return
        steps = self.demos.transitions()
        s, a = (torch.as_tensor(x, dtype=torch.float32) for x in (steps.states, steps.actions))
        opt = torch.optim.Adam(self.policy.parameters(), lr=self.cfg.bc_lr)
        gen = torch.Generator().manual_seed(self.cfg.seed)
        for _ in range(self.cfg.bc_warm_start_steps):
            i = torch.randint(0, len(s), (min(256, len(s)),), generator=gen)
            likelihood_step(self.policy, opt, s[i], a[i])

    def train_discriminator(self, buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
        """``disc_epochs`` passes of BCE steps over a rollout's transitions, each against as many demonstrated."""
        s, a, s_next = (torch.as_tensor(np.concatenate([b[k] for b in buffer])) for k in range(3))
        with torch.no_grad():
            generated = self.disc.features(s, a, s_next)
        b = self.cfg.disc_batch_size
        stats: dict[str, float] = {}
        for _ in range(self.cfg.disc_epochs):
            order = torch.as_tensor(self.rng.permutation(len(generated)))
            for start in range(0, len(order), b):
                g = generated[order[start : start + b]]
                e = self.expert_features[torch.as_tensor(self.rng.integers(0, len(self.expert_features), len(g)))]
                stats = discriminator_step(self.disc, self.disc_opt, e, g)
                self.counters["disc_steps"] += 1
        return stats

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": json.dumps(config_dict(self.cfg)),
            "policy": self.model.policy.state_dict(),
            "optimizer": self.model.policy.optimizer.state_dict(),
            "disc": self.disc.state_dict(),
            "disc_opt": self.disc_opt.state_dict(),
            "num_timesteps": self.model.num_timesteps,
            "n_updates": self.model._n_updates,
            "counters": json.dumps(self.counters),
            "recent": json.dumps(self.recent),
            "curve": json.dumps(self.curve),
            **rng_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.policy.load_state_dict(state["policy"])
        self.model.policy.optimizer.load_state_dict(state["optimizer"])
        self.disc.load_state_dict(state["disc"])
        self.disc_opt.load_state_dict(state["disc_opt"])
        self.model.num_timesteps = int(state["num_timesteps"])
        self.model._n_updates = int(state["n_updates"])
        self.counters = json.loads(state["counters"])
        self.recent = json.loads(state["recent"])
        self.curve = json.loads(state["curve"])
        set_rng_state(self.rng, state)

    def close(self) -> None:
        self.venv.close()


# The loop: PPO's learn(), with D's step and the evaluations in its callback -------------------------


class GAILCallback(BaseCallback):
    """After each rollout D learns from it; every ``eval_every`` rollouts, before the next one (so after PPO's
    update), the policy is evaluated and the run saved."""

    def __init__(self, learner: GAIL, run: RunDir, bar: tqdm) -> None:
        super().__init__()
        self.learner, self.run, self.bar = learner, run, bar
        self.disc_stats: dict[str, float] = {}

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        rollouts = self.learner.counters["rollouts"]
        if rollouts and rollouts % self.learner.cfg.eval_every == 0:
            self.evaluate_and_save(self.disc_stats)

    def _on_rollout_end(self) -> None:
        g = self.learner
        transitions, outcomes = g.venv.drain()
        for success in outcomes:
            g.episode_finished(success)
        self.disc_stats = g.train_discriminator(transitions)
        g.counters["rollouts"] += 1
        g.policy.requires_grad_(g.counters["rollouts"] > g.cfg.critic_warmup_rollouts)  # for PPO's update next
        g.counters["env_steps"] = int(g.model.num_timesteps)
        self.bar.update(g.cfg.n_steps * g.cfg.num_envs)
        self.bar.set_postfix(
            practice=f"{np.mean(g.recent):.2f}" if g.recent else "-",
            eval=f"{g.curve[-1]['eval_success']:.2f}" if g.curve else "-",
            D=f"{self.disc_stats.get('disc/accuracy', float('nan')):.2f}",
        )

    def evaluate_and_save(self, stats: dict[str, float]) -> None:
        g, run = self.learner, self.run
        g.counters["wall_s"] = run.wall_s
        g.counters["env_steps"] = int(g.model.num_timesteps)
        success = run.evaluate(g.policy)
        g.curve.append({**curve_point(g.counters, "rollouts", g.counters["wall_s"], success, g.recent), **stats})
        run.save(g, success, {"best_env_steps": g.counters["env_steps"]})
        _write_curves(run, g)


def train_gail(
    demos: DemoData,
    env_args: dict[str, Any],
    factory: EnvFactory,
    out: str | Path,
    cfg: GAILConfig,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or resume) GAIL into ``out``; returns the summary also written to ``train_log.json``."""
    run = RunDir(out, "gail", cfg, env_args, factory)
    learner = GAIL(cfg, demos, factory)
    if (state := run.resume()) is not None:
        learner.load_state_dict(state)
    run.start_clock(learner.counters["wall_s"])
    bar = tqdm(
        total=cfg.total_steps, initial=learner.model.num_timesteps, desc="GAIL", unit="step", disable=not progress
    )
    loop = GAILCallback(learner, run, bar)
    try:
        if not learner.curve:
            learner.bc_warm_start()
            loop.evaluate_and_save({})
        remaining = cfg.total_steps - learner.model.num_timesteps
        if remaining > 0:
            learner.model.learn(remaining, callback=loop, reset_num_timesteps=False)
            if learner.curve[-1]["env_steps"] != learner.model.num_timesteps:
                loop.evaluate_and_save({})
    finally:
        bar.close()
        learner.close()
        run.close()
    return _write_curves(run, learner)


def train_gail_from_file(
    demos_path: str | Path,
    out: str | Path,
    preset: GAILConfig,
    state_only: bool = False,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The ``robot-il train gail`` entry: demos from an HDF5 file, rollouts in the env they were recorded in."""
    demos = DemoData.load(demos_path, state_only=state_only)
    cfg = dataclasses.replace(preset, **(overrides or {}))
    return train_gail(demos, demos.env_args, demos.env_factory(), out, cfg, progress=progress)


def _write_curves(run: RunDir, learner: GAIL) -> dict[str, Any]:
    axes = (("env_steps", "environment steps"), ("wall_s", "wall-clock time (s)"))
    title = f"GAIL learning curve (D on {learner.kind})"
    return run.write_curves(learner.counters, learner.curve, axes, title, "rollouts (last 50)", disc_input=learner.kind)

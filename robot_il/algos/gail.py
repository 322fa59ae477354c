"""GAIL: generative adversarial imitation, the baseline GPRIL is compared with (Ho & Ermon 2016).

A discriminator D (hidden layers (150, 100)) learns by binary cross-entropy to
tell demonstrated transitions (label 1) from the generator's (label 0); the
generator is trained on the gymnasium env with the reward ``-log(1 - D)`` (or
the lower-variance logit ``log D - log(1 - D)``, ``reward="logit"``), rolled out
in N environment processes (or N Ray actors with ``engine="ray"``, on one
machine or a cluster: :mod:`robot_il.algos.ray_engine`). The generator is TRPO
(sb3-contrib, ``generator="trpo"``: the paper's) or SB3's PPO (``"ppo"``).

One iteration, read in :class:`GAILCallback` (the generator's ``learn()`` calls it):

1. the generator collects a rollout of ``num_envs x n_steps`` steps, each rewarded
   by D (:class:`RolloutReward`), divided by a running std of the return
   (``reward_norm``);
2. D takes BCE steps on the rollout's transitions against as many demonstrated
   ones, with an entropy bonus on its output (:meth:`GAIL.train_discriminator`);
3. the generator updates actor and critic on the rollout;
4. every ``eval_every`` rollouts the deterministic policy is evaluated and the
   run saved (:class:`RunDir`).

What D sees (``disc_input``):

* ``"sa"``: (s, a), demos with actions (the paper's GAIL);
* ``"ss"``: (s, s'), states only, dense (GAIfO-style);
* ``"s"``: the state reached, s'. Sparse demos (every 10th state, final state
  only) have no consecutive pairs, so D compares state occupancy: with final
  states only it learns what a finished insertion looks like.

``"auto"`` picks the first that the demos support.

Settings from the GPRIL paper's GAIL baseline (appendix B): TRPO with a KL step
of 0.01 and a critic of its own (Adam 5e-3), entropy regularisation on D (as
openai/baselines' GAIL, which the paper used), observation normalisation
(inside the actor, critic and D). Episode ends (:class:`EpisodeEnds`): the
paper bootstraps at every end, since every reward is positive and a true
termination would bias the policy towards long episodes in a task that ends on
success; here that holds for successes and time limits, while an exit from the
workspace is a true termination by default (``terminal="exits"``): bootstrapping
there from a critic that learnt the large returns of the warm-up told the
policy that quitting costs nothing. ``terminal="absorbing"`` (after Kostrikov et
al.'s DAC) ends a success in an absorbing state instead, whose return D decides:
demos enter it once each, so a policy that succeeds less often than the expert is
rewarded for entering it, where a bootstrapped success is worth no more than
wandering on until the time limit. ``reward="env"`` trains the same loop on the
env's own sparse reward (+1 on success), D unused: the sanity check of the RL
loop alone. An optional BC warm start fits the actor first, and
``critic_warmup_rollouts`` hold it while the critic catches up. The actor is the
project's :class:`GaussianPolicy` (same network as BC and GPRIL), so a GAIL run's
``policy.pt`` evaluates and deploys like any other. Each rollout's episode ends
by reason (success, left_workspace, time_limit) are logged in train_log.json's
``rollouts``.

The behaviour before issue 14 stays reachable: ``generator="ppo"`` (actor and
critic share one Adam and one loss; SB3 stops an update's epochs at the
approximate KL ``target_kl``), ``ent_coef=1e-3``, ``disc_ent_coef=0``,
``terminal="none"``, ``reward_norm=False``, ``obs_norm="demos"``.

Checkpoints (every ``eval_every`` rollouts) hold actor, critic, optimiser,
discriminator and its optimiser, the reward normaliser, counters, the learning
curve and RNG states; ``torch.load(..., weights_only=True)`` reads them, and a
killed run resumes from its last one (the rollout in progress is collected
again).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
import torch
from sb3_contrib import TRPO
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnvWrapper
from torch import nn
from tqdm import tqdm

from robot_il.algos.actors import EnvFactory, run_episode
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
from robot_il.algos.engines import ENGINES
from robot_il.checkpoint import config_dict
from robot_il.errors import ConfigError
from robot_il.nn.policy import ActionScaler, GaussianPolicy, Normalizer, mlp

DISC_INPUTS = ("auto", "sa", "ss", "s")
REWARDS = ("gail", "logit", "env")
GENERATORS = ("trpo", "ppo")
OBS_NORMS = ("auto", "demos", "demos+practice")
END_REASONS = ("success", "left_workspace", "time_limit")
TERMINAL = {
    "none": (),
    "exits": ("left_workspace",),
    "all": ("success", "left_workspace"),
    "absorbing": ("success", "left_workspace"),
}
"""``terminal`` setting -> the episode end reasons that are true terminations (never bootstrapped); with
'absorbing' a success leads to the absorbing state, whose return is D's (:meth:`GAIL.absorbing_reward`)."""


@dataclass(frozen=True)
class GAILConfig:
    REWARDS: ClassVar[tuple[str, ...]] = REWARDS
    EXTENDABLE: ClassVar[tuple[str, ...]] = ("total_steps",)
    """A finished run given more steps trains on from its last checkpoint (its envs start new episodes there,
    as in any resume); fewer steps, or any other change, is refused."""

    num_envs: int = 16
    """Environment processes rolling out the generator (paper: 16)."""
    n_steps: int = 256
    """Steps per environment per rollout; a batch is num_envs x n_steps (paper: 16 x 256)."""
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
    generator: str = "trpo"
    """'trpo' (sb3-contrib; the paper's: a KL-bounded actor step, a critic with its own Adam) or 'ppo' (SB3's:
    actor and critic share one Adam and one loss)."""
    target_kl: float | None = 0.01
    """TRPO: the KL bound of each actor step (paper: 0.01); PPO: the approximate KL that stops an update's epochs
    (None: no early stop)."""
    critic_lr: float = 5e-3
    """TRPO: Adam learning rate of the critic (paper: 5e-3)."""
    critic_epochs: int = 10
    """TRPO: passes of the critic over each rollout, in minibatches of minibatch_size."""
    learning_rate: float = 3e-4
    """PPO: Adam learning rate of actor and critic."""
    ppo_epochs: int = 10
    minibatch_size: int = 256
    clip_range: float = 0.2
    ent_coef: float = 0.0
    """PPO: entropy bonus of the policy (paper: none; it is on D). TRPO has none."""
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    disc_hidden: tuple[int, ...] = (150, 100)
    """Discriminator hidden layers (paper: 150, 100)."""
    disc_lr: float = 1e-4
    """Discriminator Adam learning rate (paper: 1e-4)."""
    disc_ent_coef: float = 1e-3
    """Entropy bonus on D's output (openai/baselines GAIL, the paper's: 1e-3); keeps D from saturating."""
    disc_grad_penalty: float = 0.0
    """Weight of a gradient penalty on D's logit between demonstrated and generated inputs (WGAN-GP's, as
    Kostrikov et al.'s DAC: 10); 0: none (the paper's GAIL). Keeps D's reward smooth where an accurate D
    would saturate."""
    disc_epochs: int = 1
    """Passes of the discriminator over each rollout's transitions."""
    disc_batch_size: int = 256
    disc_input: str = "auto"
    """What D sees: 'sa', 'ss' (state-only, dense), 's' (sparse), or 'auto'."""
    reward: str = "gail"
    """'gail': -log(1 - D); 'logit': log D - log(1 - D), lower variance, signed; 'env': the env's own reward
    (peg: +1 on success), D unused: the sanity check of the RL loop alone."""
    reward_norm: bool = True
    """Divide the rewards by a running std of the discounted return (SB3's VecNormalize, rewards only)."""
    terminal: str = "exits"
    """Which episode ends are true terminations, not bootstrapped: 'exits' (leaving the workspace), 'all'
    (exits and successes), 'absorbing' (exits; a success enters an absorbing state that D rewards, after
    Kostrikov et al.'s DAC) or 'none' (the paper's: every end bootstraps from the critic). Time limits always
    bootstrap."""
    obs_norm: str = "auto"
    """What the observation normaliser of actor, critic and D is fitted on: 'demos', 'demos+practice' (and
    norm_practice_steps of the initial policy), or 'auto': demos+practice for sparse demos."""
    norm_practice_steps: int = 2048
    """Steps of the initial policy that observation normalisation is fitted on with 'demos+practice'."""
    bc_warm_start_steps: int = 0
    """Steps of BC on the demonstrated pairs before GAIL (needs actions)."""
    bc_lr: float = 1e-3
    bc_anchor_steps: int = 0
    """Steps of BC (maximum likelihood on demonstrated pairs, batches of 256, Adam at bc_anchor_lr) after each
    update of the actor: a pull towards the demos while D's reward is still uninformative (after Jena et al.
    2020, GAIL augmented with BC); 0: none (the paper's GAIL). Needs demos with actions."""
    bc_anchor_lr: float = 1e-4
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
        choices = (
            ("disc_input", DISC_INPUTS),
            ("reward", self.REWARDS),
            ("generator", GENERATORS),
            ("obs_norm", OBS_NORMS),
            ("terminal", tuple(TERMINAL)),
            ("vec_env", ("subproc", "dummy")),
            ("engine", ENGINES),
        )
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for name in ("num_envs", "n_steps", "total_steps", "minibatch_size", "eval_every", "disc_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(name, f"must be at least 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError("gamma", f"must be in (0, 1), got {self.gamma}")
        if self.generator == "trpo" and not (self.target_kl and self.target_kl > 0):
            raise ConfigError("target_kl", f"TRPO needs a positive KL step, got {self.target_kl}")


PRESETS: dict[str, GAILConfig] = {
    # The GPRIL paper's GAIL baseline on the simulated tasks (appendix B).
    "peg_sim": GAILConfig(),
    "clip_sim": GAILConfig(),
    # This 2-core machine: two env processes of the paper's 4 096-step batch between them, a BC start, and the
    # absorbing state. On sim peg from the BC start (25 demos, 204 800 env steps, 3 seeds x 100 held-out
    # episodes, benchmarks/results/ablation_gail_*): 1 024 steps per env with exits 81, 70, 56%; 2 048 per env
    # 84, 87, 32%; 2 048 with the absorbing state 95, 77, 97%.
    "fast": GAILConfig(
        num_envs=2,
        n_steps=2048,
        total_steps=300_000,
        terminal="absorbing",
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


def fit_normalizer(demos: DemoData, cfg: GAILConfig, factory: EnvFactory, net_spec: dict[str, Any]) -> Normalizer:
    """Observation normalisation from the demos, and for 'demos+practice' (sparse demos with 'auto') from
    ``norm_practice_steps`` of the initial policy too: 25 final states alone put trajectory states 50-140σ out."""
    states = demos.all_states.astype(np.float32)
    practice = cfg.obs_norm == "demos+practice" or (cfg.obs_norm == "auto" and not demos.dense)
    if not practice:
        return Normalizer.fit(states)
    policy = GaussianPolicy(**net_spec, normalizer=Normalizer.fit(states))
    gen = torch.Generator().manual_seed(cfg.seed)
    env, seen, episode = factory.make(), [states], 0
    while sum(len(x) for x in seen[1:]) < cfg.norm_practice_steps:
        seen.append(run_episode(env, policy, cfg.seed + 1_000_000 + episode, False, gen)[0])
        episode += 1
    env.close()
    return Normalizer.fit(np.concatenate(seen))


# Networks: the discriminator, and the generator's actor-critic over the project's Gaussian policy ------


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


class _Gaussian(DiagGaussianDistribution):
    """SB3's distribution interface over the actor's ``Independent(Normal)``, so that TRPO's KL is the whole
    action's (summed over joints, the paper's 0.01), not a per-joint mean."""

    def __init__(self, dist: torch.distributions.Independent) -> None:
        super().__init__(dist.event_shape[0])
        self.distribution = dist

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.distribution.log_prob(actions)

    def entropy(self) -> torch.Tensor:
        return self.distribution.entropy()


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

    def get_distribution(self, obs: torch.Tensor) -> _Gaussian:
        return _Gaussian(self.actor.distribution(obs.float()))

    def predict_values(self, obs: torch.Tensor) -> torch.Tensor:
        return self._values(obs)

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        dist = self.actor.distribution(observation.float())
        return dist.mean if deterministic else dist.sample()


class HeldActorTRPO(TRPO):
    """sb3-contrib's TRPO; while ``hold_actor`` is set an update trains the critic alone (after a BC start)."""

    hold_actor = False

    def train(self) -> None:
        if not self.hold_actor:
            super().train()
            return
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        for _ in range(self.n_critic_updates):
            for batch in self.rollout_buffer.get(self.batch_size):
                values = self.policy.predict_values(batch.observations).flatten()
                loss = nn.functional.mse_loss(batch.returns, values)
                self.policy.optimizer.zero_grad()
                loss.backward()
                self.policy.optimizer.step()
        self._n_updates += 1


def end_reason(terminated: bool, info: dict[str, Any]) -> str:
    """Why an episode ended: the env's ``end_reason``, or for envs without one success / left_workspace (any
    other termination) / time_limit."""
    if reason := info.get("end_reason"):
        return reason
    if info.get("is_success"):
        return "success"
    return "left_workspace" if terminated else "time_limit"


class EpisodeEnds(gymnasium.Wrapper):
    """Ends whose reason is in ``terminal`` stay terminations (the generator does not bootstrap there); every
    other end becomes a truncation, bootstrapped from the critic. ``info['terminated']`` keeps the truth and
    ``info['end_reason']`` says why it ended."""

    def __init__(self, env: gymnasium.Env, terminal: tuple[str, ...] = ()) -> None:
        super().__init__(env)
        self.terminal = terminal

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["terminated"] = terminated
        if not (terminated or truncated):
            return obs, reward, False, False, info
        info["end_reason"] = reason = end_reason(terminated, info)
        ends = reason in self.terminal
        return obs, reward, ends, not ends, info


class BootstrapAlways(EpisodeEnds):
    """Every episode end becomes a truncation (the paper's GAIL, ``terminal="none"``)."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env, ())


def _make_env(factory: EnvFactory, terminal: tuple[str, ...]):
    return EpisodeEnds(factory.make(), terminal)


def _vec_env(cfg: GAILConfig, make) -> Any:
    """``num_envs`` envs: Ray actors (engine 'ray'), processes ('subproc') or the learner's own ('dummy')."""
    if cfg.engine == "ray":
        from robot_il.algos.ray_engine import RayVecEnv

        return RayVecEnv([make] * cfg.num_envs, address=cfg.ray_address)
    vec = SubprocVecEnv if cfg.vec_env == "subproc" and cfg.num_envs > 1 else DummyVecEnv
    return vec([make] * cfg.num_envs)


class ReturnNormalizer:
    """Rewards divided by the running std of each env's discounted return, clipped to ±``clip`` (as SB3's
    VecNormalize): the generator sees one scale whatever D's saturation."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0) -> None:
        self.gamma, self.clip = gamma, clip
        self.returns = np.zeros(num_envs)
        self.stats = RunningMeanStd(shape=())

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        self.returns = self.returns * self.gamma + rewards
        self.stats.update(self.returns)
        self.returns[dones] = 0.0
        return np.clip(rewards / np.sqrt(self.stats.var + 1e-8), -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> str:
        return json.dumps({"mean": float(self.stats.mean), "var": float(self.stats.var), "count": self.stats.count})

    def load_state_dict(self, state: str) -> None:
        s = json.loads(state)
        self.stats.mean, self.stats.var, self.stats.count = np.float64(s["mean"]), np.float64(s["var"]), s["count"]


@dataclass
class Rollout:
    """What one rollout left for D and the log: its (s, a, s', done) batches (done: a true termination,
    not bootstrapped), the outcomes of the episodes that ended, their end reasons and the raw rewards."""

    transitions: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = dataclasses.field(default_factory=list)
    outcomes: list[bool] = dataclasses.field(default_factory=list)
    ends: Counter = dataclasses.field(default_factory=Counter)
    reward_sum: float = 0.0
    steps: int = 0
    absorbed: int = 0
    """Successes that entered the absorbing state (``terminal="absorbing"``)."""


class RolloutReward(VecEnvWrapper):
    """Replaces the env's reward with the learner's (``reward_fn(s, a, s', done)``; with ``reward_fn`` None the
    env's own), normalised by ``normalizer`` if given, and keeps the rollout for D and the log until drained.

    With ``absorbing`` (a function giving the reward of one step in the absorbing state), a step that ends an
    episode in success also earns the return of staying there for ever, γ·r_abs/(1 - γ), on the normaliser's
    scale (not clipped): the episode is a true termination, and the absorbing state's value is D's."""

    def __init__(
        self,
        venv,
        reward_fn,
        normalizer: ReturnNormalizer | None,
        absorbing: Callable[[], float] | None = None,
        gamma: float = 0.99,
    ) -> None:
        super().__init__(venv)
        self.reward_fn, self.normalizer = reward_fn, normalizer
        self.absorbing, self.gamma = absorbing, gamma
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self.rollout = Rollout()

    def reset(self):
        self._obs = self.venv.reset()
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.clip(actions, self.action_space.low, self.action_space.high)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        s_next = np.array(obs, copy=True)
        terminal = np.zeros(len(dones), dtype=np.float32)
        ended = []  # envs whose episode ended with an outcome: one cut by a lost Ray worker has none
        for i, done in enumerate(dones):
            if done:
                s_next[i] = infos[i]["terminal_observation"]
                terminal[i] = not infos[i].get("TimeLimit.truncated", False)
                if not infos[i].get("worker_replaced"):
                    ended.append(i)
                    self.rollout.outcomes.append(bool(infos[i].get("is_success", False)))
                    self.rollout.ends[end_reason(bool(infos[i].get("terminated")), infos[i])] += 1
        s, a = self._obs.astype(np.float32), self._actions.astype(np.float32)
        if self.reward_fn is None:
            rewards = np.asarray(env_rewards, dtype=np.float32)
        else:
            rewards = self.reward_fn(s, a, s_next, terminal)
        self.rollout.reward_sum += float(rewards.sum())
        self.rollout.steps += len(rewards)
        self.rollout.transitions.append((s, a, s_next, terminal))
        if self.normalizer is not None:
            rewards = self.normalizer(rewards, np.asarray(dones, dtype=bool))
        if self.absorbing is not None:
            entered = [i for i in ended if infos[i].get("end_reason") == "success"]
            if entered:
                scale = 1.0 if self.normalizer is None else float(np.sqrt(self.normalizer.stats.var + 1e-8))
                rewards = np.array(rewards, dtype=np.float32, copy=True)
                rewards[entered] += self.gamma / (1.0 - self.gamma) * self.absorbing() / scale
                self.rollout.absorbed += len(entered)
        self._obs = obs
        return obs, rewards, dones, infos

    def drain(self) -> Rollout:
        """What the rollout since the last call left."""
        drained, self.rollout = self.rollout, Rollout()
        return drained


# Updates: D's step, the BC warm start; the generator's own update runs inside its learn() ------------


def gradient_penalty(
    fn, expert: list[torch.Tensor], generated: list[torch.Tensor], alpha: torch.Tensor
) -> torch.Tensor:
    """E[(‖∇ₓ fn(x)‖ - 1)²] at points x = α·demonstrated + (1 - α)·generated, one α per row (WGAN-GP's
    penalty; Kostrikov et al.'s DAC puts it on GAIL's D to keep its reward smooth between the two sets).
    ``fn`` takes the interpolated inputs in the order given and returns one logit per row."""
    xs = []
    for e, g in zip(expert, generated, strict=True):
        a = alpha.view(-1, *([1] * (e.dim() - 1)))
        xs.append((a * e + (1 - a) * g).detach().requires_grad_(True))
    grads = torch.autograd.grad(fn(*xs).sum(), xs, create_graph=True, allow_unused=True)
    flat = [(g if g is not None else torch.zeros_like(x)).reshape(len(x), -1) for g, x in zip(grads, xs, strict=True)]
    return ((torch.cat(flat, dim=1).norm(dim=1) - 1.0) ** 2).mean()


def discriminator_update(
    opt: torch.optim.Optimizer,
    logits_e: torch.Tensor,
    logits_g: torch.Tensor,
    ent_coef: float = 0.0,
    penalty: torch.Tensor | None = None,
    penalty_coef: float = 0.0,
) -> dict[str, float]:
    """One BCE step on D's logits of equal-size batches (demonstrated -> 1, generated -> 0), less ``ent_coef``
    times the mean entropy of D's Bernoulli output (openai/baselines GAIL), plus ``penalty_coef`` times a
    ``penalty`` (:func:`gradient_penalty`) if given."""
    bce = nn.functional.binary_cross_entropy_with_logits
    loss = bce(logits_e, torch.ones_like(logits_e)) + bce(logits_g, torch.zeros_like(logits_g))
    entropy = torch.distributions.Bernoulli(logits=torch.cat([logits_e, logits_g])).entropy().mean()
    total = loss - ent_coef * entropy
    if penalty is not None:
        total = total + penalty_coef * penalty
    opt.zero_grad()
    total.backward()
    opt.step()
    with torch.no_grad():
        accuracy = 0.5 * ((logits_e > 0).float().mean() + (logits_g < 0).float().mean())
    stats = {"disc/loss": loss.item(), "disc/accuracy": accuracy.item(), "disc/entropy": entropy.item()}
    if penalty is not None:
        stats["disc/grad_penalty"] = penalty.item()
    return stats


def discriminator_step(
    disc: Discriminator,
    opt: torch.optim.Optimizer,
    expert: torch.Tensor,
    generated: torch.Tensor,
    ent_coef: float = 0.0,
    alpha: torch.Tensor | None = None,
    penalty_coef: float = 0.0,
) -> dict[str, float]:
    """One BCE step on equal-size batches of features: demonstrated -> 1, generated -> 0; with ``alpha`` (one
    weight per row) a gradient penalty on D's logit between the two, times ``penalty_coef``."""
    penalty = None if alpha is None else gradient_penalty(disc.logits, [expert], [generated], alpha)
    return discriminator_update(opt, disc.logits(expert), disc.logits(generated), ent_coef, penalty, penalty_coef)


class GAIL:
    """D and its optimiser, and the generator (TRPO or PPO) over the Gaussian actor, rolled out in
    ``num_envs`` envs rewarded by D."""

    algo = "gail"

    def __init__(self, cfg: GAILConfig, demos: DemoData, factory: EnvFactory) -> None:
        self.cfg, self.demos = cfg, demos
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        net_spec = policy_spec(demos, cfg.policy_hidden, cfg.sigma_min, cfg.sigma_max)
        norm = fit_normalizer(demos, cfg, factory, net_spec)
        self.build_discriminator(net_spec, norm)
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr)

        make = functools.partial(_make_env, factory, TERMINAL[cfg.terminal])
        self.reward_norm = ReturnNormalizer(cfg.num_envs, cfg.gamma) if cfg.reward_norm else None
        reward_fn = None if cfg.reward == "env" else self.reward
        self.absorbing_logit = 0.0
        absorbing = self.absorbing_reward if cfg.terminal == "absorbing" and reward_fn is not None else None
        self.venv = RolloutReward(_vec_env(cfg, make), reward_fn, self.reward_norm, absorbing, cfg.gamma)
        common = {
            "n_steps": cfg.n_steps,
            "batch_size": cfg.minibatch_size,
            "gamma": cfg.gamma,
            "gae_lambda": cfg.gae_lambda,
            "seed": cfg.seed,
            "device": "cpu",
            "policy_kwargs": {
                "net_spec": {**net_spec, "obs_mean": norm.mean, "obs_std": norm.std},
                "critic_hidden": cfg.critic_hidden,
            },
        }
        if cfg.generator == "trpo":
            self.model = HeldActorTRPO(
                GaussianActorCritic,
                self.venv,
                learning_rate=cfg.critic_lr,
                n_critic_updates=cfg.critic_epochs,
                target_kl=cfg.target_kl,
                **common,
            )
        else:
            self.model = PPO(
                GaussianActorCritic,
                self.venv,
                learning_rate=cfg.learning_rate,
                n_epochs=cfg.ppo_epochs,
                clip_range=cfg.clip_range,
                ent_coef=cfg.ent_coef,
                vf_coef=cfg.vf_coef,
                max_grad_norm=cfg.max_grad_norm,
                target_kl=cfg.target_kl,
                **common,
            )
        self.rng = np.random.default_rng(cfg.seed)
        self.anchor_opt: torch.optim.Optimizer | None = None
        if cfg.bc_anchor_steps > 0:
            if not (demos.has_actions and demos.dense):
                raise ConfigError("bc_anchor_steps", "the BC anchor needs dense demos with actions; set it to 0")
            self.anchor_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.bc_anchor_lr)
            steps = demos.transitions()
            self.anchor_pairs = tuple(torch.as_tensor(x, dtype=torch.float32) for x in (steps.states, steps.actions))
        self.counters = {"rollouts": 0, "episodes": 0, "env_steps": 0, "successes": 0, "wall_s": 0.0, "disc_steps": 0}
        self.recent: list[bool] = []
        self.curve: list[dict[str, Any]] = []
        self.rollouts: list[dict[str, Any]] = []

    def build_discriminator(self, net_spec: dict[str, Any], norm: Normalizer) -> None:
        """``self.disc`` and what it compares the rollouts with (the demonstrated features)."""
        self.kind = disc_input(self.demos, self.cfg.disc_input)
        self.disc = Discriminator(
            self.kind,
            net_spec["obs_dim"],
            net_spec["act_dim"],
            Normalizer(norm.mean, norm.std),
            self.demos.action_low,
            self.demos.action_high,
            self.cfg.disc_hidden,
        )
        with torch.no_grad():
            self.expert_features = self.disc.features(*map(torch.as_tensor, expert_transitions(self.demos, self.kind)))

    def reward(self, s: np.ndarray, a: np.ndarray, s_next: np.ndarray, done: np.ndarray) -> np.ndarray:
        """The generator's reward for a batch of steps (``cfg.reward`` of D)."""
        return self.disc.reward(s, a, s_next, self.cfg.reward)

    def absorbing_reward(self) -> float:
        """The reward of one step in the absorbing state: ``cfg.reward`` of D's logit there."""
        b = self.absorbing_logit
        return float(np.logaddexp(0.0, b)) if self.cfg.reward == "gail" else b

    def fit_absorbing(self, absorbed: int, steps: int) -> None:
        """D at the absorbing state, where its BCE optimum is known in closed form: every demo enters it once
        (every demo ends in success) and the policy entered it ``absorbed`` times in ``steps`` steps, so
        D = ρ_E / (ρ_E + ρ_π) of those rates, a logit of log(ρ_E / ρ_π). Half a success is added to the
        policy's count, so that a rollout without any gives a large but finite reward (clipped to ±10).
        DAC learns this one point with D's network and an absorbing flag; the closed form is its optimum,
        without the lag of D's small learning rate on a point seen once an episode."""
        episodes = len(self.demos.states)
        rho_e = episodes / (sum(self.demos.steps) + episodes)  # per time step, whatever the demos' sparsity
        rho_pi = (absorbed + 0.5) / (steps + absorbed + 0.5)
        self.absorbing_logit = float(np.clip(np.log(rho_e / rho_pi), -10.0, 10.0))

    @property
    def policy(self) -> GaussianPolicy:
        """The actor: what policy.pt holds."""
        return self.model.policy.actor

    def hold_actor(self, held: bool) -> None:
        """Hold the actor (only the critic learns in the next update) or let it learn."""
        if isinstance(self.model, HeldActorTRPO):
            self.model.hold_actor = held
        else:
            self.policy.requires_grad_(not held)

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

    def bc_anchor(self) -> None:
        """``bc_anchor_steps`` likelihood steps of the actor on demonstrated pairs (after an actor update)."""
        if self.anchor_opt is None:
            return
        s, a = self.anchor_pairs
        for _ in range(self.cfg.bc_anchor_steps):
            i = torch.as_tensor(self.rng.integers(0, len(s), min(256, len(s))))
            likelihood_step(self.policy, self.anchor_opt, s[i], a[i])

    def train_discriminator(self, buffer: list[tuple[np.ndarray, ...]]) -> dict[str, float]:
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
                gp = self.cfg.disc_grad_penalty
                alpha = torch.as_tensor(self.rng.random(len(g)), dtype=torch.float32) if gp > 0 else None
                stats = discriminator_step(self.disc, self.disc_opt, e, g, self.cfg.disc_ent_coef, alpha, gp)
                self.counters["disc_steps"] += 1
        return stats

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": json.dumps(config_dict(self.cfg)),
            "policy": self.model.policy.state_dict(),
            "optimizer": self.model.policy.optimizer.state_dict(),
            "disc": self.disc.state_dict(),
            "disc_opt": self.disc_opt.state_dict(),
            "reward_norm": self.reward_norm.state_dict() if self.reward_norm else "",
            **({"anchor_opt": self.anchor_opt.state_dict()} if self.anchor_opt else {}),
            "absorbing_logit": self.absorbing_logit,
            "num_timesteps": self.model.num_timesteps,
            "n_updates": self.model._n_updates,
            "counters": json.dumps(self.counters),
            "recent": json.dumps(self.recent),
            "curve": json.dumps(self.curve),
            "rollouts": json.dumps(self.rollouts),
            **rng_state(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.policy.load_state_dict(state["policy"])
        self.model.policy.optimizer.load_state_dict(state["optimizer"])
        self.disc.load_state_dict(state["disc"])
        self.disc_opt.load_state_dict(state["disc_opt"])
        if self.reward_norm:
            self.reward_norm.load_state_dict(state["reward_norm"])
        if self.anchor_opt:
            self.anchor_opt.load_state_dict(state["anchor_opt"])
        self.absorbing_logit = float(state.get("absorbing_logit", 0.0))  # written since terminal="absorbing"
        self.model.num_timesteps = int(state["num_timesteps"])
        self.model._n_updates = int(state["n_updates"])
        self.counters = json.loads(state["counters"])
        self.recent = json.loads(state["recent"])
        self.curve = json.loads(state["curve"])
        self.rollouts = json.loads(state["rollouts"])
        set_rng_state(self.rng, state)

    def close(self) -> None:
        self.venv.close()


# The loop: the generator's learn(), with D's step and the evaluations in its callback ----------------


class GAILCallback(BaseCallback):
    """After each rollout D learns from it and the rollout is logged; every ``eval_every`` rollouts, before the
    next one (so after the generator's update), the policy is evaluated and the run saved."""

    def __init__(self, learner: GAIL, run: RunDir, bar: tqdm) -> None:
        super().__init__()
        self.learner, self.run, self.bar = learner, run, bar
        self.disc_stats: dict[str, float] = {}

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        g = self.learner
        rollouts = g.counters["rollouts"]
        saved_here = bool(g.curve) and g.curve[-1]["env_steps"] == g.model.num_timesteps  # a resume starts here
        if rollouts > g.cfg.critic_warmup_rollouts and not saved_here:  # the actor was updated on the last one
            g.bc_anchor()
        if rollouts and rollouts % g.cfg.eval_every == 0 and not saved_here:
            self.evaluate_and_save(self.disc_stats)

    def _on_rollout_end(self) -> None:
        g = self.learner
        rollout = g.venv.drain()
        for success in rollout.outcomes:
            g.episode_finished(success)
        self.disc_stats = g.train_discriminator(rollout.transitions) if g.cfg.reward != "env" else {}
        if g.venv.absorbing is not None:
            g.fit_absorbing(rollout.absorbed, rollout.steps)
            self.disc_stats["disc/absorbing_logit"] = g.absorbing_logit
        g.counters["rollouts"] += 1
        g.hold_actor(g.counters["rollouts"] <= g.cfg.critic_warmup_rollouts)  # for the generator's update next
        g.counters["env_steps"] = int(g.model.num_timesteps)
        g.rollouts.append(
            {
                "rollout": g.counters["rollouts"],
                "env_steps": g.counters["env_steps"],
                "wall_s": round(self.run.wall_s, 3),
                "episodes": len(rollout.outcomes),
                **{f"ends/{r}": rollout.ends.get(r, 0) for r in END_REASONS},
                "mean_reward": rollout.reward_sum / max(rollout.steps, 1),
                **{k: round(v, 4) for k, v in self.disc_stats.items()},
            }
        )
        self.bar.update(g.cfg.n_steps * g.cfg.num_envs)
        self.bar.set_postfix(
            practice=f"{np.mean(g.recent):.2f}" if g.recent else "-",
            eval=f"{g.curve[-1]['eval_success']:.2f}" if g.curve else "-",
            D=f"{self.disc_stats.get('disc/accuracy', float('nan')):.2f}",
            exits=rollout.ends.get("left_workspace", 0),
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
    learner_class: type[GAIL] = GAIL,
) -> dict[str, Any]:
    """Train (or resume) GAIL (or ``learner_class``, e.g. AIRL) into ``out``; returns the summary also written
    to ``train_log.json``."""
    run = RunDir(out, learner_class.algo, cfg, env_args, factory)
    learner = learner_class(cfg, demos, factory)
    if (state := run.resume()) is not None:
        learner.load_state_dict(state)
    run.start_clock(learner.counters["wall_s"])
    bar = tqdm(
        total=cfg.total_steps,
        initial=learner.model.num_timesteps,
        desc=learner.algo.upper(),
        unit="step",
        disable=not progress,
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
    title = f"{learner.algo.upper()} learning curve (D on {learner.kind})"
    return run.write_curves(
        learner.counters,
        learner.curve,
        axes,
        title,
        "rollouts (last 50)",
        disc_input=learner.kind,
        rollouts=learner.rollouts,
    )

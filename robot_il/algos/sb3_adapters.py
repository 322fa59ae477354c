"""stable-baselines3 (and sb3-contrib) behind the project's networks: what GAIL and AIRL's generator runs on.

* :class:`GaussianActorCritic`: SB3's actor-critic interface over the project's :class:`GaussianPolicy` (so a
  GAIL run's ``policy.pt`` deploys like any other) and an MLP critic; :class:`HeldActorTRPO`, TRPO whose
  update can train the critic alone; :func:`make_generator` builds TRPO or PPO from a GAIL config.
* :func:`make_vec_env`: the envs, as processes, in the learner's process or as Ray actors.
* :class:`RolloutReward`: a VecEnv wrapper that replaces the env's reward with the learner's (D's), scaled by
  :class:`ReturnNormalizer`, and keeps each rollout (:class:`Rollout`) for D and the log.
* :class:`LoopCallback`: SB3's ``learn()`` calls the learner back before and after each rollout.

Nothing else in the project imports SB3: MGAIL and the rest run without it.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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

from robot_il.algos.actors import end_reason
from robot_il.nn.policy import GaussianPolicy, Normalizer, mlp

# The generator ---------------------------------------------------------------------------------------


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


def make_generator(cfg: Any, venv, net_spec: dict[str, Any], norm: Normalizer) -> HeldActorTRPO | PPO:
    """The generator a GAIL config asks for (``cfg.generator``: 'trpo' or 'ppo') on ``venv``, its actor a
    :class:`GaussianPolicy` of ``net_spec`` normalising by ``norm``."""
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
        return HeldActorTRPO(
            GaussianActorCritic,
            venv,
            learning_rate=cfg.critic_lr,
            n_critic_updates=cfg.critic_epochs,
            target_kl=cfg.target_kl,
            **common,
        )
    return PPO(
        GaussianActorCritic,
        venv,
        learning_rate=cfg.learning_rate,
        n_epochs=cfg.ppo_epochs,
        clip_range=cfg.clip_range,
        ent_coef=cfg.ent_coef,
        vf_coef=cfg.vf_coef,
        max_grad_norm=cfg.max_grad_norm,
        target_kl=cfg.target_kl,
        **common,
    )


def hold_actor(model: HeldActorTRPO | PPO, held: bool) -> None:
    """Hold the actor (only the critic learns in the next update) or let it learn."""
    if isinstance(model, HeldActorTRPO):
        model.hold_actor = held
    else:
        model.policy.actor.requires_grad_(not held)


class LoopCallback(BaseCallback):
    """The generator's ``learn()`` calls ``before`` ahead of each rollout and ``after`` once it is collected
    (before the generator's update on it)."""

    def __init__(self, before: Callable[[], None], after: Callable[[], None]) -> None:
        super().__init__()
        self.before, self.after = before, after

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        self.before()

    def _on_rollout_end(self) -> None:
        self.after()


# The envs and their rewards --------------------------------------------------------------------------


def make_vec_env(make: Callable[[], Any], num_envs: int, vec_env: str, engine: str, ray_address: str) -> Any:
    """``num_envs`` envs: Ray actors (engine 'ray'), processes ('subproc') or the learner's own ('dummy')."""
    if engine == "ray":
        from robot_il.algos.ray_engine import RayVecEnv

        return RayVecEnv([make] * num_envs, address=ray_address)
    vec = SubprocVecEnv if vec_env == "subproc" and num_envs > 1 else DummyVecEnv
    return vec([make] * num_envs)


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

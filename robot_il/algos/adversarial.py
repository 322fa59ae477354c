"""What GAIL, AIRL and MGAIL share, written once (and without stable-baselines3): episode ends, D's update,
the absorbing state.

* Episode ends (:class:`EpisodeEnds`, ``TERMINAL``): which ends of an episode are true terminations, not
  bootstrapped from the critic; the ``done`` a discriminator sees.
* The demonstrations D compares with (:func:`disc_input`, :func:`expert_transitions`, :func:`demo_ends`) and the
  observation normaliser (:func:`fit_normalizer`).
* D's update (:func:`discriminator_update`): one binary cross-entropy step of any
  :class:`~robot_il.nn.discriminators.Discriminator` on a demonstrated and a generated batch, with an entropy
  bonus and an optional gradient penalty; :func:`train_on_transitions`, passes of it over a rollout's steps.
* The absorbing state (:class:`AbsorbingState`): D at the state a success enters, in closed form (after
  Kostrikov et al.'s DAC).

A learner's own parts are its discriminator (:mod:`robot_il.nn.discriminators`), how it samples the two batches
and how it updates its policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gymnasium
import numpy as np
import torch
from torch import nn

from robot_il.algos.actors import EnvFactory, end_reason, run_episode
from robot_il.algos.common import DemoData, Transitions
from robot_il.errors import ConfigError
from robot_il.nn.discriminators import DiscBatch, Discriminator
from robot_il.nn.policy import GaussianPolicy, Normalizer

END_REASONS = ("success", "left_workspace", "time_limit")
TERMINAL = {
    "none": (),
    "exits": ("left_workspace",),
    "all": ("success", "left_workspace"),
    "absorbing": ("success", "left_workspace"),
}
"""``terminal`` setting -> the episode end reasons that are true terminations (never bootstrapped); with
'absorbing' a success leads to the absorbing state, whose return is D's (:class:`AbsorbingState`)."""


# Episode ends ----------------------------------------------------------------------------------------


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


def demo_ends(states: Sequence[np.ndarray], terminal: str) -> np.ndarray:
    """``done`` of each demonstrated transition, demo after demo: every demo ends in success, a true termination
    only where the ``terminal`` setting makes successes one."""
    done = np.zeros(sum(len(x) - 1 for x in states))
    done[np.cumsum([len(x) - 1 for x in states]) - 1] = "success" in TERMINAL[terminal]
    return done


# What D compares with: the demonstrations ---------------------------------------------------------


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


def fit_normalizer(
    demos: DemoData, obs_norm: str, practice_steps: int, seed: int, factory: EnvFactory, net_spec: dict[str, Any]
) -> Normalizer:
    """Observation normalisation (of actor, critic and D) from the demos (``obs_norm`` 'demos'), and for
    'demos+practice' ('auto': for sparse demos) from ``practice_steps`` of the initial policy too: 25 final states
    alone put trajectory states 50-140σ out."""
    states = demos.all_states.astype(np.float32)
    practice = obs_norm == "demos+practice" or (obs_norm == "auto" and not demos.dense)
    if not practice:
        return Normalizer.fit(states)
    policy = GaussianPolicy(**net_spec, normalizer=Normalizer.fit(states))
    gen = torch.Generator().manual_seed(seed)
    env, seen, episode = factory.make(), [states], 0
    while sum(len(x) for x in seen[1:]) < practice_steps:
        seen.append(run_episode(env, policy, seed + 1_000_000 + episode, False, gen)[0])
        episode += 1
    env.close()
    return Normalizer.fit(np.concatenate(seen))


# D's update ------------------------------------------------------------------------------------------


def gradient_penalty(
    fn, expert: Sequence[torch.Tensor], generated: Sequence[torch.Tensor], alpha: torch.Tensor
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
    disc: Discriminator,
    opt: torch.optim.Optimizer,
    expert: DiscBatch,
    generated: DiscBatch,
    ent_coef: float = 0.0,
    alpha: torch.Tensor | None = None,
    penalty_coef: float = 0.0,
) -> dict[str, float]:
    """One BCE step of D on equal-size batches (demonstrated -> 1, generated -> 0), less ``ent_coef`` times the
    mean entropy of D's Bernoulli output (openai/baselines GAIL), plus, with ``alpha`` (one weight per row),
    ``penalty_coef`` times a :func:`gradient_penalty` on f between the two batches' inputs (the generated
    steps' ends kept)."""

    def penalty_term() -> torch.Tensor | None:
        if alpha is None:
            return None
        return gradient_penalty(lambda *x: disc.f(x, generated.done), expert.inputs, generated.inputs, alpha)

    penalty = penalty_term() if disc.penalty_first else None
    logits_e, logits_g = disc.score(expert), disc.score(generated)
    if not disc.penalty_first:
        penalty = penalty_term()
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


class Steps(NamedTuple):
    """Transitions as float32 tensors, rows aligned: s, a, s', done (1: a true termination)."""

    obs: torch.Tensor
    act: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor

    def take(self, rows: torch.Tensor) -> Steps:
        return Steps(*(x[rows] for x in self))


def train_on_transitions(
    disc: Discriminator,
    opt: torch.optim.Optimizer,
    expert: Steps,
    generated: Steps,
    rng: np.random.Generator,
    log_pi: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    epochs: int,
    batch_size: int,
    ent_coef: float,
    penalty_coef: float,
) -> tuple[dict[str, float], int]:
    """``epochs`` passes of :func:`discriminator_update` over ``generated`` in batches of ``batch_size``, each
    against as many demonstrated steps drawn with replacement; log π (``log_pi(s, a)``, where D uses it) is the
    current policy's, the one that collected them. Returns the last step's statistics and the steps taken."""
    gen_log_pi = log_pi(generated.obs, generated.act) if disc.uses_log_pi else None
    stats: dict[str, float] = {}
    steps = 0
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(len(generated.obs)))
        for start in range(0, len(order), batch_size):
            i = order[start : start + batch_size]
            e = expert.take(torch.as_tensor(rng.integers(0, len(expert.obs), len(i))))
            g = generated.take(i)
            e_log_pi = log_pi(e.obs, e.act) if disc.uses_log_pi else None
            alpha = torch.as_tensor(rng.random(len(i)), dtype=torch.float32) if penalty_coef > 0 else None
            e_batch = disc.batch(e.obs, e.act, e.next_obs, e.done, e_log_pi)
            g_batch = disc.batch(g.obs, g.act, g.next_obs, g.done, None if gen_log_pi is None else gen_log_pi[i])
            stats = discriminator_update(disc, opt, e_batch, g_batch, ent_coef, alpha, penalty_coef)
            steps += 1
    return stats, steps


# The absorbing state ---------------------------------------------------------------------------------


class AbsorbingState:
    """D at the absorbing state a success enters (``terminal="absorbing"``), where its BCE optimum is known in
    closed form: every demo enters it once (every demo ends in success) and the policy entered it ``absorbed``
    times in ``steps`` steps, so D = ρ_E / (ρ_E + ρ_π) of those rates, a logit of log(ρ_E / ρ_π). Half a
    success is added to the policy's count, so that a rollout without any gives a large but finite reward
    (clipped to ±10). DAC learns this one point with D's network and an absorbing flag; the closed form is its
    optimum, without the lag of D's small learning rate on a point seen once an episode."""

    def __init__(self, demo_episodes: int, demo_steps: int, reward: str) -> None:
        self.rho_e = demo_episodes / (demo_steps + demo_episodes)  # per time step, whatever the demos' sparsity
        self.reward_kind = reward
        self.logit = 0.0

    def fit(self, absorbed: int, steps: int) -> None:
        rho_pi = (absorbed + 0.5) / (steps + absorbed + 0.5)
        self.logit = float(np.clip(np.log(self.rho_e / rho_pi), -10.0, 10.0))

    def reward(self) -> float:
        """The reward of one step there: D's reward of its logit."""
        b = self.logit
        return float(np.logaddexp(0.0, b)) if self.reward_kind == "gail" else b

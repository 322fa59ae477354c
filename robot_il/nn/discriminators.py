"""Discriminators of adversarial imitation: one interface, GAIL's D (MGAIL's too) and AIRL's.

D(s, a, s', done) = σ(logit) is the probability that a transition is demonstrated. Every discriminator scores a
transition in two steps (as imitation's reward nets do):

1. ``inputs(s, a, s')``: the normalised tensors its networks read; a gradient penalty interpolates between
   demonstrated and generated inputs (:func:`robot_il.algos.adversarial.gradient_penalty`);
2. ``f(inputs, done)``: its score of them; the logit is f − log π(a|s) where ``uses_log_pi`` (AIRL's D,
   exp f / (exp f + π)), f otherwise (GAIL's).

``logits(s, a, s', done, log_pi)`` does both; a learner gives ``done`` (1: a true termination) and log π(a|s)
of the acting policy, and a discriminator ignores what it does not use. ``reward`` is the generator's reward
of the logit. States are normalised by fixed statistics and actions by the bounds (or any affine scale: MGAIL
passes the demonstrated actions' mean ± std as the bounds).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

from robot_il.nn.policy import ActionScaler, Normalizer, mlp


class DiscBatch(NamedTuple):
    """A batch as a discriminator reads it."""

    inputs: tuple[torch.Tensor, ...]
    """``disc.inputs(s, a, s')``."""
    done: torch.Tensor | None = None
    """1 where the step was a true termination (not bootstrapped); None where D does not use it."""
    log_pi: torch.Tensor | None = None
    """log π(a|s) of the acting policy; None where D does not use it."""


class Discriminator(ActionScaler):
    """The interface (see the module): ``inputs`` and ``f`` are a subclass's; the rest is written once."""

    uses_log_pi: ClassVar[bool] = False
    """The logit is f − log π(a|s): the learner must give log π (AIRL's D)."""
    penalty_first: ClassVar[bool] = False
    """An update builds the gradient penalty's graph before the logits' (GAIL's D, as it did before the update
    was shared). The loss is the same either way; the order is the one in which autograd sums a weight's
    gradient contributions, so it fixes the last bits of a same-seed run."""

    def __init__(self, state_norm: Normalizer, action_low: np.ndarray, action_high: np.ndarray) -> None:
        super().__init__(action_low, action_high)
        self.state_norm = state_norm

    def inputs(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def f(self, inputs: tuple[torch.Tensor, ...], done: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def batch(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        done: torch.Tensor | None = None,
        log_pi: torch.Tensor | None = None,
    ) -> DiscBatch:
        return DiscBatch(self.inputs(obs, act, next_obs), done, log_pi)

    def score(self, batch: DiscBatch) -> torch.Tensor:
        """The logit of each row of ``batch``."""
        f = self.f(batch.inputs, batch.done)
        return f - batch.log_pi if self.uses_log_pi else f

    def logits(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        done: torch.Tensor | None = None,
        log_pi: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.score(self.batch(obs, act, next_obs, done, log_pi))

    def forward(self, *transition: torch.Tensor | None) -> torch.Tensor:
        """:meth:`logits` of (s, a, s'[, done[, log π]])."""
        return self.logits(*transition)

    def reward(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        done: torch.Tensor | None,
        log_pi: torch.Tensor | None,
        kind: str,
    ) -> torch.Tensor:
        """The generator's reward: 'gail', −log(1 − D) = softplus(logit); 'logit' (AIRL's 'f_logpi'),
        log D − log(1 − D) = the logit."""
        logit = self.logits(obs, act, next_obs, done, log_pi)
        return nn.functional.softplus(logit) if kind == "gail" else logit


class GAILDiscriminator(Discriminator):
    """D(x) = σ(net(x)), x built from (s, a, s') by ``kind``: 'sa' (s, a), 'ss' (s, s') or 's' (s' alone)."""

    penalty_first = True

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
        super().__init__(state_norm, action_low, action_high)
        self.kind = kind
        in_dim = {"sa": obs_dim + act_dim, "ss": 2 * obs_dim, "s": obs_dim}[kind]
        self.net = mlp([in_dim, *hidden, 1])

    def features(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        if self.kind == "sa":
            return torch.cat([self.state_norm(s), self.normalize(a)], dim=-1)
        if self.kind == "ss":
            return torch.cat([self.state_norm(s), self.state_norm(s_next)], dim=-1)
        return self.state_norm(s_next)

    def inputs(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.features(obs, act, next_obs),)

    def f(self, inputs: tuple[torch.Tensor, ...], done: torch.Tensor | None = None) -> torch.Tensor:
        (x,) = inputs
        return self.net(x).squeeze(-1)


class AIRLDiscriminator(Discriminator):
    """f(s, a, s', done) = g(s) [or g(s, a)] + γ (1 − done) h(s') − h(s) on normalised states and actions; the
    logit is f − log π(a|s) (Fu et al. 2018). g is the learnt reward, h a shaping potential."""

    uses_log_pi = True

    def __init__(
        self,
        reward_input: str,
        obs_dim: int,
        act_dim: int,
        state_norm: Normalizer,
        action_low: np.ndarray,
        action_high: np.ndarray,
        g_hidden: tuple[int, ...],
        h_hidden: tuple[int, ...],
        gamma: float,
    ) -> None:
        super().__init__(state_norm, action_low, action_high)
        self.reward_input, self.gamma = reward_input, gamma
        self.g = mlp([obs_dim + (act_dim if reward_input == "sa" else 0), *g_hidden, 1])
        self.h = mlp([obs_dim, *h_hidden, 1])

    def learnt_reward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """g: the learnt reward."""
        x = self.state_norm(s)
        if self.reward_input == "sa":
            x = torch.cat([x, self.normalize(a)], dim=-1)
        return self.g(x).squeeze(-1)

    def potential(self, s: torch.Tensor) -> torch.Tensor:
        """h."""
        return self.h(self.state_norm(s)).squeeze(-1)

    def inputs(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The raw (s, a, s'): g and h normalise them themselves (a gradient penalty is on f's own inputs)."""
        return obs, act, next_obs

    def f(self, inputs: tuple[torch.Tensor, ...], done: torch.Tensor | None) -> torch.Tensor:
        s, a, s_next = inputs
        return self.learnt_reward(s, a) + self.gamma * (1.0 - done) * self.potential(s_next) - self.potential(s)

    def reward(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        done: torch.Tensor | None,
        log_pi: torch.Tensor | None,
        kind: str,
    ) -> torch.Tensor:
        """'g': the learnt reward alone; 'f_logpi': f − log π, the logit (AIRL's)."""
        return self.learnt_reward(obs, act) if kind == "g" else self.logits(obs, act, next_obs, done, log_pi)

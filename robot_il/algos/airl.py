"""AIRL: adversarial inverse reinforcement learning (Fu, Luo & Levine 2018) on GAIL's machinery.

The discriminator is D(s, a, s') = exp f / (exp f + π(a|s)) with

    f(s, a, s') = g(s) + γ (1 - done) h(s') - h(s),

so its logit is f - log π(a|s), π the generator's current policy. g is the
learnt reward (state-only g(s) by default, ``reward_input="s"``: the paper's
disentangled reward; ``"sa"``: g(s, a)), h a shaping potential. The generator's
reward is the logit, f - log π (``reward="f_logpi"``: AIRL's, an
entropy-regularised reward), or the learnt reward g alone (``"g"``). ``done`` is
1 on a true termination, as :class:`~robot_il.algos.gail.EpisodeEnds` and the
``terminal`` setting say (as for GAIL: by default a workspace exit; successes
and time limits bootstrap), so h is not counted past it.

Everything else (TRPO or PPO generator, env processes or Ray actors, reward and
observation normalisation, the BC start, evaluation, checkpoints and resume,
the per-rollout log of episode ends) is GAIL's (:mod:`robot_il.algos.gail`). D
needs log π(a|s) of the demonstrated actions: AIRL takes dense demos with
actions.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from robot_il.algos.common import DemoData
from robot_il.algos.gail import GAIL, TERMINAL, GAILConfig, discriminator_update, gradient_penalty, train_gail
from robot_il.algos.gail import PRESETS as GAIL_PRESETS
from robot_il.errors import ConfigError
from robot_il.nn.policy import ActionScaler, Normalizer, mlp


@dataclass(frozen=True)
class AIRLConfig(GAILConfig):
    REWARDS: ClassVar[tuple[str, ...]] = ("f_logpi", "g", "env")

    reward: str = "f_logpi"
    """The generator's reward: 'f_logpi': f - log π, D's logit (AIRL's); 'g': the learnt reward g alone;
    'env': the env's own (the sanity check, D unused)."""
    reward_input: str = "s"
    """What g sees: 's' (the state-only reward g(s), AIRL's disentangled one) or 'sa' (g(s, a))."""
    h_hidden: tuple[int, ...] = (150, 100)
    """Hidden layers of the shaping potential h(s) (g takes disc_hidden)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reward_input not in ("s", "sa"):
            raise ConfigError("reward_input", f"must be 's' or 'sa', got {self.reward_input!r}")
        if self.terminal == "absorbing":
            raise ConfigError("terminal", "'absorbing' is GAIL's (D's reward there); AIRL takes exits, all or none")


PRESETS: dict[str, AIRLConfig] = {
    "peg_sim": AIRLConfig(),
    "clip_sim": AIRLConfig(),
    # GAIL's fast preset on this 2-core machine (two env processes, a BC start), with AIRL's own fields (its
    # reward, and episode ends as the default: the absorbing state is GAIL's).
    "fast": AIRLConfig(
        **{
            f.name: getattr(GAIL_PRESETS["fast"], f.name)
            for f in dataclasses.fields(GAILConfig)
            if f.name not in ("reward", "terminal")
        }
    ),
}


class AIRLDiscriminator(ActionScaler):
    """f(s, a, s', done) = g(s) [or g(s, a)] + γ (1 - done) h(s') - h(s), on normalised states and actions."""

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
        super().__init__(action_low, action_high)
        self.reward_input, self.gamma, self.state_norm = reward_input, gamma, state_norm
        self.g = mlp([obs_dim + (act_dim if reward_input == "sa" else 0), *g_hidden, 1])
        self.h = mlp([obs_dim, *h_hidden, 1])

    def reward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """g: the learnt reward."""
        x = self.state_norm(s)
        if self.reward_input == "sa":
            x = torch.cat([x, self.normalize(a)], dim=-1)
        return self.g(x).squeeze(-1)

    def potential(self, s: torch.Tensor) -> torch.Tensor:
        return self.h(self.state_norm(s)).squeeze(-1)

    def forward(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        return self.reward(s, a) + self.gamma * (1.0 - done) * self.potential(s_next) - self.potential(s)


class AIRL(GAIL):
    """GAIL's learner with AIRL's discriminator and reward."""

    algo = "airl"

    def build_discriminator(self, net_spec: dict[str, Any], norm: Normalizer) -> None:
        if not (self.demos.has_actions and self.demos.dense):
            raise ConfigError(
                "demos",
                f"AIRL's discriminator needs log π(a|s) of the demonstrated actions: {self.demos.path} must be dense "
                "demos with actions (not sparsified, not --state-only)",
            )
        self.kind = self.cfg.reward_input
        self.disc = AIRLDiscriminator(
            self.kind,
            net_spec["obs_dim"],
            net_spec["act_dim"],
            Normalizer(norm.mean, norm.std),
            self.demos.action_low,
            self.demos.action_high,
            self.cfg.disc_hidden,
            self.cfg.h_hidden,
            self.cfg.gamma,
        )
        steps = self.demos.transitions()
        # Every demo ends in success: a true termination only where the terminal setting makes successes one.
        done = np.zeros(len(steps.states))
        done[np.cumsum([len(x) - 1 for x in self.demos.states]) - 1] = "success" in TERMINAL[self.cfg.terminal]
        self.expert = tuple(
            torch.as_tensor(x, dtype=torch.float32) for x in (steps.states, steps.actions, steps.next_states, done)
        )

    def _log_pi(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.policy.log_prob(s, a)

    def reward(self, s: np.ndarray, a: np.ndarray, s_next: np.ndarray, done: np.ndarray) -> np.ndarray:
        """f - log π (D's logit), or g."""
        t = [torch.as_tensor(x, dtype=torch.float32) for x in (s, a, s_next, done)]
        with torch.no_grad():
            r = self.disc.reward(t[0], t[1]) if self.cfg.reward == "g" else self.disc(*t) - self._log_pi(t[0], t[1])
        return r.numpy().astype(np.float32)

    def _f_at(self, s: torch.Tensor, a: torch.Tensor, s_next: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        return self.disc(s, a, s_next, done)

    def train_discriminator(self, buffer: list[tuple[np.ndarray, ...]]) -> dict[str, float]:
        """``disc_epochs`` passes of BCE steps on D's logits f - log π over a rollout's transitions, each against
        as many demonstrated ones; log π is the current policy's (the one that collected the rollout)."""
        gen = [torch.as_tensor(np.concatenate([b[k] for b in buffer]), dtype=torch.float32) for k in range(4)]
        gen_log_pi = self._log_pi(gen[0], gen[1])
        b = self.cfg.disc_batch_size
        stats: dict[str, float] = {}
        for _ in range(self.cfg.disc_epochs):
            order = torch.as_tensor(self.rng.permutation(len(gen[0])))
            for start in range(0, len(order), b):
                i = order[start : start + b]
                j = torch.as_tensor(self.rng.integers(0, len(self.expert[0]), len(i)))
                e = [x[j] for x in self.expert]
                logits_e = self.disc(*e) - self._log_pi(e[0], e[1])
                g = [x[i] for x in gen]
                logits_g = self.disc(*g) - gen_log_pi[i]
                penalty, gp = None, self.cfg.disc_grad_penalty
                if gp > 0:  # on f's inputs (s, a, s'), the generated steps' ends kept
                    alpha = torch.as_tensor(self.rng.random(len(i)), dtype=torch.float32)
                    f = functools.partial(self._f_at, done=g[3])
                    penalty = gradient_penalty(f, e[:3], g[:3], alpha)
                stats = discriminator_update(self.disc_opt, logits_e, logits_g, self.cfg.disc_ent_coef, penalty, gp)
                self.counters["disc_steps"] += 1
        return stats


def train_airl(
    demos: DemoData,
    env_args: dict[str, Any],
    factory,
    out: str | Path,
    cfg: AIRLConfig,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or resume) AIRL into ``out``; returns the summary also written to ``train_log.json``."""
    return train_gail(demos, env_args, factory, out, cfg, progress=progress, learner_class=AIRL)


def train_airl_from_file(
    demos_path: str | Path,
    out: str | Path,
    preset: AIRLConfig,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The ``robot-il train airl`` entry: demos from an HDF5 file, rollouts in the env they were recorded in."""
    demos = DemoData.load(demos_path)
    cfg = dataclasses.replace(preset, **(overrides or {}))
    return train_airl(demos, demos.env_args, demos.env_factory(), out, cfg, progress=progress)

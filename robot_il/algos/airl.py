"""AIRL: adversarial inverse reinforcement learning (Fu, Luo & Levine 2018) on GAIL's machinery.

The discriminator is D(s, a, s') = exp f / (exp f + π(a|s)) with

    f(s, a, s') = g(s) + γ (1 - done) h(s') - h(s),

so its logit is f - log π(a|s), π the generator's current policy. g is the
learnt reward (state-only g(s) by default, ``reward_input="s"``: the paper's
disentangled reward; ``"sa"``: g(s, a)), h a shaping potential. The generator's
reward is the logit, f - log π (``reward="f_logpi"``: AIRL's, an
entropy-regularised reward), or the learnt reward g alone (``"g"``). ``done`` is
1 on a true termination, as :class:`~robot_il.algos.adversarial.EpisodeEnds` and the
``terminal`` setting say (as for GAIL: by default a workspace exit; successes
and time limits bootstrap), so h is not counted past it.

The discriminator is :class:`~robot_il.nn.discriminators.AIRLDiscriminator`;
D's update is the one GAIL and MGAIL take (:mod:`robot_il.algos.adversarial`),
given log π. Everything else (TRPO or PPO generator, env processes or Ray
actors, reward and observation normalisation, the BC start, evaluation,
checkpoints and resume, the per-rollout log of episode ends) is GAIL's
(:mod:`robot_il.algos.gail`). D needs log π(a|s) of the demonstrated actions:
AIRL takes dense demos with actions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from robot_il.algos.adversarial import Steps, demo_ends
from robot_il.algos.common import DemoData
from robot_il.algos.gail import GAIL, GAILConfig, train_gail
from robot_il.algos.gail import PRESETS as GAIL_PRESETS
from robot_il.errors import ConfigError
from robot_il.nn.discriminators import AIRLDiscriminator
from robot_il.nn.policy import Normalizer


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


class AIRL(GAIL):
    """GAIL's learner with AIRL's discriminator (and with it AIRL's reward and D's logit f − log π)."""

    algo = "airl"

    def make_discriminator(self, net_spec: dict[str, Any], norm: Normalizer) -> tuple[AIRLDiscriminator, Steps]:
        if not (self.demos.has_actions and self.demos.dense):
            raise ConfigError(
                "demos",
                f"AIRL's discriminator needs log π(a|s) of the demonstrated actions: {self.demos.path} must be dense "
                "demos with actions (not sparsified, not --state-only)",
            )
        self.kind = self.cfg.reward_input
        disc = AIRLDiscriminator(
            self.kind,
            net_spec["obs_dim"],
            net_spec["act_dim"],
            norm,
            self.demos.action_low,
            self.demos.action_high,
            self.cfg.disc_hidden,
            self.cfg.h_hidden,
            self.cfg.gamma,
        )
        steps = self.demos.transitions()
        done = demo_ends(self.demos.states, self.cfg.terminal)
        return disc, Steps(
            *(torch.as_tensor(x, dtype=torch.float32) for x in (steps.states, steps.actions, steps.next_states, done))
        )


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

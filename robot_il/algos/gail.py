"""GAIL: generative adversarial imitation, the baseline GPRIL is compared with (Ho & Ermon 2016).

A discriminator D (hidden layers (150, 100)) learns by binary cross-entropy to
tell demonstrated transitions (label 1) from the generator's (label 0); the
generator is trained on the gymnasium env with the reward ``-log(1 - D)`` (or
the lower-variance logit ``log D - log(1 - D)``, ``reward="logit"``), rolled out
in N environment processes (or N Ray actors with ``engine="ray"``, on one
machine or a cluster: :mod:`robot_il.algos.ray_engine`). The generator is TRPO
(sb3-contrib, ``generator="trpo"``: the paper's) or SB3's PPO (``"ppo"``).

One iteration, read in :meth:`GAIL.before_rollout` and :meth:`GAIL.after_rollout`
(the generator's ``learn()`` calls them):

1. the generator collects a rollout of ``num_envs x n_steps`` steps, each rewarded
   by D (:class:`~robot_il.algos.sb3_adapters.RolloutReward`), divided by a running
   std of the return (``reward_norm``);
2. D takes BCE steps on the rollout's transitions against as many demonstrated
   ones, with an entropy bonus on its output (:meth:`GAIL.train_discriminator`:
   the update :mod:`robot_il.algos.adversarial` shares with AIRL and MGAIL);
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
(inside the actor, critic and D). Episode ends (:class:`~robot_il.algos.adversarial.EpisodeEnds`): the
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

Evaluations, checkpoints and resume are the training lifecycle's
(:mod:`robot_il.algos.lifecycle`); a resumed run collects the rollout in
progress again.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from robot_il.algos import bc
from robot_il.algos.actors import EnvFactory
from robot_il.algos.adversarial import (
    END_REASONS,
    TERMINAL,
    AbsorbingState,
    EpisodeEnds,
    Steps,
    disc_input,
    discriminator_update,
    expert_transitions,
    fit_normalizer,
    train_on_transitions,
)
from robot_il.algos.bc import likelihood_step
from robot_il.algos.common import RECENT_EPISODES, DemoData, RunDir, policy_spec
from robot_il.algos.engines import ENGINES
from robot_il.algos.lifecycle import (
    BCWarmStartConfig,
    CurveLog,
    Learner,
    PeriodicEvalConfig,
    PolicyConfig,
    Training,
    train,
)
from robot_il.algos.sb3_adapters import (
    LoopCallback,
    ReturnNormalizer,
    RolloutReward,
    hold_actor,
    make_generator,
    make_vec_env,
)
from robot_il.errors import ConfigError
from robot_il.nn import discriminators
from robot_il.nn.discriminators import DiscBatch, GAILDiscriminator
from robot_il.nn.policy import GaussianPolicy, Normalizer

DISC_INPUTS = ("auto", "sa", "ss", "s")
REWARDS = ("gail", "logit", "env")
GENERATORS = ("trpo", "ppo")
OBS_NORMS = ("auto", "demos", "demos+practice")


@dataclass(frozen=True)
class GAILConfig(PolicyConfig, BCWarmStartConfig, PeriodicEvalConfig):
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
    critic_hidden: tuple[int, ...] = (300, 200)
    """Critic hidden layers (paper: 300, 200)."""
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
    bc_anchor_steps: int = 0
    """Steps of BC (maximum likelihood on demonstrated pairs, batches of 256, Adam at bc_anchor_lr) after each
    update of the actor: a pull towards the demos while D's reward is still uninformative (after Jena et al.
    2020, GAIL augmented with BC); 0: none (the paper's GAIL). Needs demos with actions."""
    bc_anchor_lr: float = 1e-4
    critic_warmup_rollouts: int = 0
    """Rollouts at the start in which the actor is held and only the critic and D learn, so that a
    BC-started actor is not moved by advantages from an untrained critic and an untrained D."""
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
        super().__post_init__()
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
        for name in ("num_envs", "n_steps", "total_steps", "minibatch_size", "disc_batch_size"):
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
    # absorbing state (the ablation behind these choices: docs/algorithms/gail.md).
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


# The learner -----------------------------------------------------------------------------------------


class GAIL(Learner):
    """D and its optimiser, and the generator (TRPO or PPO) over the Gaussian actor, rolled out in
    ``num_envs`` envs rewarded by D."""

    algo = "gail"
    unit, x, best_at = "step", "rollouts", "env_steps"
    saved_modules: ClassVar[dict[str, str]] = {
        "policy": "model.policy",
        "optimizer": "model.policy.optimizer",
        "disc": "disc",
        "disc_opt": "disc_opt",
        "anchor_opt": "anchor_opt",
    }
    saved_json = ("counters", "recent", "curve", "rollouts")

    def __init__(self, cfg: GAILConfig, demos: DemoData, factory: EnvFactory) -> None:
        self.cfg, self.demos = cfg, demos
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        net_spec = policy_spec(demos, cfg.policy_hidden, cfg.sigma_min, cfg.sigma_max)
        self.factory = factory
        norm = fit_normalizer(demos, cfg.obs_norm, cfg.norm_practice_steps, cfg.seed, factory, net_spec)
        self.disc, self.expert = self.make_discriminator(net_spec, Normalizer(norm.mean, norm.std))
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr)

        self.reward_norm = ReturnNormalizer(cfg.num_envs, cfg.gamma) if cfg.reward_norm else None
        reward_fn = None if cfg.reward == "env" else self.reward
        self.absorbing = AbsorbingState(len(demos.states), sum(demos.steps), cfg.reward)
        absorbing = self.absorbing.reward if cfg.terminal == "absorbing" and reward_fn is not None else None
        make = functools.partial(_make_env, factory, TERMINAL[cfg.terminal])
        envs = make_vec_env(make, cfg.num_envs, cfg.vec_env, cfg.engine, cfg.ray_address)
        self.venv = RolloutReward(envs, reward_fn, self.reward_norm, absorbing, cfg.gamma)
        self.model = make_generator(cfg, self.venv, net_spec, norm)
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
        self.disc_stats: dict[str, float] = {}

    def make_discriminator(
        self, net_spec: dict[str, Any], norm: Normalizer
    ) -> tuple[discriminators.Discriminator, Steps]:
        """D, and the demonstrated steps it compares the rollouts with (GAIL's D does not read ``done``)."""
        self.kind = disc_input(self.demos, self.cfg.disc_input)
        disc = GAILDiscriminator(
            self.kind,
            net_spec["obs_dim"],
            net_spec["act_dim"],
            norm,
            self.demos.action_low,
            self.demos.action_high,
            self.cfg.disc_hidden,
        )
        s, a, s_next = (torch.as_tensor(x) for x in expert_transitions(self.demos, self.kind))
        return disc, Steps(s, a, s_next, torch.zeros(len(s)))

    @property
    def policy(self) -> GaussianPolicy:
        """The actor: what policy.pt holds."""
        return self.model.policy.actor

    def log_pi(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.policy.log_prob(s, a)

    def reward(self, s: np.ndarray, a: np.ndarray, s_next: np.ndarray, done: np.ndarray) -> np.ndarray:
        """The generator's reward for a batch of steps: ``cfg.reward`` of D."""
        t = [torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in (s, a, s_next, done)]
        log_pi = self.log_pi(t[0], t[1]) if self.disc.uses_log_pi else None
        with torch.no_grad():
            return self.disc.reward(*t, log_pi, self.cfg.reward).numpy().astype(np.float32)

    def episode_finished(self, success: bool) -> None:
        self.counters["episodes"] += 1
        self.counters["successes"] += int(success)
        self.recent = [*self.recent, success][-RECENT_EPISODES:]

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
        generated = Steps(
            *(torch.as_tensor(np.concatenate([b[k] for b in buffer]), dtype=torch.float32) for k in range(4))
        )
        cfg = self.cfg
        stats, steps = train_on_transitions(
            self.disc,
            self.disc_opt,
            self.expert,
            generated,
            self.rng,
            self.log_pi,
            cfg.disc_epochs,
            cfg.disc_batch_size,
            cfg.disc_ent_coef,
            cfg.disc_grad_penalty,
        )
        self.counters["disc_steps"] += steps
        return stats

    # The loop: the generator's learn(), which calls these before and after each rollout ------------

    @property
    def done(self) -> int:
        return self.model.num_timesteps

    @property
    def total(self) -> int:
        return self.cfg.total_steps

    def warm_start(self) -> None:
        """Fit the actor to the demonstrated pairs (``bc_warm_start_steps``), before any GAIL update. State-only
        demos get their actions from an inverse dynamics model learnt by random motion (``idm_explore_steps``,
        BCO); without one they start from scratch."""
        cfg = self.cfg
        if cfg.bc_warm_start_steps == 0 or not self.demos.dense:
            return
        steps = self.demos.transitions()
        if self.demos.has_actions:
            actions = steps.actions
        elif cfg.idm_explore_steps > 0:
            actions = self.inferred_actions(steps.states, steps.next_states)
        else:
            return
        s, a = (torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in (steps.states, actions))
        bc.warm_start(self.policy, s, a, cfg.bc_warm_start_steps, cfg.bc_lr, cfg.seed)

    def inferred_actions(self, states: np.ndarray, next_states: np.ndarray) -> np.ndarray:
        """The demos' actions as an inverse dynamics model learnt from ``idm_explore_steps`` of random motion
        infers them; its env steps and fit are logged in the counters."""
        from robot_il.algos.inverse_dynamics import explore, fit_inverse_dynamics

        cfg = self.cfg
        env = self.factory.make()
        try:
            explored = explore(env, cfg.idm_explore_steps, np.random.default_rng(cfg.seed + 7_777))
        finally:
            env.close()
        demo_pairs = np.concatenate([states, next_states], 1)
        low, high = self.demos.action_low, self.demos.action_high
        model, loss = fit_inverse_dynamics(explored, low, high, cfg.idm_steps, cfg.seed, norm_inputs=demo_pairs)
        self.counters.update(idm_env_steps=len(explored.states), idm_episodes=explored.episodes, idm_loss=loss)
        return model.label(states, next_states)

    def loop(self, training: Training) -> None:
        remaining = self.cfg.total_steps - self.model.num_timesteps
        if remaining <= 0:
            return
        callback = LoopCallback(lambda: self.before_rollout(training), lambda: self.after_rollout(training))
        self.model.learn(remaining, callback=callback, reset_num_timesteps=False)
        if self.curve[-1]["env_steps"] != self.model.num_timesteps:
            training.evaluate({})

    def before_rollout(self, training: Training) -> None:
        """The BC anchor after the generator's update on the last rollout; every ``eval_every`` rollouts, an
        evaluation and a checkpoint."""
        rollouts = self.counters["rollouts"]
        saved_here = bool(self.curve) and self.curve[-1]["env_steps"] == self.model.num_timesteps  # a resume
        if rollouts > self.cfg.critic_warmup_rollouts and not saved_here:  # the actor was updated on the last one
            self.bc_anchor()
        if rollouts and rollouts % self.cfg.eval_every == 0 and not saved_here:
            training.evaluate(self.disc_stats)

    def after_rollout(self, training: Training) -> None:
        """D learns from the rollout and the rollout is logged, before the generator's update on it."""
        cfg, c = self.cfg, self.counters
        rollout = self.venv.drain()
        for success in rollout.outcomes:
            self.episode_finished(success)
        self.disc_stats = self.train_discriminator(rollout.transitions) if cfg.reward != "env" else {}
        if self.venv.absorbing is not None:
            self.absorbing.fit(rollout.absorbed, rollout.steps)
            self.disc_stats["disc/absorbing_logit"] = self.absorbing.logit
        c["rollouts"] += 1
        hold_actor(self.model, c["rollouts"] <= cfg.critic_warmup_rollouts)  # for the generator's update next
        c["env_steps"] = int(self.model.num_timesteps)
        self.rollouts.append(
            {
                "rollout": c["rollouts"],
                "env_steps": c["env_steps"],
                "wall_s": round(training.run.wall_s, 3),
                "episodes": len(rollout.outcomes),
                **{f"ends/{r}": rollout.ends.get(r, 0) for r in END_REASONS},
                "mean_reward": rollout.reward_sum / max(rollout.steps, 1),
                **{k: round(v, 4) for k, v in self.disc_stats.items()},
            }
        )
        training.progress(cfg.n_steps * cfg.num_envs, {**self.disc_stats, "exits": rollout.ends["left_workspace"]})

    def postfix(self, stats: dict[str, Any]) -> dict[str, Any]:
        return {
            "practice": f"{np.mean(self.recent):.2f}" if self.recent else "-",
            **super().postfix(stats),
            "D": f"{stats.get('disc/accuracy', float('nan')):.2f}",
            "exits": stats["exits"],
        }

    def curve_log(self) -> CurveLog:
        return CurveLog(
            f"{self.algo.upper()} learning curve (D on {self.kind})",
            (("env_steps", "environment steps"), ("wall_s", "wall-clock time (s)")),
            "rollouts (last 50)",
            {"disc_input": self.kind, "rollouts": self.rollouts},
        )

    def close(self) -> None:
        self.venv.close()

    def extra_state(self) -> dict[str, Any]:
        return {
            "reward_norm": self.reward_norm.state_dict() if self.reward_norm else "",
            "absorbing_logit": self.absorbing.logit,
            "num_timesteps": self.model.num_timesteps,
            "n_updates": self.model._n_updates,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.reward_norm:
            self.reward_norm.load_state_dict(state["reward_norm"])
        self.absorbing.logit = float(state.get("absorbing_logit", 0.0))  # written since terminal="absorbing"
        self.model.num_timesteps = int(state["num_timesteps"])
        self.model._n_updates = int(state["n_updates"])


def _make_env(factory: EnvFactory, terminal: tuple[str, ...]):
    return EpisodeEnds(factory.make(), terminal)


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
    return train(learner_class(cfg, demos, factory), run, progress)


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


# Earlier names, for callers that hold GAIL's D's features (benchmarks/mgail_d_gradient.py) --------------

Discriminator = GAILDiscriminator


def discriminator_step(
    disc: GAILDiscriminator,
    opt: torch.optim.Optimizer,
    expert: torch.Tensor,
    generated: torch.Tensor,
    ent_coef: float = 0.0,
    alpha: torch.Tensor | None = None,
    penalty_coef: float = 0.0,
) -> dict[str, float]:
    """:func:`~robot_il.algos.adversarial.discriminator_update` on batches of GAIL's D's features
    (``disc.features(s, a, s')``)."""
    return discriminator_update(disc, opt, DiscBatch((expert,)), DiscBatch((generated,)), ent_coef, alpha, penalty_coef)

"""MGAIL: adversarial imitation made differentiable end to end by a forward model (Baram et al., ICML 2017).

GAIL's generator learns from D through a score-function (REINFORCE/TRPO)
gradient; MGAIL learns a model of the environment, s' = f(s, a), and trains the
policy with D's exact gradient, back-propagated through a multi-step unroll of
the model. One iteration, read top to bottom in :meth:`MGAIL.iteration`
(Algorithm 1 of the paper):

1. act on the environment: ``episodes_per_iteration`` episodes of the
   stochastic policy, a = μ(s) + σ(s)·ξ, ξ ~ N(0, I), pushed into the replay
   (the fixed data budget: a run is a function of its seed and config);
2. train the forward model f on windows of the replay (``model_steps``);
3. train D(s, a) on the replay against the demonstrated pairs (``disc_steps``;
   binary cross-entropy with an entropy bonus, as GAIL's);
4. train the policy (``policy_steps``) on windows of T = ``unroll`` steps of this
   iteration's episodes: J = Σ_t γ^t (−log D(s_t, a_t)), with a_t = μ(s_t) + σ(s_t)·ξ_t
   reparameterised and s_{t+1} = f(s_t, a_t) differentiable (:func:`unrolled_cost`).

The forward model is the paper's "advanced" one (§3.5,
:class:`~robot_il.nn.forward_model.ForwardModel`); D is GAIL's on (s, a)
(:class:`~robot_il.nn.discriminators.GAILDiscriminator`), trained by the update
GAIL and AIRL take (:mod:`robot_il.algos.adversarial`); episodes run in the
project's episode runner (:func:`robot_il.algos.actors.play`).

Real transitions in the unroll (as the authors' implementation does): the
forward pass of the unroll follows the *real* trajectory, while the gradient
flows through the model: s̃_{t+1} = f(s̃_t, a_t) + stop_gradient(s_{t+1} − f(s̃_t, a_t)).
The model's errors then bias the gradient but never the states the policy and
D are evaluated at. Each window's noise ξ_t is the one that explains the
recorded action under the current policy, ξ_t = (a_t − μ(s_t)) / σ(s_t), so the
forward pass equals the recorded trajectory after the policy has moved too (SVG's
inferred noise, Heess et al. 2015); on the first policy step of an iteration
it is the noise that was drawn.

Settings: unroll T = 10 and γ = 0.99, the model's encoding of 100 units, D's
hidden layers (200, 100), Adam rates 1e-3 (D) and 1e-4 (policy), a replay of
50 000 transitions, σ of the policy at its lower bound: from the authors' code
(the paper's text gives none of them). Departures, each a setting:

* the policy is the project's :class:`GaussianPolicy` (hidden (300, 200)) so
  that a run's ``policy.pt`` deploys as BC's, GPRIL's and GAIL's do (the
  authors: (100, 50)); it acts and is reparameterised with the authors' fixed
  σ = std(a_E)/6 (``noise_intensity``; 0: its own σ(s));
* a BC warm start (``bc_warm_start_steps``) as GAIL's ``fast`` preset, and D,
  model and policy all train every iteration instead of switching between D and
  the policy every 100 updates;
* the model's Adam rate is 1e-3 (authors: 1e-4) in ``fast``, which has
  20 000x fewer model updates than the authors' runs;
* a window ends where its episode ends (a success, a workspace exit or the time
  limit); J is not extended past the end;
* a trust region on each iteration's policy steps (``trust_region``; TRPO's
  KL ≤ 0.01 in ``fast``, none in ``paper``), :class:`TrustRegion`: after the
  iteration's Adam steps, the parameter change is halved until the mean KL of
  the acting policy on the iteration's states is inside it: Adam steps at the
  authors' rate moved the BC-started policy far outside it, and D's action
  gradient is a weak guide (``benchmarks/mgail_d_gradient.py``), so the policy
  may follow it only a little at a time;
* the policy is evaluated and deployed sampling (``sample_actions``, on in
  ``fast``), with the fixed noise written into its σ(s)
  (:meth:`MGAIL.hold_sigma_at_noise`): J is over the noisy actions and every
  rollout samples, so the trained policy is the stochastic one.

The measurements behind these departures are in ``docs/algorithms/mgail.md``.

Model accuracy: every evaluation reports the one-step and the ``unroll``-step
(open-loop: the model fed its own predictions and the recorded actions) root
mean square error on held-out episodes (every 10th), per observation field in
its SI unit (``train_log.json``'s curve, ``model_error``).

    robot-il train mgail --demos demos/peg_25.h5 --out runs/mgail
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from robot_il.algos import bc
from robot_il.algos.actors import EnvFactory, play
from robot_il.algos.adversarial import discriminator_update
from robot_il.algos.common import RECENT_EPISODES, DemoData, RunDir, policy_spec
from robot_il.algos.lifecycle import (
    BCWarmStartConfig,
    CurveLog,
    Learner,
    PeriodicEvalConfig,
    PolicyConfig,
    train,
)
from robot_il.config import require_non_negative, require_positive
from robot_il.errors import ConfigError
from robot_il.nn.discriminators import GAILDiscriminator
from robot_il.nn.forward_model import ForwardModel
from robot_il.nn.policy import GaussianPolicy, Normalizer


@dataclass(frozen=True)
class MGAILConfig(PolicyConfig, BCWarmStartConfig, PeriodicEvalConfig):
    iterations: int = 100
    """Iterations: each acts on the env, then trains model, D and policy."""
    episodes_per_iteration: int = 4
    """Episodes of the stochastic policy per iteration: the fixed data budget."""
    unroll: int = 10
    """T: steps of the model unroll the policy's gradient flows through (authors' code: 10)."""
    gamma: float = 0.99
    """Discount of D's cost along the unroll (authors' code: 0.99)."""
    replay_size: int = 50_000
    """Transitions kept in the replay that model and D train on (authors' code: 50 000)."""
    model_hidden: int = 100
    """Width of the forward model's encodings and GRU (authors' code: 100)."""
    model_lr: float = 1e-4
    """Adam learning rate of the forward model (authors' code: 1e-4)."""
    model_steps: int = 100
    """Forward-model updates per iteration."""
    model_batch: int = 64
    """Windows of ``unroll`` steps per forward-model update."""
    disc_hidden: tuple[int, ...] = (200, 100)
    """D's hidden layers (authors' code: 200, 100)."""
    disc_lr: float = 1e-3
    """D's Adam learning rate (authors' code: 1e-3)."""
    disc_steps: int = 8
    """D updates per iteration."""
    disc_batch: int = 256
    """Generated (and as many demonstrated) pairs per D update."""
    disc_ent_coef: float = 1e-3
    """Entropy bonus on D's output (as GAIL's)."""
    disc_max_accuracy: float = 0.0
    """Skip a D update whose batch D already tells apart at least this well (0: never skip, the authors'): a test
    of whether D's saturation (accuracy 0.97-0.99 where the last policies fell back) causes the fall-back. It
    does not: at 0.8 D barely moved after iteration 35-65 and the policy still peaked and fell, to 35 and 23% held out
    on seeds 0 and 2 against the default's 62 and 64% (``docs/algorithms/mgail.md``)."""
    disc_recent_episodes: int = 16
    """D's generated pairs come from the replay's last this many episodes (0: the whole replay, as the authors')."""
    noise_intensity: float = 6.0
    """Exploration and reparameterisation noise σ = std(a_E) / noise_intensity per joint, fixed (authors' code:
    6); 0: the policy's own σ(s). A learnt σ let D tell the policy by its jitter alone."""
    sample_actions: bool = False
    """Evaluate (and, through the policy file, deploy) the policy sampling its actions, as it acts in training,
    instead of acting with its mean. With ``noise_intensity`` > 0 the policy file's σ(s) is held at the fixed
    noise (clipped into ``[sigma_min, sigma_max]``), so a sampled deployment is the policy that was trained."""
    disc_action_norm: str = "expert"
    """How D normalises actions: 'expert' (the demonstrated actions' mean and std, the authors') or 'bounds'
    (the action bounds, as GAIL's D: demonstrated actions then spread 0.1-0.3 against the states' 1)."""
    disc_demo_noise: bool = False
    """D sees the demonstrated actions with the policy's fixed exploration noise added (with ``noise_intensity``
    > 0), so the noise does not tell the policy's pairs apart (a departure; the authors' D sees them clean)."""
    policy_lr: float = 1e-4
    """Adam learning rate of the policy (authors' code: 1e-4)."""
    policy_steps: int = 10
    """Policy updates per iteration, each on ``policy_batch`` windows of this iteration's episodes."""
    policy_batch: int = 64
    """Windows of ``unroll`` steps per policy update."""
    bc_weight: float = 0.0
    """Weight of the demonstrated pairs' negative log-likelihood added to J in every policy update (0: none, the
    paper's; a departure, as GPRIL's β_π term)."""
    grad_clip: float = 10.0
    """Norm the policy's and the model's gradients are clipped to."""
    trust_region: float = 0.0
    """Largest mean KL divergence of the acting policy (mean μ(s), the acting σ) that one iteration's policy steps
    may move it, on that iteration's states; a larger move is scaled back along the parameter change by halving
    (0: none, the paper's). TRPO's 0.01 in ``fast``: a departure (see the module)."""
    prep_iterations: int = 10
    """Iterations at the start in which only the model and D train, the policy held (the authors' code's
    ``prep_time``: 1 000 D updates): a BC-started policy is not moved by the gradient of an untrained D."""
    prep_disc_steps: int | None = None
    """D updates per prep iteration (None: ``disc_steps``)."""
    bc_warm_start_steps: int = 2_000
    """Likelihood steps on the demonstrated pairs before the first iteration (0: from scratch)."""
    held_out_every: int = 10
    """Every n-th episode goes to the held-out set the model's accuracy is measured on, not the replay."""
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "iterations",
            "episodes_per_iteration",
            "unroll",
            "replay_size",
            "model_hidden",
            "model_lr",
            "model_batch",
            "disc_lr",
            "disc_batch",
            "policy_lr",
            "policy_batch",
            "grad_clip",
            "held_out_every",
            "threads",
        ):
            require_positive(name, getattr(self, name))
        non_negative = ("model_steps", "disc_steps", "policy_steps", "prep_iterations", "bc_weight")
        non_negative += ("noise_intensity", "trust_region", "disc_recent_episodes")
        for name in non_negative:
            require_non_negative(name, getattr(self, name))
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError("gamma", f"must be in (0, 1], got {self.gamma}")
        if self.disc_action_norm not in ("expert", "bounds"):
            raise ConfigError("disc_action_norm", f"must be 'expert' or 'bounds', got {self.disc_action_norm!r}")
        if self.prep_disc_steps is not None:
            require_non_negative("prep_disc_steps", self.prep_disc_steps)
        if not 0.0 <= self.disc_max_accuracy <= 1.0:
            raise ConfigError("disc_max_accuracy", f"must be in [0, 1] (0: off), got {self.disc_max_accuracy}")


PRESETS: dict[str, MGAILConfig] = {
    # The authors' settings where they map (see the module's docstring).
    "paper": MGAILConfig(bc_warm_start_steps=0),
    # This 2-core machine: a model rate for 100 updates an iteration instead of the authors' millions, and TRPO's
    # trust region, inside which the BC-started policy's Adam steps are kept. sample_actions: the policy is trained
    # as a stochastic one (J is over reparameterised noisy actions, every rollout samples), so it is evaluated and
    # deployed sampling. The measurements behind these settings: docs/algorithms/mgail.md.
    "fast": MGAILConfig(model_lr=1e-3, trust_region=0.01, sample_actions=True),
}


# The policy's objective through the model ---------------------------------------------------------


def unrolled_cost(
    policy: GaussianPolicy,
    model: ForwardModel,
    disc: GAILDiscriminator,
    s0: torch.Tensor,
    xi: torch.Tensor,
    gamma: float,
    real_next: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    noise_std: torch.Tensor | None = None,
) -> torch.Tensor:
    """J = Σ_t γ^t (−log D(s_t, a_t)) per window, a_t = μ(s_t) + σ(s_t)·ξ_t and s_{t+1} = f(s_t, a_t, h_t).

    s0 (B, obs) the first states, xi (B, T, act) the noise. With ``real_next`` (B, T, obs), the recorded next
    states, the forward pass follows them and the gradient goes through the model:
    s_{t+1} = f(...) + stop_gradient(s_real − f(...)); without, the unroll is the model's own (exact
    gradient of the model's J; the finite-difference test). ``mask`` (B, T) drops steps past an episode's end.
    ``noise_std`` (act,): a fixed σ instead of the policy's σ(s).
    """
    s, h = s0, model.initial(len(s0)).to(s0.dtype)
    total = s0.new_zeros(len(s0))
    for t in range(xi.shape[1]):
        mu, sigma = policy(s)
        a = mu + (sigma if noise_std is None else noise_std) * xi[:, t]
        cost = nn.functional.softplus(-disc.logits(s, a, s))  # −log D(s, a); D's s' is unused for (s, a)
        if mask is not None:
            cost = cost * mask[:, t]
        total = total + gamma**t * cost
        pred, h = model.step(s, a, h)
        s = pred if real_next is None else pred + (real_next[:, t] - pred).detach()
    return total


class TrustRegion:
    """The acting policy at the start of an iteration, to bound how far that iteration's steps move it.

    KL(π_old ‖ π_new) of the Gaussians the policy acts with, N(μ(s), σ²): σ is the fixed ``noise_std`` when it is
    given (then the KL is Σ_j (Δμ_j / σ_j)² / 2), else the policy's own σ(s). Mean over ``states``."""

    def __init__(self, policy: GaussianPolicy, states: torch.Tensor, noise_std: torch.Tensor | None) -> None:
        self.policy, self.states, self.noise_std = policy, states, noise_std
        self.start = [p.detach().clone() for p in policy.parameters()]
        with torch.no_grad():
            self.mu, self.sigma = self._dist()

    def _dist(self) -> tuple[torch.Tensor, torch.Tensor]:
        mu, sigma = self.policy(self.states)
        return mu, (sigma if self.noise_std is None else self.noise_std.expand_as(mu))

    @torch.no_grad()
    def kl(self) -> float:
        mu, sigma = self._dist()
        ratio = (self.sigma / sigma) ** 2
        per = 0.5 * (ratio + ((mu - self.mu) / sigma) ** 2 - 1.0 - ratio.log())
        return float(per.sum(-1).mean())

    @torch.no_grad()
    def enforce(self, max_kl: float, halvings: int = 12) -> dict[str, float]:
        """Scale the parameter change since the start back by halves until the KL is at most ``max_kl`` (after
        ``halvings`` halves, the start itself). Returns the KL and the fraction of the step kept."""
        params = list(self.policy.parameters())
        end = [p.detach().clone() for p in params]
        kl, fraction = self.kl(), 1.0
        for i in range(halvings + 1):
            if kl <= max_kl:
                break
            fraction = 0.5 ** (i + 1) if i < halvings else 0.0
            for p, a, b in zip(params, self.start, end, strict=True):
                p.copy_(a + fraction * (b - a))
            kl = self.kl()
        return {"policy/kl": kl, "policy/step_kept": fraction}


# Replay ----------------------------------------------------------------------------------------------


def sample_windows(
    episodes: list[tuple[np.ndarray, np.ndarray]], n: int, length: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` windows of ``length`` steps, starting at steps drawn uniformly over all episodes' steps.

    Returns states (n, length+1, obs), actions (n, length, act) and a mask (n, length) that is 0 past an
    episode's end (states and actions there repeat the last ones)."""
    sizes = np.array([len(a) for _, a in episodes])
    starts = rng.integers(0, sizes.sum(), n)
    which = np.searchsorted(np.cumsum(sizes), starts, side="right")
    offset = starts - (np.cumsum(sizes) - sizes)[which]
    obs_dim, act_dim = episodes[0][0].shape[1], episodes[0][1].shape[1]
    s = np.empty((n, length + 1, obs_dim), np.float32)
    a = np.empty((n, length, act_dim), np.float32)
    mask = np.zeros((n, length), np.float32)
    for i, (e, t0) in enumerate(zip(which, offset, strict=True)):
        states, actions = episodes[e]
        steps = min(length, len(actions) - t0)
        s[i, : steps + 1] = states[t0 : t0 + steps + 1]
        s[i, steps + 1 :] = states[t0 + steps]
        a[i, :steps] = actions[t0 : t0 + steps]
        a[i, steps:] = actions[t0 + steps - 1]
        mask[i, :steps] = 1.0
    return torch.as_tensor(s), torch.as_tensor(a), torch.as_tensor(mask)


# The learner -----------------------------------------------------------------------------------------


class MGAIL(Learner):
    """Policy, forward model, D, their optimisers, the replay and the counters."""

    algo = "mgail"
    saved_modules: ClassVar[dict[str, str]] = {
        "policy": "policy",
        "policy_opt": "policy_opt",
        "model": "model",
        "model_opt": "model_opt",
        "disc": "disc",
        "disc_opt": "disc_opt",
    }
    saved_json = ("counters", "recent", "curve")

    def __init__(self, cfg: MGAILConfig, demos: DemoData, factory: EnvFactory) -> None:
        if not (demos.has_actions and demos.dense):
            raise ConfigError(
                "demos",
                f"{demos.path}: MGAIL's D(s, a) needs dense demos with actions; for states only or sparse demos "
                "use GPRIL (or GAIL with D on states)",
            )
        self.cfg, self.demos, self.factory = cfg, demos, factory
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        spec = policy_spec(demos, cfg.policy_hidden, cfg.sigma_min, cfg.sigma_max)
        states = demos.all_states.astype(np.float32)
        norm = Normalizer.fit(states)
        self.policy = GaussianPolicy(**spec, normalizer=Normalizer(norm.mean, norm.std))
        steps = demos.transitions()
        delta = (steps.next_states - steps.states).astype(np.float32)
        self.model = ForwardModel(
            spec["obs_dim"],
            spec["act_dim"],
            Normalizer(norm.mean, norm.std),
            np.maximum(delta.std(0), 1e-4),
            demos.action_low,
            demos.action_high,
            cfg.model_hidden,
        )
        a_mean, a_std = steps.actions.mean(0), np.maximum(steps.actions.std(0), 1e-4)
        self.noise_std = (
            torch.as_tensor(a_std / cfg.noise_intensity, dtype=torch.float32) if cfg.noise_intensity > 0 else None
        )
        # D's ActionScaler maps [low, high] to [-1, 1]: mean -/+ std normalises by the demonstrated actions.
        low, high = (a_mean - a_std, a_mean + a_std) if cfg.disc_action_norm == "expert" else (None, None)
        self.disc = GAILDiscriminator(
            "sa",
            spec["obs_dim"],
            spec["act_dim"],
            Normalizer(norm.mean, norm.std),
            demos.action_low if low is None else low,
            demos.action_high if high is None else high,
            cfg.disc_hidden,
        )
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.policy_lr)
        self.model_opt = torch.optim.Adam(self.model.parameters(), lr=cfg.model_lr)
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr)
        self.expert_s = torch.as_tensor(steps.states, dtype=torch.float32)
        self.expert_a = torch.as_tensor(steps.actions, dtype=torch.float32)
        self.rng = np.random.default_rng(cfg.seed)
        self.replay: list[tuple[np.ndarray, np.ndarray]] = []
        self.held_out: list[tuple[np.ndarray, np.ndarray]] = []
        self.counters: dict[str, Any] = {
            "iteration": 0,
            "episodes": 0,
            "env_steps": 0,
            "successes": 0,
            "wall_s": 0.0,
            "warm_started": False,
        }
        self.recent: list[bool] = []
        self.curve: list[dict[str, Any]] = []
        self._env = None
        layout = demos.env_args.get("obs_layout") or [
            {"field": "observation", "start": 0, "stop": spec["obs_dim"], "unit": ""}
        ]
        self.layout = [(r["field"], r["start"], r["stop"], r.get("unit", "")) for r in layout]

    @property
    def env(self):
        if self._env is None:
            self._env = self.factory.make()
        return self._env

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    # Algorithm 1 ---------------------------------------------------------------------------------------

    def warm_start(self) -> None:
        self.bc_warm_start()
        self.hold_sigma_at_noise()

    def bc_warm_start(self) -> None:
        """Fit the policy to the demonstrated pairs (maximum likelihood), once, before the first iteration."""
        cfg = self.cfg
        if not self.counters["warm_started"] and cfg.bc_warm_start_steps > 0:
            bc.warm_start(self.policy, self.expert_s, self.expert_a, cfg.bc_warm_start_steps, cfg.bc_lr, cfg.seed)
            self.counters["warm_started"] = True

    @torch.no_grad()
    def hold_sigma_at_noise(self) -> None:
        """With a fixed noise, make the policy's own σ(s) that noise (its σ outputs' weights 0, biases at the
        noise, clipped into the policy's σ bounds), so that the saved policy samples as it acted in training."""
        if self.noise_std is None:
            return
        policy, last = self.policy, self.policy.body[-1]
        lo, hi = policy.sigma_min, policy.sigma_max
        fraction = ((self.noise_std - lo) / (hi - lo)).clamp(1e-4, 1 - 1e-4)
        last.weight[policy.act_dim :] = 0.0
        last.bias[policy.act_dim :] = torch.log(fraction / (1 - fraction))

    def iteration(self) -> dict[str, Any]:
        """Act, then train the forward model, D and the policy; returns the iteration's statistics."""
        cfg, c = self.cfg, self.counters
        fresh, ends = [], {}
        for _ in range(cfg.episodes_per_iteration):
            index = c["episodes"]
            gen = torch.Generator().manual_seed(cfg.seed * 7_919 + 1 + index)
            # the sampled actions, unclipped: the policy's own, as J and the model see them
            ep = play(self.env, self.policy, cfg.seed * 7_919 + 1 + index, False, gen, self.noise_std, applied=False)
            pair = (ep.states, ep.actions)
            (self.held_out if index % cfg.held_out_every == cfg.held_out_every - 1 else self.replay).append(pair)
            fresh.append(pair)
            c["episodes"] += 1
            c["env_steps"] += len(ep.actions)
            c["successes"] += int(ep.success)
            self.recent = [*self.recent, ep.success][-RECENT_EPISODES:]
            ends[ep.end_reason] = ends.get(ep.end_reason, 0) + 1
        self._trim_replay()
        stats: dict[str, Any] = {"end_reasons": ends}
        stats.update(self.train_model())
        prep = c["iteration"] < cfg.prep_iterations
        d_steps = cfg.prep_disc_steps if prep and cfg.prep_disc_steps is not None else cfg.disc_steps
        stats.update(self.train_discriminator(d_steps))
        if not prep:
            stats.update(self.train_policy(fresh))
        c["iteration"] += 1
        return stats

    def _trim_replay(self) -> None:
        while sum(len(a) for _, a in self.replay) > self.cfg.replay_size and len(self.replay) > 1:
            self.replay.pop(0)
        while len(self.held_out) > 20:
            self.held_out.pop(0)

    def train_model(self) -> dict[str, float]:
        cfg, loss = self.cfg, float("nan")
        if not self.replay:
            return {}
        for _ in range(cfg.model_steps):
            s, a, mask = sample_windows(self.replay, cfg.model_batch, cfg.unroll, self.rng)
            step_loss = self.model.window_loss(s, a, mask)
            self.model_opt.zero_grad()
            step_loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.model_opt.step()
            loss = step_loss.item()
        return {"model/loss": loss}

    def train_discriminator(self, steps: int) -> dict[str, float]:
        cfg, stats = self.cfg, {}
        if not self.replay:
            return stats
        recent = self.replay[-cfg.disc_recent_episodes :] if cfg.disc_recent_episodes else self.replay
        s = np.concatenate([x[:-1] for x, _ in recent])
        a = np.concatenate([y for _, y in recent])
        s_t, a_t = torch.as_tensor(s), torch.as_tensor(a)
        skipped = 0
        for _ in range(steps):
            g = torch.as_tensor(self.rng.integers(0, len(s_t), cfg.disc_batch))
            e = torch.as_tensor(self.rng.integers(0, len(self.expert_s), cfg.disc_batch))
            a_e = self.expert_a[e]
            if cfg.disc_demo_noise and self.noise_std is not None:
                a_e = a_e + self.noise_std * torch.as_tensor(self.rng.standard_normal(a_e.shape), dtype=a_e.dtype)
            expert = self.disc.batch(self.expert_s[e], a_e, self.expert_s[e])
            generated = self.disc.batch(s_t[g], a_t[g], s_t[g])
            if cfg.disc_max_accuracy:
                with torch.no_grad():
                    le, lg = self.disc.score(expert), self.disc.score(generated)
                    accuracy = 0.5 * ((le > 0).float().mean() + (lg < 0).float().mean()).item()
                if accuracy >= cfg.disc_max_accuracy:
                    skipped += 1
                    stats = {**stats, "disc/accuracy": accuracy}
                    continue
            stats = discriminator_update(self.disc, self.disc_opt, expert, generated, cfg.disc_ent_coef)
        return {**stats, "disc/skipped": skipped} if cfg.disc_max_accuracy else stats

    def train_policy(self, episodes: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        """``policy_steps`` Adam steps on J through the model, on windows of ``episodes`` (this iteration's)."""
        cfg, cost = self.cfg, float("nan")
        region = TrustRegion(
            self.policy, torch.as_tensor(np.concatenate([s[:-1] for s, _ in episodes])), self.noise_std
        )
        self.model.requires_grad_(False)
        self.disc.requires_grad_(False)
        try:
            for _ in range(cfg.policy_steps):
                s, a, mask = sample_windows(episodes, cfg.policy_batch, cfg.unroll, self.rng)
                with torch.no_grad():
                    mu, sigma = self.policy(s[:, :-1])
                    xi = ((a - mu) / (sigma if self.noise_std is None else self.noise_std)).clamp(-6.0, 6.0)
                j = unrolled_cost(
                    self.policy, self.model, self.disc, s[:, 0], xi, cfg.gamma, s[:, 1:], mask, self.noise_std
                )
                loss = j_mean = j.mean()
                if cfg.bc_weight > 0:
                    e = torch.as_tensor(self.rng.integers(0, len(self.expert_s), 256))
                    loss = loss - cfg.bc_weight * self.policy.log_prob(self.expert_s[e], self.expert_a[e]).mean()
                self.policy_opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)
                self.policy_opt.step()
                cost = j_mean.item()
        finally:
            self.model.requires_grad_(True)
            self.disc.requires_grad_(True)
        stats = {"policy/J": cost}
        if cfg.trust_region > 0:
            stats.update(region.enforce(cfg.trust_region))
        self.hold_sigma_at_noise()  # the BC term's likelihood moves σ(s)
        return stats

    def model_error(self) -> dict[str, dict[str, float]]:
        """RMS one-step and ``unroll``-step errors on the held-out episodes, per observation field (SI units)."""
        if not self.held_out:
            return {}
        s, a, mask = sample_windows(self.held_out, 256, self.cfg.unroll, np.random.default_rng(0))
        one, k = self.model.errors(s, a, mask)
        out: dict[str, dict[str, float]] = {"one_step": {}, f"{self.cfg.unroll}_step": {}}
        for field, start, stop, unit in self.layout:
            name = f"{field} [{unit}]" if unit else field
            out["one_step"][name] = float(np.sqrt(np.mean(one[start:stop] ** 2)))
            out[f"{self.cfg.unroll}_step"][name] = float(np.sqrt(np.mean(k[start:stop] ** 2)))
        return out

    # The lifecycle's -----------------------------------------------------------------------------------

    def evaluation_stats(self) -> dict[str, Any]:
        return {"model_error": self.model_error()}

    def postfix(self, stats: dict[str, Any]) -> dict[str, Any]:
        j = stats.get("policy/J", float("nan"))
        return {**super().postfix(stats), "J": f"{j:.2f}", "steps": self.counters["env_steps"]}

    def curve_log(self) -> CurveLog:
        c = self.counters
        return CurveLog(
            f"MGAIL: {c['iteration']} iterations, {c['env_steps']} env steps",
            (("env_steps", "environment steps"), ("wall_s", "wall-clock time (s)")),
            "practice (last 50 episodes)",
        )

    def extra_state(self) -> dict[str, Any]:
        return {
            "replay": [[torch.as_tensor(x), torch.as_tensor(y)] for x, y in self.replay],
            "held_out": [[torch.as_tensor(x), torch.as_tensor(y)] for x, y in self.held_out],
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.replay = [(x.numpy(), y.numpy()) for x, y in state["replay"]]
        self.held_out = [(x.numpy(), y.numpy()) for x, y in state["held_out"]]


def train_mgail(
    demos: DemoData, factory: EnvFactory, out: str | Path, cfg: MGAILConfig, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) MGAIL into ``out``; returns the summary also written to ``train_log.json``."""
    return train(MGAIL(cfg, demos, factory), RunDir(out, "mgail", cfg, demos.env_args, factory), progress)


def train_mgail_from_file(
    demos_path: str | Path,
    out: str | Path,
    preset: MGAILConfig,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The ``robot-il train mgail`` entry: demos from an HDF5 file, rollouts in the env they were recorded in."""
    demos = DemoData.load(demos_path)
    cfg = dataclasses.replace(preset, **(overrides or {}))
    return train_mgail(demos, demos.env_factory(), out, cfg, progress=progress)

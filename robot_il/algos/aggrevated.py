"""AggreVaTeD: differentiable imitation on the expert's cost-to-go (Sun et al., ICML 2017, Algorithm 1).

Iteration n, read top to bottom in :meth:`AggreVaTeD.iteration`:

1. roll out π̂_n = α_n π* + (1 − α_n) π_θn (``alpha0 * alpha_decay ** n``; α = 0, the learner
   alone, by default), K = ``episodes_per_iteration`` episodes, saving the simulator's state at
   every step;
2. at ``states_per_episode`` visited states (drawn uniformly), draw ``actions_per_state``
   actions a ~ π_θn(·|s) and estimate the expert's cost-to-go Q*(s, a) by restoring the state,
   taking a and letting the expert finish (``robot_il.algos.oracle``: time to success in control
   steps; a failure costs the rest of the episode plus a penalty);
3. A*(s, a) = Q*(s, a) − V̂*(s), with V̂*(s) the mean of Q* over the state's other sampled
   actions (the paper's variance-reduced estimate, Eq. 9, with a leave-one-out baseline);
4. descend ℓ_n(θ) = E[π_θ(a|s) / π_θn(a|s) · A*(s, a)] (Eq. 4), whose gradient at θ_n is
   E[∇ log π_θn(a|s) A*(s, a)] (Eq. 5):

   * ``update="regular"``: θ_{n+1} = θ_n − η ∇ℓ_n (online gradient descent, Eq. 5);
   * ``update="natural"``: θ_{n+1} = θ_n − η F⁻¹ ∇ℓ_n, F⁻¹∇ℓ_n by conjugate gradient (Section 3.2);

   in both, η = sqrt(2 δ / (dᵀ F d)) for the direction d, so that the step's KL(π_θn ‖ π_θn+1)
   is about δ = ``max_kl`` (the paper's natural step size), then a backtracking line search
   keeps the KL ≤ δ and the loss decreasing. The two differ only in the direction.

Deviation from the paper, declared: F is the Fisher of the Gaussian policy at the sampled states
(Fisher-vector products from the Hessian of the mean KL, as TRPO and TNPG compute it), not the
rank-K empirical trajectory Fisher Sₙ Sₙᵀ of Eq. 10; both are F in expectation, and with K ≪ d
parameters the empirical one is singular without heavy damping. The regular step's length is
set by the same KL bound instead of a fixed learning rate: with σ as small as 0.01 rad/s, one
Adam step at 1e-4 already moved the policy by a KL of 1.5-3.4 on the peg, so a fixed rate is
either useless or destructive, and a KL-set length keeps the comparison with the natural step
about the direction alone. The policy starts from BC on the
demonstrations (``bc_steps``; 0 starts from scratch), as the paper's experiments start from a
pre-trained policy.

    robot-il train aggrevated --demos demos/peg_25.h5 --out runs/aggrevated [--update natural]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.distributions import kl_divergence
from tqdm.auto import tqdm

from robot_il.algos.actors import EnvFactory
from robot_il.algos.common import DemoData, RunDir, policy_spec, rng_state, set_rng_state
from robot_il.algos.oracle import cost_to_go, fit_likelihood, mixture_episode, require_oracle
from robot_il.checkpoint import config_dict
from robot_il.config import require_non_negative, require_positive
from robot_il.data.writer import DemoFileError
from robot_il.errors import ConfigError
from robot_il.nn.policy import GaussianPolicy, Normalizer


@dataclass(frozen=True)
class AggreVaTeDConfig:
    iterations: int = 30
    """Policy updates (Algorithm 1's N)."""
    episodes_per_iteration: int = 8
    """Roll-outs of the current policy per update (the paper's K): the fixed data budget."""
    states_per_episode: int = 8
    """Visited states per roll-out where Q* is estimated (drawn uniformly without replacement)."""
    actions_per_state: int = 2
    """Actions a ~ π(·|s) per such state, each with its own Q* estimate (≥ 2: the baseline is their mean)."""
    alpha0: float = 0.0
    """Roll-in mixture: probability that the expert acts at a step in iteration 0 (the paper's α)."""
    alpha_decay: float = 0.5
    """α_n = alpha0 * alpha_decay ** n."""
    update: Literal["regular", "natural"] = "regular"
    """The policy step's direction: 'regular' (the gradient) or 'natural' (the Fisher-preconditioned gradient)."""
    max_kl: float = 0.01
    """KL bound δ per update, which sets both steps' length."""
    cg_iters: int = 10
    """Conjugate-gradient iterations of the natural step."""
    cg_damping: float = 0.1
    """Damping added to the Fisher in the natural step."""
    normalize_advantages: bool = True
    """Scale A* by its standard deviation in each batch (the step size then does not depend on cost units)."""
    failure_penalty: float = 100.0
    """Steps added to the cost of a continuation that fails, over the steps left in the episode."""
    max_expert_steps: int = 0
    """Cap on the expert's steps in one cost-to-go estimate (0: until the episode ends)."""
    bc_steps: int = 4_000
    """Behavioural cloning steps on the demos before the first iteration (0: from scratch)."""
    hidden: tuple[int, ...] = (300, 200)
    """Policy hidden layers (as BC: 300, 200)."""
    sigma_min: float = 0.01
    """Lower bound of the policy's standard deviation, rad/s (as BC: 0.01)."""
    sigma_max: float = 0.1
    """Upper bound of the policy's standard deviation, rad/s (as BC: 0.1)."""
    bc_lr: float = 1e-4
    """Adam learning rate of the BC warm start (as BC)."""
    l2: float = 1e-4
    """L2 weight of the BC warm start."""
    batch_size: int = 256
    """BC batch size."""
    obs_std_floor: float = 1e-3
    """Smallest standard deviation used to normalise an observation dimension."""
    eval_every: int = 5
    """Iterations between evaluations of the deterministic policy (and checkpoints)."""
    eval_episodes: int = 20
    """Episodes per evaluation, on fixed seeds."""
    eval_seed: int = 10_000
    """Seed of the first evaluation episode (roll-outs use other seeds)."""
    seed: int = 0
    """Seeds the weights, the state and action draws and the roll-outs' env seeds."""

    def __post_init__(self) -> None:
        for name in (
            "iterations", "episodes_per_iteration", "states_per_episode", "max_kl", "cg_iters", "bc_lr",
            "batch_size", "obs_std_floor", "eval_every",
        ):  # fmt: skip
            require_positive(name, getattr(self, name))
        for name in ("cg_damping", "failure_penalty", "max_expert_steps", "bc_steps", "l2", "eval_episodes"):
            require_non_negative(name, getattr(self, name))
        if self.actions_per_state < 2:
            raise ConfigError(
                "actions_per_state", f"needs ≥ 2 (the baseline is their mean), got {self.actions_per_state}"
            )
        if self.update not in ("regular", "natural"):
            raise ConfigError("update", f"must be 'regular' or 'natural', got {self.update!r}")
        for name in ("alpha0", "alpha_decay"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(name, f"must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ConfigError("sigma_min", f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")


def leave_one_out_advantages(costs: np.ndarray) -> np.ndarray:
    """A*(s, a_j) = Q*(s, a_j) − mean of Q*(s, a_k), k ≠ j: rows are states, columns their actions."""
    n = costs.shape[1]
    return costs - (costs.sum(axis=1, keepdims=True) - costs) / (n - 1)


def conjugate_gradient(fvp, b: torch.Tensor, iters: int, tol: float = 1e-10) -> torch.Tensor:
    """Solve F x = b for symmetric positive definite F given as the product ``fvp(v)``."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        fp = fvp(p)
        alpha = rr / (p @ fp)
        x += alpha * p
        r -= alpha * fp
        rr_new = r @ r
        if rr_new < tol:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


class AggreVaTeD:
    """The learner: the policy and the counters; a checkpoint is :meth:`state_dict`."""

    def __init__(self, cfg: AggreVaTeDConfig, demos: DemoData, factory: EnvFactory) -> None:
        self.cfg, self.factory = cfg, factory
        torch.manual_seed(cfg.seed)
        self.policy = GaussianPolicy(
            **policy_spec(demos, cfg.hidden, cfg.sigma_min, cfg.sigma_max),
            normalizer=Normalizer.fit(demos.all_states, cfg.obs_std_floor),
        )
        self.rng = np.random.default_rng(cfg.seed)
        self.counters: dict[str, Any] = {
            "iteration": 0,
            "episodes": 0,
            "env_steps": 0,
            "rollout_steps": 0,
            "expert_queries": 0,
            "q_estimates": 0,
            "wall_s": 0.0,
        }
        self.curve: list[dict[str, Any]] = []
        self.recent: list[bool] = []
        self._env = None
        if cfg.bc_steps:
            pairs = demos.pairs()
            if pairs is None:
                raise DemoFileError(
                    f"{demos.path}: the BC warm start needs demonstrated actions and these demos have none; "
                    "pass --bc-steps 0 to start from scratch"
                )
            bc_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.bc_lr)
            nll = fit_likelihood(self.policy, bc_opt, *pairs, cfg.bc_steps, cfg.batch_size, cfg.l2, self.rng)
            self.counters["bc_nll"] = nll

    @property
    def env(self):
        if self._env is None:
            self._env = self.factory.make()
            require_oracle(self._env, "AggreVaTeD")
        return self._env

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    # Step 1-3: roll out, estimate Q*, advantages --------------------------------------------------

    def collect(self) -> dict[str, Any]:
        cfg, c = self.cfg, self.counters
        alpha = cfg.alpha0 * cfg.alpha_decay ** c["iteration"]
        states, actions, costs = [], [], []
        rollout_steps = q_steps = queries = wins = 0
        failures = 0
        for k in range(cfg.episodes_per_iteration):
            seed = cfg.seed * 7_919 + 1 + c["episodes"] + k
            generator = torch.Generator().manual_seed(seed)
            ep = mixture_episode(
                self.env, self.policy, seed, alpha, self.rng, generator, deterministic=False,
                label=False, snapshots=True,
            )  # fmt: skip
            rollout_steps += ep.steps
            wins += ep.success
            self.recent.append(ep.success)
            picks = self.rng.choice(ep.steps, size=min(cfg.states_per_episode, ep.steps), replace=False)
            for t in np.sort(picks):
                s = torch.as_tensor(ep.states[t]).unsqueeze(0)
                with torch.no_grad():
                    mu, sigma = self.policy(s)
                    a = mu + sigma * torch.randn((cfg.actions_per_state, mu.shape[-1]), generator=generator)
                row = []
                for a_j in a.numpy():
                    q = cost_to_go(self.env, ep.snapshots[t], a_j, cfg.failure_penalty, cfg.max_expert_steps or None)
                    row.append(q.cost)
                    q_steps += q.env_steps
                    queries += q.expert_queries
                    failures += not q.success
                states.append(ep.states[t])
                actions.append(a.numpy())
                costs.append(row)
        n_q = len(costs) * cfg.actions_per_state
        c["episodes"] += cfg.episodes_per_iteration
        c["rollout_steps"] += rollout_steps
        c["env_steps"] += rollout_steps + q_steps
        c["expert_queries"] += queries
        c["q_estimates"] += n_q
        self.recent = self.recent[-50:]
        costs_arr = np.asarray(costs)
        return {
            "states": np.asarray(states, dtype=np.float32),
            "actions": np.asarray(actions, dtype=np.float32),
            "advantages": leave_one_out_advantages(costs_arr),
            "stats": {
                "alpha": alpha,
                "rollout_success": wins / cfg.episodes_per_iteration,
                "mean_q": float(costs_arr.mean()),
                "q_failure_rate": failures / n_q,
                "iteration_env_steps": rollout_steps + q_steps,
                "iteration_expert_queries": queries,
            },
        }

    # Step 4: the policy update --------------------------------------------------------------------

    def update(self, batch: dict[str, Any]) -> dict[str, Any]:
        cfg = self.cfg
        n_a = cfg.actions_per_state
        s = torch.as_tensor(batch["states"]).repeat_interleave(n_a, dim=0)
        a = torch.as_tensor(batch["actions"]).reshape(len(s), -1)
        adv = torch.as_tensor(batch["advantages"], dtype=torch.float32).reshape(-1)
        if cfg.normalize_advantages:
            adv = adv / (adv.std() + 1e-8)
        with torch.no_grad():
            old = self.policy.distribution(s)
            old_logp = old.log_prob(a)

        def loss_and_kl() -> tuple[torch.Tensor, torch.Tensor]:
            dist = self.policy.distribution(s)
            ratio = torch.exp(dist.log_prob(a) - old_logp)
            return (ratio * adv).mean(), kl_divergence(old, dist).mean()

        return self._kl_step(loss_and_kl)

    def _kl_step(self, loss_and_kl) -> dict[str, Any]:
        cfg = self.cfg
        params = [p for p in self.policy.parameters() if p.requires_grad]
        loss, _ = loss_and_kl()
        grad = _flat(torch.autograd.grad(loss, params)).detach()

        def fvp(v: torch.Tensor) -> torch.Tensor:
            _, kl = loss_and_kl()
            g = _flat(torch.autograd.grad(kl, params, create_graph=True))
            return _flat(torch.autograd.grad(g @ v, params)).detach() + cfg.cg_damping * v

        direction = conjugate_gradient(fvp, grad, cfg.cg_iters) if cfg.update == "natural" else grad
        shs = float(direction @ fvp(direction))
        eta = np.sqrt(2 * cfg.max_kl / max(shs, 1e-12))
        old = _flat([p.detach() for p in params]).clone()
        before = loss.item()

        def set_params(flat: torch.Tensor) -> None:
            i = 0
            for p in params:
                p.data.copy_(flat[i : i + p.numel()].view_as(p))
                i += p.numel()

        for shrink in range(10):
            set_params(old - eta * 0.5**shrink * direction)
            with torch.no_grad():
                new_loss, kl = loss_and_kl()
            if kl.item() <= cfg.max_kl and new_loss.item() < before:
                return {
                    "loss": new_loss.item(),
                    "kl": kl.item(),
                    "step_size": float(eta * 0.5**shrink),
                    "backtracks": shrink,
                }
        set_params(old)
        return {"loss": before, "kl": 0.0, "step_size": 0.0, "backtracks": 10}

    def iteration(self) -> dict[str, Any]:
        batch = self.collect()
        stats = {**batch["stats"], **self.update(batch)}
        self.counters["iteration"] += 1
        return stats

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": json.dumps(config_dict(self.cfg)),
            "policy": self.policy.state_dict(),
            **rng_state(self.rng),
            "counters": json.dumps(self.counters),
            "curve": json.dumps(self.curve),
            "recent": json.dumps(self.recent),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        set_rng_state(self.rng, state)
        self.counters = json.loads(state["counters"])
        self.curve = json.loads(state["curve"])
        self.recent = json.loads(state["recent"])


def train_aggrevated(
    demos: DemoData, factory: EnvFactory, out: str | Path, cfg: AggreVaTeDConfig, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) AggreVaTeD into ``out``; returns the summary also written to ``train_log.json``."""
    algo = "aggrevated"
    run = RunDir(out, algo, cfg, demos.env_args, factory)
    state = run.resume()
    # A resumed run loads its weights: skip the warm start's work.
    from dataclasses import replace

    learner = AggreVaTeD(replace(cfg, bc_steps=0) if state is not None else cfg, demos, factory)
    learner.cfg = cfg
    if state is not None:
        learner.load_state_dict(state)
    bar = tqdm(
        total=cfg.iterations, initial=learner.counters["iteration"], desc=f"AggreVaTeD ({cfg.update})", unit="it",
        disable=not progress,
    )  # fmt: skip
    run.start_clock(learner.counters["wall_s"])
    try:
        if not learner.curve:
            learner.curve.append(_point(learner, run.evaluate(learner.policy), run.wall_s, {}))
            run.save(learner, learner.curve[-1]["eval_success"], {"best_iteration": 0})
        while learner.counters["iteration"] < cfg.iterations:
            stats = learner.iteration()
            it = learner.counters["iteration"]
            bar.update(1)
            bar.set_postfix(
                q=f"{stats['mean_q']:.0f}", kl=f"{stats['kl']:.4f}", eval=f"{learner.curve[-1]['eval_success']:.2f}"
            )
            if it % cfg.eval_every == 0 or it == cfg.iterations:
                learner.counters["wall_s"] = run.wall_s
                success = run.evaluate(learner.policy)
                learner.curve.append(_point(learner, success, run.wall_s, stats))
                run.save(learner, success, {"best_iteration": it})
                _write_curves(run, learner)
    finally:
        bar.close()
        learner.close()
        run.close()
    return _write_curves(run, learner)


def _point(learner: AggreVaTeD, success: float, wall_s: float, stats: dict[str, Any]) -> dict[str, Any]:
    c = learner.counters
    return {
        "iteration": c["iteration"],
        "episodes": c["episodes"],
        "env_steps": c["env_steps"],
        "expert_queries": c["expert_queries"],
        "wall_s": wall_s,
        "eval_success": success,
        "practice_success": float(np.mean(learner.recent)) if learner.recent else 0.0,
        **stats,
    }


def _write_curves(run: RunDir, learner: AggreVaTeD) -> dict[str, Any]:
    c = learner.counters
    return run.write_curves(
        c,
        learner.curve,
        (("iteration", "iteration"), ("env_steps", "env steps"), ("expert_queries", "expert queries")),
        f"AggreVaTeD ({learner.cfg.update}): {c['iteration']} iterations, {c['q_estimates']} Q* estimates",
        "roll-out success (last 50)",
    )


def train_aggrevated_from_file(
    demos_path: str | Path, out: str | Path, cfg: AggreVaTeDConfig, progress: bool = True
) -> dict[str, Any]:
    """The ``robot-il train aggrevated`` entry: roll-outs and the expert in the env the demos were recorded in."""
    demos = DemoData.load(demos_path)
    return train_aggrevated(demos, demos.env_factory(), out, cfg, progress=progress)

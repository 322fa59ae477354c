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
set by the same KL bound instead of a fixed learning rate: with σ as small as 0.01 rad/s, a
single Adam step moves the policy by a large KL (measured on the peg: ``docs/algorithms/oracle.md``),
so a fixed rate is either useless or destructive, and a KL-set length keeps the comparison with the
natural step about the direction alone. The policy starts from BC on the
demonstrations (``bc_steps``; 0 starts from scratch), as the paper's experiments start from a
pre-trained policy.

    robot-il train aggrevated --demos demos/peg_25.h5 --out runs/aggrevated [--update natural]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch.distributions import kl_divergence

from robot_il.algos.actors import EnvFactory
from robot_il.algos.common import DemoData, RunDir, policy_spec
from robot_il.algos.lifecycle import CurveLog, Learner, LikelihoodPolicyConfig, PeriodicEvalConfig, train
from robot_il.algos.oracle import cost_to_go, fit_likelihood, mixture_episode, require_oracle
from robot_il.config import require_non_negative, require_positive
from robot_il.data.writer import DemoFileError
from robot_il.errors import ConfigError
from robot_il.nn.policy import MixturePolicy, Normalizer, make_policy


@dataclass(frozen=True)
class AggreVaTeDConfig(LikelihoodPolicyConfig, PeriodicEvalConfig):
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
    bc_lr: float = 1e-4
    """Adam learning rate of the BC warm start (as BC)."""
    policy_components: int = 1
    """Gaussians in the policy head: 1, the paper's Gaussian (KL in closed form); ≥ 2, a mixture
    (:class:`~robot_il.nn.policy.MixturePolicy`, DAgger's default), whose KL to the last policy is estimated
    from ``kl_samples`` draws of the last policy per state."""
    kl_samples: int = 8
    """Draws per state of the mixture's sampled KL (k3 estimator: ≥ 0, and its Hessian at the last policy is the
    empirical Fisher, so the natural step's conjugate gradient sees a positive semi-definite matrix)."""
    seed: int = 0
    """Seeds the weights, the state and action draws and the roll-outs' env seeds."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "iterations", "episodes_per_iteration", "states_per_episode", "max_kl", "cg_iters", "bc_lr",
            "policy_components", "kl_samples",
        ):  # fmt: skip
            require_positive(name, getattr(self, name))
        for name in ("cg_damping", "failure_penalty", "max_expert_steps", "bc_steps"):
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


class AggreVaTeD(Learner):
    """The learner: the policy and the counters."""

    algo = "aggrevated"
    curve_counters = ("expert_queries",)
    saved_modules: ClassVar[dict[str, str]] = {"policy": "policy"}
    saved_json = ("counters", "curve", "recent")

    def __init__(self, cfg: AggreVaTeDConfig, demos: DemoData, factory: EnvFactory) -> None:
        self.cfg, self.factory, self.demos = cfg, factory, demos
        torch.manual_seed(cfg.seed)
        self.policy = make_policy(
            cfg.policy_components,
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
        if cfg.bc_steps and demos.pairs() is None:
            raise DemoFileError(
                f"{demos.path}: the BC warm start needs demonstrated actions and these demos have none; "
                "pass --bc-steps 0 to start from scratch"
            )

    @property
    def label(self) -> str:
        return f"AggreVaTeD ({self.cfg.update})"

    def warm_start(self) -> None:
        """BC on the demos (``bc_steps``), as the paper's experiments start from a pre-trained policy."""
        cfg = self.cfg
        if cfg.bc_steps:
            bc_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.bc_lr)
            pairs = self.demos.pairs()
            self.counters["bc_nll"] = fit_likelihood(
                self.policy, bc_opt, *pairs, cfg.bc_steps, cfg.batch_size, cfg.l2, self.rng
            )

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
                a = self.policy.sample(s, cfg.actions_per_state, generator)
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
        if isinstance(self.policy, MixturePolicy):  # no closed form: k3 on draws of the last policy
            states = torch.as_tensor(batch["states"])
            generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.counters["iteration"])
            x = self.policy.sample(states, cfg.kl_samples, generator).reshape(-1, a.shape[-1])
            xs = states.repeat(cfg.kl_samples, 1)
            with torch.no_grad():
                x_old_logp = self.policy.distribution(xs).log_prob(x)

        def loss_and_kl() -> tuple[torch.Tensor, torch.Tensor]:
            dist = self.policy.distribution(s)
            ratio = torch.exp(dist.log_prob(a) - old_logp)
            if isinstance(self.policy, MixturePolicy):
                log_r = self.policy.distribution(xs).log_prob(x) - x_old_logp
                kl = (torch.exp(log_r) - 1 - log_r).mean()
            else:
                kl = kl_divergence(old, dist).mean()
            return (ratio * adv).mean(), kl

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

    def postfix(self, stats: dict[str, Any]) -> dict[str, Any]:
        return {"q": f"{stats['mean_q']:.0f}", "kl": f"{stats['kl']:.4f}", **super().postfix(stats)}

    def curve_log(self) -> CurveLog:
        c = self.counters
        return CurveLog(
            f"AggreVaTeD ({self.cfg.update}): {c['iteration']} iterations, {c['q_estimates']} Q* estimates",
            (("iteration", "iteration"), ("env_steps", "env steps"), ("expert_queries", "expert queries")),
            "roll-out success (last 50)",
        )


def train_aggrevated(
    demos: DemoData, factory: EnvFactory, out: str | Path, cfg: AggreVaTeDConfig, progress: bool = True
) -> dict[str, Any]:
    """Train (or resume) AggreVaTeD into ``out``; returns the summary also written to ``train_log.json``."""
    return train(AggreVaTeD(cfg, demos, factory), RunDir(out, "aggrevated", cfg, demos.env_args, factory), progress)


def train_aggrevated_from_file(
    demos_path: str | Path, out: str | Path, cfg: AggreVaTeDConfig, progress: bool = True
) -> dict[str, Any]:
    """The ``robot-il train aggrevated`` entry: roll-outs and the expert in the env the demos were recorded in."""
    demos = DemoData.load(demos_path)
    return train_aggrevated(demos, demos.env_factory(), out, cfg, progress=progress)

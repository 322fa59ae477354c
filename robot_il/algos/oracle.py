"""What DAgger and AggreVaTeD share: an expert that can be queried at the learner's own states.

In simulation the task's scripted expert is such an oracle. An *oracle env* is a
gymnasium env whose ``unwrapped`` offers

* ``expert_action()``: the expert's command at the current state (the label);
* ``get_state()`` / ``set_state(state)``: save and restore the episode exactly;
* ``horizon`` and ``elapsed_steps``: the episode's length in steps and how far it is.

``InsertionEnv`` offers them on a simulated backend; the toy envs do too.

**The expert's cost-to-go** (AggreVaTeD's Q*): restore a saved state s, take the
action a, then let the expert act until the episode ends. The cost is the time,
in control steps, until the task succeeds, counted from s: the step of a, the
expert's steps, and of the last step only the fraction it took to cross the
success threshold (interpolated on ``info["success_margin"]`` where the env gives
it). An episode that ends without success (the workspace left, the time limit
reached, or the cap on the expert's steps) costs every step left in the episode
plus ``failure_penalty``. Why: the task's objective is to insert, and quickly,
so time to success is the natural cost; the penalty keeps every failure dearer
than every success; the interpolation makes Q* vary continuously with a (one
action moves the arm for 50 ms, which changes an integer step count only
rarely, so a whole-step cost would make A* mostly zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from robot_il.errors import ConfigError
from robot_il.nn.policy import GaussianPolicy

ORACLE_METHODS = ("expert_action", "get_state", "set_state")


def require_oracle(env: Any, learner: str) -> Any:
    """The env's ``unwrapped`` if it is an oracle env; else a ConfigError saying what is missing."""
    base = env.unwrapped
    missing = [m for m in (*ORACLE_METHODS, "horizon", "elapsed_steps") if not hasattr(base, m)]
    if missing:
        raise ConfigError(
            "env",
            f"{learner} needs an expert it can query at saved states; {type(base).__name__} lacks "
            f"{', '.join(missing)} (the simulated insertion cells and the toy envs have them)",
        )
    return base


def expert_label(base: Any) -> np.ndarray:
    """The expert's action at the current state of an oracle env, float32."""
    return np.asarray(base.expert_action(), dtype=np.float32)


# Rollouts -------------------------------------------------------------------------------------------


@dataclass
class OracleEpisode:
    """One episode of a mixture of learner and expert, with the expert's label at every visited state."""

    states: np.ndarray
    """(T + 1, obs_dim) float32, the terminal state last."""
    actions: np.ndarray
    """(T, act_dim) the actions applied."""
    labels: np.ndarray | None
    """(T, act_dim) the expert's action at each of the first T states (None if not asked)."""
    expert_acted: np.ndarray
    """(T,) bool: the expert's action was the one executed."""
    snapshots: list[Any] | None
    """The env's saved state at each of the first T states (None if not asked)."""
    success: bool
    end_reason: str
    seed: int

    @property
    def steps(self) -> int:
        return len(self.actions)


def mixture_episode(
    env: Any,
    policy: GaussianPolicy,
    seed: int,
    beta: float,
    rng: np.random.Generator,
    generator: torch.Generator | None,
    deterministic: bool,
    label: bool = True,
    snapshots: bool = False,
) -> OracleEpisode:
    """Roll out π̂ = β π* + (1 − β) π̂_learner (per step, the expert's action with probability ``beta``).

    ``label`` asks the expert at every visited state (DAgger's labels; always so when ``beta`` > 0);
    ``snapshots`` saves the env's state at each (AggreVaTeD restores them to ask for the cost-to-go).
    """
    base = require_oracle(env, "an oracle rollout")
    obs, _ = env.reset(seed=seed)
    states, actions, labels, expert_acted, saved = [obs], [], [], [], []
    done, info = False, {}
    while not done:
        if snapshots:
            saved.append(base.get_state())
        wanted = expert_label(base) if (label or beta > 0) else None
        use_expert = beta > 0 and rng.random() < beta
        if use_expert:
            action = wanted
        else:
            action = policy.act(obs, deterministic=deterministic, generator=generator).astype(np.float32)
        obs, _, terminated, truncated, info = env.step(action)
        states.append(obs)
        actions.append(np.asarray(info.get("applied_action", action), dtype=np.float32))
        if label:
            labels.append(wanted)
        expert_acted.append(use_expert)
        done = terminated or truncated
    act_dim = env.action_space.shape[0]
    return OracleEpisode(
        states=np.asarray(states, dtype=np.float32),
        actions=np.asarray(actions, dtype=np.float32).reshape(-1, act_dim),
        labels=np.asarray(labels, dtype=np.float32).reshape(-1, act_dim) if label else None,
        expert_acted=np.asarray(expert_acted, dtype=bool),
        snapshots=saved if snapshots else None,
        success=bool(info.get("is_success", False)),
        end_reason=str(info.get("end_reason", "success" if info.get("is_success") else "")),
        seed=seed,
    )


# The expert's cost-to-go ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CostToGo:
    cost: float
    """Steps to success from the saved state (see the module docstring), or the failure cost."""
    success: bool
    env_steps: int
    """Simulator steps this estimate took (the action's and the expert's)."""
    expert_queries: int
    """Expert actions asked for."""


def cost_to_go(
    env: Any, state: Any, action: np.ndarray, failure_penalty: float, max_expert_steps: int | None = None
) -> CostToGo:
    """Q*(s, a): restore ``state``, take ``action``, let the expert finish; the cost as the module defines it.

    Leaves the env wherever the expert's continuation ended: restore a state before acting on it again.
    """
    base = require_oracle(env, "the cost-to-go")
    base.set_state(state)
    start = base.elapsed_steps
    margin_before = np.nan
    a = np.asarray(action, dtype=np.float32)
    steps = queries = 0
    while True:
        _, _, terminated, truncated, info = base.step(a)
        steps += 1
        margin = float(info.get("success_margin", np.nan))
        if info.get("is_success", False):
            fraction = 1.0
            if np.isfinite(margin_before) and np.isfinite(margin) and margin > margin_before:
                fraction = float(np.clip(-margin_before / (margin - margin_before), 0.0, 1.0))
            return CostToGo(steps - 1 + fraction, True, steps, queries)
        capped = max_expert_steps is not None and queries >= max_expert_steps
        if terminated or truncated or capped:
            remaining = base.horizon - start
            return CostToGo(float(remaining + failure_penalty), False, steps, queries)
        margin_before = margin
        a = expert_label(base)
        queries += 1


# Shared training pieces -----------------------------------------------------------------------------


def fit_likelihood(
    policy: GaussianPolicy,
    optimizer: torch.optim.Optimizer,
    states: np.ndarray,
    actions: np.ndarray,
    steps: int,
    batch_size: int,
    l2: float,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> float:
    """``steps`` Adam steps of maximum likelihood of ``actions`` at ``states`` (rows drawn uniformly, or in
    proportion to ``weights``); returns the mean batch NLL."""
    from robot_il.algos.bc import likelihood_step

    x = torch.as_tensor(states, dtype=torch.float32)
    y = torch.as_tensor(actions, dtype=torch.float32)
    cdf = None if weights is None else np.cumsum(weights) / np.sum(weights)
    nll = []
    for _ in range(steps):
        size = min(batch_size, len(x))
        rows = rng.integers(0, len(x), size=size) if cdf is None else np.searchsorted(cdf, rng.random(size), "right")
        idx = torch.as_tensor(np.minimum(rows, len(x) - 1))
        nll.append(likelihood_step(policy, optimizer, x[idx], y[idx], l2).item())
    return float(np.mean(nll)) if nll else float("nan")

"""Actions for state-only demos from an inverse dynamics model: BCO's start (Torabi, Warnell and Stone 2018).

Kinesthetic demos record states and no actions, so a BC warm start (GAIL's) has no pairs to fit. Behavioural
cloning from observation learns the missing piece from the robot's own motion:

1. :func:`explore`: move the arm at random for ``steps`` env steps. Each action is drawn uniformly in the action
   bounds, scaled by a factor drawn uniformly in [0, 1] (slow and fast moves alike), and held for 1 to 9 control
   steps (so the joints reach the commanded velocity and the arm travels), from the reset poses of seeded
   episodes. The action recorded is the one applied after the env's safety clipping.
2. :func:`fit_inverse_dynamics`: regress that action on the pair (s, s') it led between (squared error in units
   of the action bounds, inputs normalised).
3. :meth:`InverseDynamics.label`: the action that took each demonstrated state to the next.

On a robot the exploration is robot time: callers count its env steps. The model sees only what the env
observes, so it learns the servo's response, not the task: no demonstrated action is used anywhere.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from robot_il.nn.policy import ActionScaler, Normalizer, mlp

HOLD_STEPS = (1, 10)
"""Control steps each random action is held for: drawn uniformly from [1, 10)."""


class Explored(NamedTuple):
    states: np.ndarray
    actions: np.ndarray
    next_states: np.ndarray
    episodes: int


def explore(env: Any, steps: int, rng: np.random.Generator) -> Explored:
    """``steps`` env steps of held random actions (see the module docstring), episodes reset with seeds from
    ``rng``; float32 arrays."""
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    states, actions, next_states = [], [], []
    episodes = 0
    while len(states) < steps:
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        episodes += 1
        done, hold, action = False, 0, np.zeros_like(low)
        while not done and len(states) < steps:
            if hold == 0:
                action = rng.uniform(low, high) * rng.uniform()
                hold = int(rng.integers(*HOLD_STEPS))
            hold -= 1
            nxt, _, terminated, truncated, info = env.step(action.astype(np.float32))
            states.append(obs)
            actions.append(np.asarray(info.get("applied_action", action)))
            next_states.append(nxt)
            obs, done = nxt, terminated or truncated
    as32 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    return Explored(as32(states), as32(actions), as32(next_states), episodes)


class InverseDynamics(ActionScaler):
    """a = f(s, s'): the action (rad/s) that took state s to s', squashed into the action bounds."""

    def __init__(
        self, obs_dim: int, action_low: np.ndarray, action_high: np.ndarray, normalizer: Normalizer, hidden=(256, 256)
    ) -> None:
        super().__init__(action_low, action_high)
        self.normalizer = normalizer
        self.body = mlp([2 * obs_dim, *hidden, len(action_low)], nn.ReLU)

    def forward(self, s: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        return self.denormalize(torch.tanh(self.body(self.normalizer(torch.cat([s, s_next], -1)))))

    @torch.no_grad()
    def label(self, states: np.ndarray, next_states: np.ndarray) -> np.ndarray:
        """The inferred action of each transition, float32."""
        as_t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
        return self(as_t(states), as_t(next_states)).numpy()


def fit_inverse_dynamics(
    explored: Explored,
    action_low: np.ndarray,
    action_high: np.ndarray,
    steps: int,
    seed: int,
    lr: float = 1e-3,
    batch_size: int = 256,
    norm_inputs: np.ndarray | None = None,
) -> tuple[InverseDynamics, float]:
    """The model fitted by ``steps`` Adam steps on the explored transitions; and its final batch loss (mean
    squared error in units of the action bounds' half range). Inputs are normalised on the explored pairs and
    ``norm_inputs`` (e.g. the demos' own (s, s') rows, so that the model's input scale covers where it will
    label)."""
    gen = torch.Generator().manual_seed(seed)
    pairs = np.concatenate([explored.states, explored.next_states], 1)
    fit_rows = pairs if norm_inputs is None else np.concatenate([pairs, norm_inputs])
    with torch.random.fork_rng():  # its own initial weights, leaving the caller's random stream as it was
        torch.manual_seed(seed)
        model = InverseDynamics(explored.states.shape[1], action_low, action_high, Normalizer.fit(fit_rows))
    s, a, s_next = (torch.as_tensor(x) for x in (explored.states, explored.actions, explored.next_states))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        i = torch.randint(0, len(s), (min(batch_size, len(s)),), generator=gen)
        loss = ((model.normalize(model(s[i], s_next[i])) - model.normalize(a[i])) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, loss.item()

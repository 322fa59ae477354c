"""A chronological replay buffer of trajectories, sampled as GPRIL's predecessor triples.

States are stored in the order they were visited, episode after episode, in a
ring of fixed capacity. Because an episode's terminal state is followed by the
next episode's initial state, walking forward in the buffer follows the paper's
ergodic chain with artificial terminal -> initial transitions (§2.1), so a
target ``t + j + 1`` may lie in a later episode.

Two departures from the paper are switches of :meth:`TrajectoryReplay.sample`:
``clamp_terminal`` stops a target at its episode's terminal state (the offset
mass past a success then lands on the success, not on the next episode's
reset pose), and ``by_episode`` draws the episode uniformly before the state
(a failed episode runs to the time limit and is several times longer than a
success, so uniform states drown the successes).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class PredecessorBatch(NamedTuple):
    states: np.ndarray
    """s_t, shape (B, obs_dim)."""
    actions: np.ndarray
    """a_t, shape (B, act_dim)."""
    targets: np.ndarray
    """s_{t+j+1}, j ~ Geometric(1 - gamma) on {0, 1, ...}, shape (B, obs_dim)."""
    offsets: np.ndarray
    """j + 1 for each row."""


class TrajectoryReplay:
    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        if capacity < 2:
            raise ValueError(f"replay capacity must be at least 2 states, got {capacity}")
        self.capacity, self.obs_dim, self.act_dim = capacity, obs_dim, act_dim
        self.states = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, act_dim), dtype=np.float32)
        self.has_action = np.zeros(capacity, dtype=bool)
        self.episode_end = np.zeros(capacity, dtype=np.int64)
        """Chronological position of the terminal state of the episode each slot's state belongs to."""
        self.episodes: list[tuple[int, int]] = []
        """(first, terminal) chronological positions of the episodes with a state still held, oldest first."""
        self.count = 0
        """States ever written; the next state goes to chronological position ``count``."""
        self._acting: tuple[np.ndarray, np.ndarray] | None = None
        """Cache of :meth:`_draw_times`: (first held, terminal) of the episodes with an action held."""

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    @property
    def oldest(self) -> int:
        """Chronological position of the oldest state still held."""
        return self.count - len(self)

    def add_episode(self, states: np.ndarray, actions: np.ndarray) -> None:
        """Append an episode: ``T + 1`` states and the ``T`` actions taken between them."""
        states, actions = np.asarray(states), np.asarray(actions)
        if states.ndim != 2 or states.shape[1] != self.obs_dim:
            raise ValueError(f"states must have shape (T+1, {self.obs_dim}), got {states.shape}")
        if actions.shape != (len(states) - 1, self.act_dim):
            raise ValueError(f"actions must have shape ({len(states) - 1}, {self.act_dim}), got {actions.shape}")
        n = len(states)
        idx = np.arange(self.count, self.count + n) % self.capacity
        self.states[idx] = states
        self.actions[idx[:-1]] = actions
        self.has_action[idx[:-1]] = True
        self.has_action[idx[-1]] = False  # the terminal state; its successor is the next initial state
        self.episode_end[idx] = self.count + n - 1
        self.episodes.append((self.count, self.count + n - 1))
        self.count += n
        while self.episodes[0][1] < self.oldest:
            self.episodes.pop(0)
        self._acting = None

    def sample(
        self,
        batch_size: int,
        gamma: float,
        rng: np.random.Generator,
        clamp_terminal: bool = False,
        by_episode: bool = False,
    ) -> PredecessorBatch:
        """Draw (s_t, a_t, s_{t+j+1}) with t uniform over held states that have an action.

        ``by_episode``: t uniform within an episode drawn uniformly from those with an action held.
        ``clamp_terminal``: a target past its episode's terminal state is that terminal state.
        """
        if not self.has_action[: len(self)].any() or len(self) < 2:
            raise ValueError("the replay buffer holds no transitions yet")
        newest = self.count - 1
        t = np.empty(batch_size, dtype=np.int64)
        k = np.empty(batch_size, dtype=np.int64)
        filled = 0
        while filled < batch_size:
            need = 2 * (batch_size - filled) + 8
            t_try = self._draw_times(need, rng) if by_episode else rng.integers(self.oldest, newest, size=need)
            k_try = rng.geometric(1.0 - gamma, size=need)  # j + 1 >= 1
            if clamp_terminal:
                k_try = np.minimum(k_try, self.episode_end[t_try % self.capacity] - t_try)
            ok = self.has_action[t_try % self.capacity] & (t_try + k_try <= newest)
            take = min(int(ok.sum()), batch_size - filled)
            t[filled : filled + take] = t_try[ok][:take]
            k[filled : filled + take] = k_try[ok][:take]
            filled += take
        ti, gi = t % self.capacity, (t + k) % self.capacity
        return PredecessorBatch(self.states[ti], self.actions[ti], self.states[gi], k)

    def _draw_times(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n positions with an action: an episode uniformly, then a position uniformly within what is held of it."""
        if self._acting is None:  # changes only when an episode is added or the buffer is loaded
            bounds = np.array(self.episodes, dtype=np.int64)
            first, terminal = np.maximum(bounds[:, 0], self.oldest), bounds[:, 1]
            acting = terminal > first  # at least one held state with an action
            self._acting = first[acting], terminal[acting]
        first, terminal = self._acting
        e = rng.integers(0, len(first), size=n)
        return first[e] + (rng.random(n) * (terminal[e] - first[e])).astype(np.int64)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """For checkpoints: tensors and ints only (``weights_only`` loading)."""
        return {
            "states": torch.from_numpy(self.states.copy()),
            "actions": torch.from_numpy(self.actions.copy()),
            "has_action": torch.from_numpy(self.has_action.copy()),
            "count": self.count,
        }

    def load_state_dict(self, state: dict) -> None:
        if tuple(state["states"].shape) != self.states.shape:
            raise ValueError(f"replay shape {tuple(state['states'].shape)} differs from {self.states.shape}")
        self.states[:] = state["states"].numpy()
        self.actions[:] = state["actions"].numpy()
        self.has_action[:] = state["has_action"].numpy()
        self.count = int(state["count"])
        self._index_episodes()

    def _index_episodes(self) -> None:
        """Rebuild ``episodes`` and ``episode_end`` from the terminal marks (states without an action)."""
        self.episodes, first, self._acting = [], self.oldest, None
        for pos in range(self.oldest, self.count):
            if not self.has_action[pos % self.capacity]:
                self.episodes.append((first, pos))
                self.episode_end[np.arange(first, pos + 1) % self.capacity] = pos
                first = pos + 1

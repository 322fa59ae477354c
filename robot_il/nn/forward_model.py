"""MGAIL's forward model of the environment, s' = f(s, a): the paper's "advanced" model (Baram et al. 2017, §3.5).

Separate state and action encoders joined by a Hadamard product, with a GRU in the state encoder so the model can
use more than the last state (an n-th order MDP); it predicts the normalised change of the state.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robot_il.nn.policy import ActionScaler, Normalizer, mlp


class ForwardModel(ActionScaler):
    """s_{t+1} = s_t + δ·dec(GRU(enc_s(s_t), h_{t-1}) ⊙ enc_a(a_t)): the paper's advanced forward model.

    States and actions enter normalised (the demos' state statistics, the action bounds); the output is the
    change of the state in units of ``delta_std`` (the demonstrated changes' spread).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        state_norm: Normalizer,
        delta_std: np.ndarray,
        action_low: np.ndarray,
        action_high: np.ndarray,
        hidden: int = 100,
    ) -> None:
        super().__init__(action_low, action_high)
        self.obs_dim, self.act_dim, self.hidden = obs_dim, act_dim, hidden
        self.state_norm = state_norm
        self.register_buffer("delta_std", torch.as_tensor(delta_std, dtype=torch.float32))
        self.enc_s = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh())
        self.gru = nn.GRUCell(hidden, hidden)
        self.enc_a = mlp([act_dim, hidden, hidden])
        self.dec = mlp([hidden, hidden, obs_dim])

    def initial(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hidden, dtype=self.delta_std.dtype)

    def step(self, s: torch.Tensor, a: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the next state, the next hidden state) from state, action and hidden state."""
        h = self.gru(self.enc_s(self.state_norm(s)), h)
        delta = self.dec(h * self.enc_a(self.normalize(a)))
        return s + self.delta_std * delta, h

    def window_loss(self, s: torch.Tensor, a: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the normalised one-step changes along windows, the real state fed at every step
        (as the policy's unroll does): s (B, T+1, obs), a (B, T, act), mask (B, T)."""
        h = self.initial(len(s))
        loss = s.new_zeros(())
        for t in range(a.shape[1]):
            pred, h = self.step(s[:, t], a[:, t], h)
            err = ((pred - s[:, t + 1]) / self.delta_std) ** 2
            loss = loss + (err.mean(-1) * mask[:, t]).sum()
        return loss / mask.sum().clamp(min=1)

    @torch.no_grad()
    def errors(self, s: torch.Tensor, a: torch.Tensor, mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Per observation dimension, in the observation's own units: the RMS one-step error (teacher-forced)
        and the RMS error after the whole window open loop (fed its own predictions and the recorded actions)."""
        h_tf, h_ol = self.initial(len(s)), self.initial(len(s))
        opened = s[:, 0]
        sq_one, n_one = torch.zeros(self.obs_dim), 0.0
        for t in range(a.shape[1]):
            pred, h_tf = self.step(s[:, t], a[:, t], h_tf)
            m = mask[:, t].unsqueeze(-1)
            sq_one += (((pred - s[:, t + 1]) ** 2) * m).sum(0)
            n_one += float(mask[:, t].sum())
            opened, h_ol = self.step(opened, a[:, t], h_ol)
        full = mask.all(-1)  # windows that run their whole length
        k = ((opened - s[:, -1]) ** 2)[full].mean(0) if full.any() else torch.full((self.obs_dim,), float("nan"))
        return (sq_one / max(n_one, 1.0)).sqrt().numpy(), k.sqrt().numpy()
